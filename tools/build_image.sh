#!/usr/bin/env bash
# Build the spidernet image on this machine, no registry and no container engine needed:
# the recipe of installer/Containerfile's final stage, from the bundles the suite uses.
#
#   tools/build_image.sh [BUNDLE_DIR]   prints "IMAGE=<docker-archive tar>" as the last line
#
#   layer 1  Debian bookworm minbase + python3, openssl (debootstrap; the Containerfile's
#            debian:bookworm-slim + the same), apt lists and downloaded packages removed
#   layer 2  /opt/spidernet/bundles      the frozen plugins (tools/build_bundles.sh output,
#                                        without bin/ and .complete, as the Containerfile)
#            /opt/spidernet/venv         python3 -m venv --without-pip, made in the image's
#                                        root; the pinned kubernetes client for the GC,
#                                        prometheus_client for the installer's /metrics
#            /opt/spidernet/{spidernet,installer,gc}   the sources, without bytecode
#   config   ENV, WORKDIR and CMD read from the Containerfile's final stage
#
# tests/cluster/test_image.py checks that this and the Containerfile give the same content.
# The tar loads with `ctr image import`, `podman load`, `docker load` or
# `skopeo copy docker-archive:<tar> docker://<registry>/spidernet:<tag>` (docs/install.md).
# Cached under $SPIDERNET_CACHE/images by the hash of its inputs; the Debian root under
# $SPIDERNET_CACHE/roots. Environment: SPIDERNET_CACHE, SPIDERNET_APT_OPTS, PYTHON (the
# venv whose pip installs the client), as for tools/bootstrap.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/steps.sh
source "$here/tools/steps.sh"
# shellcheck source=tools/debian_root.sh
source "$here/tools/debian_root.sh"
cache=${SPIDERNET_CACHE:-$HOME/.cache/spidernet}
py=${PYTHON:-$cache/venv/bin/python}
steps_init build_image 4
suite=bookworm
packages=python3,openssl  # the Containerfile final stage's apt-get install
name=localhost/spidernet:testbed

stage "prerequisites"
[ "$(id -u)" = 0 ] || fail "debootstrap and chroot need root" "run as root"
[ -x "$py" ] || fail "no Python at $py" "run tools/bootstrap.sh first (it makes $cache/venv), or set PYTHON"
bundles=${1:-$(readlink -f "$cache/bundles/current")}
[ -f "$bundles/MANIFEST.json" ] || fail "no bundle set at $bundles (MANIFEST.json missing)" \
  "run tools/build_bundles.sh first, or name a bundle directory"
mkdir -p "$cache/roots" "$cache/images" "$cache/logs" || fail "cannot write to $cache" "set SPIDERNET_CACHE to a writable directory"
steps_logdir=$cache/logs
read -r -a apt_opts <<<"${SPIDERNET_APT_OPTS:-}"
need_debootstrap "${apt_opts[@]}"

# As the Containerfile's `rm -rf /var/lib/apt/lists/*` (debootstrap also leaves its .debs),
# and the mount point for the venv's making, below.
tidy_image_root() {
  rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/archives/*.deb
  mkdir -p "$1/opt/spidernet"
}

stage "Debian root"
debian_root "$cache/roots" "$suite-image" "$suite" "$packages" tidy_image_root

stage "application layer"
sum=$( { cat "$bundles/MANIFEST.json" "$here/tools/requirements.lock" "$here/installer/Containerfile" \
           "$here/tools/build_image.sh" "$here/tools/testbed/images.py";
         (cd "$here" && find spidernet installer gc -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 \
           | sort -z | xargs -0 cat);
         echo "$root"; } | sha256sum | cut -c1-16)
out=$cache/images/spidernet-$sum.tar
if [ -f "$out" ]; then
  note "cached ($out)"
  echo "IMAGE=$out"
  exit 0
fi
work=$(mktemp -d "$cache/images/.work-XXXXXX")
trap 'rm -rf "$work"' EXIT
app=$work/app/opt/spidernet
mkdir -p "$app"
cp -a "$bundles" "$app/bundles"
rm -rf "$app/bundles/bin" "$app/bundles/.complete"
for dir in spidernet installer gc; do
  (cd "$here" && find "$dir" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 \
    | xargs -0 cp --parents -t "$app")
done
# The venv is made by the image's own python3 in the image's root (chroot), so its
# paths are the image's; the root stays as cached: the venv lands in $app (a bind mount).
# shellcheck disable=SC2016  # $1 and $2 are the inner shell's arguments
step "making the venv in the image root" --fix "check $root (delete it to start afresh)" -- \
  unshare --mount -- sh -c 'mount --bind "$1" "$2/opt/spidernet" && chroot "$2" /usr/bin/python3 -m venv --without-pip /opt/spidernet/venv' \
  sh "$app" "$root"
step "installing the kubernetes and prometheus clients into it" --fix "check that PyPI is reachable (pip honours HTTPS_PROXY and PIP_INDEX_URL)" -- \
  "$py" -m pip --python "$app/venv/bin/python" install -q --no-cache-dir --no-warn-script-location \
  -c "$here/tools/requirements.lock" kubernetes prometheus-client

stage "image"
step "writing the docker-archive" --in "$here" -- \
  "$py" -m tools.testbed.images spidernet --root "$root" --app "$work/app" \
  --containerfile "$here/installer/Containerfile" --name "$name" --out "$out"
note "$out ($(du -h "$out" | cut -f1))"
echo "IMAGE=$out"
