/* SPDX-License-Identifier: MIT */
/* The aop-sandbox command line (also `aop sandbox`). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aop/version.h"
#include "sbx_internal.h"

#define MAX_CLIENT_IDS 64

/* The help text (two %s: the program name). Data rather than code, so usage() stays one call. */
static const char usage_text[] =
    "Usage: %s [OPTIONS]\n"
    "       %s --scenarios [--json]\n"
    "\n"
    "A local Alipay offline-payment gateway on 127.0.0.1, built from the same generated code\n"
    "as the client. It serves the four functions (pay, payQuery, payCancel, refund) on their\n"
    "vendor paths, verifies request signatures, validates requests strictly, keeps the\n"
    "payments in SQLite and signs every answer; with --notify-url it also sends the\n"
    "payments' notifications. The request's identityCode picks a scenario\n"
    "(see --scenarios); any other code of 16 to 24 digits pays. A pay fault applies to\n"
    "every pay with its code, repeats included; the rows of the unknown-outcome flow also\n"
    "fault the payment's later payQuery or payCancel calls (the payment remembers its row\n"
    "and counts its calls); refunds are never faulted. A payCancel of a merchantTransId\n"
    "never seen answers S and closes the id: a later pay with it gets ORDER_IS_CLOSED.\n"
    "Runs until SIGINT/SIGTERM. Paths carry no /api/ prefix (as on the vendor's\n"
    "sandbox); the /api/-prefixed form is still accepted for a while.\n"
    "\n"
    "Options:\n"
    "  --port N                  port on 127.0.0.1 (default 0: a free port). The address is\n"
    "                            printed on standard output: listening on http://127.0.0.1:PORT\n"
    "  --state FILE              SQLite file for the payments (default: in memory, lost on\n"
    "                            exit; created with mode 0600). Several sandboxes may share\n"
    "                            one file. Every change is committed to SQLite's WAL before\n"
    "                            the answer leaves (synchronous=NORMAL): it survives the\n"
    "                            process being killed (SIGKILL), not a power loss.\n"
    "  --key FILE                the gateway's private signing key, PEM (default:\n"
    "                            ~/.aop/gateway.pem, the demo key the aop CLI creates)\n"
    "  --merchant-public-key FILE\n"
    "                            the merchant's public key that verifies requests, PEM or\n"
    "                            bare base64 SPKI (default: ~/.aop/merchant.pub.pem)\n"
    "  --client-id ID            a known clientId; repeat for several (default:\n"
    "                            " AOP_SANDBOX_DEFAULT_CLIENT_ID "); others get UNKNOWN_CLIENT\n"
    "  --sign-type RSA2|RSA      signature algorithm of requests and answers (default RSA2)\n"
    "  --in-process-seconds N    how long a PAYMENT_IN_PROCESS payment with a timer stays\n"
    "                            PAYING (default 3; fractions allowed)\n"
    "  --delay-seconds N         how long held answers and late pays wait (default 20,\n"
    "                            past the pay deadline of 15 s; fractions allowed)\n"
    "  --no-faults               no transport or protocol faults, for the pay or for later\n"
    "                            calls; the state stays as stored (a PAYING payment stays\n"
    "                            PAYING until its timer or a cancel), so a restart with\n"
    "                            --no-faults on the same --state finishes what a fault left\n"
    "                            open\n"
    "  --clock-offset SECONDS    add SECONDS (may be negative) to the gateway's clock: the\n"
    "                            times it records and the cancel window (the payment's day,\n"
    "                            Beijing time, plus 15 minutes) follow it\n"
    "  --request-log FILE        append one JSON line per answered request (created 0600):\n"
    "                            function, merchantTransId, acquirementId, time,\n"
    "                            resultStatus, resultCode (null when no JSON answer was\n"
    "                            sent); written after the state change commits, before the\n"
    "                            answer is sent; never an identityCode\n"
    "  --notify-url URL          send Alipay's payment notifications (notify.pay) to URL\n"
    "                            (https, or http to a loopback host): once a payment is\n"
    "                            SUCCESS or CLOSED, a notification signed with --key is\n"
    "                            POSTed, and sent again on the schedule until the merchant\n"
    "                            answers S / SUCCESS, signed with the key --merchant-public-key\n"
    "                            verifies; the rows 4001-4006 of --scenarios change how.\n"
    "                            Notifications pending at exit are not sent\n"
    "  --notify-schedule SECONDS,...\n"
    "                            the waits between sends (1 to 16; fractions allowed;\n"
    "                            default 2,10,10,60,120,360,900: the vendor's 8 sends over\n"
    "                            about 25 hours, divided by 60)\n"
    "  --notify-late-seconds N   when row 4002 sends its first notification, after the pay\n"
    "                            (default 90: past the client's query budget)\n"
    "  --scenarios               print the scenario table and exit; with --json as a JSON\n"
    "                            array of {identityCode, status, resultCode, exitCode,\n"
    "                            outcome, resolvedExitCode, behaviour}. status, resultCode\n"
    "                            and exitCode are what one call (`aop pay --code`) gives;\n"
    "                            outcome is what a resolving `aop pay` ends with (query,\n"
    "                            then cancel) under the default policy and this gateway's\n"
    "                            default switches: PAID, FAILED, CANCELLED, UNRESOLVED or\n"
    "                            NEEDS_ATTENTION; resolvedExitCode is its exit status (0 PAID,\n"
    "                            1 FAILED or CANCELLED, 2 UNRESOLVED or NEEDS_ATTENTION)\n"
    "  --quiet                   no log lines on standard error\n"
    "  --help                    this help\n"
    "  --version                 print the version of the library it is built with\n"
    "\n"
    "Log lines (standard error) never show an identityCode unmasked, a key or a signature.\n"
    "Exit status: 0 after SIGINT/SIGTERM or --help/--scenarios; 64 invalid usage;\n"
    "78 configuration or key error (missing or bad key file, state file, port in use).\n";

