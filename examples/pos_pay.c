/* SPDX-License-Identifier: MIT */
/* A minimal POS payment through the resolver: the payment is journaled before it leaves, queried
 * while its outcome is unknown and cancelled when the query budget is spent, so it always ends
 * known (PAID, FAILED, CANCELLED) or is left open for aop_recover() (UNRESOLVED,
 * NEEDS_ATTENTION). An unknown outcome is never reported as failed.
 *
 *   pos_pay GATEWAY_URL MERCHANT_PRIVATE_KEY ALIPAY_PUBLIC_KEY JOURNAL AMOUNT CURRENCY CODE
 *
 * AMOUNT is in minor units ("100" is 1.00 USD); CODE is the scanned wallet code, or "-" to read
 * it from standard input (so it does not show in the process list). Progress goes to standard
 * error, one line per step; the outcome goes to standard output:
 *
 *   PAID merchantTransId=... acquirementId=...
 *
 * Exit status (that of `aop pay`): 0 PAID, 1 FAILED or CANCELLED (no money taken), 2 UNRESOLVED
 * or NEEDS_ATTENTION (the journal entry stays open: run `aop recover --journal JOURNAL ...`),
 * 64 usage or a request the library refused (nothing sent), 78 configuration, key or journal
 * error (nothing sent), 130 interrupted by SIGINT (the entry stays open). */
#define _POSIX_C_SOURCE 200809L /* sigaction, also under -std=c11 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <aop/aop.h>

/* Set by SIGINT; the resolver stops at once and leaves the entry open for aop_recover(). */
static volatile int stop_requested;

static void on_sigint(int sig) {
    (void)sig;
    stop_requested = 1;
}

/* One line per step, for the cashier: what was done and what comes next. */
static void on_progress(const aop_step_t *step, aop_phase_t next, void *ctx) {
    (void)ctx;
    if (step) {
        char code[AOP_JOURNAL_ID_SIZE];
        aop_terminal_safe(step->result_code, strlen(step->result_code), code, sizeof code);
        fprintf(stderr, "pos_pay: %s %c %s %ld ms; ", step->function->name, step->status,
                code[0] ? code : aop_status_name(step->error), step->latency_ms);
    } else {
        fputs("pos_pay: ", stderr);
    }
    fprintf(stderr, "%s\n", aop_phase_text(next));
}

/* Reads the wallet code from standard input: one line, its newline removed. */
static int read_code(char *out, size_t cap) {
    if (!fgets(out, (int)cap, stdin)) return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s GATEWAY_URL MERCHANT_PRIVATE_KEY ALIPAY_PUBLIC_KEY JOURNAL AMOUNT CURRENCY CODE|-\n",
                argv[0]);
        return 64;
    }
    char code[128];
    if (strcmp(argv[7], "-") == 0) {
        if (read_code(code, sizeof code) != 0) {
            fprintf(stderr, "pos_pay: no wallet code on standard input\n");
            return 64;
        }
    } else if (strlen(argv[7]) < sizeof code) {
        strcpy(code, argv[7]);
    } else {
        fprintf(stderr, "pos_pay: the wallet code is too long\n");
        return 64;
    }

    aop_client_config_t cfg;
    aop_client_config_init(&cfg);
    cfg.gateway_url = argv[1];
    cfg.client_id = "211020000000000000044";
    cfg.merchant_id = "218820000000000000023";
    cfg.private_key_file = argv[2];
    cfg.alipay_public_key_file = argv[3];
    aop_client_t *client = NULL;
    aop_error_t err;
    if (aop_client_new(&cfg, &client, &err) != AOP_OK) {
        fprintf(stderr, "pos_pay: configuration: %s: %s\n", err.path, err.msg);
        return 78;
    }
    aop_journal_t *journal = NULL;
    if (aop_journal_open_sqlite(argv[4], &journal, &err) != AOP_OK) {
        fprintf(stderr, "pos_pay: journal %s: %s\n", argv[4], err.msg);
        aop_client_free(client);
        return 78;
    }

    /* The idempotency key: printed before anything is sent, so a retry can reuse it. */
    char mtid[AOP_UUID_SIZE];
    if (aop_uuid(mtid) != AOP_OK) {
        fprintf(stderr, "pos_pay: no random bytes for the merchantTransId\n");
        aop_journal_close(journal);
        aop_client_free(client);
        return 78;
    }
    fprintf(stderr, "pos_pay: merchantTransId %s\n", mtid);

    aop_offline_pay_request_t rq;
    memset(&rq, 0, sizeof rq);
    rq.body.product_code.value = AOP_PRODUCT_CODE_ENUM_OFFLINE_PAY;
    rq.body.code_type.value = AOP_OFFLINE_CODE_TYPE_ENUM_BARCODE;
    rq.body.merchant_trans_id = aop_str(mtid);
    rq.body.identity_code = aop_str(code);
    rq.body.order.order_amount.value = aop_str(argv[5]);
    rq.body.order.order_amount.currency = aop_str(argv[6]);
    rq.body.order.order_title = aop_str("pos_pay example");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    aop_resolve_options_t opts;
    aop_resolve_options_init(&opts);
    opts.on_progress = on_progress;
    opts.stop_flag = &stop_requested;

    aop_resolution_t *r = NULL;
    aop_status_t st = aop_pay_resolve(client, journal, &rq, &opts, &r, &err);
    memset(code, 0, sizeof code); /* the wallet code is not needed any more */
    if (st != AOP_OK) {
        /* Nothing was sent: the request broke a rule, or the journal could not take the entry. */
        fprintf(stderr, "pos_pay: not sent (%s): %s%s%s\n", aop_status_name(st), err.path,
                err.path[0] ? ": " : "", err.msg);
        aop_journal_close(journal);
        aop_client_free(client);
        return st == AOP_E_JOURNAL ? 78 : 64;
    }

    int rc;
    char acq[AOP_JOURNAL_ID_SIZE], reason[AOP_ERROR_MSG_MAX];
    aop_terminal_safe(r->acquirement_id, strlen(r->acquirement_id), acq, sizeof acq);
    aop_terminal_safe(r->reason, strlen(r->reason), reason, sizeof reason);
    if (r->interrupted) {
        fprintf(stderr, "pos_pay: interrupted; journal entry %lld stays open: run aop recover\n",
                (long long)r->entry_id);
        rc = 130;
    } else if (r->taken_over) {
        fprintf(stderr, "pos_pay: another process took the payment over; it reports the outcome\n");
        rc = 2;
    } else {
        printf("%s merchantTransId=%s acquirementId=%s\n", aop_outcome_name(r->outcome), mtid, acq);
        if (reason[0]) fprintf(stderr, "pos_pay: %s\n", reason);
        switch (r->outcome) {
        case AOP_OUTCOME_PAID:
            rc = 0;
            break;
        case AOP_OUTCOME_FAILED:
        case AOP_OUTCOME_CANCELLED:
            rc = 1;
            break;
        default:
            /* UNRESOLVED or NEEDS_ATTENTION: not failed. The entry stays open. */
            fprintf(stderr, "pos_pay: the outcome is not known yet; journal entry %lld stays open\n",
                    (long long)r->entry_id);
            rc = 2;
            break;
        }
    }
    aop_resolution_free(r);
    aop_journal_close(journal);
    aop_client_free(client);
    return rc;
}
