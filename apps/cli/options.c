/* SPDX-License-Identifier: MIT */
/* Option parsing and help texts: one table of options with their help, the options each command
 * takes, and the mistakes a person makes typing them (a repeated option, a near-miss name). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
    O_GATEWAY = 256, O_CLIENT_ID, O_MERCHANT_ID, O_PRIVATE_KEY, O_ALIPAY_KEY, O_SIGN_TYPE, O_CA_FILE,
    O_TIMEOUT, O_AMOUNT, O_CURRENCY, O_CODE, O_TITLE, O_MTID, O_ACQ, O_MRID, O_JSON, O_REASON,
    O_OUT, O_PUBLIC_KEY, O_FORCE, O_HELP, O_FIRST_POLL, O_POLL_INTERVAL, O_QUERY_BUDGET, O_CANCEL_MARGIN,
    O_CANCEL_BUDGET, O_WATCH_WINDOW, O_REFUND_BUDGET, O_JOURNAL, O_NO_RESOLVE, O_ALL, O_AS, O_NOTE, O_VERSION,
    O_ALLOW_UNKNOWN_CURRENCY, O_BEFORE, O_LISTEN, O_PATH, O_TLS_CERT, O_TLS_KEY, O_WORKERS, O_FOLLOW, O_LAST
};

/* Every option: its getopt entry, its argument's name and its help line. */
static const struct {
    struct option o;
    const char *arg, *help;
} table[] = {
    {{"gateway", required_argument, NULL, O_GATEWAY}, "URL",
     "gateway base URL with its scheme (https; http only for loopback). Without it, a local sandbox is used, "
     "with demo keys and state in ~/.aop/"},
    {{"private-key", required_argument, NULL, O_PRIVATE_KEY}, "FILE", "your merchant private key, PEM PKCS#1 or PKCS#8"},
    {{"alipay-public-key", required_argument, NULL, O_ALIPAY_KEY}, "FILE", "Alipay's public key, PEM or bare base64 SPKI"},
    {{"client-id", required_argument, NULL, O_CLIENT_ID}, "ID", "the clientId; default " AOP_APPS_DEFAULT_CLIENT_ID},
    {{"merchant-id", required_argument, NULL, O_MERCHANT_ID}, "ID", "the merchantId; default " CLI_DEFAULT_MERCHANT_ID},
    {{"sign-type", required_argument, NULL, O_SIGN_TYPE}, "RSA2|RSA", "SHA256withRSA (default) or SHA1withRSA"},
    {{"ca-file", required_argument, NULL, O_CA_FILE}, "FILE", "CA bundle for TLS verification"},
    {{"timeout", required_argument, NULL, O_TIMEOUT}, "SECONDS",
     "whole-call deadline (default: pay 15, query 8, cancel and refund 10)"},
    {{"json", no_argument, NULL, O_JSON}, NULL, "one JSON object on standard output (errors too)"},
    {{"amount", required_argument, NULL, O_AMOUNT}, "MINOR_UNITS", "the amount in minor units: 100 is USD 1.00"},
    {{"currency", required_argument, NULL, O_CURRENCY}, "CODE", "an ISO 4217 currency code: USD, EUR, JPY..."},
    {{"allow-unknown-currency", no_argument, NULL, O_ALLOW_UNKNOWN_CURRENCY}, NULL,
     "send a --currency that is not in this aop's ISO 4217 table"},
    {{"code", required_argument, NULL, O_CODE}, "IDENTITYCODE", "the scanned wallet code; '-' reads it from standard input"},
    {{"title", required_argument, NULL, O_TITLE}, "TEXT", "the order's title (default \"" CLI_DEFAULT_TITLE "\")"},
    {{"merchant-trans-id", required_argument, NULL, O_MTID}, "ID",
     "the payment's idempotency key (pay: generated when absent, and printed once the payment is journaled: reuse "
     "it to retry)"},
    {{"acquirement-id", required_argument, NULL, O_ACQ}, "ID", "Alipay's id of the payment"},
    {{"merchant-refund-id", required_argument, NULL, O_MRID}, "ID",
     "the refund's idempotency key (generated when absent; reuse it to retry)"},
    {{"reason", required_argument, NULL, O_REASON}, "TEXT", "the refund's reason"},
    {{"no-resolve", no_argument, NULL, O_NO_RESOLVE}, NULL, "one call, without queries or cancels (still journaled)"},
    {{"first-poll", required_argument, NULL, O_FIRST_POLL}, "S", "before the first query (default 3)"},
    {{"poll-interval", required_argument, NULL, O_POLL_INTERVAL}, "S", "between queries (default 5)"},
    {{"query-budget", required_argument, NULL, O_QUERY_BUDGET}, "S", "querying stops this long after the pay (default 60)"},
    {{"cancel-margin", required_argument, NULL, O_CANCEL_MARGIN}, "S",
     "no cancel before the pay's start + its deadline + this (default 10)"},
    {{"cancel-budget", required_argument, NULL, O_CANCEL_BUDGET}, "S", "cancelling stops this long after it began (default 60)"},
    {{"watch-window", required_argument, NULL, O_WATCH_WINDOW}, "S",
     "a failed payment the gateway never acknowledged is checked again after this (default 180)"},
    {{"refund-budget", required_argument, NULL, O_REFUND_BUDGET}, "S", "an unknown refund is re-sent within this (default 60)"},
    {{"journal", required_argument, NULL, O_JOURNAL}, "FILE|URI",
     "the payment journal: a file, sqlite:PATH or postgresql://... without a password (default: $AOP_JOURNAL, "
     "else ~/.aop/journal.db)"},
    {{"workers", required_argument, NULL, O_WORKERS}, "N",
     "recover with N workers (threads, 1 to 64), each with its own client, taking entries one by one"},
    {{"follow", no_argument, NULL, O_FOLLOW}, NULL,
     "a service: take entries as they fall due until SIGTERM or SIGINT (the first lets calls in flight finish)"},
    {{"all", no_argument, NULL, O_ALL}, NULL, "every entry, not only the open ones"},
    {{"before", required_argument, NULL, O_BEFORE}, "DATE",
     "remove the final entries last changed before DATE (YYYY-MM-DD, UTC, or YYYY-MM-DDTHH:MM:SSZ)"},
    {{"as", required_argument, NULL, O_AS}, "STATE", "PAID, FAILED or CANCELLED (a payment), REFUNDED or FAILED (a refund)"},
    {{"note", required_argument, NULL, O_NOTE}, "TEXT", "who established the outcome, and how"},
    {{"out", required_argument, NULL, O_OUT}, "DIR", "write private.pem and public.pem there"},
    {{"public-key", required_argument, NULL, O_PUBLIC_KEY}, "FILE", "where the public key goes"},
    {{"force", no_argument, NULL, O_FORCE}, NULL, "replace existing key files"},
    {{"listen", required_argument, NULL, O_LISTEN}, "ADDRESS:PORT",
     "where aop-notify listens for Alipay's notifications (127.0.0.1:8080, [::1]:8080, 0.0.0.0:443)"},
    {{"path", required_argument, NULL, O_PATH}, "PATH", "the notify URL's path (default /)"},
    {{"tls-cert", required_argument, NULL, O_TLS_CERT}, "FILE", "the server's certificate chain, PEM (required "
     "on any address but loopback)"},
    {{"tls-key", required_argument, NULL, O_TLS_KEY}, "FILE", "the server's TLS private key, PEM"},
    {{"help", no_argument, NULL, O_HELP}, NULL, "this text"},
    {{"version", no_argument, NULL, O_VERSION}, NULL, "the version of aop and libaop"},
};
#define N_OPTIONS (sizeof table / sizeof *table)

