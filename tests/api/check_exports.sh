#!/bin/sh
# SPDX-License-Identifier: MIT
# The library exports its documented API and nothing else: every global symbol of default
# visibility in the archive starts with aop_ and is declared in a public header; everything else
# is hidden (the shared library exports exactly this set).
#   check_exports.sh READELF ARCHIVE INCLUDE_DIR...
set -eu
readelf=$1 archive=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/headers"
for d in "$@"; do cat "$d"/aop/*.h >>"$tmp/headers"; done
# Defined (Ndx not UND), GLOBAL or WEAK, DEFAULT visibility; the sanitizers' own symbols are not
# ours (they never reach a release build).
"$readelf" -sW "$archive" | awk '($5 == "GLOBAL" || $5 == "WEAK") && $6 == "DEFAULT" && $7 != "UND" { print $8 }' |
    grep -v '^__odr_asan\.\|^__asan\|^__ubsan\|^__sancov' | sort -u >"$tmp/exported" || true
count=$(wc -l <"$tmp/exported")
[ "$count" -gt 0 ] || { echo "no exported symbol at all in $archive" >&2; exit 1; }
bad=0
while read -r sym; do
    case "$sym" in
    aop_*) grep -qw "$sym" "$tmp/headers" || { echo "exported but in no public header: $sym"; bad=$((bad + 1)); } ;;
    *) echo "exported without the aop_ prefix: $sym"; bad=$((bad + 1)) ;;
    esac
done <"$tmp/exported"
# ...and every declaration marked AOP_API is exported (a hidden one would not link from the .so).
grep -h '^AOP_API' "$tmp/headers" | sed -E 's/^[^(\[;]*[^a-z0-9_](aop_[a-z0-9_]+) *[(\[;].*/\1/' | sort -u >"$tmp/declared"
while read -r sym; do
    grep -qx "$sym" "$tmp/exported" || { echo "declared AOP_API but not exported: $sym"; bad=$((bad + 1)); }
done <"$tmp/declared"
hidden=$("$readelf" -sW "$archive" | awk '$6 == "HIDDEN" && $7 != "UND"' | wc -l)
echo "$count exported symbols ($(wc -l <"$tmp/declared") declared AOP_API), $hidden hidden; $bad mismatches"
[ "$bad" -eq 0 ]
