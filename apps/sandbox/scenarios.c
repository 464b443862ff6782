/* SPDX-License-Identifier: MIT */
/* The scenario table: the identityCode of a pay request picks what the gateway does. One table,
 * printed by `aop-sandbox --scenarios --json` and used by the gateway.
 *
 * The codes look like wallet codes: 18 digits, "28100000000000" then four digits that name the
 * group: 1nnn the pay-specific codes of the seed (nnn = their order in the seed, 020 = the
 * in-process payment that closes), 2nnn the common codes a gateway produces on its own, 3nnn the
 * unknown-outcome flow (payments that stay PAYING, and faults of their later queries and
 * cancels), 9nnn transport and protocol faults of the pay, 4nnn (a table of their own) the
 * notifications the sandbox sends with --notify-url. Any other code of 16 to 24 digits pays;
 * anything else is IDENTITY_CODE_INVALID. A pay fault applies to every pay with its code,
 * identical repeats included (they answer the payment's current state through the same fault).
 * A query or cancel fault applies to the calls that find a payment made with its code (the
 * payment keeps the row's tag and counts its calls, since those requests carry no
 * identityCode); refunds are never faulted. --no-faults turns every fault off. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/json_quote.h"
#include "sbx_internal.h"

#define ST_SUCCESS AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS
#define ST_CLOSED AOP_ACQUIREMENT_STATUS_ENUM_CLOSED

#define DECLINE(code_, rc_, what_)                                                              \
    {.identity_code = code_, .result_code = rc_, .action = SBX_ACT_DECLINE, .outcome = SBX_OUTCOME_FAILED, \
     .behaviour =                                                                                \
     "declined (" what_ "); recorded as CLOSED: an identical repeat gets the same answer, "      \
     "payQuery reports CLOSED"}
#define REJECT(code_, rc_, what_)                                                               \
    {.identity_code = code_, .result_code = rc_, .action = SBX_ACT_REJECT, .outcome = SBX_OUTCOME_FAILED, \
     .behaviour =                                                                                \
     "refused by the gateway before the payment (" what_ "); nothing recorded: payQuery reports " \
     "ORDER_NOT_EXIST"}
#define FAULT(code_, action_, fault_, outcome_, what_)                                                    \
    {.identity_code = code_, .result_code = AOP_RC_SUCCESS, .action = action_, .fault = fault_,              \
     .outcome = SBX_OUTCOME_##outcome_, .behaviour = what_}
/* A fault before anything is recorded: the answer the fault replaces says so (a pay S needs an
 * acquirementId, which such a row does not have). */
#define REJECTED_BY_FAULT(code_, fault_, what_)                                                 \
    {.identity_code = code_, .result_code = AOP_RC_UNKNOWN_EXCEPTION, .action = SBX_ACT_REJECT, \
     .fault = fault_, .outcome = SBX_OUTCOME_CANCELLED, .behaviour = what_}
/* A payment that stays PAYING until a cancel (no timer), whose later calls may be faulted. */
#define PAYING_ROW(code_, what_) \
    .identity_code = code_, .result_code = AOP_RC_PAYMENT_IN_PROCESS, .action = SBX_ACT_IN_PROCESS, \
    .behaviour = "PAYMENT_IN_PROCESS with acquirementId; stays PAYING until a cancel closes it; " what_
#define HELD_ANSWER "held for the delay (--delay-seconds, default 20 s), past the client's deadline"

