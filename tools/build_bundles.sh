#!/usr/bin/env bash
# Build the three frozen CNI executables with PyInstaller, one onedir bundle each
# (not --onefile: that unpacks itself on every exec, 0.4-0.7 s a pod; TESTBED.md).
#
#   <out>/<plugin>/<plugin>     the bundle (executable + _internal/)
#   <out>/bin/<plugin>          symlink to it: point CNI_PATH at <out>/bin
#
# <out> defaults to $SPIDERNET_CACHE/bundles/<hash of the sources>, so an unchanged tree
# is not rebuilt. Progress and failures are reported as in bootstrap (tools/steps.sh);
# each plugin's PyInstaller output is in $SPIDERNET_CACHE/logs/.
# Prints "BUNDLE_BIN=<out>/bin" as the last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/steps.sh
source "$here/tools/steps.sh"
cache=${SPIDERNET_CACHE:-$HOME/.cache/spidernet}
py=${PYTHON:-$cache/venv/bin/python}
steps_init build_bundles 0

plugins=("ifacer:plugins/ifacer/main.py" "spiderpool:plugins/spiderpool-ipam/main.py"
         "coordinator:plugins/coordinator/main.py")

stage "prerequisites"
[ -x "$py" ] || fail "no Python at $py" "run tools/bootstrap.sh first (it makes $cache/venv), or set PYTHON"
mkdir -p "$cache/bundles" "$cache/logs" || fail "cannot write to $cache" "set SPIDERNET_CACHE to a writable directory"
steps_logdir=$cache/logs

sum=$(cd "$here" && { find spidernet plugins -name '*.py' -print0 | sort -z | xargs -0 -r cat;
                      cat tools/requirements.lock tools/build_bundles.sh; } | sha256sum | cut -c1-16)
out=${1:-$cache/bundles/$sum}

exec 9>"$cache/bundles/.lock"
if ! flock -n 9; then  # two runs (a developer's suite and a demo) must not build into one tree
  note "waiting for another build_bundles (lock $cache/bundles/.lock)"
  flock 9
fi
steps_n=0 steps_total=${#plugins[@]}
if [ -f "$out/.complete" ]; then
  steps_total=0 steps_stage=bundles
  note "cached ($out)"
else
  rm -rf "$out" && mkdir -p "$out/bin"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  for item in "${plugins[@]}"; do
    name=${item%%:*} script=${item#*:}
    stage "$name"
    step "freezing $name" --fix "check the PyInstaller output above; the next run starts $out afresh" -- \
      "$py" -m PyInstaller --onedir --noconfirm --log-level WARN --name "$name" \
      --distpath "$out" --workpath "$work/$name" --specpath "$work" \
      --paths "$here" "$here/$script"
    ln -sfn "../$name/$name" "$out/bin/$name"
  done
  touch "$out/.complete"
fi
ln -sfn "$out" "$cache/bundles/current"
echo "BUNDLE_BIN=$out/bin"
