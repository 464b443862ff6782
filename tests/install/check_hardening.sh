#!/bin/sh
# SPDX-License-Identifier: MIT
# The installed programs and library carry Debian's hardening, read back with readelf:
#  - BIND_NOW (-z now) and a GNU_RELRO segment (-z relro): the GOT is read-only once started;
#  - a GNU_STACK segment that is not executable;
#  - the stack protector: __stack_chk_fail is imported;
#  - _FORTIFY_SOURCE: at least one fortified libc function (__*_chk) is imported;
#  - the programs are position-independent executables (ELF type DYN, flag PIE).
#   check_hardening.sh READELF PREFIX [PROGRAM...]
# PREFIX holds bin/ and the library under lib/ or lib/<multiarch>/ (a cmake --install prefix, the
# usr/ of the dpkg-deb -x'd packages, or /usr with the packages installed: then name the
# programs, the others of /usr/bin are not ours). Without PROGRAMs, every file of PREFIX/bin.
set -eu
readelf=$1 prefix=$2
shift 2
fail=0
bad() { echo "FAIL: $1: $2"; fail=1; }

check() { # file, kind (program|library)
    f=$1
    dyn=$("$readelf" -dW "$f")
    hdr=$("$readelf" -hW "$f")
    seg=$("$readelf" -lW "$f")
    syms=$("$readelf" --dyn-syms -W "$f")
    printf '%s\n' "$dyn" | grep -Eq '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW' || bad "$f" "no BIND_NOW (link with -z now)"
    printf '%s\n' "$seg" | grep -q 'GNU_RELRO' || bad "$f" "no GNU_RELRO segment (link with -z relro)"
    printf '%s\n' "$seg" | grep -E 'GNU_STACK' | grep -q 'RWE' && bad "$f" "executable stack"
    printf '%s\n' "$syms" | grep -q ' UND __stack_chk_fail' || bad "$f" "no stack protector (__stack_chk_fail not imported)"
    printf '%s\n' "$syms" | grep -Eq ' UND __[a-z_]+_chk(@|$| )' || bad "$f" "no fortified function (_FORTIFY_SOURCE)"
    if [ "$2" = program ]; then
        printf '%s\n' "$hdr" | grep -Eq 'Type: +DYN' || bad "$f" "not position-independent (ELF type is not DYN)"
        printf '%s\n' "$dyn" | grep -Eq '\(FLAGS_1\).*PIE' || bad "$f" "no PIE flag"
    fi
    echo "checked $f"
}

n=0
[ $# -gt 0 ] || set -- $(ls "$prefix/bin")
for name in "$@"; do
    p=$prefix/bin/$name
    [ -f "$p" ] || { bad "$p" "missing"; continue; }
    check "$p" program
    n=$((n + 1))
done
lib=$(find "$prefix"/lib -name 'libaop.so.*.*' -type f | head -1)
[ -n "$lib" ] || bad "$prefix/lib" "no libaop.so.MAJOR.MINOR.PATCH"
[ -z "$lib" ] || check "$lib" library
[ "$n" -gt 0 ] || bad "$prefix/bin" "no program"
[ "$fail" -eq 0 ] && echo "hardening ok: $n programs and $lib"
[ "$fail" -eq 0 ]
