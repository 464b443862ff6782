/* SPDX-License-Identifier: MIT */
/* apps/cli/output.c: what the aop command prints of a result. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static char captured[8192];

static void report(bool json, const aop_result_t *r) {
    cli_opts_t o;
    memset(&o, 0, sizeof o);
    o.json = json;
    cli_ids_t ids = {"mt-1", NULL};
    FILE *tmp = tmpfile();
    cr_assert_not_null(tmp);
    FILE *saved = stdout;
    stdout = tmp;
    cli_report(&o, &aop_fn_offline_pay, r, &ids, false);
    stdout = saved;
    rewind(tmp);
    size_t n = fread(captured, 1, sizeof captured - 1, tmp);
    captured[n] = '\0';
    fclose(tmp);
}

static aop_result_t hostile_result(void) {
    aop_result_t r;
    memset(&r, 0, sizeof r);
    r.status = 'F';
    r.outcome_known = true;
    r.verified = true;
    r.result_code = aop_str("RISK\x1b[2J");
    r.result_msg = aop_str("declined\x1b[1;1H\xc2\x9b" "32mPAID\x07\x7f");
    return r;
}

Test(cli_output, text_mode_prints_no_control_characters) {
    aop_result_t r = hostile_result();
    report(false, &r);
    for (const unsigned char *p = (const unsigned char *)captured; *p; p++)
        cr_assert(*p >= 0x20 && *p != 0x7f ? true : *p == '\n', "control byte 0x%02x in \"%s\"", *p, captured);
    cr_assert_null(strstr(captured, "\xc2\x9b"), "C1 CSI printed");
    cr_assert_not_null(strstr(captured, "F RISK?[2J (verified)"), "%s", captured);
    cr_assert_not_null(strstr(captured, "message:          declined?[1;1H?32mPAID??\n"), "%s", captured);
}

Test(cli_output, json_mode_escapes_control_characters) {
    aop_result_t r = hostile_result();
    report(true, &r);
    cr_assert_null(strchr(captured, '\x1b'), "raw ESC in JSON output");
    /* the C1 CSI is escaped too: a JSON reader may show the text on a terminal */
    cr_assert_not_null(strstr(captured, "\"resultMsg\":\"declined\\u001b[1;1H\\u009b32mPAID\\u0007\\u007f\""), "%s",
                       captured);
    cr_assert_null(strstr(captured, "\xc2\x9b"), "raw C1 CSI in JSON output");
    cr_assert_not_null(strstr(captured, "{\"formatVersion\":1,"), "%s", captured);
    cr_assert_not_null(strstr(captured, "\"resultCode\":\"RISK\\u001b[2J\""), "%s", captured);
}
