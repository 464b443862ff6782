#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds examples/*.c against an installed aop tree (PREFIX: a cmake --install prefix, or the usr/
# of dpkg-deb -x'd packages) twice, with find_package(aop) and with pkg-config (aop.pc finds its
# prefix from its own place), then runs read_unknown_member from both against
# PREFIX/bin/aop-sandbox. The library is looked for under PREFIX/lib (lib/ itself, or Debian's
# multiarch lib/x86_64-linux-gnu/). PREFIX/bin/aop, when there, must load that libaop.so.N (N the
# major version, libaop.so.1 now) and
# not libmicrohttpd, and pay in its zero-configuration mode.
#   check_consumer.sh PREFIX SOURCE_DIR CC CMAKE
# AOP_CHECK_SYSTEM=1: PREFIX is /usr with the packages installed (scripts/check-debs.sh): other
# software's headers live there too, and the dynamic linker finds libaop.so.N by its cache.
set -eu
system=${AOP_CHECK_SYSTEM:-0}
prefix=$(cd "$1" && pwd) src=$2 cc=$3 cmake=$4
data=$src/tests/data
major=$(sed -n 's/^#define AOP_VERSION_MAJOR \([0-9]*\)$/\1/p' "$src/runtime/include/aop/version.h")
soname=libaop.so.$major
so=$(find "$prefix/lib" -name "$soname" 2>/dev/null | head -1)
[ -n "$so" ] || { echo "FAIL: no $soname under $prefix/lib" >&2; exit 1; }
libdir=$(dirname "$so")
tmp=$(mktemp -d)
sbx=
cleanup() { [ -z "$sbx" ] || kill "$sbx" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Headers under include/aop/ only; nothing of runtime/internal.
[ -f "$prefix/include/aop/aop.h" ] && [ -f "$prefix/include/aop/protocol.h" ] && [ -f "$prefix/include/aop/version.h" ] ||
    fail "public headers missing under $prefix/include/aop"
[ "$system" = 1 ] || [ "$(ls "$prefix/include")" = aop ] || fail "$prefix/include holds more than aop/: $(ls "$prefix/include")"
for h in "$src"/runtime/internal/aop/*.h; do
    [ ! -e "$prefix/include/aop/${h##*/}" ] || fail "internal header installed: ${h##*/}"
done

echo "== find_package(aop)"
"$cmake" -S "$src/tests/install/consumer" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
         -DAOP_EXAMPLES_DIR="$src/examples" -DCMAKE_BUILD_TYPE=Release >"$tmp/cm.log" 2>&1 ||
    { cat "$tmp/cm.log"; fail "configuring against find_package(aop)"; }
"$cmake" --build "$tmp/cm" -j2 >"$tmp/cmb.log" 2>&1 || { cat "$tmp/cmb.log"; fail "building with find_package(aop)"; }

echo "== pkg-config --cflags --libs aop"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs aop) || fail "pkg-config aop"
echo "   $flags"
mkdir "$tmp/pc"
n=0
for c in "$src"/examples/*.c; do
    name=$(basename "$c" .c)
    # shellcheck disable=SC2086
    "$cc" -Wall -Wextra -Werror -o "$tmp/pc/$name" "$c" $flags || fail "building $name with pkg-config"
    n=$((n + 1))
done
echo "   $n examples built both ways"

# The programs use the installed libaop.so.N.
want_lib="$libdir/$soname"
[ "$system" = 0 ] || want_lib="/"
LD_LIBRARY_PATH="$libdir" ldd "$tmp/pc/read_unknown_member" | grep -q "$soname => $want_lib" ||
    fail "pkg-config build does not load $want_lib"
LD_LIBRARY_PATH="$libdir" ldd "$tmp/cm/read_unknown_member" | grep -q "$soname => $want_lib" ||
    fail "find_package build does not load $want_lib"

# The installed aop links the installed libaop.so.N and never libmicrohttpd (the sandbox is the
# aop-sandbox program beside it, which its zero-configuration mode runs).
if [ -x "$prefix/bin/aop" ]; then
    echo "== $prefix/bin/aop"
    deps=$(LD_LIBRARY_PATH="$libdir" ldd "$prefix/bin/aop")
    printf '%s\n' "$deps" | grep -q "$soname => $want_lib" || fail "aop does not load $want_lib: $deps"
    ! printf '%s\n' "$deps" | grep -q microhttpd || fail "aop loads libmicrohttpd: $deps"
    LD_LIBRARY_PATH="$libdir" "$prefix/bin/aop" --version
    mkdir "$tmp/home"
    out=$(HOME="$tmp/home" LD_LIBRARY_PATH="$libdir" "$prefix/bin/aop" pay --amount 100 --currency USD \
          --code 28763443825664394 2>"$tmp/aop.err") || { cat "$tmp/aop.err"; fail "zero-configuration aop pay exited $?"; }
    case "$out" in "PAID (local sandbox: not real money)"*) ;; *) fail "aop pay printed: $out" ;; esac
    echo "   loads $(printf '%s\n' "$deps" | sed -n "s/.*$soname => \\([^ ]*\\).*/\\1/p"), no libmicrohttpd;" \
         "zero-configuration pay through $prefix/bin/aop-sandbox: PAID"
