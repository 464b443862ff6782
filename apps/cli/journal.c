/* SPDX-License-Identifier: MIT */
/* aop journal [--json] [--all], and aop journal close ID --as STATE --note TEXT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "currency.h"

typedef struct {
    const cli_opts_t *o;
    unsigned n;
} list_ctx_t;

/* Every value read from the journal goes through the same filters as the gateway's: a journal
 * file edited by hand must not reach a terminal or a JSON reader raw. */
static void json_entry(FILE *out, const aop_journal_entry_t *e) {
    cli_json_begin(out);
    fprintf(out, ",\"id\":%lld,\"kind\":\"%s\",\"state\":\"%s\",\"function\":", (long long)e->id,
            e->kind == AOP_ENTRY_REFUND ? "refund" : "payment", aop_entry_state_name(e->state));
    cli_json_str(out, aop_str(e->function));
    fputs(e->kind == AOP_ENTRY_REFUND ? ",\"merchantRefundId\":" : ",\"merchantTransId\":", out);
    cli_json_str(out, aop_str(e->key));
    fputs(",\"merchantId\":", out);
    cli_json_str(out, aop_str(e->merchant_id));
    fputs(",\"amount\":", out);
    cli_json_str(out, aop_str(e->amount));
    fputs(",\"currency\":", out);
    cli_json_str(out, aop_str(e->currency));
    fputs(",\"acquirementId\":", out);
    cli_json_str(out, e->acquirement_id[0] ? aop_str(e->acquirement_id) : AOP_STR_NULL);
    fputs(",\"gateway\":", out);
    cli_json_str(out, aop_str(e->gateway));
    fputs(",\"lastStatus\":", out);
    cli_json_str(out, e->last_status[0] ? aop_str(e->last_status) : AOP_STR_NULL);
    fputs(",\"lastCode\":", out);
    cli_json_str(out, e->last_code[0] ? aop_str(e->last_code) : AOP_STR_NULL);
    fprintf(out, ",\"attempts\":%u,\"watch\":%s,\"createdMs\":%lld,\"updatedMs\":%lld,\"leaseOwner\":", e->attempts,
            e->watch ? "true" : "false", (long long)e->created_ms, (long long)e->updated_ms);
    cli_json_str(out, e->lease_owner[0] ? aop_str(e->lease_owner) : AOP_STR_NULL);
    fprintf(out, ",\"leaseExpiresMs\":%lld,\"note\":", (long long)e->lease_expires_ms);
    cli_json_str(out, e->note[0] ? aop_str(e->note) : AOP_STR_NULL);
    fputc('}', out);
}

static bool print_entry(const aop_journal_entry_t *e, void *ctx) {
    list_ctx_t *c = ctx;
    if (c->o->json) {
        fputs(c->n ? ",\n" : "\n", stdout);
        json_entry(stdout, e);
    } else {
        printf("%-6lld %-16s %s ", (long long)e->id, aop_entry_state_name(e->state),
               e->kind == AOP_ENTRY_REFUND ? "refund " : "payment");
        char amount[64];
        cli_amount_text(e->amount, e->currency, amount, sizeof amount);
        cli_put_safe(stdout, aop_str(amount));
        fputc(' ', stdout);
        cli_put_safe(stdout, aop_str(e->key));
        if (e->note[0]) fputs("  ", stdout), cli_put_safe(stdout, aop_str(e->note));
        fputc('\n', stdout);
    }
    c->n++;
    return true;
}

int cmd_journal(const cli_opts_t *o) {
    aop_journal_t *j = NULL;
    int rc = cli_journal_open(o, &j);
    if (rc) return rc;
    list_ctx_t ctx = {o, 0};
    if (o->json) fputc('[', stdout);
    aop_error_t err;
    aop_status_t st = aop_journal_list(j, !o->all, print_entry, &ctx, &err);
    if (o->json) fputs(ctx.n ? "\n]\n" : "]\n", stdout);
    aop_journal_close(j);
    if (st != AOP_OK) return cli_fail(AOP_EXIT_CONFIG, st, "--journal", "%s", err.msg);
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
