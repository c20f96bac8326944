#!/usr/bin/env bash
# The seed's create phase on the local cluster (tools/bench/kube_create.py, docs/benchmark.md,
# "Pods to Running under real kubelets"): sets up what tools/test.sh --cluster does
# (kubelet & co., the image; cached), then runs the benchmark. Arguments go to it:
#   tools/bench/kube_create.sh --pods 100 --rounds 2 --out /tmp/kube-create
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
prepare_cluster=1
# shellcheck source=tools/prepare.sh
source "$here/tools/prepare.sh"
exec "$venv/bin/python" -m tools.bench.kube_create "$@"
