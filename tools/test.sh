#!/usr/bin/env bash
# The test command (README; .ci/run calls it): set up everything on this machine
# (idempotent, cached), build the frozen plugins, run the suite. A set-up failure stops
# here with its report and a non-zero exit, before pytest starts.
#   tools/test.sh                 the default suite (unit + integration + e2e, not slow)
#   tools/test.sh -m slow         only the slow end-to-end runs and benchmarks
#   tools/test.sh tests/unit -q   any pytest arguments
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/prepare.sh
source "$here/tools/prepare.sh"
# Leave slow tests out unless the caller chose markers (-m EXPR or -mEXPR).
marker_given=
for arg in "$@"; do
  case $arg in -m*) marker_given=1 ;; esac
done
args=("$@")
if [ -z "$marker_given" ]; then
  args=(-m "not slow" "$@")
fi
exec "$venv/bin/python" -m pytest "${args[@]}"
