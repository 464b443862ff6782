/* SPDX-License-Identifier: MIT */
/* aop journal [--json] [--all] [--private-key FILE], aop journal close ID --as STATE --note TEXT,
 * aop journal prune --before DATE, aop journal backup FILE. */
#define _GNU_SOURCE /* strptime, timegm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "currency.h"

typedef struct {
    const cli_opts_t *o;
    unsigned n;
    const aop_journal_key_t *key; /* with the merchant key: each entry's MAC is checked */
} list_ctx_t;

/* Every value read from the journal goes through the same filters as the gateway's: a journal
 * file edited by hand must not reach a terminal or a JSON reader raw. */
static void json_entry(FILE *out, const aop_journal_entry_t *e) {
    cli_json_begin(out);
    fprintf(out, ",\"id\":%lld,\"kind\":\"%s\",\"state\":\"%s\"", (long long)e->id,
            e->kind == AOP_ENTRY_REFUND ? "refund" : "payment", aop_entry_state_name(e->state));
    cli_json_field(out, "function", aop_str(e->function));
    cli_json_field(out, e->kind == AOP_ENTRY_REFUND ? "merchantRefundId" : "merchantTransId", aop_str(e->key));
    cli_json_field(out, "merchantId", aop_str(e->merchant_id));
    cli_json_field(out, "amount", aop_str(e->amount));
    cli_json_field(out, "currency", aop_str(e->currency));
    cli_json_field(out, "acquirementId", e->acquirement_id[0] ? aop_str(e->acquirement_id) : AOP_STR_NULL);
    cli_json_field(out, "gateway", aop_str(e->gateway));
    cli_json_field(out, "lastStatus", e->last_status[0] ? aop_str(e->last_status) : AOP_STR_NULL);
    cli_json_field(out, "lastCode", e->last_code[0] ? aop_str(e->last_code) : AOP_STR_NULL);
    fprintf(out, ",\"attempts\":%u,\"watch\":%s,\"createdMs\":%lld,\"updatedMs\":%lld", e->attempts,
            e->watch ? "true" : "false", (long long)e->created_ms, (long long)e->updated_ms);
    cli_json_field(out, "leaseOwner", e->lease_owner[0] ? aop_str(e->lease_owner) : AOP_STR_NULL);
    fprintf(out, ",\"leaseExpiresMs\":%lld", (long long)e->lease_expires_ms);
    cli_json_field(out, "note", e->note[0] ? aop_str(e->note) : AOP_STR_NULL);
}

/* An entry the store could not read: its id and why, nothing else is known of it. */
static void print_unreadable(const list_ctx_t *c, const aop_journal_entry_t *e) {
    if (c->o->json) {
        cli_json_begin(stdout);
        fprintf(stdout, ",\"id\":%lld,\"unreadable\":true,\"error\":", (long long)e->id);
        cli_json_str(stdout, aop_str(e->note));
        fputc('}', stdout);
    } else {
        printf("%-6lld %-16s ", (long long)e->id, "UNREADABLE");
        cli_put_safe(stdout, aop_str(e->note));
        fputc('\n', stdout);
    }
}

/* With the merchant key, what the entry's MAC says (an altered entry is never sent). */
static const char *mac_mark(aop_mac_check_t m) {
    switch (m) {
    case AOP_MAC_ALTERED: return "ALTERED: never sent, a person checks it";
    case AOP_MAC_OTHER_KEY: return "MAC of another merchant key";
    case AOP_MAC_NONE: return "no MAC";
    default: return NULL;
    }
}

static bool print_entry(const aop_journal_entry_t *e, void *ctx) {
    list_ctx_t *c = ctx;
    if (c->o->json) fputs(c->n ? ",\n" : "\n", stdout);
    c->n++;
    if (e->unreadable) {
        print_unreadable(c, e);
        return true;
    }
    aop_mac_check_t mac = c->key ? aop_journal_entry_check(c->key, e) : AOP_MAC_NO_REQUEST;
    if (c->o->json) {
        json_entry(stdout, e);
        if (c->key) fprintf(stdout, ",\"mac\":\"%s\"", aop_mac_check_name(mac));
        fputc('}', stdout);
    } else {
        printf("%-6lld %-16s %s ", (long long)e->id, aop_entry_state_name(e->state),
               e->kind == AOP_ENTRY_REFUND ? "refund " : "payment");
        char amount[64];
        cli_amount_text(e->amount, e->currency, amount, sizeof amount);
        cli_put_safe(stdout, aop_str(amount));
        fputc(' ', stdout);
        cli_put_safe(stdout, aop_str(e->key));
        if (e->note[0]) fputs("  ", stdout), cli_put_safe(stdout, aop_str(e->note));
        if (mac_mark(mac)) printf("  [%s]", mac_mark(mac));
        fputc('\n', stdout);
    }
    return true;
}

