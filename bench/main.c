/* SPDX-License-Identifier: MIT */
/* aop-bench: our generated codec against the same typed decode/encode with cJSON and jansson.
 *
 *   aop-bench                 every op: median ns/op, MB/s, heap allocations/op, instructions/op
 *   aop-bench run OP N        OP alone, N times, no output (for valgrind --tool=callgrind)
 *   aop-bench list            the ops
 *
 * Exit status: 0 ok, 1 an op failed or gave unexpected results, 64 usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define EX_USAGE 64
#define BATCHES 15            /* timed batches per op; the median batch is reported */
#define BATCH_NS 20000000ull  /* a batch lasts at least this long (20 ms) */
#define WARMUP_NS 50000000ull /* 50 ms of untimed runs first */
#define COUNT_ITERS 2000u     /* iterations over which allocations and instructions are counted */

/* In table order: each operation, ours first, then the baselines. */
static const bench_op_t *const ops[] = {
    &bench_aop_ops[0], &bench_cjson_ops[0], &bench_jansson_ops[0],
    &bench_aop_ops[1], &bench_cjson_ops[1], &bench_jansson_ops[1],
};
#define NOPS (sizeof ops / sizeof ops[0])

static const bench_op_t *find_op(const char *name) {
    for (size_t i = 0; i < NOPS; i++)
        if (strcmp(ops[i]->name, name) == 0) return ops[i];
    return NULL;
}

static void list_ops(FILE *f) {
    for (size_t i = 0; i < NOPS; i++) fprintf(f, "  %-28s %s\n", ops[i]->name, ops[i]->what);
}

