#!/usr/bin/env bash
# Build the three frozen CNI executables with PyInstaller, one onedir bundle each
# (not --onefile: that unpacks itself on every exec, 0.4-0.7 s a pod; docs/testbed.md).
#
#   <out>/<plugin>/<plugin>     the bundle's entry: a static launcher (tools/bundle/launcher.c)
#   <out>/<plugin>/<plugin>.bin PyInstaller's bootloader, run under the loader in _internal/
#   <out>/<plugin>/_internal/   Python, libraries, and the glibc they need (tools/bundle/seal.py)
#   <out>/MANIFEST.json         version, host requirements, SHA-256 of every file (installer/)
#   <out>/bin/<plugin>          symlink to it: point CNI_PATH at <out>/bin
#
# The bundles carry their glibc so they run on any x86_64 host, whatever its glibc
# (docs/install.md, "glibc floor"); tests, the demo and the image all use these.
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
# The launcher is linked statically, so that it needs no libc from the host.
if ! command -v gcc >/dev/null || [ ! -f /usr/lib/x86_64-linux-gnu/libc.a ]; then
  fail "no C compiler with a static libc (for tools/bundle/launcher.c)" "apt-get install gcc libc6-dev"
fi

# The bundled glibc comes from this machine: its package version is an input too.
sum=$(cd "$here" && { find spidernet plugins -name '*.py' -print0 | sort -z | xargs -0 -r cat;
                      cat tools/requirements.lock tools/build_bundles.sh installer/bundleset.py \
                          tools/bundle/launcher.c tools/bundle/pyi_rth_child_env.py tools/bundle/seal.py \
                          tools/bundle/plugin.spec;
                      dpkg-query -W -f='${Version}' libc6; } | sha256sum | cut -c1-16)
out=${1:-$cache/bundles/$sum}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/pyproject.toml")-$sum

exec 9>"$cache/bundles/.lock"
if ! flock -n 9; then  # two runs (a developer's suite and a demo) must not build into one tree
  note "waiting for another build_bundles (lock $cache/bundles/.lock)"
  flock 9
fi
steps_n=0 steps_total=$((${#plugins[@]} + 1))
if [ -f "$out/.complete" ]; then
  steps_total=0 steps_stage=bundles
  note "cached ($out)"
else
  rm -rf "$out" && mkdir -p "$out/bin"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  names=()
  for item in "${plugins[@]}"; do
    name=${item%%:*} script=${item#*:}
    names+=("$name")
    stage "$name"
    step "freezing $name" --fix "check the PyInstaller output above; the next run starts $out afresh" -- \
      "$py" -m PyInstaller --noconfirm --log-level WARN --distpath "$out" --workpath "$work/$name" \
      "$here/tools/bundle/plugin.spec" -- "$name" "$here/$script"
    ln -sfn "../$name/$name" "$out/bin/$name"
  done
  stage "sealing"
  step "compiling the launcher" -- gcc -static -Os -s -Wall -Wextra -Werror \
    -o "$work/launcher" "$here/tools/bundle/launcher.c"
  step "carrying glibc, writing the manifest" --in "$here" -- \
    "$py" -m tools.bundle.seal --out "$out" --launcher "$work/launcher" --version "$version" "${names[@]}"
  touch "$out/.complete"
fi
ln -sfn "$out" "$cache/bundles/current"
echo "BUNDLE_BIN=$out/bin"