#define CALL O_GATEWAY, O_PRIVATE_KEY, O_ALIPAY_KEY, O_CLIENT_ID, O_MERCHANT_ID, O_SIGN_TYPE, O_CA_FILE, O_TIMEOUT, O_JSON
#define POLICY O_FIRST_POLL, O_POLL_INTERVAL, O_QUERY_BUDGET, O_CANCEL_MARGIN, O_CANCEL_BUDGET, O_WATCH_WINDOW

/* Which options each command takes, in the order its help lists them; "" is `aop` without a
 * command (aop --version). None may be given twice. */
static const struct {
    const char *cmd;
    const char *synopsis;
    const int *opts;
} commands[] = {
    {"", "--help | --version", (const int[]){O_VERSION, O_HELP, 0}},
    {"pay", "--amount MINOR_UNITS --currency CODE --code IDENTITYCODE|- [OPTIONS]",
     (const int[]){O_AMOUNT, O_CURRENCY, O_CODE, O_TITLE, O_MTID, O_ALLOW_UNKNOWN_CURRENCY, O_NO_RESOLVE, POLICY,
                   O_JOURNAL, CALL, O_HELP, 0}},
    {"query", "--merchant-trans-id ID | --acquirement-id ID [OPTIONS]", (const int[]){O_MTID, O_ACQ, CALL, O_HELP, 0}},
    {"cancel", "--merchant-trans-id ID | --acquirement-id ID [OPTIONS]", (const int[]){O_MTID, O_ACQ, CALL, O_HELP, 0}},
    {"refund", "--acquirement-id ID --amount MINOR_UNITS --currency CODE [OPTIONS]",
     (const int[]){O_ACQ, O_AMOUNT, O_CURRENCY, O_MRID, O_REASON, O_ALLOW_UNKNOWN_CURRENCY, O_NO_RESOLVE,
                   O_REFUND_BUDGET, O_JOURNAL, CALL, O_HELP, 0}},
    {"recover", "[--workers N] [--follow] [OPTIONS]",
     (const int[]){O_WORKERS, O_FOLLOW, O_JOURNAL, POLICY, O_REFUND_BUDGET, CALL, O_HELP, 0}},
    {"journal", "[--all] [--json] [--journal FILE] [--private-key FILE]",
     (const int[]){O_ALL, O_JSON, O_JOURNAL, O_PRIVATE_KEY, O_HELP, 0}},
    {"journal prune", "--before DATE [--journal FILE] [--json]", (const int[]){O_BEFORE, O_JOURNAL, O_JSON, O_HELP, 0}},
    {"journal backup", "FILE [--journal FILE] [--json]", (const int[]){O_JOURNAL, O_JSON, O_HELP, 0}},
    {"journal close", "ID --as STATE --note TEXT [--journal FILE] [--json]",
     (const int[]){O_AS, O_NOTE, O_JOURNAL, O_JSON, O_HELP, 0}},
    {"keygen", "--out DIR | --private-key FILE --public-key FILE [--force]",
     (const int[]){O_OUT, O_PRIVATE_KEY, O_PUBLIC_KEY, O_FORCE, O_JSON, O_HELP, 0}},
    {"keycheck", "--private-key FILE [--alipay-public-key FILE]", (const int[]){O_PRIVATE_KEY, O_ALIPAY_KEY, O_JSON, O_HELP, 0}},
    {"notify", "--listen ADDRESS:PORT [--path PATH] --private-key FILE --alipay-public-key FILE [OPTIONS]",
     (const int[]){O_LISTEN, O_PATH, O_JOURNAL, O_PRIVATE_KEY, O_ALIPAY_KEY, O_CLIENT_ID, O_MERCHANT_ID, O_SIGN_TYPE,
                   O_TLS_CERT, O_TLS_KEY, O_GATEWAY, O_CA_FILE, O_TIMEOUT, POLICY, O_HELP, O_VERSION, 0}},
};