const sbx_scenario_t sbx_scenarios[] = {
    {.identity_code = "28763443825664394", .outcome = SBX_OUTCOME_PAID, .result_code = AOP_RC_SUCCESS, .action = SBX_ACT_PAY, .settle_to = 0, .fault = SBX_FAULT_NONE,
     .behaviour = "pays: SUCCESS with acquirementId, payAmount and createTime, recorded as SUCCESS (the demo "
     "code; any code of 16 to 24 digits that is not in this table does the same)"},
    /* The pay-specific codes of the seed, in its order. */
    {.identity_code = "281000000000001001", .outcome = SBX_OUTCOME_FAILED, .result_code = AOP_RC_REPEAT_REQ_INCONSISTENT, .action = SBX_ACT_REJECT, .settle_to = 0, .fault = SBX_FAULT_NONE,
     .behaviour = "answers REPEAT_REQ_INCONSISTENT directly, nothing recorded; the gateway gives the same answer "
     "to any pay that reuses a merchantTransId with another amount, currency or identityCode"},
    DECLINE("281000000000001002", AOP_RC_RISK_REJECT, "risk control"),
    DECLINE("281000000000001003", AOP_RC_QUERY_CONTRACT_VALUE_NULL, "no contract value"),
    DECLINE("281000000000001004", AOP_RC_CONTRACT_STATUS_INVALID, "contract status"),
    DECLINE("281000000000001005", AOP_RC_USER_NOT_EXIST, "no such user"),
    DECLINE("281000000000001006", AOP_RC_USER_STATUS_ABNORMAL, "user status"),
    DECLINE("281000000000001007", AOP_RC_CURRENCY_NOT_SUPPORT, "currency"),
    DECLINE("281000000000001008", AOP_RC_AMOUNT_EXCEED_LIMIT, "amount limit"),
    DECLINE("281000000000001009", AOP_RC_COUNT_EXCEED_LIMIT, "count limit"),
    DECLINE("281000000000001010", AOP_RC_USER_BALANCE_NOT_ENOUGH, "balance"),
    DECLINE("281000000000001011", AOP_RC_IDENTITY_CODE_INVALID,
            "invalid code; also the answer to any code that is not 16 to 24 digits"),
    DECLINE("281000000000001012", AOP_RC_IDENTITY_CODE_NOT_SUPPORT, "unsupported wallet"),
    {.identity_code = "281000000000001013", .outcome = SBX_OUTCOME_PAID, .result_code = AOP_RC_PAYMENT_IN_PROCESS, .action = SBX_ACT_IN_PROCESS, .settle_to = ST_SUCCESS, .fault = SBX_FAULT_NONE,
     .behaviour = "PAYMENT_IN_PROCESS with acquirementId (the customer confirms on the phone): PAYING for 3 s, "
     "then SUCCESS (the timer is a wall-clock time in the state, so it survives a restart); "
     "payQuery and an identical repeat report the current state"},
    DECLINE("281000000000001014", AOP_RC_ORDER_IS_CLOSED, "order closed"),
    DECLINE("281000000000001015", AOP_RC_ORDER_STATUS_INVALID, "order status"),
    DECLINE("281000000000001016", AOP_RC_USER_AMOUNT_EXCEED_LIMIT, "user amount limit"),
    DECLINE("281000000000001017", AOP_RC_USER_REALNAME_STATUS_INVALID, "real-name validation"),
    DECLINE("281000000000001018", AOP_RC_USER_NO_PAYMENT_INSTRUMENT, "no payment instrument"),
    DECLINE("281000000000001019", AOP_RC_USER_BALANCE_PAY_OFF, "payment capability off"),
    {.identity_code = "281000000000001020", .outcome = SBX_OUTCOME_FAILED, .result_code = AOP_RC_PAYMENT_IN_PROCESS, .action = SBX_ACT_IN_PROCESS, .settle_to = ST_CLOSED, .fault = SBX_FAULT_NONE,
     .behaviour = "PAYMENT_IN_PROCESS with acquirementId: PAYING for 3 s, then CLOSED (the customer never "
     "confirmed); payQuery then reports CLOSED and an identical repeat ORDER_IS_CLOSED"},
    /* Common codes a gateway produces on its own (the gateway also produces PARAM_ILLEGAL,
     * INVALID_SIGNATURE, UNKNOWN_CLIENT and REPEAT_REQ_INCONSISTENT from real checks). */
    DECLINE("281000000000002001", AOP_RC_PROCESS_FAIL, "general business failure"),
    {.identity_code = "281000000000002002", .outcome = SBX_OUTCOME_FAILED, .result_code = AOP_RC_UNKNOWN_EXCEPTION, .action = SBX_ACT_EXCEPTION, .settle_to = 0, .fault = SBX_FAULT_NONE,
     .behaviour = "UNKNOWN_EXCEPTION (outcome unknown to the client); the payment did not happen: recorded as "
     "CLOSED, so payQuery reports CLOSED and an identical repeat ORDER_IS_CLOSED"},
    REJECT("281000000000002003", AOP_RC_REQUEST_TRAFFIC_EXCEED_LIMIT, "throttled"),
    REJECT("281000000000002004", AOP_RC_PARAM_ILLEGAL, "as if a parameter were illegal"),
    REJECT("281000000000002005", AOP_RC_INVALID_SIGNATURE, "as if the signature did not verify"),
    REJECT("281000000000002006", AOP_RC_KEY_NO_FOUND, "no key"),
    REJECT("281000000000002007", AOP_RC_NO_INTERFACE_DEF, "API not defined"),
    REJECT("281000000000002008", AOP_RC_API_IS_INVALID, "API not active"),
    REJECT("281000000000002009", AOP_RC_OAUTH_FAILED, "oAuth"),
    REJECT("281000000000002010", AOP_RC_ACCESS_DENIED, "access denied"),
    REJECT("281000000000002011", AOP_RC_CLIENT_FORBIDDEN_ACCESS_API, "client not authorised"),
    REJECT("281000000000002012", AOP_RC_UNKNOWN_CLIENT, "as if the clientId were unknown"),
    REJECT("281000000000002013", AOP_RC_INVALID_CLIENT_STATUS, "client status"),
    /* The unknown-outcome flow: payments that stay PAYING, and faults of later calls. */
    {.outcome = SBX_OUTCOME_CANCELLED, PAYING_ROW("281000000000003001", "payQuery reports PAYING, payCancel closes it (CLOSED)")},
    {.outcome = SBX_OUTCOME_CANCELLED, PAYING_ROW("281000000000003002", "every payQuery answer's signature does not verify"),
     .tag = "query-bad-signature", .query = {.fault = SBX_FAULT_BAD_SIGNATURE}},
    {.outcome = SBX_OUTCOME_CANCELLED, PAYING_ROW("281000000000003003", "every payQuery answer echoes another id (merchantTransId, or "
                "acquirementId when the query names the payment by it)"),
     .tag = "query-echo-mismatch", .query = {.fault = SBX_FAULT_ECHO_MISMATCH}},
    {.identity_code = "281000000000003004", .outcome = SBX_OUTCOME_NEEDS_ATTENTION, .result_code = AOP_RC_SUCCESS, .action = SBX_ACT_PAY,
     .fault = SBX_FAULT_DROP, .tag = "query-other-amount", .query = {.other_amount = true},
     .behaviour = "pays (committed as SUCCESS), then closes the connection without an answer; every "
                  "payQuery reports SUCCESS with an orderAmount one minor unit above the paid one"},
    {.outcome = SBX_OUTCOME_UNRESOLVED, PAYING_ROW("281000000000003005", "every payQuery answers F KEY_NO_FOUND (a credential code)"),
     .tag = "query-key-no-found", .query = {.result_code = AOP_RC_KEY_NO_FOUND}},
    {.outcome = SBX_OUTCOME_CANCELLED, PAYING_ROW("281000000000003006", "the first two payCancels close it but their answers are "
                HELD_ANSWER "; the third answers at once"),
     .tag = "cancel-held-twice", .cancel = {.fault = SBX_FAULT_DELAY, .times = 2}},
    {.outcome = SBX_OUTCOME_UNRESOLVED, PAYING_ROW("281000000000003007", "every payCancel answers HTTP 500 and changes nothing"),
     .tag = "cancel-http-500", .cancel = {.fault = SBX_FAULT_HTTP_500}},
    {.outcome = SBX_OUTCOME_NEEDS_ATTENTION, PAYING_ROW("281000000000003008", "every payCancel answers F ORDER_NOT_EXIST and changes nothing"),
     .tag = "cancel-order-not-exist", .cancel = {.result_code = AOP_RC_ORDER_NOT_EXIST}},
    {.identity_code = "281000000000003009", .outcome = SBX_OUTCOME_PAID, .result_code = AOP_RC_PAYMENT_IN_PROCESS, .action = SBX_ACT_IN_PROCESS,
     .settle_to = ST_SUCCESS, .repeat_code = AOP_RC_PROCESS_FAIL,
     .behaviour = "PAYMENT_IN_PROCESS with acquirementId: PAYING for 3 s, then SUCCESS (as 1013); every "
                  "identical repeat of the pay is refused with F PROCESS_FAIL and changes nothing, as a "
                  "gateway that refuses re-sends: the refusal says nothing of the payment"},
    /* Faults of the pay: the outcome is unknown to the client (except 9008). */
    FAULT("281000000000009001", SBX_ACT_PAY, SBX_FAULT_DELAY, PAID,
          "pays (committed as SUCCESS), then holds the signed answer for 20 s, past the pay "
          "deadline of 15 s: the client times out; payQuery reports SUCCESS"),
    FAULT("281000000000009002", SBX_ACT_PAY, SBX_FAULT_DROP, PAID,
          "pays (committed as SUCCESS), then closes the connection without an answer (the reply is "
          "lost after the commit); payQuery "
          "reports SUCCESS"),
    FAULT("281000000000009003", SBX_ACT_PAY, SBX_FAULT_BAD_SIGNATURE, PAID,
          "pays (committed as SUCCESS); the SUCCESS answer's signature has one base64 character "
          "flipped, so it does not verify; payQuery reports SUCCESS"),
    REJECTED_BY_FAULT("281000000000009004", SBX_FAULT_HTTP_500,
                      "HTTP 500 with a plain-text body; nothing recorded: payQuery reports ORDER_NOT_EXIST"),
    FAULT("281000000000009005", SBX_ACT_PAY, SBX_FAULT_TRUNCATE, PAID,
          "pays (committed as SUCCESS); the answer announces its full Content-Length but only "
          "half of it is sent; payQuery reports SUCCESS"),
    FAULT("281000000000009006", SBX_ACT_PAY, SBX_FAULT_UNSIGNED, PAID,
          "pays (committed as SUCCESS); the SUCCESS answer carries no signature; payQuery "
          "reports SUCCESS"),
    FAULT("281000000000009007", SBX_ACT_PAY, SBX_FAULT_ECHO_MISMATCH, PAID,
          "pays (committed as SUCCESS); the signed SUCCESS answer echoes another merchantTransId; "
          "payQuery reports SUCCESS"),
    FAULT("281000000000009008", SBX_ACT_PAY, SBX_FAULT_UNKNOWN_MEMBER, PAID,
          "pays: a correctly signed SUCCESS answer with an extra member the schema does not know "
          "(response.body.sandboxNote): the outcome stands, with one warning"),
    REJECTED_BY_FAULT("281000000000009009", SBX_FAULT_DROP,
          "closes the connection before anything is recorded: payQuery reports ORDER_NOT_EXIST, and "
          "a payCancel by merchantTransId closes the id"),
    {.identity_code = "281000000000009010", .outcome = SBX_OUTCOME_PAID, .result_code = AOP_RC_SUCCESS, .action = SBX_ACT_PAY,
     .fault = SBX_FAULT_DELAY, .late = true,
     .behaviour = "a late pay: the payment is recorded (SUCCESS) only when its answer, " HELD_ANSWER
                  ", is sent; until then payQuery reports ORDER_NOT_EXIST and a payCancel by "
                  "merchantTransId closes the id, so the late pay never pays"},
};
const unsigned sbx_n_scenarios = sizeof sbx_scenarios / sizeof sbx_scenarios[0];

