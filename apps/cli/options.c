/* SPDX-License-Identifier: MIT */
/* Option parsing and help texts. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
    O_GATEWAY = 256, O_CLIENT_ID, O_MERCHANT_ID, O_PRIVATE_KEY, O_ALIPAY_KEY, O_SIGN_TYPE, O_CA_FILE,
    O_TIMEOUT, O_AMOUNT, O_CURRENCY, O_CODE, O_TITLE, O_MTID, O_ACQ, O_MRID, O_JSON, O_REASON,
    O_OUT, O_PUBLIC_KEY, O_FORCE, O_HELP, O_FIRST_POLL, O_POLL_INTERVAL, O_QUERY_BUDGET, O_CANCEL_MARGIN,
    O_CANCEL_BUDGET, O_WATCH_WINDOW, O_REFUND_BUDGET, O_JOURNAL, O_NO_RESOLVE, O_ALL, O_AS, O_NOTE, O_VERSION
};

static const struct option all_options[] = {
    {"gateway", required_argument, NULL, O_GATEWAY},
    {"client-id", required_argument, NULL, O_CLIENT_ID},
    {"merchant-id", required_argument, NULL, O_MERCHANT_ID},
    {"private-key", required_argument, NULL, O_PRIVATE_KEY},
    {"alipay-public-key", required_argument, NULL, O_ALIPAY_KEY},
    {"sign-type", required_argument, NULL, O_SIGN_TYPE},
    {"ca-file", required_argument, NULL, O_CA_FILE},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"amount", required_argument, NULL, O_AMOUNT},
    {"currency", required_argument, NULL, O_CURRENCY},
    {"code", required_argument, NULL, O_CODE},
    {"title", required_argument, NULL, O_TITLE},
    {"merchant-trans-id", required_argument, NULL, O_MTID},
    {"acquirement-id", required_argument, NULL, O_ACQ},
    {"merchant-refund-id", required_argument, NULL, O_MRID},
    {"reason", required_argument, NULL, O_REASON},
    {"json", no_argument, NULL, O_JSON},
    {"out", required_argument, NULL, O_OUT},
    {"public-key", required_argument, NULL, O_PUBLIC_KEY},
    {"force", no_argument, NULL, O_FORCE},
    {"help", no_argument, NULL, O_HELP},
    {"first-poll", required_argument, NULL, O_FIRST_POLL},
    {"poll-interval", required_argument, NULL, O_POLL_INTERVAL},
    {"query-budget", required_argument, NULL, O_QUERY_BUDGET},
    {"cancel-margin", required_argument, NULL, O_CANCEL_MARGIN},
    {"cancel-budget", required_argument, NULL, O_CANCEL_BUDGET},
    {"watch-window", required_argument, NULL, O_WATCH_WINDOW},
    {"refund-budget", required_argument, NULL, O_REFUND_BUDGET},
    {"journal", required_argument, NULL, O_JOURNAL},
    {"no-resolve", no_argument, NULL, O_NO_RESOLVE},
    {"all", no_argument, NULL, O_ALL},
    {"as", required_argument, NULL, O_AS},
    {"note", required_argument, NULL, O_NOTE},
    {"version", no_argument, NULL, O_VERSION},
    {NULL, 0, NULL, 0},
};

/* Which options each subcommand takes; "" is `aop` without a command (aop --version). */
static const struct {
    const char *cmd;
    const char *synopsis;
    const int *opts;
} commands[] = {
    {"", "--help | --version", (const int[]){O_VERSION, 0}},
    {"pay",
     "--amount MINOR_UNITS --currency CODE --code IDENTITYCODE|- [--title TEXT] [--merchant-trans-id ID]\n"
     "       [--no-resolve] [--first-poll S] [--poll-interval S] [--query-budget S] [--cancel-margin S]\n"
     "       [--cancel-budget S] [--watch-window S] [--journal FILE]",
     (const int[]){O_AMOUNT, O_CURRENCY, O_CODE, O_TITLE, O_MTID, O_NO_RESOLVE, O_FIRST_POLL, O_POLL_INTERVAL,
                   O_QUERY_BUDGET, O_CANCEL_MARGIN, O_CANCEL_BUDGET, O_WATCH_WINDOW, O_JOURNAL, 0}},
    {"query", "--merchant-trans-id ID | --acquirement-id ID", (const int[]){O_MTID, O_ACQ, 0}},
    {"cancel", "--merchant-trans-id ID | --acquirement-id ID", (const int[]){O_MTID, O_ACQ, 0}},
    {"refund",
     "--acquirement-id ID --amount MINOR_UNITS --currency CODE [--merchant-refund-id ID] [--reason TEXT]\n"
     "       [--no-resolve] [--refund-budget S] [--journal FILE]",
     (const int[]){O_ACQ, O_AMOUNT, O_CURRENCY, O_MRID, O_REASON, O_NO_RESOLVE, O_REFUND_BUDGET, O_JOURNAL, 0}},
    {"recover",
     "[--journal FILE] [--first-poll S] [--poll-interval S] [--query-budget S] [--cancel-margin S]\n"
     "       [--cancel-budget S] [--watch-window S] [--refund-budget S]",
     (const int[]){O_JOURNAL, O_FIRST_POLL, O_POLL_INTERVAL, O_QUERY_BUDGET, O_CANCEL_MARGIN, O_CANCEL_BUDGET,
                   O_WATCH_WINDOW, O_REFUND_BUDGET, 0}},
    {"journal", "[--all] [--json] [--journal FILE]", (const int[]){O_ALL, O_JSON, O_JOURNAL, 0}},
    {"journal close", "ID --as PAID|FAILED|CANCELLED|REFUNDED --note TEXT [--journal FILE]",
     (const int[]){O_AS, O_NOTE, O_JOURNAL, 0}},
    {"keygen", "--out DIR | --private-key FILE --public-key FILE [--force]",
     (const int[]){O_OUT, O_PRIVATE_KEY, O_PUBLIC_KEY, O_FORCE, 0}},
    {"keycheck", "--private-key FILE [--alipay-public-key FILE]", (const int[]){O_PRIVATE_KEY, O_ALIPAY_KEY, 0}},
};