static void usage(FILE *out, const char *prog) { fprintf(out, usage_text, prog, prog); }

static int usage_error(const char *prog, const char *fmt, const char *arg) {
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    return AOP_EXIT_USAGE;
}

static void print_scenarios_text(FILE *out) {
    fprintf(out, "%-20s %-6s %-30s %-15s %s\n", "identityCode", "status", "resultCode", "outcome", "behaviour");
    for (unsigned i = 0; i < sbx_n_scenarios + sbx_n_notify_scenarios; i++) {
        const sbx_scenario_t *sc = sbx_scenario_row(i);
        const char *code = sbx_scenario_shown_code(sc);
        fprintf(out, "%-20s %-6c %-30s %-15s %s\n", sc->identity_code, sbx_scenario_status(sc), code ? code : "-",
                sbx_outcome_name(sc->outcome), sc->behaviour);
    }
}

/* Seconds with up to three decimals, 0 < value <= one day, as milliseconds. */
static bool parse_seconds_ms(const char *v, unsigned *ms) {
    char *end = NULL;
    errno = 0;
    if (!*v || *v == '-' || *v == '+' || *v == ' ') return false;
    double d = strtod(v, &end);
    if (*end || errno || !(d > 0) || d > 86400) return false;
    *ms = (unsigned)(d * 1000 + 0.5);
    return *ms > 0;
}

/* A whole number of seconds, possibly negative, within ten years. */
static bool parse_offset(const char *v, long long *out) {
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n > 315360000LL || n < -315360000LL) return false;
    *out = n;
    return true;
}