/* The merchant key whose entries' MACs `aop journal` checks: --private-key, or the demo key of
 * ~/.aop with the default journal. false when there is none (the entries are listed unchecked). */
static int journal_key(const cli_opts_t *o, aop_journal_key_t *key, bool *have) {
    *have = false;
    char path[4200];
    if (o->private_key) {
        snprintf(path, sizeof path, "%s", o->private_key);
    } else {
        char dir[4096];
        if (cli_journal_shown(o) || cli_home(dir, sizeof dir) != 0) return 0; /* another journal: no demo key */
        snprintf(path, sizeof path, "%s/merchant.pem", dir);
        if (access(path, F_OK) != 0) return 0;
    }
    aop_private_key_t *k = NULL;
    aop_error_t err;
    aop_status_t st = aop_private_key_load_file(path, NULL, &k, &err);
    if (st == AOP_OK) st = aop_journal_key_derive(k, key, &err);
    aop_private_key_free(k);
    if (st != AOP_OK) return cli_fail(AOP_EXIT_CONFIG, st, "--private-key", "%s", err.msg);
    *have = true;
    return 0;
}

/* A notification for a merchantTransId this journal has no payment of (docs/resolver.md, row
 * N2): Alipay says something happened that nobody here asked for, and a person looks. In JSON,
 * an element of the entries' array whose kind is "notification". */
static bool print_unknown(const aop_journal_notice_t *n, void *ctx) {
    list_ctx_t *c = ctx;
    if (c->o->json) {
        fputs(c->n ? ",\n" : "\n", stdout);
        cli_json_begin(stdout);
        fprintf(stdout, ",\"id\":%lld,\"kind\":\"notification\",\"state\":\"%s\"", (long long)n->id,
                aop_notice_state_name(n->state));
        cli_json_field(stdout, "merchantTransId", aop_str(n->key));
        cli_json_field(stdout, "merchantId", n->merchant_id[0] ? aop_str(n->merchant_id) : AOP_STR_NULL);
        cli_json_field(stdout, "resultStatus", aop_str(n->result_status));
        cli_json_field(stdout, "resultCode", aop_str(n->result_code));
        cli_json_field(stdout, "gateway", aop_str(n->gateway));
        fprintf(stdout, ",\"receivedMs\":%lld,\"lastReceivedMs\":%lld,\"deliveries\":%u}", (long long)n->received_ms,
                (long long)n->last_received_ms, n->deliveries);
        c->n++;
        return true;
    }
    char when[32];
    time_t t = (time_t)(n->received_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("notification %lld  NO_ENTRY  ", (long long)n->id);
    cli_put_safe(stdout, aop_str(n->key));
    printf("  %s ", n->result_status);
    cli_put_safe(stdout, aop_str(n->result_code));
    printf("  received %s, %u deliver%s: no payment of this merchantTransId in the journal\n", when, n->deliveries,
           n->deliveries == 1 ? "y" : "ies");
    c->n++;
    return true;
}

/* The NO_ENTRY notifications after the entries; false when the store failed to list them (err
 * says why). A store without the notification table has none. */
static bool list_unknown_notices(aop_journal_t *j, list_ctx_t *c, aop_error_t *err) {
    if (aop_journal_notices_supported(j, err) != AOP_OK) return true;
    aop_journal_notice_filter_t f;
    aop_journal_notice_filter_init(&f);
    f.state = AOP_NOTICE_NO_ENTRY;
    return aop_journal_notice_list(j, &f, print_unknown, c, err) == AOP_OK;
}

int cmd_journal(const cli_opts_t *o) {
    aop_journal_key_t key;
    bool have_key = false;
    int rc = journal_key(o, &key, &have_key);
    if (rc) return rc;
    aop_journal_t *j = NULL;
    if ((rc = cli_journal_open(o, &j)) != 0) return rc;
    list_ctx_t ctx = {o, 0, have_key ? &key : NULL};
    if (o->json) fputc('[', stdout);
    aop_error_t err;
    aop_journal_filter_t f;
    aop_journal_filter_init(&f);
    f.which = o->all ? AOP_LIST_ALL : AOP_LIST_OPEN;
    f.with_request = have_key; /* the MAC covers the request */
    aop_status_t st = aop_journal_list_ex(j, &f, print_entry, &ctx, &err);
    memset(&key, 0, sizeof key);
    bool notices = st == AOP_OK && list_unknown_notices(j, &ctx, &err);
    if (o->json) fputs(ctx.n ? "\n]\n" : "]\n", stdout);
    aop_journal_close(j);
    if (st != AOP_OK) return cli_fail(AOP_EXIT_CONFIG, st, "--journal", "%s", err.msg);
    if (!notices) fprintf(stderr, "aop journal: the notifications cannot be listed: %s\n", err.msg);
    if (!o->json && !ctx.n) printf("no %sentries\n", o->all ? "" : "open ");
    return AOP_EXIT_S;
}

int cmd_journal_close(const cli_opts_t *o) {
    char *end = NULL;
    long long id = o->entry_id ? strtoll(o->entry_id, &end, 10) : 0;
    if (!o->entry_id || *end || id <= 0)
        return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, "ID", "give the entry's id (see aop journal)");
    aop_entry_state_t as = o->as ? aop_entry_state_from_name(o->as) : (aop_entry_state_t)0;
    if (!aop_entry_state_final(as))
        return cli_fail(AOP_EXIT_USAGE, AOP_E_BAD_ENUM, "--as", "--as must be PAID, FAILED, CANCELLED or REFUNDED");
    if (!o->note || !*o->note)
        return cli_fail(AOP_EXIT_USAGE, AOP_E_MISSING, "--note", "--note TEXT says why (it is kept with the entry)");
    aop_journal_t *j = NULL;
    int rc = cli_journal_open(o, &j);
    if (rc) return rc;
    char who[AOP_JOURNAL_OWNER_SIZE];
    aop_journal_self_owner(who);
    const char *user = getenv("USER");
    char by[AOP_JOURNAL_OWNER_SIZE + 64];
    snprintf(by, sizeof by, "%s@%s", user && *user ? user : "?", who);
    aop_error_t err;
    aop_status_t st = aop_journal_close_entry(j, (int64_t)id, as, by, o->note, &err);
    aop_journal_close(j);
    if (st != AOP_OK)
        return cli_fail(st == AOP_E_JOURNAL ? AOP_EXIT_CONFIG : st == AOP_E_TAKEN_OVER ? AOP_EXIT_U : AOP_EXIT_USAGE, st,
                        err.path, "%s", err.msg); /* the message may quote a lease owner: filtered there */
    if (o->json) {
        cli_json_begin(stdout);
        fprintf(stdout, ",\"id\":%lld,\"state\":\"%s\"}\n", id, aop_entry_state_name(as));
    } else {
        printf("entry %lld closed as %s\n", id, aop_entry_state_name(as));
    }
    return AOP_EXIT_S;
}

