/* SPDX-License-Identifier: MIT */
/* The timed waits of the apps' threads are on CLOCK_MONOTONIC (aop_mono_ms()), which no step of
 * the wall clock moves: a condition variable that times out on that clock, and the time a timed
 * wait takes for a monotonic instant in milliseconds. */
#ifndef AOP_APPS_MONOTONIC_H
#define AOP_APPS_MONOTONIC_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

static inline void apps_cond_init_monotonic(pthread_cond_t *cv) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

static inline struct timespec apps_mono_timespec(int64_t mono_ms) {
    struct timespec ts = {(time_t)(mono_ms / 1000), (long)(mono_ms % 1000) * 1000000L};
    return ts;
}

#endif
