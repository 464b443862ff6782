/* SPDX-License-Identifier: MIT */
/* A refund through the resolver: journaled before it leaves; an undecided refund is re-sent
 * identically (same merchantRefundId) within the refund budget, never cancelled. When it stays
 * unknown the journal entry is left open for aop_recover(): it is never reported as failed.
 *
 *   refund GATEWAY_URL MERCHANT_PRIVATE_KEY ALIPAY_PUBLIC_KEY JOURNAL ACQUIREMENT_ID AMOUNT CURRENCY
 *          [MERCHANT_REFUND_ID]
 *
 * ACQUIREMENT_ID is Alipay's id of the paid transaction (pos_pay prints it); AMOUNT is in minor
 * units. MERCHANT_REFUND_ID is the refund's idempotency key: give the one printed by an earlier
 * run to retry that refund; a new one is generated when absent. The outcome goes to standard
 * output:
 *
 *   REFUNDED merchantRefundId=... acquirementId=...
 *
 * Exit status (that of `aop refund`): 0 REFUNDED, 1 FAILED (refused), 2 UNRESOLVED or
 * NEEDS_ATTENTION (the entry stays open), 64 usage or a request the library refused, 78
 * configuration, key or journal error (nothing sent in these two cases), 130 interrupted. */
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

int main(int argc, char **argv) {
    if (argc != 8 && argc != 9) {
        fprintf(stderr,
                "usage: %s GATEWAY_URL MERCHANT_PRIVATE_KEY ALIPAY_PUBLIC_KEY JOURNAL ACQUIREMENT_ID AMOUNT CURRENCY"
                " [MERCHANT_REFUND_ID]\n",
                argv[0]);
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
        fprintf(stderr, "refund: configuration: %s: %s\n", err.path, err.msg);
        return 78;
    }
    aop_journal_t *journal = NULL;
    if (aop_journal_open_sqlite(argv[4], &journal, &err) != AOP_OK) {
        fprintf(stderr, "refund: journal %s: %s\n", argv[4], err.msg);
        aop_client_free(client);
        return 78;
    }

    char mrid[AOP_UUID_SIZE];
    const char *refund_id = argv[8];
    if (argc == 8) {
        if (aop_uuid(mrid) != AOP_OK) {
            fprintf(stderr, "refund: no random bytes for the merchantRefundId\n");
            aop_journal_close(journal);
            aop_client_free(client);
            return 78;
        }
        refund_id = mrid;
    }
    /* Printed before anything is sent, so a retry can reuse it. */
    fprintf(stderr, "refund: merchantRefundId %s\n", refund_id);

    aop_refund_request_t rq;
    memset(&rq, 0, sizeof rq);
    rq.body.acquirement_id = aop_str(argv[5]);
    rq.body.merchant_refund_id = aop_str(refund_id);
    rq.body.refund_amount.value = aop_str(argv[6]);
    rq.body.refund_amount.currency = aop_str(argv[7]);
    rq.body.refund_reason = aop_str("refund example");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    aop_resolve_options_t opts;
    aop_resolve_options_init(&opts);
    opts.stop_flag = &stop_requested;

    aop_resolution_t *r = NULL;
    aop_status_t st = aop_refund_resolve(client, journal, &rq, &opts, &r, &err);
    if (st != AOP_OK) {
        /* Nothing was sent: the request broke a rule, the payment's own entry is still open, or
         * the journal could not take the entry. */
        fprintf(stderr, "refund: not sent (%s): %s%s%s\n", aop_status_name(st), err.path,
                err.path[0] ? ": " : "", err.msg);
        aop_journal_close(journal);
        aop_client_free(client);
        return st == AOP_E_JOURNAL ? 78 : 64;
    }

    int rc;
    char key[AOP_JOURNAL_ID_SIZE], acq[AOP_JOURNAL_ID_SIZE], reason[AOP_ERROR_MSG_MAX];
    aop_terminal_safe(r->key, strlen(r->key), key, sizeof key);
    aop_terminal_safe(argv[5], strlen(argv[5]), acq, sizeof acq);
    aop_terminal_safe(r->reason, strlen(r->reason), reason, sizeof reason);
    if (r->interrupted) {
        fprintf(stderr, "refund: interrupted; journal entry %lld stays open: run aop recover\n",
                (long long)r->entry_id);
        rc = 130;
    } else if (r->taken_over) {
        fprintf(stderr, "refund: another process took the refund over; it reports the outcome\n");
        rc = 2;
    } else {
        printf("%s merchantRefundId=%s acquirementId=%s\n", aop_outcome_name(r->outcome), key, acq);
        if (r->outcome == AOP_OUTCOME_FAILED && r->n_steps > 0) {
            const char *rcode = r->steps[r->n_steps - 1].result_code;
            char safe[AOP_JOURNAL_ID_SIZE];
            aop_terminal_safe(rcode, strlen(rcode), safe, sizeof safe);
            fprintf(stderr, "refund: refused: %s\n", safe);
        }
        if (reason[0]) fprintf(stderr, "refund: %s\n", reason);
        switch (r->outcome) {
        case AOP_OUTCOME_REFUNDED:
            rc = 0;
            break;
        case AOP_OUTCOME_FAILED:
            rc = 1;
            break;
        default:
            /* UNRESOLVED or NEEDS_ATTENTION: not failed. The entry stays open. */
            fprintf(stderr, "refund: the outcome is not known yet; journal entry %lld stays open\n",
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
