#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian packages, built and checked without installing them (CI; scripts/check-debs.sh does
# the real dpkg -i on a clean machine):
#  - a build with the test hooks (BUILD_DIR, default build/) refuses to be packaged;
#  - a Release build (build-release/: no test hooks; the tests and the benchmarks compiled with
#    -Werror, so a warning only the optimizer of a Release build sees fails CI) makes libaop1 (libaopN for libaop.so.N),
#    libaop-dev, aop-tools and their -dbgsym packages with cpack -G DEB and nothing else;
#  - that build's release checks: the installed tree's hardening, its exports and SONAME, the
#    examples against its installed tree (the whole suite runs in the RelWithDebInfo and
#    sanitizer builds of scripts/test.sh: the same code, not worth a third run);
#  - dpkg-deb --info/--contents: what each package holds and declares;
#  - lintian: no error and no warning;
#  - the dpkg-deb -x tree: hardened, aop links libaop.so.N and not libmicrohttpd, and the examples
#    build against it and run against its aop-sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
HOOKS_BUILD=${BUILD_DIR:-build}
REL=${RELEASE_DIR:-build-release}
fail() { echo "FAIL: $*" >&2; exit 1; }

if [ -f "$HOOKS_BUILD/CPackConfig.cmake" ] && grep -q '^AOP_TEST_HOOKS:BOOL=ON' "$HOOKS_BUILD/CMakeCache.txt"; then
  echo "== $HOOKS_BUILD (AOP_TEST_HOOKS=ON) refuses to be packaged"
  out=$(cd "$HOOKS_BUILD" && cpack -G DEB -B "$PWD/refused-debs" 2>&1) && fail "cpack packaged a build with AOP_TEST_HOOKS=ON"
  grep -q "AOP_TEST_HOOKS=ON" <<<"$out" || fail "cpack failed, but not for the test hooks: $out"
  rm -rf "$HOOKS_BUILD/refused-debs"
fi

echo "== Release build ($REL, tests and benchmarks with -Werror) and cpack -G DEB"
cmake -S . -B "$REL" -DCMAKE_BUILD_TYPE=Release -DAOP_TESTS=ON -DAOP_BENCH=ON -DAOP_APPS=ON -DAOP_WERROR=ON \
      -DAOP_TEST_HOOKS=OFF -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build "$REL" -j"$(nproc)" >"$REL/build.log" 2>&1 || { grep -B2 -A8 -E 'error|warning' "$REL/build.log" | head -80; fail "Release build"; }
rm -rf "$REL/debs"
(cd "$REL" && cpack -G DEB -B "$PWD/debs" >cpack.log 2>&1) || { cat "$REL/cpack.log"; fail "cpack -G DEB"; }
ver=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$REL/CMakeCache.txt")
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$REL/CMakeCache.txt")
[ -n "$ver" ] && [ -n "$libdir" ] || fail "no version or libdir in $REL/CMakeCache.txt"
major=${ver%%.*} # the SONAME's number: libaop.so.$major, package libaop$major
libpkg=libaop$major
lib=$(ls "$REL"/debs/${libpkg}_*.deb) dev=$(ls "$REL"/debs/libaop-dev_*.deb) tools=$(ls "$REL"/debs/aop-tools_*.deb)

echo "== the Release build's own checks (hardening, exports, installed tree)"
(cd "$REL" && ctest --output-on-failure -j2 -R '^(hardening_|api_|install_tree_)')

field() { dpkg-deb --field "$2" "$1"; }
paths() { # the paths a package holds, as ./usr/..., without a link's target
  dpkg-deb --contents "$1" | awk '{ $1=$2=$3=$4=$5=""; sub(/^ +/, ""); sub(/ -> .*$/, ""); print }'
}
has() { grep -qx "\./$2" <(paths "$1") || fail "$(basename "$1") lacks $2"; }
lacks() { ! grep -qE "$2" <(paths "$1") || fail "$(basename "$1") holds $2"; }

echo "== dpkg-deb --info/--contents"
dpkg-deb --info "$lib" >/dev/null && dpkg-deb --info "$dev" >/dev/null && dpkg-deb --info "$tools" >/dev/null
[ "$(field Package "$lib")" = "$libpkg" ] && [ "$(field Package "$dev")" = libaop-dev ] &&
  [ "$(field Package "$tools")" = aop-tools ] || fail "package names"
for d in "$lib" "$dev" "$tools"; do
  p=$(field Package "$d")
  has "$d" "usr/share/doc/$p/copyright"
  has "$d" "usr/share/doc/$p/changelog.gz"
  m=$(field Maintainer "$d")
  ! grep -q localhost <<<"$m" || fail "$p: maintainer $m"
