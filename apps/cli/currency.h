/* SPDX-License-Identifier: MIT */
/* ISO 4217 for the till (currency.c, data in iso4217.def). */
#ifndef AOP_CLI_CURRENCY_H
#define AOP_CLI_CURRENCY_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *code; /* "USD" */
    int numeric;      /* 840 */
    int exponent;     /* minor units per major unit: 10^exponent */
} cli_currency_t;

/* The currency of code, or NULL when it is not one in use. */
const cli_currency_t *cli_currency_find(const char *code);
/* Whether the table is sorted and unique (the tests' check of the data file). */
bool cli_currency_table_sorted(void);
/* minor (digits) in currency, in major units: "USD 1.00", "JPY 100", "KWD 1.234"; an unknown
 * currency or a malformed amount as given: "XYZ 100 (minor units)". */
void cli_amount_text(const char *minor, const char *currency, char *out, size_t cap);

#endif
