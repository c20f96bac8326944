#!/usr/bin/env bash
# The test command (README; .ci/run calls it): set up everything on this machine
# (idempotent, cached), build the frozen plugins, run the suite.
#   tools/test.sh                 the default suite (unit + integration + e2e, not slow)
#   tools/test.sh -m slow         only the slow end-to-end runs and benchmarks
#   tools/test.sh tests/unit -q   any pytest arguments
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/tools/prepare.sh"
args=("$@")
if ! printf '%s\n' "${args[@]+"${args[@]}"}" | grep -qx -- '-m'; then
  args=(-m "not slow" "${args[@]+"${args[@]}"}")
fi
exec "$venv/bin/python" -m pytest "${args[@]}"