/* The commands above that are another program of aop-tools sharing this parser (aop has no such
 * command): its name, what it does and its exit statuses. */
static const struct {
    const char *cmd, *program, *about, *exits;
} programs[] = {
    {"notify", "aop-notify",
     "Receives Alipay's payment notifications, records them in the journal and applies them\n"
     "(docs/resolver.md, rows N).\n",
     "exit status: 0 stopped by SIGTERM or SIGINT, 64 invalid usage, 78 configuration, key or journal error\n"},
};

static size_t program_of(const char *cmd) {
    size_t i = 0;
    while (i < sizeof programs / sizeof *programs && (!cmd || strcmp(programs[i].cmd, cmd) != 0)) i++;
    return i;
}

const char *cli_program(const char *cmd) {
    size_t p = program_of(cmd);
    return p < sizeof programs / sizeof *programs ? programs[p].program : NULL;
}

static const char *const exit_help =
    "exit status: 0 PAID or REFUNDED (one call: S), 1 FAILED or CANCELLED (F), 2 not known yet or a person must\n"
    "decide (U), 64 invalid usage or input and 78 configuration, key or journal error (nothing was sent in\n"
    "either case), 130 interrupted by SIGINT and 143 by SIGTERM (the entry stays open: aop recover finishes it)\n";