/* "2026-11-25" (midnight UTC) or "2026-11-25T08:30:00Z": Unix ms; false for anything else. */
static bool parse_date(const char *s, int64_t *ms) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%d", &tm);
    if (end && *end == 'T') end = strptime(end + 1, "%H:%M:%SZ", &tm);
    if (!end || *end) return false;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return false;
    *ms = (int64_t)t * 1000;
    return true;
}

int cmd_journal_prune(const cli_opts_t *o) {
    int64_t before = 0;
    if (!o->before || !parse_date(o->before, &before))
        return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, "--before",
                        "--before DATE is YYYY-MM-DD (UTC) or YYYY-MM-DDTHH:MM:SSZ%s%s%s", o->before ? ", not '" : "",
                        o->before ? o->before : "", o->before ? "'" : "");
    aop_journal_t *j = NULL;
    int rc = cli_journal_open(o, &j);
    if (rc) return rc;
    unsigned removed = 0;
    aop_error_t err;
    aop_status_t st = aop_journal_prune(j, before, &removed, &err);
    aop_journal_close(j);
    if (st != AOP_OK) return cli_fail(AOP_EXIT_CONFIG, st, "--journal", "%s", err.msg);
    if (o->json) {
        cli_json_begin(stdout);
        fprintf(stdout, ",\"removed\":%u}\n", removed);
    } else {
        printf("removed %u final %s last changed before %s (never an open entry, nor one with a watch)\n", removed,
               removed == 1 ? "entry" : "entries", o->before);
    }
    return AOP_EXIT_S;
}

int cmd_journal_backup(const cli_opts_t *o) {
    if (!o->file || !*o->file)
        return cli_fail(AOP_EXIT_USAGE, AOP_E_INVALID_ARG, "FILE", "give the backup's path (a file that does not exist)");
    aop_journal_t *j = NULL;
    int rc = cli_journal_open(o, &j);
    if (rc) return rc;
    aop_error_t err;
    aop_status_t st = aop_journal_backup(j, o->file, &err);
    aop_journal_close(j);
    if (st != AOP_OK) return cli_fail(AOP_EXIT_CONFIG, st, "FILE", "%s", err.msg);
    if (o->json) {
        cli_json_begin(stdout);
        fputs(",\"backup\":", stdout);
        cli_json_str(stdout, aop_str(o->file));
        fputs("}\n", stdout);
    } else {
        fputs("journal copied to ", stdout);
        cli_put_safe(stdout, aop_str(o->file));
        fputs(" (checked)\n", stdout);
    }
    return AOP_EXIT_S;
}
