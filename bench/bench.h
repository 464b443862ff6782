/* SPDX-License-Identifier: MIT */
/* aop-bench: shared declarations. Every operation is one full typed decode or encode of the
 * benchmark message; ops return 0 on success so the runner can count failures cheaply. */
#ifndef AOP_BENCH_H
#define AOP_BENCH_H

#include <stdbool.h>
#include <stddef.h>

/* The inputs, embedded from bench/data/ at build time (NUL-terminated; _len excludes it). */
extern const unsigned char bench_pay_request_json[];
extern const size_t bench_pay_request_json_len;
extern const unsigned char bench_pay_response_json[];
extern const size_t bench_pay_response_json_len;

/* Heap calls made by this process since start (alloc_count.c interposes the allocator). */
extern unsigned long bench_allocs; /* malloc + calloc + realloc (realloc(NULL, n) included) */
extern unsigned long bench_frees;  /* free of a non-NULL pointer */

typedef struct {
    const char *name;
    const char *what;
    /* Once, before anything is measured: prepares the inputs and checks that one run of the
     * operation succeeds and gives the expected result. 0 when ready, else a message was
     * printed to stderr. */
    int (*setup)(void);
    /* One operation; 0 on success. Never inlined: callgrind can collect exactly this function
     * (--toggle-collect=<the function's name>, which is op_<name>). */
    int (*op)(void);
    /* Bytes of JSON the operation reads (decode) or writes (encode). */
    size_t (*bytes)(void);
} bench_op_t;

extern const bench_op_t bench_aop_ops[2];
extern const bench_op_t bench_cjson_ops[2];
extern const bench_op_t bench_jansson_ops[2];

/* ---- the plain typed structs the baselines fill or encode (same shape as ours) ---- */

/* Money: value is a string in the spec; a JSON integer is accepted too and is formatted into
 * value_buf (never the case with the benchmark data). */
typedef struct {
    const char *currency;
    const char *value;
    char value_buf[24];
} plain_money_t;

typedef struct {
    struct {
        const char *version, *function, *client_id, *resp_time, *req_msg_id, *reserve, *sign_type;
    } head;
    struct {
        struct {
            const char *result_status, *result_code_id, *result_code, *result_msg;
        } result_info;
        const char *acquirement_id, *merchant_trans_id;
        bool has_order_amount;
        plain_money_t order_amount;
        bool has_pay_amount;
        plain_money_t pay_amount;
        bool has_conversion_rate;
        struct {
            const char *currency_pair, *rate, *conversion_time;
        } conversion_rate;
        const char *create_time, *user_site, *user_id, *user_login_id, *extend_info;
    } body;
    const char *signature;
} plain_pay_response_t;

typedef struct {
    struct {
        const char *version, *function, *client_id, *req_time, *req_msg_id, *reserve, *sign_type;
    } head;
    struct {
        const char *merchant_id, *product_code, *merchant_trans_id, *code_type, *identity_code;
        struct {
            plain_money_t order_amount;
            const char *order_title, *order_detail;
        } order;
        const char *settle_contract_id;
        bool has_env_info;
        struct {
            const char *terminal_type, *os_type, *user_agent, *device_token_id, *client_ip,
                *cookie_id, *store_terminal_id, *store_terminal_request_time, *device_name,
                *device_model, *wireless_network, *wireless_carrier, *extend_info;
        } env_info;
        const char *extend_info;
    } body;
} plain_pay_request_t;

/* The benchmark request as a plain struct (NUL-terminated copies, made once by ops_aop.c from
 * our strict decode of bench/data/pay-request.json); NULL when setup failed. */
const plain_pay_request_t *bench_plain_request(void);

/* Our encoding of the benchmark request (the "request" object), to compare the baselines'
 * output with; NULL when setup failed. */
const char *bench_aop_request_json(size_t *len);

#endif