/* ~/.aop/<name> when the file exists; else NULL with a message. */
static char *default_file(const char *prog, const char *name, const char *flag) {
    const char *home = getenv("HOME");
    if (!home || !*home) {
        fprintf(stderr, "%s: no %s given and HOME is not set (the default is ~/.aop/%s)\n", prog, flag, name);
        return NULL;
    }
    size_t n = strlen(home) + strlen(name) + 8;
    char *path = malloc(n);
    if (!path) return NULL;
    snprintf(path, n, "%s/.aop/%s", home, name);
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr,
                "%s: no %s given and the default %s does not exist (%s); pass %s FILE, or let the aop "
                "CLI create its demo keys first (any `aop pay` without --gateway)\n",
                prog, flag, path, strerror(errno), flag);
        free(path);
        return NULL;
    }
    return path;
}

/* ---- the options ------------------------------------------------------------------------------ */

enum {
    O_HELP = 'h',
    O_PORT = 256, O_STATE, O_KEY, O_MERCHANT_KEY, O_CLIENT_ID, O_SIGN_TYPE, O_IN_PROCESS, O_DELAY,
    O_CLOCK_OFFSET, O_REQUEST_LOG, O_NO_FAULTS, O_SCENARIOS, O_JSON, O_QUIET, O_VERSION, O_NOTIFY_URL,
    O_NOTIFY_SCHEDULE, O_NOTIFY_LATE
};

static const struct option options[] = {
    {"port", required_argument, NULL, O_PORT},
    {"state", required_argument, NULL, O_STATE},
    {"key", required_argument, NULL, O_KEY},
    {"merchant-public-key", required_argument, NULL, O_MERCHANT_KEY},
    {"client-id", required_argument, NULL, O_CLIENT_ID},
    {"sign-type", required_argument, NULL, O_SIGN_TYPE},
    {"in-process-seconds", required_argument, NULL, O_IN_PROCESS},
    {"delay-seconds", required_argument, NULL, O_DELAY},
    {"clock-offset", required_argument, NULL, O_CLOCK_OFFSET},
    {"request-log", required_argument, NULL, O_REQUEST_LOG},
    {"notify-url", required_argument, NULL, O_NOTIFY_URL},
    {"notify-schedule", required_argument, NULL, O_NOTIFY_SCHEDULE},
    {"notify-late-seconds", required_argument, NULL, O_NOTIFY_LATE},
    {"no-faults", no_argument, NULL, O_NO_FAULTS},
    {"scenarios", no_argument, NULL, O_SCENARIOS},
    {"json", no_argument, NULL, O_JSON},
    {"quiet", no_argument, NULL, O_QUIET},
    {"help", no_argument, NULL, O_HELP},
    {"version", no_argument, NULL, O_VERSION},
    {NULL, 0, NULL, 0},
};

/* What the command line asks for. */
typedef struct {
    aop_sandbox_config_t cfg;
    const char *client_ids[MAX_CLIENT_IDS];
    unsigned notify_schedule_ms[SBX_NOTIFY_SCHEDULE_MAX];
    bool help, version, scenarios, json, quiet;
} args_t;

static int take_port(const char *prog, const char *v, args_t *a) {
    char *end = NULL;
    errno = 0;
    unsigned long p = strtoul(v, &end, 10);
    if (!*v || *end || errno || p > 65535 || v[0] == '-' || v[0] == '+')
        return usage_error(prog, "invalid --port %s (0 to 65535; 0 = a free port)", v);
    a->cfg.port = (unsigned short)p;
    return 0;
}

static int take_client_id(const char *prog, const char *v, args_t *a) {
    size_t units;
    if (!*v || !aop_utf8_units(v, strlen(v), &units) || units > AOP_REQUEST_HEAD_CLIENT_ID_MAX)
        return usage_error(prog, "invalid --client-id %s (1 to 32 characters)", v);
    if (a->cfg.n_client_ids >= MAX_CLIENT_IDS) return usage_error(prog, "too many --client-id options%s", "");
    a->client_ids[a->cfg.n_client_ids++] = v;
    return 0;
}

