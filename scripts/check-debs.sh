#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# For a person, on a clean Debian 12 machine (a VM or a throwaway container), as root: installs
# the packages for real and checks them from /usr. Never run by CI (scripts/test.sh checks the
# same packages with dpkg-deb only).
#   scripts/check-debs.sh [DEB_DIR]   (default: build-release/debs, made by scripts/package.sh)
#  - apt-get install ./libaop1 ./libaop-dev ./aop-tools (libaopN for libaop.so.N) (their Depends resolve from the archive);
#  - ldconfig finds libaop.so.N; man finds aop(1) and aop-sandbox(1) when the packages hold them;
#  - /usr/bin/aop loads /usr/lib/<multiarch>/libaop.so.N and not libmicrohttpd, and is hardened;
#  - the examples build with pkg-config and find_package(aop) from /usr and run against
#    /usr/bin/aop-sandbox;
#  - apt-get remove leaves no libaop behind.
set -euo pipefail
cd "$(dirname "$0")/.."
DEBS=${1:-build-release/debs}
[ "$(id -u)" = 0 ] || { echo "run as root (it installs packages)" >&2; exit 2; }
major=$(sed -n 's/^#define AOP_VERSION_MAJOR \([0-9]*\)$/\1/p' runtime/include/aop/version.h)
libpkg=libaop$major soname=libaop.so.$major
if dpkg-query -W "$libpkg" >/dev/null 2>&1; then
  echo "$libpkg is already installed: this check wants a clean machine" >&2
  exit 2
fi
shopt -s nullglob
debs=("$DEBS"/${libpkg}_*.deb "$DEBS"/libaop-dev_*.deb "$DEBS"/aop-tools_*.deb)
[ ${#debs[@]} -eq 3 ] || { echo "want the three .deb files in $DEBS (bash scripts/package.sh makes them)" >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "$(realpath "${debs[0]}")" "$(realpath "${debs[1]}")" "$(realpath "${debs[2]}")"
# What the examples' build needs beyond the packages' own Depends.
apt-get install -y -qq --no-install-recommends gcc cmake pkg-config >/dev/null

fail() { echo "FAIL: $*" >&2; exit 1; }
ldconfig -p | grep -q "$soname " || fail "ldconfig does not know $soname"
pkg-config --modversion aop
aop --version
# /lib is /usr/lib on Debian 12 (merged /usr): the linker's cache may name either.
ldd /usr/bin/aop | grep -qE "$soname => (/usr)?/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/$soname" ||
  fail "aop does not load the system's $soname"
! ldd /usr/bin/aop | grep -q microhttpd || fail "aop loads libmicrohttpd"
sh tests/install/check_hardening.sh readelf /usr aop aop-sandbox aop-notify
for m in aop aop-sandbox aop-notify; do
  if dpkg -L aop-tools | grep -q "/man1/$m.1.gz"; then man -w "$m" >/dev/null || fail "man $m"; fi
done
AOP_CHECK_SYSTEM=1 sh tests/install/check_consumer.sh /usr "$PWD" "$(command -v cc)" "$(command -v cmake)"

apt-get remove -y -qq aop-tools libaop-dev "$libpkg" >/dev/null
[ ! -e "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/$soname" ] && [ ! -e /usr/include/aop/aop.h ] ||
  fail "files left after apt-get remove"
echo "check-debs: ok"
