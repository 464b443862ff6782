/* SPDX-License-Identifier: MIT */
/* The status numbers are part of the ABI and of stored logs: each is pinned here, written out. */
#include <criterion/criterion.h>
#include <string.h>

#include "aop/error.h"

typedef struct {
    aop_status_t status;
    int number;
    const char *name;
} pinned_t;

static const pinned_t pinned[] = {
    {AOP_OK, 0, "AOP_OK"},
    {AOP_E_MISSING, 1, "AOP_E_MISSING"},
    {AOP_E_EMPTY, 2, "AOP_E_EMPTY"},
    {AOP_E_TOO_LONG, 3, "AOP_E_TOO_LONG"},
    {AOP_E_BAD_ENUM, 4, "AOP_E_BAD_ENUM"},
    {AOP_E_BAD_DATETIME, 5, "AOP_E_BAD_DATETIME"},
    {AOP_E_BAD_AMOUNT, 6, "AOP_E_BAD_AMOUNT"},
    {AOP_E_BAD_CURRENCY, 7, "AOP_E_BAD_CURRENCY"},
    {AOP_E_BAD_DECIMAL, 8, "AOP_E_BAD_DECIMAL"},
    {AOP_E_BAD_UTF8, 9, "AOP_E_BAD_UTF8"},
    {AOP_E_ONE_OF_REQUIRED, 10, "AOP_E_ONE_OF_REQUIRED"},
    {AOP_E_ECHO_MISMATCH, 11, "AOP_E_ECHO_MISMATCH"},
    {AOP_E_WRONG_TYPE, 12, "AOP_E_WRONG_TYPE"},
    {AOP_E_UNKNOWN_MEMBER, 13, "AOP_E_UNKNOWN_MEMBER"},
    {AOP_E_NULL_MANDATORY, 14, "AOP_E_NULL_MANDATORY"},
    {AOP_E_CONTROL_CHAR, 15, "AOP_E_CONTROL_CHAR"},
    {AOP_E_AMOUNT_ZERO, 16, "AOP_E_AMOUNT_ZERO"},
    {AOP_E_JSON_SYNTAX, 100, "AOP_E_JSON_SYNTAX"},
    {AOP_E_JSON_STRING, 101, "AOP_E_JSON_STRING"},
    {AOP_E_JSON_UTF8, 102, "AOP_E_JSON_UTF8"},
    {AOP_E_JSON_NUL, 103, "AOP_E_JSON_NUL"},
    {AOP_E_JSON_NUMBER, 104, "AOP_E_JSON_NUMBER"},
    {AOP_E_JSON_DUPLICATE_KEY, 105, "AOP_E_JSON_DUPLICATE_KEY"},
    {AOP_E_JSON_DEPTH, 106, "AOP_E_JSON_DEPTH"},
    {AOP_E_JSON_TOO_LARGE, 107, "AOP_E_JSON_TOO_LARGE"},
    {AOP_E_JSON_TOKENS, 108, "AOP_E_JSON_TOKENS"},
    {AOP_E_ENVELOPE, 109, "AOP_E_ENVELOPE"},
    {AOP_E_CONTRADICTION, 110, "AOP_E_CONTRADICTION"},
    {AOP_E_BUFFER_TOO_SMALL, 200, "AOP_E_BUFFER_TOO_SMALL"},
    {AOP_E_SIGNATURE_MISSING, 300, "AOP_E_SIGNATURE_MISSING"},
    {AOP_E_SIGNATURE_INVALID, 301, "AOP_E_SIGNATURE_INVALID"},
    {AOP_E_KEY_FORMAT, 302, "AOP_E_KEY_FORMAT"},
    {AOP_E_KEY_ENCRYPTED, 303, "AOP_E_KEY_ENCRYPTED"},
    {AOP_E_KEY_NOT_RSA, 304, "AOP_E_KEY_NOT_RSA"},
    {AOP_E_KEY_WEAK, 305, "AOP_E_KEY_WEAK"},
    {AOP_E_KEY_MISMATCH, 306, "AOP_E_KEY_MISMATCH"},
    {AOP_E_CRYPTO, 307, "AOP_E_CRYPTO"},
    {AOP_E_TIMEOUT, 400, "AOP_E_TIMEOUT"},
    {AOP_E_CONNECT, 401, "AOP_E_CONNECT"},
    {AOP_E_TRANSPORT, 402, "AOP_E_TRANSPORT"},
    {AOP_E_HTTP_STATUS, 403, "AOP_E_HTTP_STATUS"},
    {AOP_E_BODY_TOO_LARGE, 404, "AOP_E_BODY_TOO_LARGE"},
    {AOP_E_INSECURE_URL, 405, "AOP_E_INSECURE_URL"},
    {AOP_E_STOPPED, 406, "AOP_E_STOPPED"},
    {AOP_E_INVALID_ARG, 500, "AOP_E_INVALID_ARG"},
    {AOP_E_CONFIG, 501, "AOP_E_CONFIG"},
    {AOP_E_IO, 502, "AOP_E_IO"},
    {AOP_E_NOMEM, 503, "AOP_E_NOMEM"},
    {AOP_E_INTERNAL, 504, "AOP_E_INTERNAL"},
    {AOP_E_JOURNAL, 600, "AOP_E_JOURNAL"},
    {AOP_E_TAKEN_OVER, 601, "AOP_E_TAKEN_OVER"},
    {AOP_E_ENTRY_OPEN, 602, "AOP_E_ENTRY_OPEN"},
    {AOP_E_JOURNAL_BUSY, 603, "AOP_E_JOURNAL_BUSY"},
    {AOP_E_JOURNAL_UNKNOWN, 604, "AOP_E_JOURNAL_UNKNOWN"},
    {AOP_E_JOURNAL_UNSUPPORTED, 605, "AOP_E_JOURNAL_UNSUPPORTED"},
    {AOP_E_ENTRY_ALTERED, 606, "AOP_E_ENTRY_ALTERED"},
    {AOP_E_MISADDRESSED, 700, "AOP_E_MISADDRESSED"},
    {AOP_E_OUT_OF_WINDOW, 701, "AOP_E_OUT_OF_WINDOW"},
};

Test(status, numbers_are_pinned) {
    for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++) {
        cr_assert_eq((int)pinned[i].status, pinned[i].number, "%s moved", pinned[i].name);
        cr_assert_str_eq(aop_status_name((aop_status_t)pinned[i].number), pinned[i].name);
        cr_assert_str_neq(aop_strstatus(pinned[i].status), "unknown status", "%s", pinned[i].name);
        for (size_t j = 0; j < i; j++) cr_assert_neq(pinned[i].number, pinned[j].number);
    }
}

/* A status added to the list without a line above fails here. */
#define COUNT_(name, number, text) +1
enum { LISTED = 0 AOP_STATUS_LIST(COUNT_) };
#undef COUNT_

Test(status, every_listed_status_is_pinned) {
    cr_assert_eq(sizeof pinned / sizeof pinned[0], (size_t)LISTED);
}

Test(status, unknown_numbers_are_named_as_such) {
    cr_assert_str_eq(aop_status_name((aop_status_t)99), "AOP_E_?");
    cr_assert_str_eq(aop_strstatus((aop_status_t)-1), "unknown status");
    cr_assert_str_eq(aop_status_text(AOP_E_TIMEOUT), aop_strstatus(AOP_E_TIMEOUT));
}
