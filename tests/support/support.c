#define _GNU_SOURCE /* mkdtemp */
#include "support.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *aop_test_read_path(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        abort();
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) abort();
    buf[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}

char *aop_test_read(const char *name, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", AOP_TEST_DATA, name);
    return aop_test_read_path(path, len);
}

/* Static storage only: the leak checks (tests/plain) must see no allocation of ours. */
#define KEY_COPIES 16
static char key_dir[64];
static pid_t key_dir_pid; /* a forked test process makes its own directory */
static struct {
    char name[64];
    char path[160];
} key_copies[KEY_COPIES];
static unsigned n_key_copies;

static void remove_key_copies(void) {
    if (key_dir_pid != getpid()) return; /* the parent's or a sibling's: not ours to remove */
    for (unsigned i = 0; i < n_key_copies; i++) unlink(key_copies[i].path);
    rmdir(key_dir);
}

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *private_key_locked(const char *name) {
    if (key_dir_pid != getpid()) {
        snprintf(key_dir, sizeof key_dir, "/tmp/aop-test-keys-XXXXXX");
        if (!mkdtemp(key_dir)) abort();
        if (key_dir_pid == 0) atexit(remove_key_copies);
        key_dir_pid = getpid();
        n_key_copies = 0;
    }
    for (unsigned i = 0; i < n_key_copies; i++)
        if (strcmp(key_copies[i].name, name) == 0) return key_copies[i].path;
    if (n_key_copies == KEY_COPIES || strlen(name) >= sizeof key_copies[0].name) abort();
    size_t len = 0;
    char *text = aop_test_read(name, &len);
    char *path = key_copies[n_key_copies].path;
    snprintf(path, sizeof key_copies[0].path, "%s/%s", key_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) != 0) abort();
    free(text);
    snprintf(key_copies[n_key_copies].name, sizeof key_copies[0].name, "%s", name);
    return key_copies[n_key_copies++].path;
}

const char *aop_test_private_key(const char *name) {
    pthread_mutex_lock(&key_lock); /* some suites load keys from several threads */
    const char *p = private_key_locked(name);
    pthread_mutex_unlock(&key_lock);
    return p;
}
