#!/usr/bin/env bash
# The test command (README; .ci/run calls it): set up everything on this machine
# (idempotent, cached), build the frozen plugins, run the suite. A set-up failure stops
# here with its report and a non-zero exit, before pytest starts.
#   tools/test.sh                 the default suite (unit + integration + e2e, not slow)
#   tools/test.sh -m slow         only the slow end-to-end runs and benchmarks
#   tools/test.sh tests/unit -q   any pytest arguments
#   tools/test.sh --cluster       the local-cluster tests (-m cluster; docs/testbed.md):
#                                 also builds kubelet & co. and the image (cached)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
prepare_cluster=
if [ "${1:-}" = --cluster ]; then
  prepare_cluster=1
  shift
fi
# shellcheck source=tools/prepare.sh
source "$here/tools/prepare.sh"
# Unless the caller chose markers (-m EXPR or -mEXPR): the default suite leaves the slow
# and the local-cluster tests out; --cluster runs the local-cluster tests.
marker_given=
for arg in "$@"; do
  case $arg in -m*) marker_given=1 ;; esac
done
args=("$@")
if [ -z "$marker_given" ] && [ -n "$prepare_cluster" ]; then
  args=(-m cluster "$@")
elif [ -z "$marker_given" ]; then
  args=(-m "not slow and not cluster" "$@")
fi
exec "$venv/bin/python" -m pytest "${args[@]}"