/* The notifications (with --notify-url; docs/protocol.md section 8). Every payment is notified
 * once it reaches SUCCESS or CLOSED; these rows change how. Their payments behave as rows of the
 * table above do (pays at once, or PAYING for the in-process time then SUCCESS or CLOSED), so a
 * resolving `aop pay` without notifications ends as those do. */
#define NOTIFY_ROW(code_, tag_, notify_, what_) \
    .identity_code = code_, .tag = tag_, .notify = notify_, .behaviour = what_
#define IN_PROCESS_TO(settle_) .result_code = AOP_RC_PAYMENT_IN_PROCESS, .action = SBX_ACT_IN_PROCESS, .settle_to = settle_
#define SETTLES "PAYMENT_IN_PROCESS with acquirementId, PAYING for the in-process time, then "
const sbx_scenario_t sbx_notify_scenarios[] = {
    {NOTIFY_ROW("281000000000004001", "notify-twice", SBX_NOTIFY_TWICE,
                "pays at once (SUCCESS); its notification is sent twice: once more after the first signed "
                "S / SUCCESS answer, a re-delivery of the same fact"),
     .result_code = AOP_RC_SUCCESS, .action = SBX_ACT_PAY, .outcome = SBX_OUTCOME_PAID},
    {NOTIFY_ROW("281000000000004002", "notify-late", SBX_NOTIFY_LATE,
                SETTLES "SUCCESS; its notification is sent late: not before --notify-late-seconds (default "
                "90 s) after the pay, past the client's query budget"),
     IN_PROCESS_TO(ST_SUCCESS), .outcome = SBX_OUTCOME_PAID},
    {NOTIFY_ROW("281000000000004003", "notify-never", SBX_NOTIFY_NEVER,
                SETTLES "SUCCESS; its notification is never sent"),
     IN_PROCESS_TO(ST_SUCCESS), .outcome = SBX_OUTCOME_PAID},
    {NOTIFY_ROW("281000000000004004", "notify-bad-signature", SBX_NOTIFY_BAD_SIGNATURE,
                SETTLES "SUCCESS; every send of its notification has one base64 character of the signature "
                "flipped, so it is sent again on the whole schedule"),
     IN_PROCESS_TO(ST_SUCCESS), .outcome = SBX_OUTCOME_PAID},
    {NOTIFY_ROW("281000000000004005", "notify-contradicts-closed", SBX_NOTIFY_CONTRADICT,
                SETTLES "CLOSED; its notification contradicts that: S SUCCESS with its acquirementId and "
                "amount, while payQuery reports CLOSED"),
     IN_PROCESS_TO(ST_CLOSED), .outcome = SBX_OUTCOME_FAILED},
    {NOTIFY_ROW("281000000000004006", "notify-contradicts-success", SBX_NOTIFY_CONTRADICT,
                SETTLES "SUCCESS; its notification contradicts that: F ORDER_IS_CLOSED, while payQuery "
                "reports SUCCESS"),
     IN_PROCESS_TO(ST_SUCCESS), .outcome = SBX_OUTCOME_PAID},
};
const unsigned sbx_n_notify_scenarios = sizeof sbx_notify_scenarios / sizeof sbx_notify_scenarios[0];