static const int call_options[] = {O_GATEWAY, O_CLIENT_ID, O_MERCHANT_ID, O_PRIVATE_KEY, O_ALIPAY_KEY,
                                   O_SIGN_TYPE, O_CA_FILE, O_TIMEOUT, O_JSON, 0};

static bool in(const int *list, int v) {
    for (; *list; list++)
        if (*list == v) return true;
    return false;
}

static bool is_call(const char *cmd) {
    return !strcmp(cmd, "pay") || !strcmp(cmd, "query") || !strcmp(cmd, "cancel") || !strcmp(cmd, "refund") ||
           !strcmp(cmd, "recover");
}

void cli_usage(FILE *out, const char *cmd) {
    if (!cmd || !*cmd) {
        fputs("usage: aop COMMAND [OPTIONS]\n       aop --version\n\n"
              "A client for Alipay's international offline (barcode) payments.\n\n"
              "commands:\n"
              "  pay       make a payment and carry it to a known outcome (query, then cancel)\n"
              "  query     read the state of a payment (payQuery)\n"
              "  cancel    close or reverse a payment (payCancel)\n"
              "  refund    refund part or all of a paid payment (re-sent identically while unknown)\n"
              "  recover   finish every open payment and refund of the journal\n"
              "  journal   list the journal's open entries (--all: every entry); 'journal close ID'\n"
              "  keygen    create an RSA key pair\n"
              "  keycheck  check a key pair and print fingerprints\n"
              "  sandbox   run the local gateway in the foreground (aop sandbox --help)\n\n"
              "Without --gateway, pay/query/cancel/refund talk to a local sandbox gateway with demo keys\n"
              "and state kept in ~/.aop/. Run 'aop COMMAND --help' for a command's options.\n\n"
              "exit status: 0 PAID/REFUNDED (S), 1 FAILED/CANCELLED (F), 2 UNRESOLVED/NEEDS_ATTENTION or unknown\n"
              "(U), 64 invalid usage or input, 78 configuration, key or journal error (in the last two cases\n"
              "nothing was sent), 130 interrupted (the entry stays open: aop recover finishes it)\n",
              out);
        return;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].cmd, cmd) != 0) continue;
        fprintf(out, "usage: aop %s %s\n", cmd, commands[i].synopsis);
        if (is_call(cmd))
            fputs("       [--gateway URL --private-key FILE --alipay-public-key FILE] [--client-id ID]\n"
                  "       [--merchant-id ID] [--sign-type RSA2|RSA] [--ca-file FILE] [--timeout SECONDS] [--json]\n\n"
                  "  --gateway URL            gateway base URL (https; http only for loopback). Without it, a\n"
                  "                           local sandbox is used, with demo keys and state in ~/.aop/\n"
                  "  --private-key FILE       merchant private key, PEM PKCS#1 or PKCS#8\n"
                  "  --alipay-public-key FILE Alipay's public key, PEM or bare base64 SPKI\n"
                  "  --client-id ID           default " AOP_APPS_DEFAULT_CLIENT_ID "\n"
                  "  --merchant-id ID         default " CLI_DEFAULT_MERCHANT_ID "\n"
                  "  --sign-type RSA2|RSA     SHA256withRSA (default) or SHA1withRSA\n"
                  "  --ca-file FILE           CA bundle for TLS verification\n"
                  "  --timeout SECONDS        whole-call deadline (default: pay 15, query 8, cancel/refund 10)\n"
                  "  --json                   one JSON object on standard output\n"
                  "  --amount MINOR_UNITS     amount in minor units: 100 is $1.00\n"
                  "  --code IDENTITYCODE      the scanned wallet code; '-' reads it from standard input\n"
                  "  --merchant-trans-id ID   the payment's idempotency key (generated for pay when absent,\n"
                  "                           printed to standard error before sending: reuse it to retry)\n"
                  "  --no-resolve             one call, as before the resolver (still journaled)\n"
                  "  --first-poll S           before the first query (default 3)\n"
                  "  --poll-interval S        between queries (default 5)\n"
                  "  --query-budget S         querying stops this long after the pay (default 60)\n"
                  "  --cancel-margin S        no cancel before the pay's start + deadline + this (default 10)\n"
                  "  --cancel-budget S        cancelling stops this long after it began (default 60)\n"
                  "  --watch-window S         a failed payment never acknowledged is checked again after\n"
                  "                           this (default 180)\n"
                  "  --refund-budget S        an unknown refund is re-sent within this (default 60)\n"
                  "  --journal FILE           the payment journal (default ~/.aop/journal.db)\n",
                  out);
        fputs("\nexit status: 0 PAID/REFUNDED (S), 1 FAILED/CANCELLED (F), 2 unresolved or unknown (U), 64 usage or\n"
              "input error, 78 configuration/key/journal error, 130 interrupted (entry left open)\n",
              out);
        return;
    }
}

