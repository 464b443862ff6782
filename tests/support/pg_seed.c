/* SPDX-License-Identifier: MIT */
/* pg_seed URI PRIVATE_KEY ALIPAY_PUBLIC_KEY CLIENT_ID MERCHANT_ID COUNT TAG [LEASE_MS]
 *
 * Writes COUNT open payment entries into the journal at URI, as a terminal that journaled its
 * pays and died before sending them would have left them: NEW, MACed with the merchant key,
 * leased for LEASE_MS (default 1) to an owner on another host, so that they are free once that
 * lease has expired. The tests of many recovery workers start from them: making 2,000 of them
 * with 2,000 `aop pay` processes would take minutes. Prints the merchantTransIds, one a line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aop/journal.h"
#include "aop/sign.h"

int main(int argc, char **argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: pg_seed URI PRIVATE_KEY ALIPAY_PUBLIC_KEY CLIENT_ID MERCHANT_ID COUNT TAG [LEASE_MS]\n");
        return 64;
    }
    long count = strtol(argv[6], NULL, 10), lease = argc > 8 ? strtol(argv[8], NULL, 10) : 1;
    aop_error_t err;
    aop_private_key_t *priv = NULL;
    aop_public_key_t *pub = NULL;
    aop_journal_key_t key;
    if (aop_private_key_load_file(argv[2], NULL, &priv, &err) != AOP_OK ||
        aop_journal_key_derive(priv, &key, &err) != AOP_OK || aop_public_key_load_file(argv[3], &pub, &err) != AOP_OK) {
        fprintf(stderr, "pg_seed: %s\n", err.msg);
        return 1;
    }
    char fp[AOP_FINGERPRINT_MAX], gateway[AOP_JOURNAL_GATEWAY_SIZE];
    aop_public_key_fingerprint(pub, fp);
    aop_journal_gateway_identity(fp, argv[4], gateway);
    aop_public_key_free(pub);
    aop_private_key_free(priv);
    aop_journal_t *j = NULL;
    if (aop_journal_open(argv[1], &j, &err) != AOP_OK) {
        fprintf(stderr, "pg_seed: %s\n", err.msg);
        return 1;
    }
    aop_journal_entry_t *e = malloc(sizeof *e);
    int rc = 0;
    for (long i = 0; e && i < count && !rc; i++) {
        memset(e, 0, sizeof *e);
        e->kind = AOP_ENTRY_PAYMENT;
        snprintf(e->function, sizeof e->function, "alipay.intl.acquiring.offline.pay");
        snprintf(e->merchant_id, sizeof e->merchant_id, "%s", argv[5]);
        snprintf(e->key, sizeof e->key, "seed%s%06ld", argv[7], i);
        snprintf(e->amount, sizeof e->amount, "%d", 100 + (int)(i % 100000));
        snprintf(e->currency, sizeof e->currency, "USD");
        snprintf(e->gateway, sizeof e->gateway, "%s", gateway);
        snprintf(e->client_id, sizeof e->client_id, "%s", argv[4]);
        e->pay_deadline_ms = 1000;
        snprintf(e->lease_owner, sizeof e->lease_owner, "seed-host/00000000-0000-0000-0000-000000000000/1/1/1#seed");
        e->request_len = (size_t)snprintf(e->request, sizeof e->request,
                                          "{\"merchantId\":\"%s\",\"merchantTransId\":\"%s\",\"order\":{\"orderAmount\":"
                                          "{\"currency\":\"USD\",\"value\":\"%s\"},\"orderTitle\":\"seed\"}}",
                                          e->merchant_id, e->key, e->amount);
        e->has_request = true;
        aop_journal_entry_seal(&key, e);
        if (aop_journal_insert(j, e, lease, NULL, &err) != AOP_OK) {
            fprintf(stderr, "pg_seed: entry %ld: %s\n", i, err.msg);
            rc = 1;
        } else {
            printf("%s\n", e->key);
        }
    }
    free(e);
    aop_journal_close(j);
    return rc;
}