fi
# aop-notify too: a fix to the installed library reaches it.
if [ -x "$prefix/bin/aop-notify" ]; then
    LD_LIBRARY_PATH="$libdir" ldd "$prefix/bin/aop-notify" | grep -q "$soname => $want_lib" ||
        fail "aop-notify does not load $want_lib"
    echo "== $prefix/bin/aop-notify loads $want_lib"
fi

echo "== read_unknown_member against $prefix/bin/aop-sandbox"
for k in merchant.pkcs8.pem gateway.pkcs8.pem; do cp "$data/$k" "$tmp/$k"; chmod 600 "$tmp/$k"; done
"$prefix/bin/aop-sandbox" --port 0 --state "$tmp/sandbox.db" --key "$tmp/gateway.pkcs8.pem" \
    --merchant-public-key "$data/merchant.spki.pem" >"$tmp/sandbox.out" 2>"$tmp/sandbox.err" &
sbx=$!
port=
i=0
while [ $i -lt 100 ]; do
    port=$(sed -n 's/.*127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$tmp/sandbox.out" | head -1)
    [ -z "$port" ] || break
    kill -0 "$sbx" 2>/dev/null || { cat "$tmp/sandbox.err"; fail "aop-sandbox exited"; }
    sleep 0.1
    i=$((i + 1))
done
[ -n "$port" ] || fail "aop-sandbox did not say its port"
want="body.sandboxNote (string) = a member the schema does not define"
for ex in "$tmp/cm/read_unknown_member" "$tmp/cm/read_unknown_member_static" "$tmp/pc/read_unknown_member"; do
    out=$(LD_LIBRARY_PATH="$libdir" "$ex" "http://127.0.0.1:$port" "$tmp/merchant.pkcs8.pem" "$data/gateway.spki.pem") ||
        fail "$ex exited $?"
    [ "$out" = "$want" ] || fail "$ex printed: $out"
done
# The POS payment and the refund (examples/pos_pay.c, refund.c), when the tree has them: a pay of
# the sandbox's success code, then its refund (pkg-config and find_package builds, one each).
if [ -x "$tmp/pc/pos_pay" ] && [ -x "$tmp/cm/refund" ]; then
    keys="$tmp/merchant.pkcs8.pem $data/gateway.spki.pem"
    # shellcheck disable=SC2086
    out=$(LD_LIBRARY_PATH="$libdir" "$tmp/pc/pos_pay" "http://127.0.0.1:$port" $keys "$tmp/journal.db" 100 USD \
          28763443825664394 2>"$tmp/pos_pay.err") || { cat "$tmp/pos_pay.err"; fail "pos_pay exited $?: $out"; }
    acq=$(printf '%s\n' "$out" | sed -n 's/^PAID .*acquirementId=\([^ ]*\).*/\1/p')
    [ -n "$acq" ] || fail "pos_pay printed: $out"
    # shellcheck disable=SC2086
    out=$(LD_LIBRARY_PATH="$libdir" "$tmp/cm/refund" "http://127.0.0.1:$port" $keys "$tmp/journal.db" "$acq" 100 USD \
          2>"$tmp/refund.err") || { cat "$tmp/refund.err"; fail "refund exited $?: $out"; }
    case "$out" in REFUNDED*"acquirementId=$acq"*) ;; *) fail "refund printed: $out" ;; esac
    echo "   pos_pay PAID and refund REFUNDED ($acq)"
fi
echo "ok: installed tree at $prefix builds the examples both ways and they run against its aop-sandbox"