static bool parse_seconds(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || v > 86400) return false;
    *out = v;
    return true;
}

int cli_parse(const char *cmd, int argc, char **argv, cli_opts_t *o) {
    const int *allowed = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].cmd, cmd)) allowed = commands[i].opts;
    if (!allowed) {
        fprintf(stderr, "aop: unknown command '%s' (see aop --help)\n", cmd);
        return AOP_EXIT_USAGE;
    }
    const char *sep = *cmd ? " " : ""; /* "aop pay: ...", "aop: ..." */
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    for (;;) {
        int idx = 0;
        int c = getopt_long(argc, argv, "", all_options, &idx);
        if (c == -1) break;
        if (c == '?' || c == ':') {
            fprintf(stderr, "aop%s%s: unknown option or missing value: %s\n", sep, cmd, argv[optind - 1]);
            return AOP_EXIT_USAGE;
        }
        if (c == O_HELP) {
            o->help = true;
            continue;
        }
        if (!in(allowed, c) && !(is_call(cmd) && in(call_options, c))) {
            fprintf(stderr, "aop%s%s: option --%s does not apply %s\n", sep, cmd, all_options[idx].name,
                    *cmd ? "to this command" : "without a command");
            return AOP_EXIT_USAGE;
        }
        switch (c) {
        case O_GATEWAY: o->gateway = optarg; break;
        case O_CLIENT_ID: o->client_id = optarg; break;
        case O_MERCHANT_ID: o->merchant_id = optarg; break;
        case O_PRIVATE_KEY: o->private_key = optarg; break;
        case O_ALIPAY_KEY: o->alipay_public_key = optarg; break;
        case O_SIGN_TYPE: o->sign_type = optarg; break;
        case O_CA_FILE: o->ca_file = optarg; break;
        case O_AMOUNT: o->amount = optarg; break;
        case O_CURRENCY: o->currency = optarg; break;
        case O_CODE: o->code = optarg; break;
        case O_TITLE: o->title = optarg; break;
        case O_MTID: o->merchant_trans_id = optarg; break;
        case O_ACQ: o->acquirement_id = optarg; break;
        case O_MRID: o->merchant_refund_id = optarg; break;
        case O_REASON: o->reason = optarg; break;
        case O_OUT: o->out_dir = optarg; break;
        case O_PUBLIC_KEY: o->public_key = optarg; break;
        case O_FORCE: o->force = true; break;
        case O_JSON: o->json = true; break;
        case O_JOURNAL: o->journal = optarg; break;
        case O_NO_RESOLVE: o->no_resolve = true; break;
        case O_ALL: o->all = true; break;
        case O_AS: o->as = optarg; break;
        case O_NOTE: o->note = optarg; break;
        case O_VERSION: o->version = true; break;
        case O_TIMEOUT:
        case O_FIRST_POLL:
        case O_POLL_INTERVAL:
        case O_QUERY_BUDGET:
        case O_CANCEL_MARGIN:
        case O_CANCEL_BUDGET:
        case O_WATCH_WINDOW:
        case O_REFUND_BUDGET: {
            double *to = c == O_TIMEOUT         ? &o->timeout_s
                         : c == O_FIRST_POLL    ? &o->first_poll_s
                         : c == O_POLL_INTERVAL ? &o->poll_interval_s
                         : c == O_QUERY_BUDGET  ? &o->query_budget_s
                         : c == O_CANCEL_MARGIN ? &o->cancel_margin_s
                         : c == O_CANCEL_BUDGET ? &o->cancel_budget_s
                         : c == O_WATCH_WINDOW  ? &o->watch_window_s
                                                : &o->refund_budget_s;
            if (!parse_seconds(optarg, to)) {
                fprintf(stderr, "aop %s: --%s must be a number of seconds > 0, not '%s'\n", cmd,
                        all_options[idx].name, optarg);
                return AOP_EXIT_USAGE;
            }
            break;
        }
        default: break;
        }
    }
    if (!strcmp(cmd, "journal close") && optind < argc) o->entry_id = argv[optind++]; /* the entry's id */
    if (optind < argc) {
        fprintf(stderr, "aop%s%s: unexpected argument '%s'\n", sep, cmd, argv[optind]);
        return AOP_EXIT_USAGE;
    }
    return 0;
}
