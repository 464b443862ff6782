/* The scenario table: the identityCode of a pay request picks what the gateway does. One table,
 * printed by `aop-sandbox --scenarios --json` and used by the gateway.
 *
 * The codes look like wallet codes: 18 digits, "28100000000000" then four digits that name the
 * group: 1nnn the pay-specific codes of the seed (nnn = their order in the seed, 020 = the
 * in-process payment that closes), 2nnn the common codes a gateway produces on its own, 9nnn
 * transport and protocol faults. Any other code of 16 to 24 digits pays; anything else is
 * IDENTITY_CODE_INVALID. A fault applies to every pay with its code, identical repeats included
 * (they answer the payment's current state through the same fault); payQuery, payCancel and
 * refund are never faulted, so they can always resolve what happened. */
#include <stdio.h>
#include <string.h>

#include "sbx_internal.h"

#define ST_SUCCESS AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS
#define ST_CLOSED AOP_ACQUIREMENT_STATUS_ENUM_CLOSED

#define DECLINE(code_, rc_, what_)                                                              \
    {code_, rc_, SBX_ACT_DECLINE, 0, SBX_FAULT_NONE,                                            \
     "declined (" what_ "); recorded as CLOSED: an identical repeat gets the same answer, "      \
     "payQuery reports CLOSED"}
#define REJECT(code_, rc_, what_)                                                               \
    {code_, rc_, SBX_ACT_REJECT, 0, SBX_FAULT_NONE,                                             \
     "refused by the gateway before the payment (" what_ "); nothing recorded: payQuery reports " \
     "ORDER_NOT_EXIST"}
#define FAULT(code_, action_, fault_, what_) {code_, AOP_RC_SUCCESS, action_, 0, fault_, what_}