/* SECONDS,... : 1 to SBX_NOTIFY_SCHEDULE_MAX waits, each as --in-process-seconds takes it. */
static int take_schedule(const char *prog, const char *v, args_t *a) {
    char copy[512];
    if (!*v || strlen(v) >= sizeof copy)
        return usage_error(prog, "invalid --notify-schedule %s (SECONDS,... : 1 to 16 waits)", v);
    snprintf(copy, sizeof copy, "%s", v);
    unsigned n = 0;
    for (char *p = copy, *end; p; p = end ? end + 1 : NULL) {
        end = strchr(p, ',');
        if (end) *end = '\0';
        if (n == SBX_NOTIFY_SCHEDULE_MAX || !parse_seconds_ms(p, &a->notify_schedule_ms[n]))
            return usage_error(prog, "invalid --notify-schedule %s (SECONDS,... : 1 to 16 positive waits)", v);
        n++;
    }
    a->cfg.notify_schedule_ms = a->notify_schedule_ms;
    a->cfg.n_notify_schedule = n;
    return 0;
}

/* One option (v its value, if it takes one) into a: 0, or AOP_EXIT_USAGE after the message. */
static int take_option(const char *prog, int opt, const char *v, args_t *a) {
    aop_sandbox_config_t *cfg = &a->cfg;
    switch (opt) {
    case O_HELP: a->help = true; return 0;
    case O_VERSION: a->version = true; return 0;
    case O_SCENARIOS: a->scenarios = true; return 0;
    case O_JSON: a->json = true; return 0;
    case O_QUIET: a->quiet = true; return 0;
    case O_NO_FAULTS: cfg->no_faults = true; return 0;
    case O_PORT: return take_port(prog, v, a);
    case O_CLIENT_ID: return take_client_id(prog, v, a);
    case O_KEY: cfg->key_file = v; return 0;
    case O_MERCHANT_KEY: cfg->merchant_public_key_file = v; return 0;
    case O_STATE:
        if (!*v) return usage_error(prog, "--state needs a file name%s", "");
        cfg->state_path = v;
        return 0;
    case O_REQUEST_LOG:
        if (!*v) return usage_error(prog, "--request-log needs a file name%s", "");
        cfg->request_log = v;
        return 0;
    case O_NOTIFY_URL:
        if (!aop_url_allowed(v))
            return usage_error(prog, "invalid --notify-url %s (https, or http to a loopback host)", v);
        cfg->notify_url = v;
        return 0;
    case O_NOTIFY_SCHEDULE: return take_schedule(prog, v, a);
    case O_NOTIFY_LATE:
        return parse_seconds_ms(v, &cfg->notify_late_ms)
                   ? 0
                   : usage_error(prog, "invalid --notify-late-seconds %s (a positive number of seconds)", v);
    case O_SIGN_TYPE:
        return aop_sign_type_parse(v, &cfg->sign_type) ? 0
                                                       : usage_error(prog, "invalid --sign-type %s (RSA2 or RSA)", v);
    case O_IN_PROCESS:
        return parse_seconds_ms(v, &cfg->settle_ms)
                   ? 0
                   : usage_error(prog, "invalid --in-process-seconds %s (a positive number of seconds)", v);
    case O_DELAY:
        return parse_seconds_ms(v, &cfg->delay_ms)
                   ? 0
                   : usage_error(prog, "invalid --delay-seconds %s (a positive number of seconds)", v);
    case O_CLOCK_OFFSET:
        return parse_offset(v, &cfg->clock_offset_s)
                   ? 0
                   : usage_error(prog, "invalid --clock-offset %s (whole seconds, may be negative)", v);
    default: return usage_error(prog, "unknown option %s", "");
    }
}

/* The option getopt_long refused, as the user wrote it. */
static void bad_option(char **argv, char *text, size_t cap) {
    if (optopt > 0 && optopt < 256) snprintf(text, cap, "-%c", optopt); /* a short one */
    else snprintf(text, cap, "%s", argv[optind - 1]);
}

/* Parses argv into a: 0, or AOP_EXIT_USAGE after the message. Options stop at the first other
 * argument ('+'), which is an error, so the first problem on the line is the one reported;
 * --help and --version end the parsing where they stand. */
