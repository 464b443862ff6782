/* The aop command line: shared declarations of its parts. */
#ifndef AOP_CLI_H
#define AOP_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "aop/client.h"
#include "aop/util.h"
#include "aop_apps.h" /* exit statuses and the default clientId */

#define CLI_DEFAULT_MERCHANT_ID "218820000000000000023"
#define CLI_DEFAULT_TITLE "aop payment"

typedef struct {
    const char *gateway, *client_id, *merchant_id, *private_key, *alipay_public_key, *ca_file;
    const char *sign_type, *amount, *currency, *code, *title, *merchant_trans_id, *acquirement_id;
    const char *merchant_refund_id, *reason, *out_dir, *public_key;
    double timeout_s; /* 0 = the function's default */
    bool json, help, force;
} cli_opts_t;

/* Parses argv of one subcommand into o; prints the problem and returns EXIT_USAGE on error. */
int cli_parse(const char *cmd, int argc, char **argv, cli_opts_t *o);
void cli_usage(FILE *out, const char *cmd);

/* A client ready for one command: either against --gateway, or zero-config against an
 * in-process sandbox on a free loopback port with keys and state in ~/.aop/. */
typedef struct cli_env cli_env_t;
int cli_env_open(const cli_opts_t *o, cli_env_t **out, aop_client_t **client);
void cli_env_close(cli_env_t *env);

/* ~/.aop (created 0700) and its demo keys, created once even when commands race. */
int cli_home(char *dir, size_t cap);
int cli_demo_keys(const char *dir);

/* Prints a result; returns the exit status it stands for. */
typedef struct {
    const char *merchant_trans_id, *merchant_refund_id;
} cli_ids_t;
int cli_report(const cli_opts_t *o, const aop_function_desc_t *fn, const aop_result_t *r, const cli_ids_t *ids);

int cmd_call(const char *cmd, const cli_opts_t *o);
int cmd_keygen(const cli_opts_t *o);
int cmd_keycheck(const cli_opts_t *o);

#endif