static const sbx_scenario_t *find_in(const sbx_scenario_t *rows, unsigned n, const char *code, size_t len) {
    for (unsigned i = 0; i < n; i++) {
        const char *c = rows[i].identity_code;
        if (strlen(c) == len && memcmp(c, code, len) == 0) return &rows[i];
    }
    return NULL;
}

const sbx_scenario_t *sbx_scenario_find(const char *code, size_t len) {
    const sbx_scenario_t *sc = find_in(sbx_scenarios, sbx_n_scenarios, code, len);
    return sc ? sc : find_in(sbx_notify_scenarios, sbx_n_notify_scenarios, code, len);
}

bool sbx_code_well_formed(const char *code, size_t len) {
    if (len < 16 || len > 24) return false;
    for (size_t i = 0; i < len; i++)
        if (code[i] < '0' || code[i] > '9') return false;
    return true;
}

static bool fault_hides_outcome(sbx_fault_t f) {
    return f != SBX_FAULT_NONE && f != SBX_FAULT_UNKNOWN_MEMBER;
}

char sbx_scenario_status(const sbx_scenario_t *sc) {
    if (fault_hides_outcome(sc->fault)) return 'U';
    const aop_result_code_t *rc =
        aop_result_code_find(aop_fn_offline_pay.codes, sc->result_code, strlen(sc->result_code));
    return rc ? rc->status : 'U';
}

