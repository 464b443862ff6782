/* SPDX-License-Identifier: MIT */
/* Where a command sends its call: --gateway, or (zero configuration) a local sandbox (aop-sandbox,
 * a child process) on a free loopback port, with demo keys and durable state in ~/.aop/. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

struct cli_env {
    aop_client_t *client;
    cli_sandbox_t *sandbox;
};

int cli_home(char *dir, size_t cap) {
    const char *home = getenv("HOME");
    if (!home || !*home) {
        fprintf(stderr, "aop: HOME is not set: cannot find ~/.aop for the demo keys and sandbox state "
                        "(set HOME, or pass --gateway with your keys)\n");
        return AOP_EXIT_CONFIG;
    }
    if ((size_t)snprintf(dir, cap, "%s/.aop", home) >= cap) {
        fprintf(stderr, "aop: HOME is too long\n");
        return AOP_EXIT_CONFIG;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "aop: cannot create %s: %s\n", dir, strerror(errno));
        return AOP_EXIT_CONFIG;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "aop: %s is not a directory\n", dir);
        return AOP_EXIT_CONFIG;
    }
    /* It holds the demo private keys and the sandbox state: like ~/.ssh, only its owner may
     * read, write or enter it (an existing one may have been made by hand). */
    if (st.st_mode & 077) {
        fprintf(stderr, "aop: %s has mode %04o, which lets group or others access the demo keys in it; "
                        "fix it with: chmod 700 '%s'\n", dir, (unsigned)(st.st_mode & 07777), dir);
        return AOP_EXIT_CONFIG;
    }
    return 0;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* Both demo key pairs, created under an exclusive lock so that two commands starting at once
 * never see (or write) half a key. */
int cli_demo_keys(const char *dir) {
    char lock[4096], priv[4096], pub[4096];
    snprintf(lock, sizeof lock, "%s/.lock", dir);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        fprintf(stderr, "aop: cannot lock %s: %s\n", lock, strerror(errno));
        if (fd >= 0) close(fd);
        return AOP_EXIT_CONFIG;
    }
    int rc = 0;
    static const char *const pairs[2] = {"merchant", "gateway"};
    for (int i = 0; i < 2 && rc == 0; i++) {
        snprintf(priv, sizeof priv, "%s/%s.pem", dir, pairs[i]);
        snprintf(pub, sizeof pub, "%s/%s.pub.pem", dir, pairs[i]);
        if (exists(priv) && exists(pub)) continue;
        aop_error_t err;
        if (aop_keygen_files(priv, pub, 2048, &err) != AOP_OK) {
            fprintf(stderr, "aop: cannot create demo keys in %s: %s\n", dir, err.msg);
            rc = AOP_EXIT_CONFIG;
        }
    }
    flock(fd, LOCK_UN);
    close(fd);
    return rc;
}

int cli_env_open(const cli_opts_t *o, cli_env_t **out, aop_client_t **client) {
    *out = NULL;
    *client = NULL;
    /* aop owns its process and signs once: the cheaper generator to set up (aop/sign.h). */
    (void)aop_sign_use_hash_drbg();
    cli_env_t *env = calloc(1, sizeof *env);
    if (!env) return AOP_EXIT_CONFIG;
    aop_client_config_t cfg;
    aop_client_config_init(&cfg);
    cfg.client_id = o->client_id ? o->client_id : AOP_APPS_DEFAULT_CLIENT_ID;
    cfg.merchant_id = o->merchant_id ? o->merchant_id : CLI_DEFAULT_MERCHANT_ID;
    cfg.ca_file = o->ca_file;
    if (o->sign_type && !aop_sign_type_parse(o->sign_type, &cfg.sign_type)) {
        fprintf(stderr, "aop: --sign-type must be RSA2 or RSA, not '%s'\n", o->sign_type);
        free(env);
        return AOP_EXIT_USAGE;
    }
    char dir[4096], url[64], mkey[4200], gkey[4200], gpub[4200], mpub[4200], state[4200];
    if (o->gateway) {
        if (!o->private_key || !o->alipay_public_key) {
            fprintf(stderr, "aop: with --gateway, give --private-key (yours) and --alipay-public-key (Alipay's)\n");
            free(env);
            return AOP_EXIT_CONFIG;
        }
        cfg.gateway_url = o->gateway;
        cfg.private_key_file = o->private_key;
        cfg.alipay_public_key_file = o->alipay_public_key;
    } else {
        int rc = cli_home(dir, sizeof dir);
        if (rc == 0) rc = cli_demo_keys(dir);
        if (rc != 0) {
            free(env);
            return rc;
        }
        snprintf(mkey, sizeof mkey, "%s/merchant.pem", dir);
        snprintf(mpub, sizeof mpub, "%s/merchant.pub.pem", dir);
        snprintf(gkey, sizeof gkey, "%s/gateway.pem", dir);
        snprintf(gpub, sizeof gpub, "%s/gateway.pub.pem", dir);
        snprintf(state, sizeof state, "%s/sandbox.db", dir);
        cli_sandbox_args_t sa = {state, gkey, mpub, cfg.client_id, aop_sign_type_name(cfg.sign_type)};
        unsigned short port = 0;
        if ((rc = cli_sandbox_start(&sa, &env->sandbox, &port)) != 0) {
            free(env);
            return rc;
        }
        snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)port);
        cfg.gateway_url = url;
        cfg.private_key_file = mkey;
        cfg.alipay_public_key_file = gpub;
    }
    aop_error_t err;
    if (aop_client_new(&cfg, &env->client, &err) != AOP_OK) {
        /* the path first, unless the message already starts with it */
        bool named = !err.path[0] || strncmp(err.msg, err.path, strlen(err.path)) == 0;
        fprintf(stderr, "aop: %s%s%s\n", named ? "" : err.path, named ? "" : ": ", err.msg);
        cli_env_close(env);
        return AOP_EXIT_CONFIG;
    }
    *out = env;
    *client = env->client;
    return 0;
}

bool cli_env_is_sandbox(const cli_env_t *env) { return env && env->sandbox; }

void cli_env_close(cli_env_t *env) {
    if (!env) return;
    aop_client_free(env->client);
    cli_sandbox_stop(env->sandbox);
    free(env);
}
