#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions per client pay (aop_call against an in-process fake transport: no network), split
# into the parts issue 8 asks about. Use a gcc build: valgrind 3.19 cannot read clang's DWARF 5.
#
#   bench/client_pay.sh BUILD_DIR [ITERATIONS]      (ITERATIONS defaults to 200)
#
# Only op_client_pay and its callees are collected, except the fake transport's post (it signs
# each response with the gateway key: not the client's cost): --toggle-collect=op_client_pay
# switches collection on, the nested --toggle-collect=fake_post off again while it runs. A run
# of ITERATIONS minus a run of 0 (setup makes one checked pay), divided by ITERATIONS, gives:
#   total     all instructions per pay
#   evp_setup inclusive cost of making and initialising the EVP contexts (EVP_MD_CTX_new/free/
#             copy_ex, EVP_DigestSignInit_ex, EVP_DigestVerifyInit_ex, setting the padding)
#   rsa_priv  the RSA private-key operation itself (RSA_private_encrypt, inclusive)
#   rsa_pub   the RSA public-key operation of the verification (RSA_public_decrypt, inclusive)
#   openssl   self cost of everything in libcrypto
#   libc      self cost of everything in libc and the dynamic loader
#   aop       total - openssl - libc: aop's own code
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 BUILD_DIR [ITERATIONS]" >&2
    exit 2
fi
bin="$1/bin/aop-bench-client"
n="${2:-200}"
case "$n" in '' | *[!0-9]* | 0) echo "$0: ITERATIONS must be a positive integer" >&2; exit 2 ;; esac
[ -x "$bin" ] || { echo "$0: $bin not found (build the aop-bench-client target)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "$0: valgrind not found" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One callgrind run; prints the parts (in the order above) as "name value" lines.
measure() { # iterations
    out="$tmp/cg.$1"
    if ! valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect=op_client_pay \
        --toggle-collect=fake_post "$bin" "$1" >"$out.log" 2>&1; then
        echo "$0: valgrind $bin $1 failed:" >&2
        cat "$out.log" >&2
        exit 2
    fi
    callgrind_annotate --inclusive=yes --threshold=100 "$out" >"$out.incl"
    callgrind_annotate --inclusive=no --threshold=100 "$out" >"$out.self"
    awk '
        function num(s) { gsub(",", "", s); return s + 0 }
        FNR == NR {
            if ($3 == "PROGRAM" && $4 == "TOTALS") total = num($1)
            if (match($0, /:[A-Za-z0-9_]+ \[/)) {
                f = substr($0, RSTART + 1, RLENGTH - 3)
                if (f ~ /^(EVP_MD_CTX_new|EVP_MD_CTX_free|EVP_MD_CTX_copy_ex|EVP_DigestSignInit_ex|EVP_DigestVerifyInit_ex|EVP_DigestSignInit|EVP_DigestVerifyInit|EVP_PKEY_CTX_set_rsa_padding)$/)
                    setup += num($1)
                if (f == "RSA_private_encrypt") priv = num($1)
                if (f == "RSA_public_decrypt") pub = num($1)
            }
            next
        }
        /\[.*libcrypto\.so[^]]*\]$/ { ossl += num($1) }
        /\[.*(libc\.so|ld-linux)[^]]*\]$/ { libc += num($1) }
        END {
            printf "total %d\nevp_setup %d\nrsa_priv %d\nrsa_pub %d\nopenssl %d\nlibc %d\naop %d\n",
                total, setup, priv, pub, ossl, libc, total - ossl - libc
        }' "$out.incl" "$out.self"
}

measure "$n" >"$tmp/n"
measure 0 >"$tmp/0"
echo "callgrind, $n client pays (fake transport excluded), instructions per pay:"
awk -v n="$n" 'FNR == NR { base[$1] = $2; next } { printf "  %-10s %12.0f\n", $1, ($2 - base[$1]) / n }' \
    "$tmp/0" "$tmp/n"
