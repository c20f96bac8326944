#!/usr/bin/env bash
# The main job (README): set up everything (idempotent, cached), build the frozen
# plugins, then run the local demo (tools/demo.py): control plane, pools, pods in
# netns wired through the CNI chain, addresses shown, pinged, released.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "tools/demo.sh: run as root (network namespaces)" >&2; exit 1; }
venv=$(bash "$here/tools/bootstrap.sh" | sed -n 's/^VENV=//p')
export SPIDERNET_BUNDLE_BIN
SPIDERNET_BUNDLE_BIN=$(PYTHON="$venv/bin/python" bash "$here/tools/build_bundles.sh" | sed -n 's/^BUNDLE_BIN=//p')
cd "$here"
exec "$venv/bin/python" -m tools.demo "$@"