static int parse_args(const char *prog, int argc, char **argv, args_t *a) {
    memset(a, 0, sizeof *a);
    optind = 1; /* `aop sandbox` may parse more than one command line in a process */
    opterr = 0;
    for (int opt; !a->help && !a->version && (opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1;) {
        char text[128];
        if (opt == ':' || opt == '?') bad_option(argv, text, sizeof text);
        if (opt == ':') return usage_error(prog, "option %s needs a value", text);
        if (opt == '?') return usage_error(prog, "unknown option %s", text);
        int rc = take_option(prog, opt, optarg, a);
        if (rc) return rc;
    }
    if (a->help || a->version) return 0;
    if (optind < argc) return usage_error(prog, "unexpected argument %s", argv[optind]);
    if (a->json && !a->scenarios) return usage_error(prog, "--json goes with --scenarios%s", "");
    if ((a->cfg.n_notify_schedule || a->cfg.notify_late_ms) && !a->cfg.notify_url)
        return usage_error(prog, "--notify-schedule and --notify-late-seconds go with --notify-url%s", "");
    a->cfg.client_ids = a->client_ids;
    a->cfg.log = a->quiet ? NULL : stderr;
    return 0;
}

/* ---- the run ---------------------------------------------------------------------------------- */

static int print_scenarios(bool json) {
    if (json) return aop_sandbox_print_scenarios_json(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    print_scenarios_text(stdout);
    return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* The key files the command line left out, from ~/.aop/. *key_default and *pub_default hold
 * what was allocated (the caller frees them). False after the message. */
static bool default_keys(const char *prog, aop_sandbox_config_t *cfg, char **key_default, char **pub_default) {
    if (!cfg->key_file) {
        if (!(*key_default = default_file(prog, "gateway.pem", "--key"))) return false;
        cfg->key_file = *key_default;
    }
    if (!cfg->merchant_public_key_file) {
        if (!(*pub_default = default_file(prog, "merchant.pub.pem", "--merchant-public-key"))) return false;
        cfg->merchant_public_key_file = *pub_default;
    }
    return true;
}

/* Serves until SIGINT or SIGTERM. */
static int serve(const char *prog, const aop_sandbox_config_t *cfg, bool quiet) {
    /* SIGINT and SIGTERM are taken with sigwait; the server's threads inherit the mask. */
    sigset_t stop_signals, old;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old);
    signal(SIGPIPE, SIG_IGN);

    aop_sandbox_t *s = NULL;
    aop_error_t err;
    if (aop_sandbox_start(cfg, &s, &err) != AOP_OK) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        fprintf(stderr, "%s: %s%s%s\n", prog, err.path[0] ? err.path : "", err.path[0] ? ": " : "", err.msg);
        return AOP_EXIT_CONFIG;
    }
    printf("listening on http://127.0.0.1:%u\n", (unsigned)aop_sandbox_port(s));
    fflush(stdout);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (!quiet) fprintf(stderr, "%s: %s received, stopping\n", prog, sig == SIGINT ? "SIGINT" : "SIGTERM");
    aop_sandbox_stop(s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return EXIT_SUCCESS;
}

int aop_sandbox_main(int argc, char **argv) {
    const char *prog = "aop-sandbox";
    args_t a;
    int rc = parse_args(prog, argc, argv, &a);
    if (rc) return rc;
    if (a.help) {
        usage(stdout, prog);
        return EXIT_SUCCESS;
    }
    if (a.version) {
        printf("%s %s\n", prog, aop_version());
        return EXIT_SUCCESS;
    }
    if (a.scenarios) return print_scenarios(a.json);
    char *key_default = NULL, *pub_default = NULL;
    rc = default_keys(prog, &a.cfg, &key_default, &pub_default) ? serve(prog, &a.cfg, a.quiet) : AOP_EXIT_CONFIG;
    free(key_default);
    free(pub_default);
    return rc;
}
