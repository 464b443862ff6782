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
    /* the configuration of its clients, with the texts it points to: more clients for recovery
     * workers (cli_env_new_client), one per thread */
    aop_client_config_t cfg;
    char url[64], mkey[4200], gpub[4200];
};

int cli_home(char *dir, size_t cap) {
    const char *home = getenv("HOME");
    if (!home || !*home)
        return cli_fail(AOP_EXIT_CONFIG, AOP_E_CONFIG, "HOME", "HOME is not set: cannot find ~/.aop for the demo keys, "
                        "the sandbox state and the journal (set HOME, or pass --gateway with your keys and --journal)");
    if ((size_t)snprintf(dir, cap, "%s/.aop", home) >= cap)
        return cli_fail(AOP_EXIT_CONFIG, AOP_E_CONFIG, "HOME", "HOME is too long");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return cli_fail(AOP_EXIT_CONFIG, AOP_E_IO, "HOME", "cannot create %s: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_fail(AOP_EXIT_CONFIG, AOP_E_CONFIG, "HOME", "%s is not a directory", dir);
    /* It holds the demo private keys and the sandbox state: like ~/.ssh, only its owner may
     * read, write or enter it (an existing one may have been made by hand). */
    if (st.st_mode & 077)
        return cli_fail(AOP_EXIT_CONFIG, AOP_E_CONFIG, "HOME", "%s has mode %04o, which lets group or others access "
                        "the demo keys in it; fix it with: chmod 700 '%s'", dir, (unsigned)(st.st_mode & 07777), dir);
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
        int e = errno;
        if (fd >= 0) close(fd);
        return cli_fail(AOP_EXIT_CONFIG, AOP_E_IO, NULL, "cannot lock %s: %s", lock, strerror(e));
    }
    int rc = 0;
    static const char *const pairs[2] = {"merchant", "gateway"};
    for (int i = 0; i < 2 && rc == 0; i++) {
        snprintf(priv, sizeof priv, "%s/%s.pem", dir, pairs[i]);
        snprintf(pub, sizeof pub, "%s/%s.pub.pem", dir, pairs[i]);
        if (exists(priv) && exists(pub)) continue;
        aop_error_t err;
        if (aop_keygen_files(priv, pub, 2048, &err) != AOP_OK)
            rc = cli_fail(AOP_EXIT_CONFIG, err.code, NULL, "cannot create demo keys in %s: %s", dir, err.msg);
    }
    flock(fd, LOCK_UN);
    close(fd);
    return rc;
}

/* Whether path holds a public key (PEM), which a person may give where the private key goes. */
static bool holds_a_public_key(const char *path) {
    struct stat st;
    if (!path || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return false; /* a FIFO would block: the client says */
    FILE *f = fopen(path, "re");
    if (!f) return false;
    char head[4096];
    size_t n = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    head[n] = '\0';
    return strstr(head, "-----BEGIN PUBLIC KEY-----") || strstr(head, "-----BEGIN RSA PUBLIC KEY-----");
}

/* The option a configuration error is about, as the person typed it: the library names its own
 * settings (private_key_file...) or only the file. */
static const char *option_at_fault(const aop_client_config_t *cfg, const aop_error_t *err) {
    static const struct {
        const char *setting, *option;
    } names[] = {{"private_key", "--private-key"}, {"alipay_public_key", "--alipay-public-key"},
                 {"ca_file", "--ca-file"}, {"gateway_url", "--gateway"}, {"client_id", "--client-id"},
                 {"merchant_id", "--merchant-id"}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strncmp(err->path, names[i].setting, strlen(names[i].setting))) return names[i].option;
    const struct {
        const char *file, *option;
    } files[] = {{cfg->private_key_file, "--private-key"}, {cfg->alipay_public_key_file, "--alipay-public-key"},
                 {cfg->ca_file, "--ca-file"}};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (files[i].file && *files[i].file && strstr(err->msg, files[i].file)) return files[i].option;
    return NULL;
}

/* A --gateway mistake that the library's URL rules would word for another one. */
static int check_gateway(const char *url) {
    if (strstr(url, "://")) return 0;
    return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, "--gateway", "--gateway %s has no scheme: write https://%s, or "
                    "http://%s for a gateway on this machine (plain http is for loopback hosts only)", url, url, url);
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
        free(env);
        return cli_fail(AOP_EXIT_USAGE, AOP_E_BAD_ENUM, "--sign-type", "--sign-type must be RSA2 or RSA, not '%s'",
                        o->sign_type);
    }
    char dir[4096], gkey[4200], mpub[4200], state[4200];
    char *url = env->url, *mkey = env->mkey, *gpub = env->gpub;
    if (o->gateway) {
        int rc = check_gateway(o->gateway);
        if (!rc && (!o->private_key || !o->alipay_public_key))
            rc = cli_fail(AOP_EXIT_CONFIG, AOP_E_CONFIG, o->private_key ? "--alipay-public-key" : "--private-key",
                          "with --gateway, give --private-key (yours) and --alipay-public-key (Alipay's)");
        if (!rc && holds_a_public_key(o->private_key))
            rc = cli_fail(AOP_EXIT_CONFIG, AOP_E_KEY_FORMAT, "--private-key", "--private-key %s is a public key: give "
                          "your merchant private key (its public half is the one Alipay holds)", o->private_key);
        if (rc) {
            free(env);
            return rc;
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
        snprintf(mkey, sizeof env->mkey, "%s/merchant.pem", dir);
        snprintf(mpub, sizeof mpub, "%s/merchant.pub.pem", dir);
        snprintf(gkey, sizeof gkey, "%s/gateway.pem", dir);
        snprintf(gpub, sizeof env->gpub, "%s/gateway.pub.pem", dir);
        snprintf(state, sizeof state, "%s/sandbox.db", dir);
        cli_sandbox_args_t sa = {state, gkey, mpub, cfg.client_id, aop_sign_type_name(cfg.sign_type)};
        unsigned short port = 0;
        if ((rc = cli_sandbox_start(&sa, &env->sandbox, &port)) != 0) {
            free(env);
            return rc;
        }
        snprintf(url, sizeof env->url, "http://127.0.0.1:%u", (unsigned)port);
        cfg.gateway_url = url;
        cfg.private_key_file = mkey;
        cfg.alipay_public_key_file = gpub;
    }
    env->cfg = cfg; /* its texts: the options' (argv), or env's own buffers */
    aop_error_t err;
    if (aop_client_new(&cfg, &env->client, &err) != AOP_OK) {
        cli_env_close(env);
        const char *option = option_at_fault(&cfg, &err);
        return cli_fail(AOP_EXIT_CONFIG, err.code, option ? option : err.path, "%s%s%s", option ? option : "",
                        option ? ": " : "", err.msg);
    }
    *out = env;
    *client = env->client;
    return 0;
}

int cli_env_new_client(const cli_env_t *env, aop_client_t **client) {
    aop_error_t err;
    if (aop_client_new(&env->cfg, client, &err) != AOP_OK)
        return cli_fail(AOP_EXIT_CONFIG, err.code, err.path, "another client: %s", err.msg);
    return 0;
}

bool cli_env_is_sandbox(const cli_env_t *env) { return env && env->sandbox; }

void cli_env_close(cli_env_t *env) {
    if (!env) return;
    aop_client_free(env->client);
    cli_sandbox_stop(env->sandbox);
    free(env);
}
