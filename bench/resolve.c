/* SPDX-License-Identifier: MIT */
/* aop-bench-resolve: what the journal and the resolver add to a payment decided at once.
 *
 *   aop-bench-resolve [N]      (default 300)
 *   aop-bench-resolve --threads 1,2,4,8,16 [--seconds S] [--runs R] [--pg URI]
 *   aop-bench-resolve --recovery 1,2,3,4 --pg URI [--entries N]
 *
 * Against one in-process sandbox (state in memory, so only the journal syncs).
 *
 * The first form: N pays of each kind, interleaved, on one thread: a bare call (aop_offline_pay,
 * no journal), a journaled single call (`aop pay --no-resolve`) and a resolved pay
 * (aop_pay_resolve, `aop pay`). Prints the median and p99 latency of each, the added latency, and
 * the fsync/fdatasync calls per pay.
 *
 * The second: for each thread count, R runs of S seconds (default 3 of 2 s) of bare calls and of
 * resolved pays, interleaved (bare, resolved, bare, ...) so that both see the same machine; each
 * thread has its own client, and every resolved pay goes through one journal handle that all the
 * threads share (group commit). Prints pays/s (the median of the runs), the ratio of resolved to
 * bare, the resolved pays' p50 and p99 latency over all runs, and syncs per resolved pay. With
 * --pg URI, a third kind runs in each round: resolved pays on the PostgreSQL journal at URI (its
 * server on this machine, sharing its cores), each thread on its own connection of the store.
 *
 * The third: recovery throughput on the PostgreSQL journal: N open entries (default 1000, made
 * at once as a terminal that died before sending them leaves them), recovered by W workers
 * (threads with a client each, on one handle, aop_recover_ex: claim_next) for each W; prints
 * entries per second. Each entry takes a query and a cancel.
 *
 * fsync and fdatasync are interposed here (SQLite calls them through the dynamic linker), so the
 * counts are the real ones. Nothing is judged: the numbers are printed (bench/README.md). */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aop/aop.h"
#include "sandbox.h"

/* the test keys' merchant, whose payments seed() journals */
#define BENCH_MERCHANT_ID "218820000000000000023"

#ifndef AOP_BENCH_DATA
#error "AOP_BENCH_DATA (the test key directory) must be defined"
#endif

static atomic_uint syncs;

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    atomic_fetch_add(&syncs, 1);
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    atomic_fetch_add(&syncs, 1);
    return real(fd);
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static void fill(aop_offline_pay_request_t *rq, char mtid[AOP_UUID_SIZE]) {
    memset(rq, 0, sizeof *rq);
    if (aop_uuid(mtid) != AOP_OK) abort();
    rq->body.product_code.value = AOP_PRODUCT_CODE_ENUM_OFFLINE_PAY;
    rq->body.code_type.value = AOP_OFFLINE_CODE_TYPE_ENUM_BARCODE;
    rq->body.merchant_trans_id = aop_str(mtid);
    rq->body.identity_code = aop_str("28763443825664394");
    rq->body.order.order_amount.currency = aop_str("USD");
    rq->body.order.order_amount.value = aop_str("100");
    rq->body.order.order_title = aop_str("bench");
}

/* The key of the test data copied to a private 0600 file (the library refuses lax keys). */
static void private_copy(const char *name, char *out, size_t cap, const char *dir) {
    char src[1024];
    snprintf(src, sizeof src, "%s/%s", AOP_BENCH_DATA, name);
    snprintf(out, cap, "%s/%s", dir, name);
    FILE *in = fopen(src, "rb"), *to = fopen(out, "wb");
    if (!in || !to) abort();
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, to);
    fclose(in);
    fclose(to);
    chmod(out, 0600);
}

static void report(const char *what, long *us, unsigned n, unsigned sync_count) {
    qsort(us, n, sizeof *us, cmp_long);
    printf("%-28s p50 %7.2f ms   p99 %7.2f ms   syncs/pay %.2f\n", what, us[n / 2] / 1000.0,
           us[(size_t)(n * 0.99)] / 1000.0, (double)sync_count / n);
}

