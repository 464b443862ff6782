/* SPDX-License-Identifier: MIT */
/* The aop command line: shared declarations of its parts. */
#ifndef AOP_CLI_H
#define AOP_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "aop/client.h"
#include "aop/journal.h"
#include "aop/resolver.h"
#include "aop/util.h"
#include "aop_apps.h" /* exit statuses and the default clientId */

#define CLI_DEFAULT_MERCHANT_ID "218820000000000000023"
#define CLI_DEFAULT_TITLE "aop payment"

typedef struct {
    const char *gateway, *client_id, *merchant_id, *private_key, *alipay_public_key, *ca_file;
    const char *sign_type, *amount, *currency, *code, *title, *merchant_trans_id, *acquirement_id;
    const char *merchant_refund_id, *reason, *out_dir, *public_key;
    const char *journal, *as, *note, *entry_id; /* journal commands */
    const char *before, *file;                  /* journal prune, journal backup */
    const char *listen, *path, *tls_cert, *tls_key; /* aop-notify (apps/notify) */
    double timeout_s; /* 0 = the function's default */
    /* The resolver's policy in seconds; 0 = the default (aop_policy_init). */
    double first_poll_s, poll_interval_s, query_budget_s, cancel_margin_s, cancel_budget_s, watch_window_s,
        refund_budget_s;
    bool json, help, version, force, no_resolve, all, allow_unknown_currency;
    unsigned workers; /* aop recover --workers N (0: one, the plain recovery) */
    bool follow;      /* aop recover --follow: a service */
} cli_opts_t;

/* Parses argv of one subcommand into o; prints the problem and returns EXIT_USAGE on error. */
int cli_parse(const char *cmd, int argc, char **argv, cli_opts_t *o);
void cli_usage(FILE *out, const char *cmd);
/* The program whose command cmd is when it is not aop's (aop-notify's "notify"), else NULL. */
const char *cli_program(const char *cmd);

/* A client ready for one command: either against --gateway, or zero-config against a local
 * sandbox (the aop-sandbox program, a child process) on a free loopback port with keys and
 * state in ~/.aop/. */
typedef struct cli_env cli_env_t;
int cli_env_open(const cli_opts_t *o, cli_env_t **out, aop_client_t **client);
void cli_env_close(cli_env_t *env);
/* Whether the env talks to the local sandbox (zero-configuration mode): not real money. */
bool cli_env_is_sandbox(const cli_env_t *env);
/* Another client of env's gateway and keys (a recovery worker's: a client is one thread's). */
int cli_env_new_client(const cli_env_t *env, aop_client_t **client);
/* The resolver's policy from the command line: the library's defaults, each option given
 * overriding its own (--timeout: the deadline of every call). */
void cli_policy_from(const cli_opts_t *o, aop_policy_t *p);

/* The aop-sandbox child of the zero-configuration mode: started on a free port (*port), stopped
 * (SIGTERM, then waited for) by cli_sandbox_stop; it also ends when aop ends, however aop ends. */
typedef struct cli_sandbox cli_sandbox_t;
typedef struct {
    const char *state, *key, *merchant_public_key, *client_id, *sign_type;
} cli_sandbox_args_t;
int cli_sandbox_start(const cli_sandbox_args_t *a, cli_sandbox_t **out, unsigned short *port);
void cli_sandbox_stop(cli_sandbox_t *s);
/* `aop sandbox ARGS`: runs aop-sandbox ARGS in place of aop (returns only when it cannot). */
int cli_exec_sandbox(int argc, char **argv);

/* The journal of --journal, else of the environment's AOP_JOURNAL, else ~/.aop/journal.db (also
 * with --gateway): a file, sqlite:PATH or a postgresql:// URI. */
int cli_journal_open(const cli_opts_t *o, aop_journal_t **out);
/* The journal's name as every message shows it: --journal or AOP_JOURNAL without a password
 * (aop_journal_uri_redact), or NULL for the default file. */
const char *cli_journal_shown(const cli_opts_t *o);

/* The version of every --json object's shape (its "formatVersion" member): raised when a member
 * changes meaning or goes away, not when one is added. */
#define CLI_JSON_FORMAT_VERSION 1