static bool in(const int *list, int v) {
    for (; *list; list++)
        if (*list == v) return true;
    return false;
}

static const int *options_of(const char *cmd) {
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].cmd, cmd)) return commands[i].opts;
    return NULL;
}

static size_t row_of(int id) {
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (table[i].o.val == id) return i;
    return N_OPTIONS;
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
              "  journal   list the journal's open entries (--all: every entry); 'journal close ID',\n"
              "            'journal prune --before DATE', 'journal backup FILE'\n"
              "  keygen    create an RSA key pair\n"
              "  keycheck  check a key pair and print fingerprints\n"
              "  sandbox   run the local gateway in the foreground (aop sandbox --help)\n\n"
              "Without --gateway, pay/query/cancel/refund talk to a local sandbox gateway with demo keys\n"
              "and state kept in ~/.aop/ (not real money). Run 'aop COMMAND --help' for a command's options.\n\n",
              out);
        fputs(exit_help, out);
        return;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].cmd, cmd) != 0) continue;
        size_t p = program_of(cmd);
        bool other = p < sizeof programs / sizeof *programs;
        if (other)
            fprintf(out, "usage: %s %s\n\n%s\noptions:\n", programs[p].program, commands[i].synopsis, programs[p].about);
        else
            fprintf(out, "usage: aop %s %s\n\noptions:\n", cmd, commands[i].synopsis);
        for (const int *id = commands[i].opts; *id; id++) {
            size_t r = row_of(*id);
            if (r == N_OPTIONS) continue;
            char name[48];
            snprintf(name, sizeof name, "--%s%s%s", table[r].o.name, table[r].arg ? " " : "",
                     table[r].arg ? table[r].arg : "");
            fprintf(out, "  %-28s %s\n", name, table[r].help);
        }
        fputc('\n', out);
        fputs(other ? programs[p].exits : exit_help, out);
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

/* Edit distance of two short names (insertions, deletions, substitutions). */
static size_t distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) return 99;
    size_t d[41][41];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

/* The command's option nearest to what was typed ("--amout", "-amount", "--amount=5"), or NULL. */
static const char *near_miss(const int *allowed, const char *typed) {
    char name[64];
    while (*typed == '-') typed++;
    snprintf(name, sizeof name, "%.*s", (int)strcspn(typed, "="), typed);
    const char *best = NULL;
    size_t best_d = 3; /* at most two edits away */
    for (const int *id = allowed; *id; id++) {
        size_t r = row_of(*id);
        if (r == N_OPTIONS) continue;
        size_t d = distance(name, table[r].o.name);
        if (d < best_d) best_d = d, best = table[r].o.name;
    }
    return best;
}

