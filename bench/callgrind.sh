#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions per operation of every aop-bench op under callgrind, and the two target ratios of
# issue 3: (aop decode+validate of the pay response) / (cJSON typed decode) <= 0.6 and
# (aop encode+validate of the pay request) / (cJSON typed encode) <= 0.25.
#
#   bench/callgrind.sh BUILD_DIR [ITERATIONS]     (ITERATIONS defaults to 2000)
#
# Each op is measured twice, both ways subtracting setup:
#   op only  - --toggle-collect=op_<name> (only the op function and what it calls is counted),
#              runs of ITERATIONS and of 0 iterations (setup calls the op once to check it),
#              the difference divided by ITERATIONS;
#   whole    - the whole program, runs of ITERATIONS and of 0 iterations, the difference divided
#              by ITERATIONS (adds the loop around the op: a few instructions).
# The ratios use the "op only" column. Exit status: 0 when both targets are met, 1 when one is
# missed, 2 on error.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 BUILD_DIR [ITERATIONS]" >&2
    exit 2
fi
bin="$1/bin/aop-bench"
n="${2:-2000}"
case "$n" in '' | *[!0-9]* | 0) echo "$0: ITERATIONS must be a positive integer" >&2; exit 2 ;; esac
[ -x "$bin" ] || { echo "$0: $bin not found (build the aop-bench target)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "$0: valgrind not found" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Ir collected by one run: callgrind's "summary:" (or "totals:") line.
collected() { # out-file
    awk '/^(summary|totals):/ { print $2; exit }' "$1"
}

run() { # label op iterations [extra valgrind options]
    label=$1 op=$2 iters=$3
    shift 3
    out="$tmp/$op.$label.$iters"
    if ! valgrind --tool=callgrind --callgrind-out-file="$out" "$@" "$bin" run "$op" "$iters" \
        >"$out.log" 2>&1; then
        echo "$0: valgrind $bin run $op $iters failed:" >&2
        cat "$out.log" >&2
        exit 2
    fi
    collected "$out"
}

ops="aop_decode_pay_response cjson_decode_pay_response jansson_decode_pay_response
aop_encode_pay_request cjson_encode_pay_request jansson_encode_pay_request"

printf '%-28s %16s %16s\n' "op" "Ir/op (op only)" "Ir/op (whole)"
for op in $ops; do
    t1=$(run toggle "$op" "$n" --toggle-collect="op_$op")
    t0=$(run toggle "$op" 0 --toggle-collect="op_$op")
    w1=$(run whole "$op" "$n")
    w0=$(run whole "$op" 0)
    per=$(awk -v a="$t1" -v b="$t0" -v n="$n" 'BEGIN { printf "%.0f", (a - b) / n }')
    whole=$(awk -v a="$w1" -v b="$w0" -v n="$n" 'BEGIN { printf "%.0f", (a - b) / n }')
    printf '%-28s %16s %16s\n' "$op" "$per" "$whole"
    eval "ir_$op=$per"
done

status=0
ratio() { # label ours base [target]
    r=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.3f", a / b }')
    if [ $# -lt 4 ]; then
        printf '%-46s %s\n' "$1" "$r"
        return
    fi
    verdict=$(awk -v r="$r" -v t="$4" 'BEGIN { print (r <= t) ? "met" : "MISSED" }')
    printf '%-46s %s  (target <= %s: %s)\n' "$1" "$r" "$4" "$verdict"
    [ "$verdict" = met ] || status=1
}
echo
echo "callgrind, $n iterations, instructions per op (op only):"
ratio "aop decode+validate / cJSON typed decode:" "$ir_aop_decode_pay_response" "$ir_cjson_decode_pay_response" 0.6
ratio "aop encode+validate / cJSON typed encode:" "$ir_aop_encode_pay_request" "$ir_cjson_encode_pay_request" 0.25
ratio "aop decode+validate / jansson typed decode:" "$ir_aop_decode_pay_response" "$ir_jansson_decode_pay_response"
ratio "aop encode+validate / jansson typed encode:" "$ir_aop_encode_pay_request" "$ir_jansson_encode_pay_request"
exit $status
