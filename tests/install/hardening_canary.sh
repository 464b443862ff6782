#!/bin/sh
# SPDX-License-Identifier: MIT
# Proves check_hardening.sh can fail: a program built without the hardening flags, beside the
# hardened libaop.so, must fail it for each missing protection.
#   hardening_canary.sh CC READELF CHECK_SCRIPT WORK LIBAOP
set -eu
cc=$1 readelf=$2 check=$3 work=$4 lib=$5
rm -rf "$work"
mkdir -p "$work/bin" "$work/lib"
cp "$lib" "$work/lib/"
printf '#include <stdio.h>\n#include <string.h>\nint main(int c, char **v) { char b[8]; strcpy(b, c > 5 ? v[0] : "x"); return puts(b) < 0; }\n' >"$work/plain.c"
"$cc" -O2 -fno-stack-protector -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=0 -fno-pie -no-pie -Wl,-z,lazy -Wl,-z,norelro \
      -o "$work/bin/plain" "$work/plain.c"
if out=$(sh "$check" "$readelf" "$work" 2>&1); then
    echo "check_hardening.sh passed an unhardened program:"; echo "$out"; exit 1
fi
missing=0
for want in "no BIND_NOW" "no GNU_RELRO" "no stack protector" "no fortified function" "not position-independent"; do
    printf '%s\n' "$out" | grep -q "bin/plain: $want" || { echo "not reported: $want"; missing=1; }
done
if printf '%s\n' "$out" | grep "FAIL: .*libaop\.so"; then echo "the hardened library failed"; missing=1; fi
[ "$missing" -eq 0 ] && echo "canary ok: every missing protection of bin/plain is reported"
[ "$missing" -eq 0 ]
