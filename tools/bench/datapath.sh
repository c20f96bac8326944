#!/usr/bin/env bash
# The datapath benchmark, one command (docs/datapath.md): sets up everything as
# tools/test.sh does (apt tools, venv, apiserver, frozen bundles; cached), then runs
# tools/bench/datapath.py.
#   tools/bench/datapath.sh --help
#   tools/bench/datapath.sh                     host kernel: every shape it has, 3 runs
#   tools/bench/datapath.sh --kernel both       also ipvlan, IP-in-IP, VLAN in user-mode Linux
#   tools/bench/datapath.sh --quick             one short run per path: checks the wiring
# A full run loads both cores for about ten minutes: check `uptime` first.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tools/prepare.sh
source "$here/tools/prepare.sh"
: "${venv:?tools/prepare.sh left no venv}"
exec "$venv/bin/python" -m tools.bench.datapath "$@"
