# shellcheck shell=bash
# Sourced by tools/test.sh and tools/demo.sh (with $here set to the repository):
# checks for root, runs the idempotent bootstrap, builds (or reuses) the frozen
# plugins, and leaves $venv and an exported SPIDERNET_BUNDLE_BIN behind. With
# prepare_cluster=1 set by the caller, also the local cluster's set-up (bootstrap
# --cluster) and image (tools/build_image.sh), exported as SPIDERNET_IMAGE.
# A failing set-up step has printed its report (step, command, output tail, what to
# try); this stops there with its exit status, before the tests or the demo start.
: "${here:?prepare.sh is sourced with \$here set to the repository}"
# shellcheck source=tools/steps.sh
source "$here/tools/steps.sh"
steps_init "$(basename "$0")" 0
[ "$(id -u)" = 0 ] || fail "run as root" "sudo $0 (network namespaces and UML need root)"

# prepare_run VAR SCRIPT [ARG...]: run a set-up script, print the value of its last
# "VAR=" line. Called as `x=$(prepare_run ...) || exit`, so `set -e` is off in here:
# every failure is checked by hand.
prepare_run() {
  local var=$1 script=$2 out rc=0 value
  shift 2
  out=$(bash "$here/tools/$script" "$@") || rc=$?
  if [ "$rc" -ne 0 ]; then
    say "stopped: tools/$script failed (exit $rc); its report is above"
    exit "$rc"
  fi
  value=$(sed -n "s/^$var=//p" <<<"$out" | tail -n 1)
  [ -n "$value" ] || fail "tools/$script printed no $var= line" "run bash tools/$script by hand and report its output"
  printf '%s\n' "$value"
}

steps_stage="set-up"
bootstrap_args=()
if [ -n "${prepare_cluster:-}" ]; then bootstrap_args=(--cluster); fi
venv=$(prepare_run VENV bootstrap.sh "${bootstrap_args[@]}") || exit
[ -x "$venv/bin/python" ] || fail "bootstrap reported venv $venv, which has no bin/python" "delete $venv and rerun"
export SPIDERNET_BUNDLE_BIN
SPIDERNET_BUNDLE_BIN=$(PYTHON="$venv/bin/python" prepare_run BUNDLE_BIN build_bundles.sh) || exit
# The local cluster's image, from exactly these bundles.
if [ -n "${prepare_cluster:-}" ]; then
  export SPIDERNET_IMAGE
  SPIDERNET_IMAGE=$(PYTHON="$venv/bin/python" prepare_run IMAGE build_image.sh "$(dirname "$SPIDERNET_BUNDLE_BIN")") || exit
fi
cd "$here"