const char *sbx_scenario_shown_code(const sbx_scenario_t *sc) {
    return fault_hides_outcome(sc->fault) ? NULL : sc->result_code;
}

const sbx_scenario_t *sbx_scenario_by_tag(const char *tag) {
    for (unsigned i = 0; tag && *tag && i < sbx_n_scenarios + sbx_n_notify_scenarios; i++) {
        const sbx_scenario_t *sc = i < sbx_n_scenarios ? &sbx_scenarios[i] : &sbx_notify_scenarios[i - sbx_n_scenarios];
        if (sc->tag && strcmp(sc->tag, tag) == 0) return sc;
    }
    return NULL;
}

bool sbx_call_fault_active(const sbx_call_fault_t *f) {
    return f->fault != SBX_FAULT_NONE || f->result_code || f->other_amount;
}

sbx_scenario_t sbx_scenario_without_faults(const sbx_scenario_t *sc) {
    sbx_scenario_t r = *sc;
    if (r.fault != SBX_FAULT_NONE && r.action == SBX_ACT_REJECT) {
        /* it recorded nothing only because of its fault */
        r.action = SBX_ACT_PAY;
        r.result_code = AOP_RC_SUCCESS;
    }
    r.fault = SBX_FAULT_NONE;
    r.notify = SBX_NOTIFY_NORMAL;
    r.late = false;
    r.tag = NULL;
    r.repeat_code = NULL;
    memset(&r.query, 0, sizeof r.query);
    memset(&r.cancel, 0, sizeof r.cancel);
    return r;
}