static int usage(void) {
    fprintf(stderr,
            "usage: aop-bench              run every op and print the table\n"
            "       aop-bench run OP N     run OP alone N times, no output (for callgrind)\n"
            "       aop-bench list         list the ops\n"
            "ops:\n");
    list_ops(stderr);
    return EX_USAGE;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Runs op n times; the number of failed runs. */
static unsigned long run_n(const bench_op_t *op, unsigned long n) {
    int (*const fn)(void) = op->op;
    unsigned long failed = 0;
    for (unsigned long i = 0; i < n; i++) failed += fn() != 0;
    return failed;
}

/* ---- instructions retired, in user space, when the kernel lets us count them ---- */

static int perf_fd = -1;
static const char *perf_why = "not tried";

static void perf_open(void) {
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_HARDWARE;
    a.size = sizeof a;
    a.config = PERF_COUNT_HW_INSTRUCTIONS;
    a.disabled = 1;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    long fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
    if (fd < 0) {
        perf_why = strerror(errno);
        return;
    }
    perf_fd = (int)fd;
    perf_why = NULL;
}

/* Instructions for n runs, or -1. */
static double perf_count(const bench_op_t *op, unsigned long n) {
    if (perf_fd < 0) return -1;
    uint64_t count = 0;
    if (ioctl(perf_fd, PERF_EVENT_IOC_RESET, 0) != 0 || ioctl(perf_fd, PERF_EVENT_IOC_ENABLE, 0) != 0)
        return -1;
    run_n(op, n);
    ioctl(perf_fd, PERF_EVENT_IOC_DISABLE, 0);
    if (read(perf_fd, &count, sizeof count) != (ssize_t)sizeof count || count == 0) return -1;
    return (double)count;
}

/* ---- the table ---- */

typedef struct {
    unsigned long iterations; /* timed, over all batches */
    double ns;                /* median batch, per op */
    double mbps;
    double allocs;            /* per op */
    double instr;             /* per op; < 0: n/a */
    unsigned long failed;
} result_t;

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int measure(const bench_op_t *op, result_t *r) {
    memset(r, 0, sizeof *r);
    if (op->setup()) return 1;

    /* warm up caches, branch predictors, lazy binding and the libraries' one-time setup */
    uint64_t t0 = now_ns();
    do r->failed += run_n(op, 64);
    while (now_ns() - t0 < WARMUP_NS);

    /* a batch size that lasts at least BATCH_NS */
    unsigned long batch = 64;
    for (;;) {
        t0 = now_ns();
        r->failed += run_n(op, batch);
        if (now_ns() - t0 >= BATCH_NS || batch >= (1ul << 30)) break;
        batch *= 2;
    }

    uint64_t t[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        t0 = now_ns();
        r->failed += run_n(op, batch);
        t[b] = now_ns() - t0;
    }
    qsort(t, BATCHES, sizeof t[0], cmp_u64);
    r->iterations = batch * BATCHES;
    r->ns = (double)t[BATCHES / 2] / (double)batch;
    r->mbps = (double)op->bytes() * 1e3 / r->ns; /* bytes/ns = GB/s */

    unsigned long a0 = bench_allocs;
    r->failed += run_n(op, COUNT_ITERS);
    r->allocs = (double)(bench_allocs - a0) / COUNT_ITERS;

    /* median of 5 counts */
    double c[5];
    r->instr = 0;
    for (int i = 0; i < 5; i++) {
        c[i] = perf_count(op, COUNT_ITERS);
        if (c[i] < 0) {
            r->instr = -1;
            break;
        }
    }
    if (r->instr == 0) {
        for (int i = 1; i < 5; i++)
            for (int j = i; j > 0 && c[j - 1] > c[j]; j--) {
                double x = c[j];
                c[j] = c[j - 1];
                c[j - 1] = x;
            }
        r->instr = c[2] / COUNT_ITERS;
    }
    return r->failed ? 1 : 0;
}

static void ratio_line(const char *what, const result_t *ours, const result_t *base,
                       const char *target) {
    printf("  %-34s time %.3f", what, ours->ns / base->ns);
    if (ours->instr > 0 && base->instr > 0)
        printf("   instructions %.3f", ours->instr / base->instr);
    else
        printf("   instructions n/a");
    if (target) printf("   (target, under callgrind: <= %s)", target);
    printf("\n");
}

static int run_table(void) {
    perf_open();
    result_t res[NOPS];
    int status = 0;
    printf("%-28s %11s %13s %9s %10s %10s\n", "op", "iterations", "median ns/op", "MB/s",
           "allocs/op", "instr/op");
    for (size_t i = 0; i < NOPS; i++) {
        int bad = measure(ops[i], &res[i]);
        result_t *r = &res[i];
        if (bad && r->iterations == 0) {
            printf("%-28s setup failed\n", ops[i]->name);
            status = 1;
            continue;
        }
        char instr[32];
        if (r->instr > 0)
            snprintf(instr, sizeof instr, "%.0f", r->instr);
        else
            snprintf(instr, sizeof instr, "n/a");
        printf("%-28s %11lu %13.1f %9.1f %10.1f %10s\n", ops[i]->name, r->iterations, r->ns,
               r->mbps, r->allocs, instr);
        if (r->failed) {
            printf("  ^ %lu runs failed\n", r->failed);
            status = 1;
        }
        fflush(stdout);
    }
    printf("\nMB/s: bytes of JSON read (decode: the whole body) or written (encode: the request "
           "object)\nper median ns. Median of %d batches of >= %llu ms; allocations and "
           "instructions over %u runs.\n",
           BATCHES, BATCH_NS / 1000000ull, COUNT_ITERS);
    if (perf_why) printf("instructions: n/a (perf_event_open: %s)\n", perf_why);
    if (status == 0) {
        printf("\nours / cJSON:\n");
        ratio_line("decode + validate pay response", &res[0], &res[1], "0.6");
        ratio_line("encode + validate pay request", &res[3], &res[4], "0.25");
        printf("ours / jansson:\n");
        ratio_line("decode + validate pay response", &res[0], &res[2], NULL);
        ratio_line("encode + validate pay request", &res[3], &res[5], NULL);
        if (res[0].allocs != 0 || res[3].allocs != 0) {
            printf("\nFAIL: our codec allocated on the heap\n");
            status = 1;
        }
    }
    return status;
}

static int run_one(const char *name, const char *count) {
    const bench_op_t *op = find_op(name);
    if (!op) {
        fprintf(stderr, "aop-bench: unknown op '%s'; the ops are:\n", name);
        list_ops(stderr);
        return EX_USAGE;
    }
    char *end;
    errno = 0;
    unsigned long long n = strtoull(count, &end, 10);
    if (!*count || *end || errno || count[0] == '-') {
        fprintf(stderr, "aop-bench: ITERATIONS must be a non-negative integer, not '%s'\n", count);
        return EX_USAGE;
    }
    if (op->setup()) return 1;
    unsigned long failed = run_n(op, (unsigned long)n);
    if (failed) {
        fprintf(stderr, "aop-bench: %s failed %lu of %llu times\n", name, failed, n);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 1) return run_table();
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        list_ops(stdout);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "run") == 0) return run_one(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "run") == 0 && !find_op(argv[2])) {
        fprintf(stderr, "aop-bench: unknown op '%s'; the ops are:\n", argv[2]);
        list_ops(stderr);
        return EX_USAGE;
    }
    return usage();
}
