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
# shellcheck source=tools/debian_root.sh
source "$here/tools/debian_root.sh"
cache=${SPIDERNET_CACHE:-$HOME/.cache/spidernet}
steps_init old_root 2
suite=bullseye
packages=iptables

stage "prerequisites"
[ "$(id -u)" = 0 ] || fail "debootstrap needs root" "run as root"
mkdir -p "$cache/roots" "$cache/logs" || fail "cannot write to $cache" "set SPIDERNET_CACHE to a writable directory"
steps_logdir=$cache/logs
read -r -a apt_opts <<<"${SPIDERNET_APT_OPTS:-}"
need_debootstrap "${apt_opts[@]}"

stage "$suite root"
debian_root "$cache/roots" "$suite" "$suite" "$packages"
echo "ROOT=$root"
