/* The aop-sandbox command line (also `aop sandbox`). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sbx_internal.h"

enum { EXIT_OK = 0, EXIT_USAGE = 64, EXIT_CONFIG = 78 };

#define MAX_CLIENT_IDS 64

static void usage(FILE *out, const char *prog) {
    fprintf(out,
            "Usage: %s [OPTIONS]\n"
            "       %s --scenarios [--json]\n"
            "\n"
            "A local Alipay offline-payment gateway on 127.0.0.1, built from the same generated code\n"
            "as the client. It serves the four functions (pay, payQuery, payCancel, refund) on their\n"
            "vendor paths, verifies request signatures, validates requests strictly, keeps the\n"
            "payments in SQLite and signs every answer. The request's identityCode picks a scenario\n"
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
            "\n"
            "Log lines (standard error) never show an identityCode unmasked, a key or a signature.\n"
            "Exit status: 0 after SIGINT/SIGTERM or --help/--scenarios; 64 invalid usage;\n"
            "78 configuration or key error (missing or bad key file, state file, port in use).\n",
            prog, prog);
}

static int usage_error(const char *prog, const char *fmt, const char *arg) {
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    return EXIT_USAGE;
}

static void print_scenarios_text(FILE *out) {
    fprintf(out, "%-20s %-6s %-30s %-15s %s\n", "identityCode", "status", "resultCode", "outcome", "behaviour");
    for (unsigned i = 0; i < sbx_n_scenarios; i++) {
        const sbx_scenario_t *sc = &sbx_scenarios[i];
        const char *code = sbx_scenario_shown_code(sc);
        fprintf(out, "%-20s %-6c %-30s %-15s %s\n", sc->identity_code, sbx_scenario_status(sc), code ? code : "-",
                sbx_outcome_name(sbx_scenario_outcome(sc)), sc->behaviour);
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

int aop_sandbox_main(int argc, char **argv) {
    const char *prog = "aop-sandbox";
    aop_sandbox_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *client_ids[MAX_CLIENT_IDS];
    bool scenarios = false, json = false, quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, prog);
            return EXIT_OK;
        }
        if (strcmp(a, "--scenarios") == 0) { scenarios = true; continue; }
        if (strcmp(a, "--json") == 0) { json = true; continue; }
        if (strcmp(a, "--quiet") == 0) { quiet = true; continue; }
        if (strcmp(a, "--no-faults") == 0) { cfg.no_faults = true; continue; }
        static const char *const with_value[] = {"--port", "--state", "--key", "--merchant-public-key",
                                                 "--client-id", "--sign-type", "--in-process-seconds",
                                                 "--delay-seconds", "--clock-offset", "--request-log"};
        const char *value = NULL, *name = NULL;
        for (unsigned k = 0; k < sizeof with_value / sizeof *with_value && !name; k++) {
            size_t n = strlen(with_value[k]);
            if (strncmp(a, with_value[k], n) != 0) continue;
            if (a[n] == '=') {
                name = with_value[k];
                value = a + n + 1;
            } else if (a[n] == '\0') {
                name = with_value[k];
                if (i + 1 >= argc) return usage_error(prog, "option %s needs a value", a);
                value = argv[++i];
            }
        }
        if (!name) {
            if (a[0] == '-') return usage_error(prog, "unknown option %s", a);
            return usage_error(prog, "unexpected argument %s", a);
        }
        if (strcmp(name, "--port") == 0) {
            char *end = NULL;
            errno = 0;
            unsigned long p = strtoul(value, &end, 10);
            if (!*value || *end || errno || p > 65535 || value[0] == '-' || value[0] == '+')
                return usage_error(prog, "invalid --port %s (0 to 65535; 0 = a free port)", value);
            cfg.port = (unsigned short)p;
        } else if (strcmp(name, "--state") == 0) {
            if (!*value) return usage_error(prog, "--state needs a file name%s", "");
            cfg.state_path = value;
        } else if (strcmp(name, "--key") == 0) {
            cfg.key_file = value;
        } else if (strcmp(name, "--merchant-public-key") == 0) {
            cfg.merchant_public_key_file = value;
        } else if (strcmp(name, "--client-id") == 0) {
            size_t units;
            if (!*value || !aop_utf8_units(value, strlen(value), &units) || units > AOP_REQUEST_HEAD_CLIENT_ID_MAX)
                return usage_error(prog, "invalid --client-id %s (1 to 32 characters)", value);
            if (cfg.n_client_ids >= MAX_CLIENT_IDS) return usage_error(prog, "too many --client-id options%s", "");
            client_ids[cfg.n_client_ids++] = value;
        } else if (strcmp(name, "--in-process-seconds") == 0) {
            if (!parse_seconds_ms(value, &cfg.settle_ms))
                return usage_error(prog, "invalid --in-process-seconds %s (a positive number of seconds)", value);
        } else if (strcmp(name, "--delay-seconds") == 0) {
            if (!parse_seconds_ms(value, &cfg.delay_ms))
                return usage_error(prog, "invalid --delay-seconds %s (a positive number of seconds)", value);
        } else if (strcmp(name, "--clock-offset") == 0) {
            if (!parse_offset(value, &cfg.clock_offset_s))
                return usage_error(prog, "invalid --clock-offset %s (whole seconds, may be negative)", value);
        } else if (strcmp(name, "--request-log") == 0) {
            if (!*value) return usage_error(prog, "--request-log needs a file name%s", "");
            cfg.request_log = value;
        } else if (strcmp(name, "--sign-type") == 0) {
            if (!aop_sign_type_parse(value, &cfg.sign_type))
                return usage_error(prog, "invalid --sign-type %s (RSA2 or RSA)", value);
        }
    }
    if (json && !scenarios) return usage_error(prog, "--json goes with --scenarios%s", "");
    if (scenarios) {
        if (json) return aop_sandbox_print_scenarios_json(stdout) == 0 ? EXIT_OK : 1;
        print_scenarios_text(stdout);
        return fflush(stdout) == 0 ? EXIT_OK : 1;
    }
    cfg.client_ids = client_ids;
    cfg.log = quiet ? NULL : stderr;

    char *key_default = NULL, *pub_default = NULL;
    if (!cfg.key_file) {
        key_default = default_file(prog, "gateway.pem", "--key");
        if (!key_default) return EXIT_CONFIG;
        cfg.key_file = key_default;
    }
    if (!cfg.merchant_public_key_file) {
        pub_default = default_file(prog, "merchant.pub.pem", "--merchant-public-key");
        if (!pub_default) {
            free(key_default);
            return EXIT_CONFIG;
        }
        cfg.merchant_public_key_file = pub_default;
    }

    /* SIGINT and SIGTERM are taken with sigwait; the server's threads inherit the mask. */
    sigset_t stop_signals, old;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old);
    signal(SIGPIPE, SIG_IGN);

    aop_sandbox_t *s = NULL;
    aop_error_t err;
    aop_status_t st = aop_sandbox_start(&cfg, &s, &err);
    if (st != AOP_OK) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        fprintf(stderr, "%s: %s%s%s\n", prog, err.path[0] ? err.path : "", err.path[0] ? ": " : "", err.msg);
        free(key_default);
        free(pub_default);
        return EXIT_CONFIG;
    }
    printf("listening on http://127.0.0.1:%u\n", (unsigned)aop_sandbox_port(s));
    fflush(stdout);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (!quiet) fprintf(stderr, "%s: %s received, stopping\n", prog, sig == SIGINT ? "SIGINT" : "SIGTERM");
    aop_sandbox_stop(s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(key_default);
    free(pub_default);
    return EXIT_OK;
}
