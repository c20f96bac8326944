#!/usr/bin/env bash
# Idempotent set-up of everything the demo, the tests and the benchmarks need on a
# fresh Debian bookworm machine (run as root). Slow artifacts are cached outside the
# repository under $SPIDERNET_CACHE (default ~/.cache/spidernet) and reused:
#   venv-<hash>          Python virtualenv with the pinned dependencies
#   bin/cnirun-<hash>    our libcni driver (tools/cnirun/main.go)
#   uml/lib/modules      the module tree modprobe -d wants, pointing at user-mode-linux's
#   bin/kube-apiserver   built from Debian's kubernetes source package (docs/testbed.md)
#   bin/kubectl          Debian's kubernetes-client 1.20, unpacked (not installed: the
#                        machine may have another kubectl package at /usr/bin/kubectl);
#                        its kustomize renders the manifests in the tests
#   logs/<step>.log      the output of each step of the last run
# Cheap stages come first so that a broken network or cache fails in seconds, not after
# the apiserver build. Each stage prints "bootstrap: [n/6] ..." progress; a failure names
# the step, the command, its output tail and what to try (tools/steps.sh).
# Prints the venv path as the last line of stdout ("VENV=<path>").
#
# With --cluster it also makes what the local cluster needs (docs/testbed.md, "A real
# cluster"): containerd, runc, busybox-static and debootstrap from Debian, and
#   bin/kubelet, bin/kube-scheduler, bin/kube-controller-manager   from the same source,
# without the in-tree cloud providers, sharing the apiserver build's Go cache.
#
# Environment: SPIDERNET_CACHE (above); SPIDERNET_APT_OPTS, extra apt-get options
# (e.g. "-o Acquire::http::Proxy=http://proxy:3128"); SPIDERNET_APT_UPDATE=1 refreshes
# the package lists even when every package is installed; SPIDERNET_HEARTBEAT, seconds
# between progress lines of a long step (default 20).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/steps.sh
source "$here/tools/steps.sh"
cache=${SPIDERNET_CACHE:-$HOME/.cache/spidernet}
steps_init bootstrap 6
venv=
cluster=
case ${1:-} in
  --cluster) cluster=1 ;;
  "") ;;
  *) fail "unknown argument $1" "tools/bootstrap.sh [--cluster]" ;;
esac

apt_packages=(
  golang-go rsync jq dpkg-dev etcd-server
  containernetworking-plugins golang-github-appc-cni-dev golang-github-modern-go-reflect2-dev
  user-mode-linux kmod iproute2 iputils-ping procps util-linux
  python3 python3-venv python3-dev libpython3.11 binutils shellcheck
  gcc libc6-dev  # build_bundles.sh links the bundles' launcher statically
  iperf3 sockperf redis-tools  # the datapath benchmark and its test (docs/datapath.md)
  prometheus  # promtool: checks and unit-tests the alert rules (installer/manifests/monitoring)
)
if [ -n "$cluster" ]; then
  apt_packages+=(containerd runc busybox-static debootstrap)
fi
# The kubernetes binaries this run needs, by name (cmd/<name> in the source tree).
k8s_binaries=(kube-apiserver)
if [ -n "$cluster" ]; then
  k8s_binaries+=(kubelet kube-scheduler kube-controller-manager)
fi
read -r -a apt_opts <<<"${SPIDERNET_APT_OPTS:-}"
# Wait for another apt (unattended-upgrades, a colleague) instead of failing at once.
apt_opts+=(-o DPkg::Lock::Timeout=300)
apt_fix="check /etc/apt/sources.list.d/ and that the Debian mirror is reachable (apt-get update by hand shows the same error); for a proxy set SPIDERNET_APT_OPTS='-o Acquire::http::Proxy=http://HOST:PORT'"

ensure_cache() {
  stage "cache $cache"
  local err
  if ! err=$(mkdir -p "$cache/logs" 2>&1 && touch "$cache/.write-test" 2>&1); then
    fail "the cache directory is not writable: $err" \
      "set SPIDERNET_CACHE to a writable directory with about 3 GB free (or fix the permissions of $cache)"
  fi
  rm -f "$cache/.write-test"
  steps_logdir=$cache/logs
  # Two bootstraps at once (a developer's run and a test's, say) would build in the
  # same tree: serialise them, and say so rather than hang silently.
  exec 9>"$cache/.bootstrap.lock"
  if ! flock -n 9; then
    note "waiting for another bootstrap to finish (lock $cache/.bootstrap.lock)"
    flock 9
  fi
  note "writable, logs in $cache/logs"
}

missing_binaries() {
  local b
  for b in "${k8s_binaries[@]}"; do
    [ -x "$cache/bin/$b" ] || echo "$b"
  done
}

missing_packages() {
  local p status
  for p in "${apt_packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || echo "$p"
  done
}