/* ---- the threads on one shared handle ---------------------------------------------------------- */

#define MAX_THREADS 64

typedef struct {
    aop_client_t *c;
    aop_journal_t *j; /* NULL: bare calls */
    const atomic_int *stop;
    long *lat;
    size_t n, cap;
    unsigned failed;
} worker_t;

static void *work(void *arg) {
    worker_t *w = arg;
    aop_resolve_options_t o;
    aop_resolve_options_init(&o);
    while (!atomic_load(w->stop)) {
        aop_offline_pay_request_t rq;
        char mtid[AOP_UUID_SIZE];
        fill(&rq, mtid);
        aop_error_t err;
        long t0 = now_us();
        bool ok;
        if (!w->j) {
            aop_result_t *r = NULL;
            ok = aop_offline_pay(w->c, &rq, NULL, &r, &err) == AOP_OK && r->status == 'S';
            aop_result_free(r);
        } else {
            aop_resolution_t *res = NULL;
            ok = aop_pay_resolve(w->c, w->j, &rq, &o, &res, &err) == AOP_OK && res->outcome == AOP_OUTCOME_PAID;
            aop_resolution_free(res);
        }
        long us = now_us() - t0;
        if (!ok) {
            w->failed++;
            continue;
        }
        if (w->n == w->cap) {
            size_t cap = w->cap ? w->cap * 2 : 1024;
            long *more = realloc(w->lat, cap * sizeof *more);
            if (!more) abort();
            w->lat = more;
            w->cap = cap;
        }
        w->lat[w->n++] = us;
    }
    return NULL;
}

