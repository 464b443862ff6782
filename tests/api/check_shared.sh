#!/bin/sh
# SPDX-License-Identifier: MIT
# libaop.so.MAJOR and libaop.a as a user gets them:
#  - readelf -d shows the SONAME libaop.so.MAJOR (libaop.so.1 now);
#  - nm -D --defined-only lists only aop_ symbols, among them aop_version;
#  - libaop.a is PIC: all of it (--whole-archive) links into a shared object.
#   check_shared.sh CC READELF NM SHARED_LIB STATIC_LIB SONAME LINK_FLAGS...
set -eu
cc=$1 readelf=$2 nm=$3 so=$4 archive=$5 soname=$6
shift 6
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
"$readelf" -d "$so" | grep -q "(SONAME).*\[$soname\]" ||
    { echo "FAIL: no SONAME $soname in $so:"; "$readelf" -d "$so" | grep SONAME; fail=1; }
"$nm" -D --defined-only "$so" | awk '{ print $NF }' | sort -u >"$tmp/dyn"
grep -v '^aop_' "$tmp/dyn" | grep -v '^__odr_asan\.\|^__asan\|^__ubsan\|^__sancov' >"$tmp/bad" || true
if [ -s "$tmp/bad" ]; then echo "FAIL: $so exports symbols without the aop_ prefix:"; cat "$tmp/bad"; fail=1; fi
grep -qx aop_version "$tmp/dyn" || { echo "FAIL: aop_version is not exported"; fail=1; }
printf 'const char *aop_version(void);\nconst char *probe(void) { return aop_version(); }\n' >"$tmp/probe.c"
"$cc" -shared -fPIC -o "$tmp/probe.so" "$tmp/probe.c" -Wl,--whole-archive "$archive" -Wl,--no-whole-archive \
      -Wl,--no-undefined "$@" 2>"$tmp/err" ||
    { echo "FAIL: $archive does not link into a shared object:"; head -20 "$tmp/err"; fail=1; }
echo "$(wc -l <"$tmp/dyn") dynamic symbols in $so; SONAME $soname; libaop.a links into a .so: $([ -f "$tmp/probe.so" ] && echo yes || echo no)"
[ "$fail" -eq 0 ]
