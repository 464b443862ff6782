/* SPDX-License-Identifier: MIT */
/* aop-bench-e2e: whole pays per second through real HTTP against the aop-sandbox binary, set
 * against the RSA bound of this machine measured in the same run (issue 9, section 4).
 *
 *   aop-bench-e2e [--sandbox PATH] [--seconds S] [--threads N,N,...] [--memory] [--sandbox-log]
 *
 * The sandbox runs as its own process, as users run it: `--state FILE` in a fresh temporary
 * directory (--memory: no --state), with --quiet (--sandbox-log: its log line per request on
 * standard error, going to a file in that directory). For each client thread count, every thread has
 * its own aop_client_t (its own keep-alive connection) and makes pays with fresh
 * merchantTransIds and the demo identityCode for S seconds, after a short warm-up; every pay must
 * end S SUCCESS (else exit 1).
 *
 * The bound: per pay, the client signs the request and verifies the answer, the gateway verifies
 * the request and signs the answer, so 2 signs + 2 verifies of CPU, on the cores this process may
 * use. sign and verify are timed here on the library's per-client signer and verifier (the
 * context set-up excluded, as in the client), over the bytes of a pay request:
 *     bound = cores / (2 * sign + 2 * verify)        ratio = pays/s / bound
 * It is an upper bound of the RSA work alone: the rest (HTTP, JSON, SQLite, logging) is what the
 * ratio's distance from 1 measures. Each row also shows the CPU time per pay of this process
 * (the clients) and of the sandbox, warm-up pays included, and the share of the machine's time
 * that was busy (idle and iowait excluded; another process's work counts as busy). Exit 0, 1 when a pay failed, 2 on a setup error, 64 usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aop/aop.h"
#include "aop/signer.h"
#include "sandbox.h"

#ifndef AOP_BENCH_DATA
#error "AOP_BENCH_DATA (the test key directory) must be defined"
#endif
#ifndef AOP_BENCH_BIN_DIR
#error "AOP_BENCH_BIN_DIR (where aop-sandbox is built) must be defined"
#endif

#define EX_USAGE 64
#define DEMO_CODE "28763443825664394"
#define MERCHANT_ID "218820000000000000023"
#define MAX_THREADS 64

extern char **environ;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, const char *arg) {
    fprintf(stderr, "aop-bench-e2e: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(2);
}

/* A copy of AOP_BENCH_DATA/name in dir with mode 0600 (the key loaders refuse a private key
 * readable by others; git checks tests/data out 0644). */
static void copy_key(const char *dir, const char *name, char *out, size_t cap) {
    char src[1024];
    snprintf(src, sizeof src, "%s/%s", AOP_BENCH_DATA, name);
    snprintf(out, cap, "%s/%s", dir, name);
    FILE *in = fopen(src, "rb");
    if (!in) die("cannot read %s", src);
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) die("cannot create %s", out);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    if (write(fd, buf, n) != (ssize_t)n) die("cannot write %s", out);
    close(fd);
}

/* ---- the RSA bound ------------------------------------------------------------------------- */

/* Median seconds per call of sign (verify = false) or verify over data, on a ready signer or
 * verifier: 9 batches of at least 0.1 s. */
static double time_rsa(bool verify, const char *data, size_t len) {
    aop_error_t err;
    char path[1024];
    aop_private_key_t *k = NULL;
    aop_public_key_t *pub = NULL;
    /* the merchant's pair: the key is only read, any RSA-2048 pair of the test data would do */
    snprintf(path, sizeof path, "%s/merchant.spki.pem", AOP_BENCH_DATA);
    if (aop_public_key_load_file(path, &pub, &err) != AOP_OK) die("cannot load the public key: %s", err.msg);
    aop_signer_t *s = NULL;
    aop_verifier_t *v = NULL;
    char sig[AOP_SIG_B64_MAX];
    size_t sig_len = 0;
    {
        char tmpl[] = "/tmp/aop-bench-rsa-XXXXXX";
        char *dir = mkdtemp(tmpl);
        if (!dir) die("mkdtemp: %s", strerror(errno));
        copy_key(dir, "merchant.pkcs8.pem", path, sizeof path);
        aop_status_t st = aop_private_key_load_file(path, NULL, &k, &err);
        unlink(path);
        rmdir(dir);
        if (st != AOP_OK) die("cannot load the private key: %s", err.msg);
    }
    if (aop_signer_new(k, AOP_SIGN_RSA2, &s, &err) != AOP_OK || aop_verifier_new(pub, AOP_SIGN_RSA2, &v, &err) != AOP_OK)
        die("signer/verifier: %s", err.msg);
    if (aop_signer_sign(s, data, len, sig, sizeof sig, &sig_len, &err) != AOP_OK) die("sign: %s", err.msg);
    if (aop_verifier_verify(v, data, len, sig, sig_len, &err) != AOP_OK) die("verify: %s", err.msg);
    double batches[9];
    for (unsigned b = 0; b < 9; b++) {
        unsigned n = 0;
        double t0 = now_s(), t;
        do {
            for (unsigned i = 0; i < 16; i++, n++) {
                aop_status_t st = verify ? aop_verifier_verify(v, data, len, sig, sig_len, &err)
                                         : aop_signer_sign(s, data, len, sig, sizeof sig, &sig_len, &err);
                if (st != AOP_OK) die("rsa: %s", err.msg);
            }
            t = now_s() - t0;
        } while (t < 0.1);
        batches[b] = t / n;
    }
    for (unsigned i = 1; i < 9; i++) /* insertion sort, 9 values */
        for (unsigned j = i; j > 0 && batches[j] < batches[j - 1]; j--) {
            double x = batches[j];
            batches[j] = batches[j - 1];
            batches[j - 1] = x;
        }
    aop_signer_free(s);
    aop_verifier_free(v);
    aop_private_key_free(k);
    aop_public_key_free(pub);
    return batches[4];
}