typedef struct {
    double rate;        /* pays per second */
    double cpu_us;      /* the process's CPU time (user + system, the sandbox's included) per pay */
    unsigned pays, syncs, failed;
} run_t;

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* One run: threads workers for ms milliseconds; their latencies appended to *all. */
static run_t run(aop_client_t **clients, unsigned threads, aop_journal_t *j, long ms, long **all, size_t *n_all) {
    worker_t w[MAX_THREADS];
    pthread_t t[MAX_THREADS];
    atomic_int stop = 0;
    unsigned s0 = atomic_load(&syncs);
    long t0 = now_us();
    double c0 = cpu_seconds();
    for (unsigned k = 0; k < threads; k++) {
        w[k] = (worker_t){.c = clients[k], .j = j, .stop = &stop};
        if (pthread_create(&t[k], NULL, work, &w[k]) != 0) abort();
    }
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    atomic_store(&stop, 1);
    run_t r = {0, 0, 0, 0, 0};
    for (unsigned k = 0; k < threads; k++) {
        pthread_join(t[k], NULL);
        r.pays += (unsigned)w[k].n;
        r.failed += w[k].failed;
        long *more = realloc(*all, (*n_all + w[k].n + 1) * sizeof **all);
        if (!more) abort();
        *all = more;
        memcpy(*all + *n_all, w[k].lat, w[k].n * sizeof **all);
        *n_all += w[k].n;
        free(w[k].lat);
    }
    r.rate = r.pays / ((now_us() - t0) / 1e6);
    r.cpu_us = r.pays ? (cpu_seconds() - c0) * 1e6 / r.pays : 0;
    r.syncs = atomic_load(&syncs) - s0;
    return r;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The p50 and p99 of lat[0..n) in ms (sorted here). */
static void percentiles(long *lat, size_t n, double *p50, double *p99) {
    qsort(lat, n, sizeof *lat, cmp_long);
    *p50 = n ? lat[n / 2] / 1000.0 : 0;
    *p99 = n ? lat[(size_t)(n * 0.99)] / 1000.0 : 0;
}

static int threaded(aop_client_t **clients, aop_journal_t *j, aop_journal_t *pg, const unsigned *counts,
                    unsigned n_counts, long ms, unsigned runs) {
    printf("%u interleaved runs of %.1f s per thread count; one client per thread; resolved pays share one journal "
           "handle%s\n",
           runs, ms / 1000.0, pg ? " (SQLite, then PostgreSQL)" : "");
    printf("threads  bare pays/s  resolved pays/s  resolved/bare  resolved p50 ms  resolved p99 ms  syncs/pay"
           "  CPU us/pay bare  resolved");
    if (pg) printf("  | PG pays/s  PG/bare  PG p50 ms  PG p99 ms  bare p50 ms  bare p99 ms");
    putchar('\n');
    long *warm = NULL;
    size_t n_warm = 0;
    (void)run(clients, counts[n_counts - 1], j, 300, &warm, &n_warm); /* connections up, pages cached */
    if (pg) (void)run(clients, counts[n_counts - 1], pg, 300, &warm, &n_warm);
    free(warm);
    for (unsigned i = 0; i < n_counts; i++) {
        double bare[32], resolved[32], cpu_bare[32], cpu_resolved[32], on_pg[32], pg_ratio[32];
        long *lat = NULL, *lat_bare = NULL, *lat_pg = NULL;
        size_t n_lat = 0, n_bare = 0, n_pg = 0;
        unsigned pays = 0, sync_count = 0, failed = 0;
        for (unsigned r = 0; r < runs; r++) {
            run_t b = run(clients, counts[i], NULL, ms, &lat_bare, &n_bare);
            run_t x = run(clients, counts[i], j, ms, &lat, &n_lat);
            bare[r] = b.rate;
            resolved[r] = x.rate;
            cpu_bare[r] = b.cpu_us;
            cpu_resolved[r] = x.cpu_us;
            pays += x.pays;
            sync_count += x.syncs;
            failed += b.failed + x.failed;
            if (pg) {
                run_t y = run(clients, counts[i], pg, ms, &lat_pg, &n_pg);
                on_pg[r] = y.rate;
                pg_ratio[r] = b.rate > 0 ? y.rate / b.rate : 0; /* its neighbour bare run's */
                failed += y.failed;
            }
        }
        double p50, p99, b50, b99, g50 = 0, g99 = 0;
        percentiles(lat, n_lat, &p50, &p99);
        percentiles(lat_bare, n_bare, &b50, &b99);
        if (pg) percentiles(lat_pg, n_pg, &g50, &g99);
        double mb = median(bare, runs), mr = median(resolved, runs);
        printf("%7u  %11.0f  %15.0f  %13.2f  %15.2f  %15.2f  %9.2f  %15.0f  %8.0f", counts[i], mb, mr, mr / mb, p50,
               p99, pays ? (double)sync_count / pays : 0, median(cpu_bare, runs), median(cpu_resolved, runs));
        /* PG/bare: the median of the ratios of interleaved neighbours (a machine shared with
         * others drifts between runs) */
        if (pg) printf("  | %9.0f  %7.2f  %9.2f  %9.2f  %11.2f  %11.2f", median(on_pg, runs), median(pg_ratio, runs), g50,
                       g99, b50, b99);
        putchar('\n');
        fflush(stdout);
        free(lat);
        free(lat_bare);
        free(lat_pg);
        if (failed) {
            fprintf(stderr, "%u pays were not S SUCCESS / PAID\n", failed);
            return 3;
        }
    }
    return 0;
}

/* ---- recovery throughput ------------------------------------------------------------------------ */

/* n open payments, as a terminal that journaled them and died before sending leaves them (a
 * lease of another host's that has expired), MACed with the merchant key. */
static int seed(aop_journal_t *j, const char *mkey, const char *gpub, unsigned n, unsigned round) {
    aop_error_t err;
    aop_private_key_t *priv = NULL;
    aop_public_key_t *pub = NULL;
    aop_journal_key_t key;
    if (aop_private_key_load_file(mkey, NULL, &priv, &err) != AOP_OK || aop_journal_key_derive(priv, &key, &err) != AOP_OK ||
        aop_public_key_load_file(gpub, &pub, &err) != AOP_OK) {
        fprintf(stderr, "seed: %s\n", err.msg);
        return 2;
    }
    char fp[AOP_FINGERPRINT_MAX], gateway[AOP_JOURNAL_GATEWAY_SIZE];
    aop_public_key_fingerprint(pub, fp);
    aop_journal_gateway_identity(fp, AOP_SANDBOX_DEFAULT_CLIENT_ID, gateway);
    aop_public_key_free(pub);
    aop_private_key_free(priv);
    aop_journal_entry_t *e = malloc(sizeof *e);
    if (!e) return 2;
    for (unsigned i = 0; i < n; i++) {
        memset(e, 0, sizeof *e);
        e->kind = AOP_ENTRY_PAYMENT;
        snprintf(e->function, sizeof e->function, "%s", aop_fn_offline_pay.name);
        snprintf(e->merchant_id, sizeof e->merchant_id, "%s", BENCH_MERCHANT_ID);
        snprintf(e->key, sizeof e->key, "bench%ld-%u-%u", (long)getpid(), round, i);
        snprintf(e->amount, sizeof e->amount, "100");
        snprintf(e->currency, sizeof e->currency, "USD");
        snprintf(e->gateway, sizeof e->gateway, "%s", gateway);
        snprintf(e->client_id, sizeof e->client_id, "%s", AOP_SANDBOX_DEFAULT_CLIENT_ID);
        e->pay_deadline_ms = 100;
        snprintf(e->lease_owner, sizeof e->lease_owner, "bench-host/00000000-0000-0000-0000-000000000000/1/1/1#x");
        e->request_len = (size_t)snprintf(e->request, sizeof e->request, "{\"merchantTransId\":\"%s\"}", e->key);
        e->has_request = true;
        aop_journal_entry_seal(&key, e);
        if (aop_journal_insert(j, e, 1, NULL, &err) != AOP_OK) {
            fprintf(stderr, "seed: %s\n", err.msg);
            free(e);
            return 2;
        }
    }
    free(e);
    return 0;
}

typedef struct {
    aop_client_t *c;
    aop_journal_t *j;
    unsigned worked;
    aop_status_t st;
} recoverer_t;

static void *recover_one(void *arg) {
    recoverer_t *r = arg;
    aop_resolve_options_t o;
    aop_resolve_options_init(&o);
    /* one query, then the cancel at once: the entries' pays are past their deadline */
    o.policy.first_poll_s = 0.001;
    o.policy.query_budget_s = 0.001;
    o.policy.poll_interval_s = 0.001;
    o.policy.cancel_margin_s = 0.001;
    o.policy.deadline_ms = 100; /* the seeded pays' deadline: their cancel moment is past */
    aop_recover_summary_t sum;
    aop_recover_summary_init(&sum);
    aop_error_t err;
    r->st = aop_recover_ex(r->c, r->j, &o, NULL, NULL, &sum, &err);
    if (r->st != AOP_OK) fprintf(stderr, "recovery: %s\n", err.msg);
    r->worked = sum.worked;
    return NULL;
}

static int recovery(aop_client_t **clients, aop_journal_t *pg, const char *mkey, const char *gpub, const unsigned *counts,
                    unsigned n_counts, unsigned entries) {
    printf("recovery on PostgreSQL: %u open payments per run (a query and a cancel each), one client per worker, one "
           "journal handle\nworkers  entries/s  seconds\n", entries);
    for (unsigned i = 0; i < n_counts; i++) {
        if (seed(pg, mkey, gpub, entries, i)) return 2;
        struct timespec pause = {0, 300 * 1000000L}; /* past the seeded pays' deadline and lease */
        nanosleep(&pause, NULL);
        recoverer_t r[MAX_THREADS];
        pthread_t t[MAX_THREADS];
        long t0 = now_us();
        for (unsigned k = 0; k < counts[i]; k++) {
            r[k] = (recoverer_t){clients[k], pg, 0, AOP_OK};
            if (pthread_create(&t[k], NULL, recover_one, &r[k]) != 0) abort();
        }
        unsigned worked = 0, failed = 0;
        for (unsigned k = 0; k < counts[i]; k++) {
            pthread_join(t[k], NULL);
            worked += r[k].worked;
            failed += r[k].st != AOP_OK;
        }
        double secs = (now_us() - t0) / 1e6;
        printf("%7u  %9.0f  %7.2f\n", counts[i], worked / secs, secs);
        fflush(stdout);
        if (failed || worked != entries) {
            fprintf(stderr, "%u of %u entries recovered, %u workers failed\n", worked, entries, failed);
            return 3;
        }
    }
    return 0;
}

/* "1,2,4" into counts; false on anything else. */
static bool parse_counts(const char *s, unsigned *counts, unsigned *n) {
    *n = 0;
    while (*s && *n < 16) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s || v < 1 || v > MAX_THREADS) return false;
        counts[(*n)++] = (unsigned)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return false;
    }
    return *n > 0 && !*s;
}