const char *sbx_outcome_name(sbx_outcome_t o) {
    static const char *const names[] = {"UNDECLARED", "PAID", "FAILED", "CANCELLED", "UNRESOLVED", "NEEDS_ATTENTION"};
    return (unsigned)o < sizeof names / sizeof *names ? names[o] : "UNDECLARED";
}

int sbx_outcome_exit_code(sbx_outcome_t o) {
    switch (o) {
    case SBX_OUTCOME_PAID: return AOP_EXIT_S;
    case SBX_OUTCOME_FAILED:
    case SBX_OUTCOME_CANCELLED: return AOP_EXIT_F;
    default: return AOP_EXIT_U;
    }
}

static int put_json_string(FILE *out, const char *s) { return aop_json_fquote(out, s, s ? strlen(s) : 0); }

const sbx_scenario_t *sbx_scenario_row(unsigned i) {
    return i < sbx_n_scenarios ? &sbx_scenarios[i]
           : i < sbx_n_scenarios + sbx_n_notify_scenarios ? &sbx_notify_scenarios[i - sbx_n_scenarios]
                                                          : NULL;
}

int aop_sandbox_print_scenarios_json(FILE *out) {
    int bad = fputs("[\n", out) == EOF;
    const unsigned n = sbx_n_scenarios + sbx_n_notify_scenarios;
    for (unsigned i = 0; i < n && !bad; i++) {
        const sbx_scenario_t *sc = sbx_scenario_row(i);
        char status = sbx_scenario_status(sc);
        const char *code = sbx_scenario_shown_code(sc);
        int exit_code = aop_exit_for_status(status); /* what the CLI's one call exits with */
        sbx_outcome_t outcome = sc->outcome;
        bad |= fputs("  {\"identityCode\": ", out) == EOF;
        bad |= put_json_string(out, sc->identity_code) != 0;
        bad |= fprintf(out, ", \"status\": \"%c\", \"resultCode\": ", status) < 0;
        bad |= put_json_string(out, code) != 0; /* null when the code is not shown */
        bad |= fprintf(out, ", \"exitCode\": %d, \"outcome\": \"%s\", \"resolvedExitCode\": %d, \"behaviour\": ",
                       exit_code, sbx_outcome_name(outcome), sbx_outcome_exit_code(outcome)) < 0;
        bad |= put_json_string(out, sc->behaviour) != 0;
        bad |= fputs(i + 1 < n ? "},\n" : "}\n", out) == EOF;
    }
    bad |= fputs("]\n", out) == EOF;
    bad |= fflush(out) != 0;
    return bad || ferror(out) ? -1 : 0;
}