/* ---- the sandbox process ------------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    unsigned short port;
} sandbox_t;

static sandbox_t sandbox_spawn(const char *bin, const char *dir, bool memory, bool quiet) {
    char key[1024], pub[1024], state[1024], log[1024];
    copy_key(dir, "gateway.pkcs8.pem", key, sizeof key);
    snprintf(pub, sizeof pub, "%s/merchant.spki.pem", AOP_BENCH_DATA);
    snprintf(state, sizeof state, "%s/state.db", dir);
    snprintf(log, sizeof log, "%s/sandbox.log", dir);
    int out[2];
    if (pipe(out) != 0) die("pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *argv[12] = {(char *)bin, "--port", "0", "--key", key, "--merchant-public-key", pub};
    unsigned argc = 7;
    if (quiet) argv[argc++] = "--quiet";
    if (!memory) {
        argv[argc++] = "--state";
        argv[argc++] = state;
    }
    argv[argc] = NULL;
    sandbox_t sb = {0, 0};
    int rc = posix_spawn(&sb.pid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0) die("cannot start the sandbox: %s", strerror(rc));
    /* "listening on http://127.0.0.1:PORT" */
    char line[256];
    size_t n = 0;
    while (n < sizeof line - 1) {
        ssize_t r = read(out[0], line + n, sizeof line - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
        if (memchr(line, '\n', n)) break;
    }
    line[n] = '\0';
    close(out[0]);
    const char *p = strstr(line, "127.0.0.1:");
    if (!p) die("the sandbox did not start (see its log): %s", line);
    sb.port = (unsigned short)atoi(p + 10);
    return sb;
}

static void sandbox_stop(sandbox_t *sb) {
    kill(sb->pid, SIGTERM);
    int status;
    while (waitpid(sb->pid, &status, 0) < 0 && errno == EINTR) {}
}

/* ---- the clients ---------------------------------------------------------------------------- */

typedef struct {
    unsigned short port;
    const char *key_file;
    unsigned id, round;
    double warm_until, stop_at;
    double *lat;        /* latencies of the measured pays, seconds */
    size_t n_lat, cap_lat;
    unsigned long failed;
    unsigned long done; /* every S SUCCESS pay, warm-up included (the CPU accounting's unit) */
    char first_failure[256];
} worker_t;

