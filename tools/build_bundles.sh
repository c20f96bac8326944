#!/usr/bin/env bash
# Build the three frozen CNI executables with PyInstaller, one onedir bundle each
# (not --onefile: that unpacks itself on every exec, 0.4-0.7 s a pod; TESTBED.md).
#
#   <out>/<plugin>/<plugin>     the bundle (executable + _internal/)
#   <out>/bin/<plugin>          symlink to it: point CNI_PATH at <out>/bin
#
# <out> defaults to $SPIDERNET_CACHE/bundles/<hash of the sources>, so an unchanged tree
# is not rebuilt. Prints "BUNDLE_BIN=<out>/bin" as the last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${SPIDERNET_CACHE:-$HOME/.cache/spidernet}
py=${PYTHON:-$cache/venv/bin/python}

plugins=("ifacer:plugins/ifacer/main.py" "spiderpool:plugins/spiderpool-ipam/main.py"
         "coordinator:plugins/coordinator/main.py")

sum=$(cd "$here" && { find spidernet plugins -name '*.py' -print0 | sort -z | xargs -0 cat;
                      cat tools/requirements.lock tools/build_bundles.sh; } | sha256sum | cut -c1-16)
out=${1:-$cache/bundles/$sum}

mkdir -p "$cache/bundles"
exec 9>"$cache/bundles/.lock"
flock 9  # two runs (a developer's suite and a demo) must not build into one tree
if [ ! -f "$out/.complete" ]; then
  rm -rf "$out" && mkdir -p "$out/bin"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  for item in "${plugins[@]}"; do
    name=${item%%:*} script=${item#*:}
    echo "build_bundles: $name" >&2
    "$py" -m PyInstaller --onedir --noconfirm --log-level WARN --name "$name" \
      --distpath "$out" --workpath "$work/$name" --specpath "$work" \
      --paths "$here" "$here/$script" >&2
    ln -sfn "../$name/$name" "$out/bin/$name"
  done
  touch "$out/.complete"
fi
ln -sfn "$out" "$cache/bundles/current"
echo "BUNDLE_BIN=$out/bin"
