#!/usr/bin/env bash
# The seed benchmark, one command (docs/benchmark.md): sets up everything as tools/test.sh
# does (venv, apiserver, frozen bundles; cached), then runs tools/bench/seed.py.
#   tools/bench/seed.sh --help
#   tools/bench/seed.sh                                  1000 pods, IPs = pods, IPv4, ipam mode
#   tools/bench/seed.sh --scenario exact,sufficient --family v4,dual --out /tmp/bench
# A full run loads both cores for many minutes: check `uptime` first (docs/benchmark.md).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tools/prepare.sh
source "$here/tools/prepare.sh"
: "${venv:?tools/prepare.sh left no venv}"
exec "$venv/bin/python" -m tools.bench.seed "$@"