done
dep=$(field Depends "$lib")
grep -q 'libcurl4' <<<"$dep" || fail "$libpkg does not depend on libcurl: $dep"
grep -qE 'libssl3|libcrypto' <<<"$dep" || fail "$libpkg does not depend on OpenSSL: $dep"
grep -q 'libsqlite3-0' <<<"$dep" || fail "$libpkg does not depend on SQLite: $dep"
# A journal store with a client library of its own (PostgreSQL) ships in a package of its own.
! grep -qE 'libpq|libmicrohttpd' <<<"$dep" || fail "$libpkg depends on a store's or the sandbox's library: $dep"
has "$lib" "usr/$libdir/libaop.so.$major"
has "$lib" "usr/$libdir/libaop.so.$ver"
lacks "$lib" "/include/"
dpkg-deb --info "$lib" shlibs | grep -qx "libaop $major $libpkg (>= $ver)" || fail "$libpkg: no shlibs entry"
dpkg-deb --info "$lib" triggers | grep -qx "activate-noawait ldconfig" || fail "$libpkg: no ldconfig trigger"
! dpkg-deb --info "$lib" postinst >/dev/null 2>&1 || fail "$libpkg has a postinst (the trigger runs ldconfig)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$lib" "$tmp/lib"
readelf -d "$tmp/lib/usr/$libdir/libaop.so.$ver" | grep -q "(SONAME).*\\[libaop.so.$major\\]" || fail "$libpkg: no SONAME libaop.so.$major"
grep -q "$libpkg (= $ver)" <<<"$(field Depends "$dev")" || fail "libaop-dev does not depend on $libpkg (= $ver)"
for h in aop.h protocol.h calls.h version.h client.h json_quote.h; do has "$dev" "usr/include/aop/$h"; done
for h in runtime/internal/aop/*.h; do lacks "$dev" "/include/aop/${h##*/}\$"; done
for f in libaop.so libaop.a pkgconfig/aop.pc cmake/aop/aopConfig.cmake cmake/aop/aopConfigVersion.cmake \
         cmake/aop/aopTargets.cmake; do has "$dev" "usr/$libdir/$f"; done
lacks "$dev" "libaop\\.so\\."
has "$tools" "usr/bin/aop"
has "$tools" "usr/bin/aop-sandbox"
has "$tools" "usr/bin/aop-notify"
grep -q "$libpkg (= $ver)" <<<"$(field Depends "$tools")" || fail "aop-tools does not depend on $libpkg (= $ver)"
for m in aop.1 aop-sandbox.1 aop-notify.1; do
  [ ! -f "docs/man/$m" ] || has "$tools" "usr/share/man/man1/$m.gz"
done
lacks "$tools" "/man1/.*\\.1\$"
for p in "$libpkg" aop-tools; do
  dbg=$(ls "$REL"/debs/${p}-dbgsym_*.ddeb) || fail "no $p-dbgsym package"
  grep -q '/usr/lib/debug/\.build-id/.*\.debug$' <(paths "$dbg") || fail "$p-dbgsym holds no .debug file"
done
# The PostgreSQL store: a package of its own, the only one that depends on libpq.
pg=$(ls "$REL"/debs/libaop-journal-pg0_*.deb) || fail "no libaop-journal-pg0 package (is libpq-dev installed?)"
has "$pg" "usr/$libdir/libaop-journal-pg.so.0"
lacks "$pg" "libaop-journal-pg\\.so\$"
grep -q 'libpq5' <<<"$(field Depends "$pg")" || fail "libaop-journal-pg0 does not depend on libpq5"
grep -q "$libpkg (= $ver)" <<<"$(field Depends "$pg")" || fail "libaop-journal-pg0 does not depend on $libpkg (= $ver)"
has "$pg" "usr/share/doc/libaop-journal-pg0/copyright"
for d in "$lib" "$dev" "$tools" "$pg"; do echo "   $(basename "$d"): Depends: $(field Depends "$d")"; done

echo "== lintian (fails on any error or warning)"
rc=0
out=$(lintian --fail-on error,warning --display-info "$REL"/debs/*.deb "$REL"/debs/*.ddeb 2>&1) || rc=$?
grep -v 'running with root privileges' <<<"$out" || true
[ "$rc" -eq 0 ] || fail "lintian (exit $rc)"

echo "== the dpkg-deb -x tree: stripped, hardened, and the examples against it"
for d in "$lib" "$dev" "$tools"; do dpkg-deb -x "$d" "$tmp/root"; done
for f in "$tmp/root/usr/bin/aop" "$tmp/root/usr/bin/aop-sandbox" "$tmp/root/usr/bin/aop-notify" "$tmp/root/usr/$libdir/libaop.so.$ver"; do
  file "$f" | grep -q ', stripped' || fail "not stripped: $f"
done
sh tests/install/check_hardening.sh readelf "$tmp/root/usr"
sh tests/install/check_consumer.sh "$tmp/root/usr" "$PWD" "$(command -v cc)" "$(command -v cmake)"
echo "packages ok: $REL/debs"

# The library alone (no apps, tests, bench; no SQLite store): nothing but the C compiler, OpenSSL
# and libcurl is looked up, and libaop.so.$major keeps the same exports.
MIN=${MINIMAL_DIR:-build-minimal}
echo "== the library alone ($MIN: AOP_APPS/TESTS/BENCH/JOURNAL_SQLITE=OFF)"
cmake -S . -B "$MIN" -DAOP_APPS=OFF -DAOP_TESTS=OFF -DAOP_BENCH=OFF -DAOP_JOURNAL_SQLITE=OFF \
      -DAOP_TEST_HOOKS=OFF -DCMAKE_BUILD_TYPE=Release -DAOP_WERROR=ON >/dev/null
looked=$(grep -iE '^_?(CRITERION|SBX_MHD|MHD|CJSON|JANSSON|JSMN|SQLite3|Python3)_[A-Z_]*(DIR|LIBRARY|INCLUDE|EXECUTABLE)' \
         "$MIN/CMakeCache.txt" || true)
[ -z "$looked" ] || fail "the library alone looked up more than OpenSSL and libcurl: $looked"
cmake --build "$MIN" -j"$(nproc)" >/dev/null
diff <(nm -D --defined-only "$REL/libaop.so" | awk '{ print $NF }' | sort) \
     <(nm -D --defined-only "$MIN/libaop.so" | awk '{ print $NF }' | sort) || fail "the exports differ without SQLite"
! readelf -d "$MIN/libaop.so" | grep -q sqlite || fail "libaop.so needs SQLite without AOP_JOURNAL_SQLITE"
echo "library alone ok"
