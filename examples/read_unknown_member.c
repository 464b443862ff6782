/* SPDX-License-Identifier: MIT */
/* Reads a member of a verified response that the schema does not know.
 *
 * Three of the four response bodies are reconstructions, so a real gateway will send members
 * the generated structs lack. aop_result_member() reads any of them by path from the verified
 * response; it refuses to read from a response whose signature did not verify.
 *
 *   read_unknown_member GATEWAY_URL MERCHANT_PRIVATE_KEY ALIPAY_PUBLIC_KEY [PATH]
 *
 * Against aop-sandbox, the wallet code 281000000000009008 answers with a member the schema
 * lacks, body.sandboxNote (the default PATH). Exit status: 0 read, 1 not there, 2 no verified
 * answer, 78 configuration error. */
#include <stdio.h>
#include <string.h>

#include <aop/aop.h>

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s GATEWAY_URL MERCHANT_PRIVATE_KEY ALIPAY_PUBLIC_KEY [PATH]\n", argv[0]);
        return 64;
    }
    const char *path = argc == 5 ? argv[4] : "body.sandboxNote";
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
        fprintf(stderr, "configuration: %s: %s\n", err.path, err.msg);
        return 78;
    }

    char mtid[AOP_UUID_SIZE];
    if (aop_uuid(mtid) != AOP_OK) {
        fprintf(stderr, "no random bytes for the merchantTransId\n");
        aop_client_free(client);
        return 78;
    }
    aop_offline_pay_request_t rq;
    memset(&rq, 0, sizeof rq);
    rq.body.product_code.value = AOP_PRODUCT_CODE_ENUM_OFFLINE_PAY;
    rq.body.code_type.value = AOP_OFFLINE_CODE_TYPE_ENUM_BARCODE;
    rq.body.merchant_trans_id = aop_str(mtid);
    rq.body.identity_code = aop_str("281000000000009008");
    rq.body.order.order_amount.currency = aop_str("USD");
    rq.body.order.order_amount.value = aop_str("100");
    rq.body.order.order_title = aop_str("example");

    aop_result_t *r = NULL;
    if (aop_offline_pay(client, &rq, NULL, &r, &err) != AOP_OK) {
        fprintf(stderr, "not sent: %s: %s\n", err.path, err.msg);
        aop_client_free(client);
        return 64;
    }
    int rc;
    aop_member_t m;
    if (!r->verified) {
        fprintf(stderr, "no verified answer (%s): nothing in it can be read\n", aop_strstatus(r->error));
        rc = 2;
    } else if (aop_result_member(r, path, &m, &err) == AOP_OK) {
        char safe[512];
        aop_terminal_safe(m.text.ptr, m.text.len, safe, sizeof safe);
        printf("%s (%s) = %s\n", path, m.type == AOP_MEMBER_STRING ? "string" : "JSON", safe);
        rc = 0;
    } else {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        rc = 1;
    }
    aop_result_free(r);
    aop_client_free(client);
    return rc;
}