static void *worker(void *arg) {
    worker_t *w = arg;
    char url[64], path[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)w->port);
    snprintf(path, sizeof path, "%s/gateway.spki.pem", AOP_BENCH_DATA);
    aop_client_config_t cfg;
    aop_client_config_init(&cfg);
    cfg.gateway_url = url;
    cfg.client_id = AOP_SANDBOX_DEFAULT_CLIENT_ID;
    cfg.merchant_id = MERCHANT_ID;
    cfg.private_key_file = w->key_file;
    cfg.alipay_public_key_file = path;
    cfg.sign_type = AOP_SIGN_RSA2;
    aop_client_t *c = NULL;
    aop_error_t err;
    if (aop_client_new(&cfg, &c, &err) != AOP_OK) {
        snprintf(w->first_failure, sizeof w->first_failure, "aop_client_new: %s", err.msg);
        w->failed++;
        return NULL;
    }
    for (unsigned long i = 0;; i++) {
        double t0 = now_s();
        if (t0 >= w->stop_at) break;
        char mtid[64];
        snprintf(mtid, sizeof mtid, "bench-%u-%u-%d-%lu", w->round, w->id, (int)getpid(), i);
        aop_offline_pay_request_t rq;
        memset(&rq, 0, sizeof rq);
        rq.body.product_code.value = AOP_PRODUCT_CODE_ENUM_OFFLINE_PAY;
        rq.body.code_type.value = AOP_OFFLINE_CODE_TYPE_ENUM_BARCODE;
        rq.body.merchant_trans_id = aop_str(mtid);
        rq.body.identity_code = aop_str(DEMO_CODE);
        rq.body.order.order_amount.currency = aop_str("USD");
        rq.body.order.order_amount.value = aop_str("100");
        rq.body.order.order_title = aop_str("bench");
        aop_result_t *r = NULL;
        aop_status_t st = aop_offline_pay(c, &rq, NULL, &r, &err);
        double t1 = now_s();
        bool ok = st == AOP_OK && r && r->status == 'S';
        if (!ok) {
            if (!w->failed)
                snprintf(w->first_failure, sizeof w->first_failure, "%s: %s", aop_status_name(st != AOP_OK ? st : r->error),
                         st != AOP_OK ? err.msg : r->detail.msg);
            w->failed++;
        } else if (w->done++, t0 >= w->warm_until) {
            if (w->n_lat == w->cap_lat) {
                size_t cap = w->cap_lat ? 2 * w->cap_lat : 4096;
                double *p = realloc(w->lat, cap * sizeof *p);
                if (!p) break;
                w->lat = p;
                w->cap_lat = cap;
            }
            w->lat[w->n_lat++] = t1 - t0;
        }
        aop_result_free(r);
    }
    aop_client_free(c);
    return NULL;
}

/* CPU seconds used so far by process pid (0: this process), user and system together. */
static double cpu_s(pid_t pid) {
    clockid_t id = CLOCK_PROCESS_CPUTIME_ID;
    if (pid && clock_getcpuclockid(pid, &id) != 0) return -1;
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) return -1;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole machine's busy and total time (/proc/stat, first line), in clock ticks. */
static void machine_ticks(double *busy, double *total) {
    *busy = *total = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return;
    unsigned long long v[10] = {0};
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7], &v[8], &v[9]) >= 5) {
        for (unsigned i = 0; i < 8; i++) *total += (double)v[i]; /* guest time is inside user */
        *busy = *total - (double)v[3] - (double)v[4];          /* less idle and iowait */
    }
    fclose(f);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static unsigned cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static void usage(FILE *out) {
    fprintf(out, "usage: aop-bench-e2e [--sandbox PATH] [--seconds S] [--threads N,N,...] [--memory]\n"
                 "  --sandbox PATH   the aop-sandbox binary (default " AOP_BENCH_BIN_DIR "/aop-sandbox)\n"
                 "  --seconds S      measured seconds per thread count, after 0.5 s of warm-up (default 5)\n"
                 "  --threads LIST   client thread counts (default 1,2,4)\n"
                 "  --memory         the sandbox without --state (default: --state in a temporary file)\n"
                 "  --sandbox-log    the sandbox logs a line per request (to a file; default: --quiet)\n");
}