/* The command being run ("pay", "journal close", "" for none; of program when it is not aop's)
 * and whether it reports in JSON: set once by cli_parse, so that every error says which command
 * and comes as JSON with --json. */
void cli_report_setup(const char *program, const char *cmd, bool json);
/* Reports an error on standard error ("aop CMD: message", through the terminal filter), and with
 * --json also as one object on standard output: {"formatVersion", "error", "code" (a status
 * name), "path" (or null), "exitCode"}. Exit statuses 64 and 78 say "nothing was sent". Returns
 * exit_code. */
int cli_fail(int exit_code, aop_status_t code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Starts a --json object: "{" and its formatVersion member (the caller writes the others, each
 * with a leading ','). */
void cli_json_begin(FILE *out);
/* A JSON string (null for an absent view) for a reader: C1 controls escaped, never invalid
 * UTF-8 (aop_json_fquote). */
void cli_json_str(FILE *out, aop_str_t s);
/* ,"name": and v as cli_json_str writes it: one more member of an object begun. */
void cli_json_field(FILE *out, const char *name, aop_str_t v);
/* s made safe for a terminal (control characters become '?'). */
void cli_put_safe(FILE *out, aop_str_t s);

/* ~/.aop (created 0700) and its demo keys, created once even when commands race. */
int cli_home(char *dir, size_t cap);
int cli_demo_keys(const char *dir);

/* Prints a result; returns the exit status it stands for. */
typedef struct {
    const char *merchant_trans_id, *merchant_refund_id;
} cli_ids_t;
int cli_report(const cli_opts_t *o, const aop_function_desc_t *fn, const aop_result_t *r, const cli_ids_t *ids,
               bool sandbox);

/* SIGINT and SIGTERM stop the calls in flight (the resolver's stop flag, a call's stop_flag):
 * cli_stop is non-zero once one came; cli_interrupted_exit() is 130 (SIGINT) or 143 (SIGTERM). */
extern volatile sig_atomic_t cli_stop;
void cli_catch_stop_signals(void);
/* A service's signals (aop recover --follow): the first SIGINT or SIGTERM sets cli_finish (the
 * calls in flight finish, nothing new starts), a second one cli_stop. */
extern volatile sig_atomic_t cli_finish;
void cli_catch_stop_signals_two_step(void);
int cli_interrupted_exit(void);
const char *cli_interrupt_name(void);

/* What the till is told beside a resolution: the sale's amount, the sandbox, the watch. */
typedef struct {
    const char *amount, *currency; /* minor units and ISO 4217 code, as sent */
    bool sandbox;                   /* the local sandbox: not real money */
    double watch_window_s;          /* when a late check runs after a FAILED */
} cli_sale_t;
/* A resolution in the cashier's words (outcome.c), or as one JSON object. */
void cli_outcome_human(FILE *out, const aop_resolution_t *r, const cli_sale_t *s, const cli_opts_t *o);
void cli_outcome_json(FILE *out, const aop_resolution_t *r, const cli_sale_t *s, unsigned open_entries);
/* The `aop recover` command that finishes what this command left open (the same journal and keys). */
void cli_recover_hint(FILE *out, const cli_opts_t *o);
/* "payQuery" of "alipay.intl.acquiring.offline.payQuery". */
const char *cli_short_name(const aop_function_desc_t *fn);

int cmd_call(const char *cmd, const cli_opts_t *o);
/* pay and refund through the resolver and the journal (cmd_call builds and checks the request);
 * generated_key: the merchantTransId or merchantRefundId this command made up, printed once the
 * journal is open (NULL when the caller gave it). */
int cli_resolve(const cli_opts_t *o, cli_env_t *env, aop_client_t *client, const aop_function_desc_t *fn,
                const void *request, const cli_sale_t *sale, const char *generated_key);
int cmd_recover(const cli_opts_t *o);
int cmd_journal(const cli_opts_t *o);
int cmd_journal_close(const cli_opts_t *o);
int cmd_journal_prune(const cli_opts_t *o);
int cmd_journal_backup(const cli_opts_t *o);
int cmd_keygen(const cli_opts_t *o);
int cmd_keycheck(const cli_opts_t *o);

#endif