int cli_parse(const char *cmd, int argc, char **argv, cli_opts_t *o) {
    memset(o, 0, sizeof *o);
    /* --json is looked for first, so that even the first error comes as JSON */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--json")) o->json = true;
    cli_report_setup(cli_program(cmd), cmd, o->json);
    const int *allowed = options_of(cmd);
    if (!allowed) return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, NULL, "unknown command '%s' (see aop --help)", cmd);
    struct option longopts[N_OPTIONS + 1];
    for (size_t i = 0; i < N_OPTIONS; i++) longopts[i] = table[i].o;
    memset(&longopts[N_OPTIONS], 0, sizeof longopts[N_OPTIONS]);
    bool seen[O_LAST - O_GATEWAY] = {false};
    optind = 1;
    opterr = 0;
    for (;;) {
        int idx = -1;
        int c = getopt_long(argc, argv, "", longopts, &idx);
        if (c == -1) break;
        const char *typed = argv[optind - 1];
        /* a short option ("-amount" read as -a -m ...): getopt is still inside that word, or
         * has just left it */
        if (c == '?' && optopt > 0 && optopt < 128 && optind < argc && argv[optind][0] == '-' && argv[optind][1] != '-')
            typed = argv[optind];
        if (c == '?' || c == ':') {
            /* getopt names the option whose value is missing in optopt, an unknown one as 0 */
            if (optopt >= O_GATEWAY && optopt < O_LAST)
                return cli_fail(AOP_EXIT_USAGE, AOP_E_MISSING, typed, "%s needs a value", typed);
            const char *near = near_miss(allowed, typed);
            if (near)
                return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, typed, "unknown option %s: did you mean --%s?", typed,
                                near);
            return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, typed, "unknown option %s (see aop %s%s--help)", typed,
                            cmd, *cmd ? " " : "");
        }
        const char *name = table[idx].o.name;
        if (!in(allowed, c))
            return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, typed, "option --%s does not apply %s", name,
                            *cmd ? "to this command" : "without a command");
        if (seen[c - O_GATEWAY])
            return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, typed, "--%s is given twice: give it once", name);
        seen[c - O_GATEWAY] = true;
        switch (c) {
        case O_HELP: o->help = true; break;
        case O_GATEWAY: o->gateway = optarg; break;
        case O_CLIENT_ID: o->client_id = optarg; break;
        case O_MERCHANT_ID: o->merchant_id = optarg; break;
        case O_PRIVATE_KEY: o->private_key = optarg; break;
        case O_ALIPAY_KEY: o->alipay_public_key = optarg; break;
        case O_SIGN_TYPE: o->sign_type = optarg; break;
        case O_CA_FILE: o->ca_file = optarg; break;
        case O_AMOUNT: o->amount = optarg; break;
        case O_CURRENCY: o->currency = optarg; break;
        case O_ALLOW_UNKNOWN_CURRENCY: o->allow_unknown_currency = true; break;
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
        case O_JOURNAL: {
            /* a password on the command line is in every user's ps and in the shell's history */
            char shown[1024];
            if (aop_journal_uri_redact(optarg, shown, sizeof shown))
                return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, "--journal",
                                "--journal %s: a password is refused on the command line (ps shows it to every "
                                "user): give the URI in the environment's AOP_JOURNAL, or the password in a "
                                "password file (PGPASSFILE, ~/.pgpass) or a service (PGSERVICE)", shown);
            o->journal = optarg;
            break;
        }
        case O_FOLLOW: o->follow = true; break;
        case O_WORKERS: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (end == optarg || *end || n < 1 || n > 64)
                return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, typed, "--workers must be from 1 to 64, not '%s'",
                                optarg);
            o->workers = (unsigned)n;
            break;
        }
        case O_NO_RESOLVE: o->no_resolve = true; break;
        case O_ALL: o->all = true; break;
        case O_AS: o->as = optarg; break;
        case O_NOTE: o->note = optarg; break;
        case O_BEFORE: o->before = optarg; break;
        case O_LISTEN: o->listen = optarg; break;
        case O_PATH: o->path = optarg; break;
        case O_TLS_CERT: o->tls_cert = optarg; break;
        case O_TLS_KEY: o->tls_key = optarg; break;
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
            if (!parse_seconds(optarg, to))
                return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, typed,
                                "--%s must be a number of seconds above 0 and up to 86400, not '%s'", name, optarg);
            break;
        }
        default: break;
        }
    }
    if (!strcmp(cmd, "journal close") && optind < argc) o->entry_id = argv[optind++]; /* the entry's id */
    if (!strcmp(cmd, "journal backup") && optind < argc) o->file = argv[optind++];    /* the copy's path */
    if (optind < argc)
        return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, NULL, "unexpected argument '%s'", argv[optind]);
    return 0;
}
