/* SPDX-License-Identifier: MIT */
/* The local sandbox as a child process: the aop-sandbox program installed beside aop. Keeping it
 * out of aop's own process keeps libmicrohttpd and the gateway's code out of every command that
 * talks to a real gateway (they are loaded only by aop-sandbox). */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define SANDBOX_PROGRAM "aop-sandbox"
#define START_TIMEOUT_MS 20000

struct cli_sandbox {
    pid_t pid;
    int out; /* the read end of the child's standard output */
};

/* aop-sandbox in aop's own directory (the build tree's bin/, or /usr/bin), else "" (then the
 * PATH is searched). */
static void sandbox_path(char *out, size_t cap) {
    char self[PATH_MAX];
    out[0] = '\0';
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash) return;
    *slash = '\0';
    if ((size_t)snprintf(out, cap, "%s/" SANDBOX_PROGRAM, self) >= cap || access(out, X_OK) != 0) out[0] = '\0';
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void exec_child(const char *path, char **argv, const char *failed, size_t failed_len) {
    if (path[0]) execv(path, argv);
    else execvp(SANDBOX_PROGRAM, argv);
    ssize_t ignored = write(STDERR_FILENO, failed, failed_len);
    (void)ignored;
    _exit(127);
}

int cli_exec_sandbox(int argc, char **argv) {
    (void)argc;
    char path[PATH_MAX + 32];
    sandbox_path(path, sizeof path);
    argv[0] = SANDBOX_PROGRAM;
    if (path[0]) execv(path, argv);
    else execvp(SANDBOX_PROGRAM, argv);
    fprintf(stderr, "aop sandbox: cannot run %s: %s (it is installed beside aop)\n", path[0] ? path : SANDBOX_PROGRAM,
            strerror(errno));
    return AOP_EXIT_CONFIG;
}

/* Reads the child's "listening on http://127.0.0.1:PORT" line. 0 = none (the child exited, or
 * said nothing in time). */
static unsigned short read_port(int fd) {
    char line[256];
    size_t have = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (have < sizeof line - 1) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (waited >= START_TIMEOUT_MS) return 0;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int)(START_TIMEOUT_MS - waited));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        ssize_t n = read(fd, line + have, sizeof line - 1 - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;
        have += (size_t)n;
        line[have] = '\0';
        const char *nl = strchr(line, '\n');
        if (!nl) continue;
        const char *at = strstr(line, "http://127.0.0.1:");
        unsigned long port = at && at < nl ? strtoul(at + 17, NULL, 10) : 0;
        return port > 0 && port <= 65535 ? (unsigned short)port : 0;
    }
    return 0;
}

int cli_sandbox_start(const cli_sandbox_args_t *a, cli_sandbox_t **out, unsigned short *port) {
    *out = NULL;
    char path[PATH_MAX + 32];
    sandbox_path(path, sizeof path);
    char *argv[] = {SANDBOX_PROGRAM, "--port", "0", "--quiet", "--state", (char *)a->state, "--key", (char *)a->key,
                    "--merchant-public-key", (char *)a->merchant_public_key, "--client-id", (char *)a->client_id,
                    "--sign-type", (char *)a->sign_type, NULL};
    char failed[PATH_MAX + 128];
    int failed_len = snprintf(failed, sizeof failed, "aop: cannot run %s (it is installed beside aop)\n",
                              path[0] ? path : SANDBOX_PROGRAM);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return cli_fail(AOP_EXIT_CONFIG, AOP_E_IO, NULL, "cannot start the local sandbox: %s", strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Its own process group, so a Ctrl-C on the terminal reaches aop alone (aop stops its
         * resolver between steps, still talking to the sandbox); and it ends when aop does,
         * however aop ends. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(0);
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(fds[1], STDOUT_FILENO) < 0) _exit(127);
        exec_child(path, argv, failed, failed_len > 0 ? (size_t)failed_len : 0);
    }
    close(fds[1]);
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        return cli_fail(AOP_EXIT_CONFIG, AOP_E_IO, NULL, "cannot start the local sandbox: %s", strerror(e));
    }
    cli_sandbox_t *s = malloc(sizeof *s);
    if (!s) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        close(fds[0]);
        return AOP_EXIT_CONFIG;
    }
    s->pid = pid;
    s->out = fds[0];
    *port = read_port(s->out);
    if (*port == 0) {
        /* Its own message (a bad key, a locked state file) is already on standard error. */
        cli_sandbox_stop(s);
        return cli_fail(AOP_EXIT_CONFIG, AOP_E_CONFIG, NULL, "the local sandbox (%s) did not start",
                        path[0] ? path : SANDBOX_PROGRAM);
    }
    *out = s;
    return 0;
}

void cli_sandbox_stop(cli_sandbox_t *s) {
    if (!s) return;
    kill(s->pid, SIGTERM);
    while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    close(s->out);
    free(s);
}
