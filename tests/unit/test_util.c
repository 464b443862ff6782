/* SPDX-License-Identifier: MIT */
/* aop_terminal_safe: gateway text made safe for a terminal. */
#include <criterion/criterion.h>
#include <string.h>

#include "aop/util.h"

static void expect_safe(const char *in, size_t n, size_t cap, const char *want) {
    char out[256];
    memset(out, 'Z', sizeof out);
    size_t len = aop_terminal_safe(in, n, out, cap);
    cr_assert_eq(len, strlen(want), "length %zu, want %zu (\"%s\")", len, strlen(want), out);
    cr_assert_eq(memcmp(out, want, len + 1), 0, "got \"%s\", want \"%s\"", out, want);
    cr_assert_lt(len, cap, "always NUL-terminated within cap");
}
#define SAFE(lit, cap, want) expect_safe(lit, sizeof lit - 1, cap, want)

Test(terminal_safe, plain_text_and_utf8_are_kept) {
    SAFE("success", 64, "success");
    SAFE("\xe4\xb8\xad\xe6\x96\x87 caf\xc3\xa9 \xf0\x9f\x98\x80", 64, "\xe4\xb8\xad\xe6\x96\x87 caf\xc3\xa9 \xf0\x9f\x98\x80");
    SAFE("\xc2\xa0nbsp", 64, "\xc2\xa0nbsp"); /* U+00A0: the first code point after C1 */
}

Test(terminal_safe, c0_del_and_escape_sequences_become_question_marks) {
    SAFE("a\tb\nc\rd\x07", 64, "a?b?c?d?");
    SAFE("\x1b[2J\x1b[1;1HPAID", 64, "?[2J?[1;1HPAID"); /* clear screen, cursor home */
    SAFE("\x1b]0;title\x07", 64, "?]0;title?");
    SAFE("x\x7fy", 64, "x?y");
    char nul[] = {'a', '\0', 'b'};
    expect_safe(nul, 3, 64, "a?b");
}

Test(terminal_safe, c1_controls_in_utf8_are_one_question_mark_each) {
    SAFE("\xc2\x80x\xc2\x9b" "31mRED\xc2\x9f", 64, "?x?31mRED?"); /* U+0080, CSI U+009B, U+009F */
}

Test(terminal_safe, invalid_utf8_bytes_become_question_marks) {
    SAFE("\x9b" "31m", 64, "?31m");                 /* a raw 8-bit CSI byte */
    SAFE("\xc0\xaf", 64, "??");                     /* overlong '/' */
    SAFE("\xe0\x80\x80", 64, "???");                /* overlong NUL */
    SAFE("\xed\xa0\x80", 64, "???");                /* a UTF-16 surrogate */
    SAFE("\xf4\x90\x80\x80", 64, "????");           /* above U+10FFFF */
    SAFE("ab\xe4\xb8", 64, "ab??");                 /* truncated sequence */
    SAFE("\xff\xfe", 64, "??");
}

Test(terminal_safe, truncation_never_cuts_a_character) {
    SAFE("abcdef", 4, "abc");
    SAFE("ab\xe4\xb8\xad", 5, "ab");        /* 3 bytes of room: the 3-byte character does not fit */
    SAFE("ab\xe4\xb8\xad", 6, "ab\xe4\xb8\xad");
    SAFE("a\x1b", 2, "a");
    SAFE("\xf0\x9f\x98\x80x", 4, "");
    SAFE("abc", 1, "");
    char out[4] = "ZZZ";
    cr_assert_eq(aop_terminal_safe("abc", 3, out, 0), 0u);
    cr_assert_eq(out[0], 'Z', "cap 0 writes nothing");
    cr_assert_eq(aop_terminal_safe(NULL, 5, out, sizeof out), 0u);
    cr_assert_str_eq(out, "");
    cr_assert_eq(aop_terminal_safe("abc", 3, NULL, 8), 0u);
}

/* aop_random_chars: the one random-id source (the kernel's generator). */
Test(random_chars, only_the_alphabet_every_character_and_no_repeats) {
    enum { N = 4000 };
    static char a[N + 1], b[N + 1];
    cr_assert_eq(aop_random_chars(a, N, "0123456789"), AOP_OK);
    cr_assert_eq(aop_random_chars(b, N, "0123456789"), AOP_OK);
    cr_assert_eq(strlen(a), (size_t)N);
    unsigned seen[10] = {0};
    for (size_t i = 0; i < N; i++) {
        cr_assert(a[i] >= '0' && a[i] <= '9', "'%c' is not a digit", a[i]);
        seen[a[i] - '0']++;
    }
    /* uniform: each digit ~400 of 4000; far outside [250, 550] means a broken draw (p < 1e-12) */
    for (int d = 0; d < 10; d++) cr_assert(seen[d] > 250 && seen[d] < 550, "digit %d seen %u times", d, seen[d]);
    cr_assert_neq(memcmp(a, b, N), 0, "two draws are equal");
    char one[2];
    cr_assert_eq(aop_random_chars(one, 1, "x"), AOP_OK);
    cr_assert_str_eq(one, "x");
    cr_assert_eq(aop_random_chars(one, 1, ""), AOP_E_INVALID_ARG);
    cr_assert_eq(aop_random_chars(one, 1, NULL), AOP_E_INVALID_ARG);
}