int main(int argc, char **argv) {
    unsigned n = 300, counts[16], n_counts = 0, runs = 3, workers[16], n_workers = 0, entries = 1000;
    long ms = 2000;
    const char *pg_uri = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (!parse_counts(argv[++i], counts, &n_counts)) return 64;
        } else if (!strcmp(argv[i], "--recovery") && i + 1 < argc) {
            if (!parse_counts(argv[++i], workers, &n_workers)) return 64;
        } else if (!strcmp(argv[i], "--pg") && i + 1 < argc) {
            pg_uri = argv[++i];
        } else if (!strcmp(argv[i], "--entries") && i + 1 < argc) {
            entries = (unsigned)strtoul(argv[++i], NULL, 10);
            if (entries < 1) return 64;
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            ms = (long)(strtod(argv[++i], NULL) * 1000);
            if (ms < 100) return 64;
        } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            runs = (unsigned)strtoul(argv[++i], NULL, 10);
            if (runs < 1 || runs > 32) return 64;
        } else {
            n = (unsigned)strtoul(argv[i], NULL, 10);
        }
    }
    if (n < 10) n = 10;
    /* TMPDIR chooses the journal's file system (tmpfs: no sync costs anything) */
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[256];
    if (snprintf(dir, sizeof dir, "%s/aop-bench-resolve-XXXXXX", tmp) >= (int)sizeof dir) {
        fprintf(stderr, "TMPDIR is too long: %zu bytes\n", strlen(tmp));
        return 64;
    }
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp %s: %s\n", dir, strerror(errno));
        return 2;
    }
    char gwkey[1100], mkey[1100], mpub[1100], gpub[1100], journal[1100];
    private_copy("gateway.pkcs8.pem", gwkey, sizeof gwkey, dir);
    private_copy("merchant.pkcs8.pem", mkey, sizeof mkey, dir);
    snprintf(mpub, sizeof mpub, "%s/merchant.spki.pem", AOP_BENCH_DATA);
    snprintf(gpub, sizeof gpub, "%s/gateway.spki.pem", AOP_BENCH_DATA);
    snprintf(journal, sizeof journal, "%s/journal.db", dir);

    aop_sandbox_config_t sc;
    memset(&sc, 0, sizeof sc);
    sc.key_file = gwkey;
    sc.merchant_public_key_file = mpub;
    aop_sandbox_t *sb = NULL;
    aop_error_t err;
    if (aop_sandbox_start(&sc, &sb, &err) != AOP_OK) {
        fprintf(stderr, "sandbox: %s\n", err.msg);
        return 2;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)aop_sandbox_port(sb));
    aop_client_config_t cfg;
    aop_client_config_init(&cfg);
    cfg.gateway_url = url;
    cfg.client_id = AOP_SANDBOX_DEFAULT_CLIENT_ID;
    cfg.merchant_id = BENCH_MERCHANT_ID;
    cfg.private_key_file = mkey;
    cfg.alipay_public_key_file = gpub;
    aop_client_t *c = NULL;
    aop_journal_t *j = NULL;
    if (aop_client_new(&cfg, &c, &err) != AOP_OK || aop_journal_open_sqlite(journal, &j, &err) != AOP_OK) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return 2;
    }
    if (n_workers && !pg_uri) {
        fprintf(stderr, "--recovery needs --pg URI\n");
        return 64;
    }
    if (n_counts || n_workers) {
        aop_client_t *clients[MAX_THREADS] = {NULL};
        unsigned most = 0;
        for (unsigned i = 0; i < n_counts; i++) most = counts[i] > most ? counts[i] : most;
        for (unsigned i = 0; i < n_workers; i++) most = workers[i] > most ? workers[i] : most;
        int rc = 0;
        for (unsigned k = 0; k < most && !rc; k++)
            if (aop_client_new(&cfg, &clients[k], &err) != AOP_OK) rc = 2;
        aop_journal_t *pg = NULL;
        if (!rc && pg_uri && aop_journal_open(pg_uri, &pg, &err) != AOP_OK) {
            fprintf(stderr, "--pg: %s\n", err.msg);
            rc = 2;
        }
        if (!rc && n_counts) rc = threaded(clients, j, pg, counts, n_counts, ms, runs);
        if (!rc && n_workers) rc = recovery(clients, pg, mkey, gpub, workers, n_workers, entries);
        for (unsigned k = 0; k < most; k++) aop_client_free(clients[k]);
        aop_journal_close(pg);
        aop_journal_close(j);
        aop_client_free(c);
        aop_sandbox_stop(sb);
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        return system(cmd) == 0 ? rc : 2;
    }
    /* kind 0: a bare call (no journal); 1: --no-resolve (journaled, one call); 2: resolved */
    static const char *const kinds[3] = {"bare call (no journal)", "--no-resolve (journaled)", "resolved (journaled)"};
    long *us[3];
    unsigned sync_count[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++)
        if (!(us[k] = calloc(n, sizeof **us))) return 2;
    aop_resolve_options_t single;
    aop_resolve_options_init(&single);
    single.single_call = true;
    for (unsigned i = 0; i < n; i++) { /* interleaved, so all three see the same machine */
        for (int k = 0; k < 3; k++) {
            aop_offline_pay_request_t rq;
            char mtid[AOP_UUID_SIZE];
            fill(&rq, mtid);
            unsigned s0 = atomic_load(&syncs);
            long t0 = now_us();
            if (k == 0) {
                aop_result_t *r = NULL;
                if (aop_offline_pay(c, &rq, NULL, &r, &err) != AOP_OK || r->status != 'S') return 3;
                aop_result_free(r);
            } else {
                aop_resolution_t *res = NULL;
                if (aop_pay_resolve(c, j, &rq, k == 1 ? &single : NULL, &res, &err) != AOP_OK ||
                    res->outcome != AOP_OUTCOME_PAID)
                    return 3;
                aop_resolution_free(res);
            }
            us[k][i] = now_us() - t0;
            sync_count[k] += atomic_load(&syncs) - s0;
        }
    }
    printf("%u pays of each kind, decided at once, against an in-process sandbox (state in memory)\n", n);
    for (int k = 0; k < 3; k++) report(kinds[k], us[k], n, sync_count[k]);
    printf("added by the journal and the resolver at the median: %.2f ms over a bare call, %.2f ms over "
           "--no-resolve\n", (us[2][n / 2] - us[0][n / 2]) / 1000.0, (us[2][n / 2] - us[1][n / 2]) / 1000.0);
    for (int k = 0; k < 3; k++) free(us[k]);
    aop_journal_close(j);
    aop_client_free(c);
    aop_sandbox_stop(sb);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 2;
}