# The apiserver is built from a source package: apt needs a deb-src twin of the
# archive's entry. Written to a temporary name first, so that a failed run never
# leaves an empty file that a later run would take for done.
deb_src=/etc/apt/sources.list.d/debian-src.sources
write_deb_src() {
  local deb=/etc/apt/sources.list.d/debian.sources
  [ -f "$deb" ] || fail "no $deb to derive a deb-src entry from" \
    "add a 'deb-src' entry for bookworm (Types: deb-src) as $deb_src and rerun"
  sed 's/^Types: deb$/Types: deb-src/' "$deb" >"$deb_src.tmp"
  mv "$deb_src.tmp" "$deb_src"
  note "added $deb_src (the apiserver is built from a source package)"
}

ensure_apt() {
  stage "apt packages"
  local missing update=${SPIDERNET_APT_UPDATE:-}
  mapfile -t missing < <(missing_packages)
  if [ -n "$(missing_binaries)" ] && [ ! -s "$deb_src" ]; then
    write_deb_src
    update=1
  fi
  if [ ${#missing[@]} -gt 0 ]; then update=1; fi
  if [ -z "$update" ]; then
    note "all installed"
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  step "refreshing apt package lists" --fix "$apt_fix" -- \
    apt-get "${apt_opts[@]}" --error-on=any update
  if [ ${#missing[@]} -gt 0 ]; then
    note "missing: ${missing[*]}"
    step "installing apt packages" --fix "$apt_fix" -- \
      apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${missing[@]}"
  fi
}

ensure_venv() {
  stage "python virtualenv"
  local sum
  # What pip installs is the lock alone, so only the lock names the venv: a change of
  # pyproject.toml's tool settings (ruff, pytest, mypy) does not cost every worktree a new venv.
  sum=$(sha256sum <"$here/tools/requirements.lock" | cut -c1-12)
  venv=$cache/venv-$sum
  if [ -x "$venv/bin/python" ] && [ -f "$venv/.complete" ]; then
    note "cached ($venv)"
  else
    local fix="check that PyPI is reachable (pip honours HTTPS_PROXY and PIP_INDEX_URL); the next run starts this venv afresh"
    rm -rf "$venv"
    note "creating $venv"
    step "creating the virtualenv" --fix "apt-get install python3-venv; $fix" -- /usr/bin/python3 -m venv "$venv"
    step "upgrading pip" --fix "$fix" -- "$venv/bin/pip" install -q --upgrade pip
    step "installing tools/requirements.lock" --fix "$fix" -- \
      "$venv/bin/pip" install -q -r "$here/tools/requirements.lock"
    touch "$venv/.complete"
  fi
  ln -sfn "$venv" "$cache/venv"
}

ensure_cnirun() {
  stage "libcni driver"
  local sum out gp=$cache/gopath-cnirun
  sum=$(sha256sum "$here/tools/cnirun/main.go" | cut -c1-12)
  out=$cache/bin/cnirun-$sum
  mkdir -p "$cache/bin"
  if [ -x "$out" ]; then
    note "cached ($out)"
  else
    rm -rf "$gp" && mkdir -p "$gp/src/cnirun"
    cp "$here/tools/cnirun/main.go" "$gp/src/cnirun/"
    step "compiling tools/cnirun/main.go" --in "$gp/src/cnirun" \
      --fix "check that golang-go and golang-github-appc-cni-dev are installed (/usr/share/gocode/src/github.com/containernetworking/cni); rerun" -- \
      env GO111MODULE=off GOPATH="$gp:/usr/share/gocode" GOCACHE="$cache/gocache" go build -o "$out.tmp" .
    mv "$out.tmp" "$out"
  fi
  ln -sfn "$out" "$cache/bin/cnirun"
}

ensure_uml_modules() {
  stage "user-mode Linux modules"
  # modprobe -d <dir> wants <dir>/lib/modules/<ver>; point it at the UML module tree.
  local trees=(/usr/lib/uml/modules/*/)
  [ -d "${trees[0]}" ] || fail "no module tree under /usr/lib/uml/modules" \
    "apt-get install --reinstall user-mode-linux"
  local ver
  ver=$(basename "${trees[0]}")
  mkdir -p "$cache/uml/lib/modules"
  ln -sfn "/usr/lib/uml/modules/$ver" "$cache/uml/lib/modules/$ver"
  note "$ver"
}

ensure_kubernetes() {
  stage "${k8s_binaries[*]}"
  local work=$cache/k8s-src tree missing b
  mapfile -t missing < <(missing_binaries)
  if [ ${#missing[@]} -eq 0 ]; then
    note "cached ($cache/bin)"
    return 0
  fi
  note "building ${missing[*]} from Debian's kubernetes source, once: 4-12 minutes on 2 cores, longer the busier the machine"
  local fix_tree="delete $work and rerun (a half-fetched or half-built tree); check free space: df -h $cache"
  # A tree from an interrupted run is reused only if its fetch finished.
  if [ ! -f "$work/.fetched" ]; then
    rm -rf "$work" && mkdir -p "$work"
    step "fetching Debian's kubernetes source" --in "$work" \
      --fix "apt needs a deb-src entry (/etc/apt/sources.list.d/debian-src.sources, bootstrap writes it) and a reachable mirror; $apt_fix" -- \
      apt-get "${apt_opts[@]}" source -q kubernetes
    touch "$work/.fetched"
  fi
  local trees=("$work"/kubernetes-*/)
  [ -d "${trees[0]}" ] || fail "apt-get source left no kubernetes-* directory in $work" "$fix_tree"
  tree=${trees[0]%/}
  # The vendored reflect2 1.0.1 crashes under Go >= 1.18 on the first custom-resource
  # create (docs/testbed.md): swap in Debian's 1.0.2, whose file set differs, so replace whole.
  local r2=/usr/share/gocode/src/github.com/modern-go/reflect2
  rm -f "$tree"/vendor/github.com/modern-go/reflect2/*.go "$tree"/vendor/github.com/modern-go/reflect2/*.s
  cp "$r2"/*.go "$r2"/*.s "$tree/vendor/github.com/modern-go/reflect2/"
  mkdir -p "$tree/.go/src/k8s.io"
  ln -sfn ../../.. "$tree/.go/src/k8s.io/kubernetes"
  # The build sets its Go cache to the tree's _output/local/go/cache (hack/lib/golang.sh);
  # that path is made a link to $cache/gocache, so a later build in this cache (the
  # cluster's binaries after the default suite's apiserver) compiles only the packages
  # the first did not: the tree is always fetched to the same path, and Go's cache keys
  # name the package directory. Nothing outside $cache makes a rebuild faster.
  mkdir -p "$tree/_output/local/go" "$cache/gocache"
  ln -sfn "$cache/gocache" "$tree/_output/local/go/cache"
  local server=() nodes=()
  for b in "${missing[@]}"; do
    if [ "$b" = kube-apiserver ]; then server+=("$b"); else nodes+=("$b"); fi
  done
  if [ ${#server[@]} -gt 0 ]; then
    step "compiling kube-apiserver" --in "$tree" --fix "$fix_tree" -- \
      env GOPATH="$tree/.go" CGO_ENABLED=0 make WHAT=cmd/kube-apiserver
  fi
  # The node side without the in-tree cloud providers (kubernetes' own `providerless`
  # build tag): no local-cluster test uses a cloud's volumes, credentials or controllers.
  # kubelet drops from 5573 Go files to 4436, the controller-manager from 6189 to 4973;
  # after the apiserver's build the three need 605 more packages, not 1963 (docs/testbed.md).
  if [ ${#nodes[@]} -gt 0 ]; then
    step "compiling ${nodes[*]}" --in "$tree" --fix "$fix_tree" -- \
      env GOPATH="$tree/.go" CGO_ENABLED=0 make WHAT="${nodes[*]/#/cmd/}" GOFLAGS=-tags=providerless
  fi
  for b in "${missing[@]}"; do
    step "checking the built $b runs" --fix "$fix_tree" -- \
      "$tree/_output/local/bin/linux/amd64/$b" --version
    cp "$tree/_output/local/bin/linux/amd64/$b" "$cache/bin/$b.tmp" && mv "$cache/bin/$b.tmp" "$cache/bin/$b"
  done
  rm -rf "$work"
}

# Debian's kubectl 1.20 (kubernetes-client), whose built-in kustomize (v2.0.3, the oldest
# a user may run) renders the manifests in the default suite and runs the local cluster's
# install; unpacked into the cache rather than installed, because the package conflicts
# with other kubectl packages a machine may have (this one has one).
ensure_kubectl() {
  if [ -x "$cache/bin/kubectl" ]; then
    note "kubectl cached ($cache/bin/kubectl)"
    return 0
  fi
  local work=$cache/kubectl-deb
  rm -rf "$work" && mkdir -p "$work"
  step "downloading Debian's kubernetes-client" --in "$work" --fix "$apt_fix" -- \
    apt-get "${apt_opts[@]}" download kubernetes-client
  local debs=("$work"/kubernetes-client_*.deb)
  step "unpacking kubectl" --fix "delete $work and rerun" -- dpkg-deb -x "${debs[0]}" "$work/root"
  step "checking kubectl runs" --fix "delete $work and rerun" -- "$work/root/usr/bin/kubectl" version --client
  cp "$work/root/usr/bin/kubectl" "$cache/bin/kubectl.tmp" && mv "$cache/bin/kubectl.tmp" "$cache/bin/kubectl"
  rm -rf "$work"
}

ensure_cache
ensure_apt
ensure_venv
ensure_cnirun
ensure_uml_modules
ensure_kubernetes
ensure_kubectl
say "ready (${SECONDS}s)"
echo "VENV=$venv"
