#!/bin/sh
# SPDX-License-Identifier: MIT
# Every public header compiles alone, and all of them together, as C99, C11 and C++17 with
# -Wall -Wextra -pedantic -Werror: a user includes any one of them first, from C or C++.
#   check_headers.sh CC CXX INCLUDE_DIR...
set -eu
cc=$1 cxx=$2
shift 2
incs=""
headers=""
for d in "$@"; do
    incs="$incs -I$d"
    for h in "$d"/aop/*.h; do headers="$headers aop/${h##*/}"; done
done
[ -n "$headers" ] || { echo "no public headers found" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
n=0
check() { # name, source file
    for std in c99 c11; do
        n=$((n + 1))
        $cc -std=$std -Wall -Wextra -pedantic -Werror -fsyntax-only $incs -x c "$2" 2>"$tmp/err" ||
            { echo "FAIL: $1 as $std:"; cat "$tmp/err"; fail=$((fail + 1)); }
    done
    n=$((n + 1))
    $cxx -std=c++17 -Wall -Wextra -pedantic -Werror -fsyntax-only $incs -x c++ "$2" 2>"$tmp/err" ||
        { echo "FAIL: $1 as c++17:"; cat "$tmp/err"; fail=$((fail + 1)); }
}
: >"$tmp/all.c"
for h in $headers; do
    printf '#include <%s>\nint main(void) { return 0; }\n' "$h" >"$tmp/one.c"
    check "$h" "$tmp/one.c"
    printf '#include <%s>\n' "$h" >>"$tmp/all.c"
done
printf 'int main(void) { return 0; }\n' >>"$tmp/all.c"
check "all headers together" "$tmp/all.c"
echo "$((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
