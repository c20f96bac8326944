#!/usr/bin/env bash
# The test command (README; .ci/run calls it): set up everything on this machine
# (idempotent, cached), build the frozen plugins, run the suite.
#   tools/test.sh                 the default suite (unit + integration + e2e, not slow)
#   tools/test.sh -m slow         only the slow end-to-end runs and benchmarks
#   tools/test.sh tests/unit -q   any pytest arguments
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "tools/test.sh: run as root (network namespaces, UML)" >&2; exit 1; }

venv=$(bash "$here/tools/bootstrap.sh" | sed -n 's/^VENV=//p')
export SPIDERNET_BUNDLE_BIN
SPIDERNET_BUNDLE_BIN=$(PYTHON="$venv/bin/python" bash "$here/tools/build_bundles.sh" | sed -n 's/^BUNDLE_BIN=//p')

cd "$here"
args=("$@")
if ! printf '%s\n' "${args[@]+"${args[@]}"}" | grep -qx -- '-m'; then
  args=(-m "not slow" "${args[@]+"${args[@]}"}")
fi
exec "$venv/bin/python" -m pytest "${args[@]}"
