/* SPDX-License-Identifier: MIT */
/* keygen and keycheck. */
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cmd_keygen(const cli_opts_t *o) {
    char priv[4096], pub[4096];
    /* "" would make "/private.pem": a key in the root directory, or in the current one. */
    if ((o->out_dir && !*o->out_dir) || (o->private_key && !*o->private_key) ||
        (o->public_key && !*o->public_key)) {
        return cli_fail(AOP_EXIT_USAGE, AOP_E_EMPTY, NULL, "an empty path was given (--out, --private-key or "
                        "--public-key); name a directory or files");
    }
    if (o->out_dir) {
        snprintf(priv, sizeof priv, "%s/private.pem", o->out_dir);
        snprintf(pub, sizeof pub, "%s/public.pem", o->out_dir);
    } else if (o->private_key && o->public_key) {
        snprintf(priv, sizeof priv, "%s", o->private_key);
        snprintf(pub, sizeof pub, "%s", o->public_key);
    } else {
        return cli_fail(AOP_EXIT_USAGE, AOP_E_MISSING, "--out", "give --out DIR, or --private-key FILE and --public-key "
                        "FILE");
    }
    if (!o->force && (access(priv, F_OK) == 0 || access(pub, F_OK) == 0))
        return cli_fail(AOP_EXIT_CONFIG, AOP_E_CONFIG, "--out", "%s or %s exists; refusing to replace a key (use --force)",
                        priv, pub);
    aop_error_t err;
    (void)aop_sign_use_hash_drbg(); /* as cli_env_open */
    if (aop_keygen_files(priv, pub, 2048, &err) != AOP_OK) return cli_fail(AOP_EXIT_CONFIG, err.code, err.path, "%s", err.msg);
    aop_private_key_t *k;
    char fp[AOP_FINGERPRINT_MAX] = "";
    if (aop_private_key_load_file(priv, NULL, &k, &err) == AOP_OK) {
        aop_private_key_fingerprint(k, fp);
        aop_private_key_free(k);
    }
    printf("private key: %s (mode 0600)\npublic key:  %s\nfingerprint: %s\n", priv, pub, fp);
    return AOP_EXIT_S;
}

int cmd_keycheck(const cli_opts_t *o) {
    if (!o->private_key) return cli_fail(AOP_EXIT_USAGE, AOP_E_MISSING, "--private-key", "--private-key is required");
    aop_error_t err;
    aop_private_key_t *k = NULL;
    aop_public_key_t *mine = NULL, *alipay = NULL;
    int rc = AOP_EXIT_CONFIG;
    (void)aop_sign_use_hash_drbg(); /* as cli_env_open */
    if (aop_private_key_load_file(o->private_key, NULL, &k, &err) != AOP_OK)
        return cli_fail(AOP_EXIT_CONFIG, err.code, "--private-key", "%s", err.msg);
    char fp[AOP_FINGERPRINT_MAX], sig[AOP_SIG_B64_MAX];
    size_t sig_len;
    static const char probe[] = "{\"keycheck\":true}";
    aop_private_key_fingerprint(k, fp);
    printf("merchant private key: %s, RSA %u bits, %s\n", o->private_key, aop_private_key_bits(k), fp);
    if (aop_private_key_public(k, &mine, &err) != AOP_OK ||
        aop_sign(k, AOP_SIGN_RSA2, probe, sizeof probe - 1, sig, sizeof sig, &sig_len, &err) != AOP_OK ||
        aop_verify(mine, AOP_SIGN_RSA2, probe, sizeof probe - 1, sig, sig_len, &err) != AOP_OK) {
        cli_fail(AOP_EXIT_CONFIG, err.code, "--private-key", "the key cannot sign and verify: %s", err.msg);
        goto done;
    }
    printf("sign/verify self-test: ok\n");
    if (o->alipay_public_key) {
        if (aop_public_key_load_file(o->alipay_public_key, &alipay, &err) != AOP_OK) {
            cli_fail(AOP_EXIT_CONFIG, err.code, "--alipay-public-key", "%s", err.msg);
            goto done;
        }
        aop_public_key_fingerprint(alipay, fp);
        printf("alipay public key: %s, %s\n", o->alipay_public_key, fp);
        if (aop_keys_pair(k, alipay)) {
            cli_fail(AOP_EXIT_CONFIG, AOP_E_KEY_MISMATCH, "--alipay-public-key", "the Alipay public key is your own public "
                     "key: configure the key Alipay gave you for its responses");
            goto done;
        }
    }
    rc = AOP_EXIT_S;
done:
    aop_public_key_free(alipay);
    aop_public_key_free(mine);
    aop_private_key_free(k);
    return rc;
}
