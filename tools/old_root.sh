#!/usr/bin/env bash
# An older Debian root to prove the bundles run on hosts with an older glibc than the
# build machine's (docs/install.md, "glibc floor"): Debian bullseye (glibc 2.31, as
# Ubuntu 20.04), the oldest release deb.debian.org still serves, made with debootstrap
# (minbase plus iptables, which the coordinator runs). Cached; about 30 s the first time.
#
#   tools/old_root.sh        prints "ROOT=<dir>" as the last line of stdout
#
# Environment: SPIDERNET_CACHE (default ~/.cache/spidernet); SPIDERNET_APT_OPTS, extra
# apt-get options, as for tools/bootstrap.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/steps.sh
source "$here/tools/steps.sh"
cache=${SPIDERNET_CACHE:-$HOME/.cache/spidernet}
steps_init old_root 2
suite=bullseye
packages=iptables

stage "prerequisites"
[ "$(id -u)" = 0 ] || fail "debootstrap needs root" "run as root"
mkdir -p "$cache/roots" "$cache/logs" || fail "cannot write to $cache" "set SPIDERNET_CACHE to a writable directory"
steps_logdir=$cache/logs
read -r -a apt_opts <<<"${SPIDERNET_APT_OPTS:-}"
if ! command -v debootstrap >/dev/null; then
  step "installing debootstrap" --fix "check that the Debian mirror is reachable (apt-get update by hand)" -- \
    env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_opts[@]}" debootstrap
fi
# The mirror the machine already uses (docs/testbed.md: archive.debian.org is unreachable here).
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}

stage "$suite root"
root=$cache/roots/$suite-$(echo "$suite $packages $mirror" | sha256sum | cut -c1-12)
exec 9>"$cache/roots/.lock"
flock 9  # one debootstrap at a time into one tree
if [ -f "$root/.complete" ]; then
  note "cached ($root)"
else
  rm -rf "$root.tmp"
  step "debootstrap $suite" --fix "check that $mirror serves $suite (it is reached over the network)" -- \
    debootstrap --variant=minbase --include="$packages" "$suite" "$root.tmp" "$mirror"
  rm -rf "$root" && mv "$root.tmp" "$root" && touch "$root/.complete"
fi
echo "ROOT=$root"
