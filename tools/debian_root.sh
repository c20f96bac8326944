# shellcheck shell=bash
# A cached Debian root made with debootstrap from the mirror this machine's apt already
# uses, for tools/old_root.sh (an old glibc to run the bundles on) and tools/build_image.sh
# (the image's base layer). Sourced after tools/steps.sh.
#
#   need_debootstrap [APT_OPTION...]             installs debootstrap when it is missing
#   debian_root DIR NAME SUITE PACKAGES [TIDY]   sets root=DIR/NAME-<hash of the inputs>;
#                                                made once, one debootstrap at a time;
#                                                TIDY (a function) gets the new tree first

need_debootstrap() {
  command -v debootstrap >/dev/null && return 0
  step "installing debootstrap" --fix "check that the Debian mirror is reachable (apt-get update by hand)" -- \
    env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" debootstrap
}

# The mirror the machine already uses (docs/testbed.md: archive.debian.org is unreachable here).
debian_mirror() {
  local found
  found=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
  echo "${found:-http://deb.debian.org/debian}"
}

debian_root() {
  local dir=$1 name=$2 suite=$3 packages=$4 tidy=${5:-} mirror
  mirror=$(debian_mirror)
  root=$dir/$name-$(echo "$suite $packages $mirror" | sha256sum | cut -c1-12)
  exec 9>"$dir/.lock"
  flock 9  # one debootstrap at a time into one tree
  if [ -f "$root/.complete" ]; then
    note "cached ($root)"
  else
    rm -rf "$root.tmp"
    step "debootstrap $suite" --fix "check that $mirror serves $suite (it is reached over the network)" -- \
      debootstrap --variant=minbase --include="$packages" "$suite" "$root.tmp" "$mirror"
    if [ -n "$tidy" ]; then "$tidy" "$root.tmp"; fi
    rm -rf "$root" && mv "$root.tmp" "$root" && touch "$root/.complete"
  fi
  exec 9>&-
}
