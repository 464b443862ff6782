/* SPDX-License-Identifier: MIT */
/* ISO 4217 for the till: whether a --currency is one in use, and an amount in major units by its
 * currency's exponent (the table is the data file iso4217.def). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "currency.h"

static const cli_currency_t currencies[] = {
#define CURRENCY(code, numeric, exponent) {code, numeric, exponent},
#include "iso4217.def"
#undef CURRENCY
};

static int by_code(const void *key, const void *elem) {
    return strcmp((const char *)key, ((const cli_currency_t *)elem)->code);
}

const cli_currency_t *cli_currency_find(const char *code) {
    if (!code || strlen(code) != 3) return NULL;
    return bsearch(code, currencies, sizeof currencies / sizeof *currencies, sizeof *currencies, by_code);
}

bool cli_currency_table_sorted(void) {
    for (size_t i = 1; i < sizeof currencies / sizeof *currencies; i++)
        if (strcmp(currencies[i - 1].code, currencies[i].code) >= 0) return false;
    return true;
}

void cli_amount_text(const char *minor, const char *currency, char *out, size_t cap) {
    const cli_currency_t *c = cli_currency_find(currency);
    size_t n = minor ? strlen(minor) : 0;
    bool digits = n > 0 && strspn(minor, "0123456789") == n;
    if (!c || !digits || n > 24) { /* as given: no exponent to place the point by */
        snprintf(out, cap, "%s %s (minor units)", currency && *currency ? currency : "?", n ? minor : "?");
        return;
    }
    unsigned e = (unsigned)c->exponent;
    char major[48];
    if (e == 0) {
        snprintf(major, sizeof major, "%s", minor);
    } else {
        /* "5" with exponent 2 is 0.05: pad to at least e + 1 digits, then place the point */
        char padded[32];
        size_t zeros = n <= e ? e + 1 - n : 0;
        memset(padded, '0', zeros);
        memcpy(padded + zeros, minor, n + 1);
        size_t p = zeros + n;
        snprintf(major, sizeof major, "%.*s.%s", (int)(p - e), padded, padded + p - e);
    }
    snprintf(out, cap, "%s %s", c->code, major);
}