const sbx_scenario_t sbx_scenarios[] = {
    {"28763443825664394", AOP_RC_SUCCESS, SBX_ACT_PAY, 0, SBX_FAULT_NONE,
     "pays: SUCCESS with acquirementId, payAmount and createTime, recorded as SUCCESS (the demo "
     "code; any code of 16 to 24 digits that is not in this table does the same)"},
    /* The pay-specific codes of the seed, in its order. */
    {"281000000000001001", AOP_RC_REPEAT_REQ_INCONSISTENT, SBX_ACT_REJECT, 0, SBX_FAULT_NONE,
     "answers REPEAT_REQ_INCONSISTENT directly, nothing recorded; the gateway gives the same answer "
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
    {"281000000000001013", AOP_RC_PAYMENT_IN_PROCESS, SBX_ACT_IN_PROCESS, ST_SUCCESS, SBX_FAULT_NONE,
     "PAYMENT_IN_PROCESS with acquirementId (the customer confirms on the phone): PAYING for 3 s, "
     "then SUCCESS (the timer is a wall-clock time in the state, so it survives a restart); "
     "payQuery and an identical repeat report the current state"},
    DECLINE("281000000000001014", AOP_RC_ORDER_IS_CLOSED, "order closed"),
    DECLINE("281000000000001015", AOP_RC_ORDER_STATUS_INVALID, "order status"),
    DECLINE("281000000000001016", AOP_RC_USER_AMOUNT_EXCEED_LIMIT, "user amount limit"),
    DECLINE("281000000000001017", AOP_RC_USER_REALNAME_STATUS_INVALID, "real-name validation"),
    DECLINE("281000000000001018", AOP_RC_USER_NO_PAYMENT_INSTRUMENT, "no payment instrument"),
    DECLINE("281000000000001019", AOP_RC_USER_BALANCE_PAY_OFF, "payment capability off"),
    {"281000000000001020", AOP_RC_PAYMENT_IN_PROCESS, SBX_ACT_IN_PROCESS, ST_CLOSED, SBX_FAULT_NONE,
     "PAYMENT_IN_PROCESS with acquirementId: PAYING for 3 s, then CLOSED (the customer never "
     "confirmed); payQuery then reports CLOSED and an identical repeat ORDER_IS_CLOSED"},
    /* Common codes a gateway produces on its own (the gateway also produces PARAM_ILLEGAL,
     * INVALID_SIGNATURE, UNKNOWN_CLIENT and REPEAT_REQ_INCONSISTENT from real checks). */
    DECLINE("281000000000002001", AOP_RC_PROCESS_FAIL, "general business failure"),
    {"281000000000002002", AOP_RC_UNKNOWN_EXCEPTION, SBX_ACT_EXCEPTION, 0, SBX_FAULT_NONE,
     "UNKNOWN_EXCEPTION (outcome unknown to the client); the payment did not happen: recorded as "
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
    /* Faults: the outcome is unknown to the client (except the last one). */
    FAULT("281000000000009001", SBX_ACT_PAY, SBX_FAULT_DELAY,
          "pays (committed as SUCCESS), then holds the signed answer for 20 s, past the pay "
          "deadline of 15 s: the client times out; payQuery reports SUCCESS"),
    FAULT("281000000000009002", SBX_ACT_PAY, SBX_FAULT_DROP,
          "pays (committed as SUCCESS), then closes the connection without an answer; payQuery "
          "reports SUCCESS"),
    FAULT("281000000000009003", SBX_ACT_PAY, SBX_FAULT_BAD_SIGNATURE,
          "pays (committed as SUCCESS); the SUCCESS answer's signature has one base64 character "
          "flipped, so it does not verify; payQuery reports SUCCESS"),
    FAULT("281000000000009004", SBX_ACT_REJECT, SBX_FAULT_HTTP_500,
          "HTTP 500 with a plain-text body; nothing recorded: payQuery reports ORDER_NOT_EXIST"),
    FAULT("281000000000009005", SBX_ACT_PAY, SBX_FAULT_TRUNCATE,
          "pays (committed as SUCCESS); the answer announces its full Content-Length but only "
          "half of it is sent; payQuery reports SUCCESS"),
    FAULT("281000000000009006", SBX_ACT_PAY, SBX_FAULT_UNSIGNED,
          "pays (committed as SUCCESS); the SUCCESS answer carries no signature; payQuery "
          "reports SUCCESS"),
    FAULT("281000000000009007", SBX_ACT_PAY, SBX_FAULT_ECHO_MISMATCH,
          "pays (committed as SUCCESS); the signed SUCCESS answer echoes another merchantTransId; "
          "payQuery reports SUCCESS"),
    FAULT("281000000000009008", SBX_ACT_PAY, SBX_FAULT_UNKNOWN_MEMBER,
          "pays: a correctly signed SUCCESS answer with an extra member the schema does not know "
          "(response.body.sandboxNote): the outcome stands, with one warning"),
};
const unsigned sbx_n_scenarios = sizeof sbx_scenarios / sizeof sbx_scenarios[0];

const sbx_scenario_t *sbx_scenario_find(const char *code, size_t len) {
    for (unsigned i = 0; i < sbx_n_scenarios; i++) {
        const char *c = sbx_scenarios[i].identity_code;
        if (strlen(c) == len && memcmp(c, code, len) == 0) return &sbx_scenarios[i];
    }
    return NULL;
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

static int put_json_string(FILE *out, const char *s) {
    if (fputc('"', out) == EOF) return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int r;
        if (*p == '"' || *p == '\\')
            r = fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            r = fprintf(out, "\\u%04x", *p);
        else
            r = fputc(*p, out) == EOF ? -1 : 1;
        if (r < 0) return -1;
    }
    return fputc('"', out) == EOF ? -1 : 0;
}

int aop_sandbox_print_scenarios_json(FILE *out) {
    int bad = fputs("[\n", out) == EOF;
    for (unsigned i = 0; i < sbx_n_scenarios && !bad; i++) {
        const sbx_scenario_t *sc = &sbx_scenarios[i];
        char status = sbx_scenario_status(sc);
        const char *code = sbx_scenario_shown_code(sc);
        int exit_code = status == 'S' ? 0 : status == 'F' ? 1 : 2;
        bad |= fputs("  {\"identityCode\": ", out) == EOF;
        bad |= put_json_string(out, sc->identity_code) != 0;
        bad |= fprintf(out, ", \"status\": \"%c\", \"resultCode\": ", status) < 0;
        bad |= (code ? put_json_string(out, code) : (fputs("null", out) == EOF ? -1 : 0)) != 0;
        bad |= fprintf(out, ", \"exitCode\": %d, \"behaviour\": ", exit_code) < 0;
        bad |= put_json_string(out, sc->behaviour) != 0;
        bad |= fputs(i + 1 < sbx_n_scenarios ? "},\n" : "}\n", out) == EOF;
    }
    bad |= fputs("]\n", out) == EOF;
    bad |= fflush(out) != 0;
    return bad || ferror(out) ? -1 : 0;
}
