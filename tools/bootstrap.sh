#!/usr/bin/env bash
# Idempotent set-up of everything the demo, the tests and the benchmarks need on a
# fresh Debian bookworm machine (run as root). Slow artifacts are cached outside the
# repository under $SPIDERNET_CACHE (default ~/.cache/spidernet) and reused:
#   bin/kube-apiserver   built from Debian's kubernetes source package (TESTBED.md)
#   bin/cnirun-<hash>    our libcni driver (tools/cnirun/main.go)
#   venv-<hash>          Python virtualenv with the pinned dependencies
# Prints the venv path as the last line of stdout ("VENV=<path>").
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${SPIDERNET_CACHE:-$HOME/.cache/spidernet}
mkdir -p "$cache/bin"
log() { echo "bootstrap: $*" >&2; }
# Two bootstraps at once (a developer's run and a test's, say) would build in the same
# tree: serialise them.
exec 9>"$cache/.bootstrap.lock"
flock 9

apt_packages=(
  golang-go rsync jq dpkg-dev etcd-server
  containernetworking-plugins golang-github-appc-cni-dev golang-github-modern-go-reflect2-dev
  user-mode-linux kmod iproute2 iputils-ping procps
  python3 python3-venv python3-dev libpython3.11 binutils
)

ensure_apt() {
  local missing=()
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  local src=/etc/apt/sources.list.d/debian-src.sources
  if [ ! -f "$src" ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$src"
    missing+=(__update__)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >&2
}

build_apiserver() {
  local out=$cache/bin/kube-apiserver
  [ -x "$out" ] && return 0
  log "building kube-apiserver from Debian's kubernetes source (several minutes, once)"
  local work=$cache/k8s-src tree
  tree=
  [ -d "$work" ] && tree=$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -n1)
  if [ -z "$tree" ]; then
    rm -rf "$work" && mkdir -p "$work"
    (cd "$work" && apt-get source -qq kubernetes >&2)
    tree=$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -n1)
  fi
  # The vendored reflect2 1.0.1 crashes under Go >= 1.18 on the first custom-resource
  # create (TESTBED.md): swap in Debian's 1.0.2, whose file set differs, so replace whole.
  rm -f "$tree"/vendor/github.com/modern-go/reflect2/*.go "$tree"/vendor/github.com/modern-go/reflect2/*.s
  cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go /usr/share/gocode/src/github.com/modern-go/reflect2/*.s \
    "$tree/vendor/github.com/modern-go/reflect2/"
  mkdir -p "$tree/.go/src/k8s.io"
  ln -sfn ../../.. "$tree/.go/src/k8s.io/kubernetes"
  (cd "$tree" && GOPATH=$tree/.go CGO_ENABLED=0 make WHAT=cmd/kube-apiserver >&2)
  cp "$tree/_output/local/bin/linux/amd64/kube-apiserver" "$out.tmp" && mv "$out.tmp" "$out"
  rm -rf "$work"
}

build_cnirun() {
  local sum out
  sum=$(sha256sum "$here/tools/cnirun/main.go" | cut -c1-12)
  out=$cache/bin/cnirun-$sum
  if [ ! -x "$out" ]; then
    log "building the libcni driver"
    local gp=$cache/gopath-cnirun
    rm -rf "$gp" && mkdir -p "$gp/src/cnirun"
    cp "$here/tools/cnirun/main.go" "$gp/src/cnirun/"
    (cd "$gp/src/cnirun" && GO111MODULE=off GOPATH=$gp:/usr/share/gocode GOCACHE=$cache/gocache \
      go build -o "$out.tmp" . >&2) && mv "$out.tmp" "$out"
  fi
  ln -sfn "$out" "$cache/bin/cnirun"
}

uml_modules() {
  # modprobe -d <dir> wants <dir>/lib/modules/<ver>; point it at the UML module tree.
  local ver
  ver=$(ls /usr/lib/uml/modules | head -n1)
  mkdir -p "$cache/uml/lib/modules"
  ln -sfn "/usr/lib/uml/modules/$ver" "$cache/uml/lib/modules/$ver"
}

ensure_venv() {
  local sum venv
  sum=$(cat "$here/pyproject.toml" "$here/tools/requirements.lock" | sha256sum | cut -c1-12)
  venv=$cache/venv-$sum
  if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
    log "creating virtualenv $venv"
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip >&2
    "$venv/bin/pip" install -q -r "$here/tools/requirements.lock" >&2
    touch "$venv/.complete"
  fi
  ln -sfn "$venv" "$cache/venv"
  echo "VENV=$venv"
}

ensure_apt
build_apiserver
build_cnirun
uml_modules
ensure_venv
