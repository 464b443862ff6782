/* SPDX-License-Identifier: MIT */
/* SIGINT and SIGTERM: a clean stop. The handler only sets a flag: the resolver and the transport
 * look at it (a call in flight is abandoned within 0.5 s), the entry stays open with its lease
 * released, and the command says what to run next and exits 130 or 143. */
#include <string.h>

#include "cli.h"

volatile sig_atomic_t cli_stop;
volatile sig_atomic_t cli_finish;
static volatile sig_atomic_t stop_signal, two_step;

_Static_assert(sizeof(sig_atomic_t) == sizeof(int), "the stop flag is read as an int by the library");

static void on_signal(int sig) {
    stop_signal = sig;
    if (two_step && !cli_finish) /* a service's first signal: finish what is in flight */
        cli_finish = 1;
    else
        cli_stop = 1;
}

void cli_catch_stop_signals_two_step(void) {
    two_step = 1;
    cli_catch_stop_signals();
}

void cli_catch_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_interrupted_exit(void) { return 128 + (stop_signal ? (int)stop_signal : SIGINT); }

const char *cli_interrupt_name(void) { return stop_signal == SIGTERM ? "SIGTERM" : "SIGINT"; }