int main(int argc, char **argv) {
    const char *bin = AOP_BENCH_BIN_DIR "/aop-sandbox";
    double seconds = 5;
    unsigned threads[16] = {1, 2, 4}, n_threads = 3;
    bool memory = false, quiet = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--memory") == 0) {
            memory = true;
        } else if (strcmp(a, "--sandbox-log") == 0) {
            quiet = false;
        } else if (strcmp(a, "--sandbox") == 0 && v) {
            bin = v;
            i++;
        } else if (strcmp(a, "--seconds") == 0 && v) {
            char *end;
            seconds = strtod(v, &end);
            if (*end || !(seconds > 0 && seconds <= 600)) {
                usage(stderr);
                return EX_USAGE;
            }
            i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            n_threads = 0;
            for (const char *p = v; *p && n_threads < 16;) {
                char *end;
                long n = strtol(p, &end, 10);
                if (end == p || n < 1 || n > MAX_THREADS || (*end && *end != ',')) {
                    usage(stderr);
                    return EX_USAGE;
                }
                threads[n_threads++] = (unsigned)n;
                p = *end ? end + 1 : end;
            }
            if (!n_threads) {
                usage(stderr);
                return EX_USAGE;
            }
            i++;
        } else {
            usage(stderr);
            return EX_USAGE;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/aop-bench-e2e-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) die("mkdtemp: %s", strerror(errno));

    /* The bytes of a pay request as the client signs them (the pay-request sample's `request`). */
    static const char sample[] =
        "{\"head\":{\"version\":\"2.0.0\",\"function\":\"alipay.intl.acquiring.offline.pay\",\"clientId\":"
        "\"211020000000000000044\",\"reqTime\":\"2001-07-04T12:08:56+05:30\",\"reqMsgId\":"
        "\"1234567asdfasdf1123fda\",\"reserve\":\"{}\"},\"body\":{\"merchantId\":\"218820000000000000023\","
        "\"productCode\":\"OFFLINE_PAY\",\"codeType\":\"BARCODE\",\"identityCode\":\"28763443825664394\","
        "\"order\":{\"orderTitle\":\"bench\",\"orderAmount\":{\"currency\":\"USD\",\"value\":\"100\"}},"
        "\"merchantTransId\":\"bench-0-0-0-0\"}}";
    double sign = time_rsa(false, sample, sizeof sample - 1);
    double verify = time_rsa(true, sample, sizeof sample - 1);
    unsigned ncpu = cores();
    double bound = ncpu / (2 * sign + 2 * verify);
    printf("RSA2 (RSA-2048, SHA-256) on this machine: sign %.1f us, verify %.1f us; %u cores\n", sign * 1e6,
           verify * 1e6, ncpu);
    printf("bound = %u / (2 x sign + 2 x verify) = %.0f pays/s\n", ncpu, bound);

    char key[1024];
    copy_key(dir, "merchant.pkcs8.pem", key, sizeof key);
    sandbox_t sb = sandbox_spawn(bin, dir, memory, quiet);
    printf("sandbox: %s, %s, %s\n", bin, memory ? "in memory" : "--state (a file in a temporary directory)",
           quiet ? "--quiet" : "a log line per request");
    printf("client us, sandbox us: CPU time per pay (RSA per side: sign + verify = %.1f us); busy: the machine\n\n",
           (sign + verify) * 1e6);
    printf("%-8s %8s %10s %10s %10s %8s %12s %12s %8s\n", "threads", "pays", "pays/s", "p50 ms", "p99 ms", "ratio",
           "client us", "sandbox us", "busy");
    int status = 0;
    for (unsigned t = 0; t < n_threads; t++) {
        unsigned n = threads[t];
        worker_t *w = calloc(n, sizeof *w);
        pthread_t *th = calloc(n, sizeof *th);
        if (!w || !th) die("out of memory%s", "");
        double busy0, total0, busy1, total1;
        machine_ticks(&busy0, &total0);
        double cpu_client0 = cpu_s(0), cpu_sandbox0 = cpu_s(sb.pid);
        double start = now_s();
        for (unsigned i = 0; i < n; i++) {
            w[i] = (worker_t){.port = sb.port, .key_file = key, .id = i, .round = t,
                              .warm_until = start + 0.5, .stop_at = start + 0.5 + seconds};
            pthread_create(&th[i], NULL, worker, &w[i]);
        }
        size_t total = 0;
        unsigned long failed = 0, done = 0;
        for (unsigned i = 0; i < n; i++) {
            pthread_join(th[i], NULL);
            total += w[i].n_lat;
            failed += w[i].failed;
            done += w[i].done;
        }
        double cpu_client = cpu_s(0) - cpu_client0, cpu_sandbox = cpu_s(sb.pid) - cpu_sandbox0;
        machine_ticks(&busy1, &total1);
        double busy = total1 > total0 ? (busy1 - busy0) / (total1 - total0) : 0;
        double *all = malloc((total ? total : 1) * sizeof *all);
        if (!all) die("out of memory%s", "");
        size_t k = 0;
        for (unsigned i = 0; i < n; i++) {
            memcpy(all + k, w[i].lat, w[i].n_lat * sizeof *all);
            k += w[i].n_lat;
        }
        qsort(all, total, sizeof *all, cmp_double);
        double rate = total / seconds;
        double p50 = total ? all[total / 2] : 0, p99 = total ? all[(size_t)((double)total * 0.99)] : 0;
        printf("%-8u %8zu %10.0f %10.2f %10.2f %7.0f%% %12.1f %12.1f %7.0f%%\n", n, total, rate, p50 * 1e3, p99 * 1e3,
               100 * rate / bound, done ? cpu_client / done * 1e6 : 0, done && cpu_sandbox0 >= 0 ? cpu_sandbox / done * 1e6 : 0,
               100 * busy);
        for (unsigned i = 0; i < n; i++) {
            if (w[i].failed) {
                fprintf(stderr, "aop-bench-e2e: %lu pays failed with %u threads; first: %s\n", failed, n,
                        w[i].first_failure);
                status = 1;
                break;
            }
        }
        for (unsigned i = 0; i < n; i++) free(w[i].lat);
        free(all);
        free(w);
        free(th);
        fflush(stdout);
    }
    sandbox_stop(&sb);
    static const char *const files[] = {"state.db", "state.db-wal", "state.db-shm", "state.db-journal",
                                        "sandbox.log", "gateway.pkcs8.pem", "merchant.pkcs8.pem"};
    for (unsigned i = 0; i < sizeof files / sizeof *files; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    if (rmdir(dir) != 0) fprintf(stderr, "aop-bench-e2e: could not remove %s: %s\n", dir, strerror(errno));
    return status;
}
