#!/usr/bin/env bash
# The main job (README): set up everything (idempotent, cached), build the frozen
# plugins, then run the local demo (tools/demo.py): control plane, pools, pods in
# netns wired through the CNI chain, addresses shown, pinged, released. A set-up
# failure stops here with its report and a non-zero exit.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/prepare.sh
source "$here/tools/prepare.sh"
exec "$venv/bin/python" -m tools.demo "$@"
