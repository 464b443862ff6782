/* SPDX-License-Identifier: MIT */
/* A resolution for the till: the first line says what happened to the money, in the cashier's
 * words and only what is known; the deciding call follows, labelled as such (the last call only
 * as "last call"); then the ids and what to run next. The same facts as one JSON object. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aop/calls.h"
#include "cli.h"
#include "currency.h"

/* "payQuery" of "alipay.intl.acquiring.offline.payQuery". */
const char *cli_short_name(const aop_function_desc_t *fn) {
    const char *dot = fn ? strrchr(fn->name, '.') : NULL;
    return dot ? dot + 1 : fn ? fn->name : "?";
}

void cli_recover_hint(FILE *out, const cli_opts_t *o) {
    fputs("aop recover", out);
    /* the journal the user named: a URI without its password (AOP_JOURNAL's is not repeated) */
    if (o->journal) fputs(" --journal ", out), cli_put_safe(out, aop_str(cli_journal_shown(o)));
    if (o->gateway) {
        fputs(" --gateway ", out), cli_put_safe(out, aop_str(o->gateway));
        if (o->private_key) fputs(" --private-key ", out), cli_put_safe(out, aop_str(o->private_key));
        if (o->alipay_public_key) fputs(" --alipay-public-key ", out), cli_put_safe(out, aop_str(o->alipay_public_key));
    }
}

static const char *outcome_text(const aop_resolution_t *r) {
    if (r->taken_over) return "TAKEN_OVER";
    if (r->interrupted) return "INTERRUPTED";
    return aop_outcome_name(r->outcome);
}

static const char *mistake_name(aop_mistake_t m) {
    switch (m) {
    case AOP_MISTAKE_UNVERIFIED: return "UNVERIFIED";
    case AOP_MISTAKE_PATH: return "PATH";
    case AOP_MISTAKE_CREDENTIAL: return "CREDENTIAL";
    default: return NULL;
    }
}

/* "USD 1.00 (100 minor units)" */
static void amount_line(FILE *out, const cli_sale_t *s) {
    char major[64];
    cli_amount_text(s->amount, s->currency, major, sizeof major);
    cli_put_safe(out, aop_str(major));
    if (cli_currency_find(s->currency) && s->amount) fprintf(out, " (%s minor units)", s->amount);
}

/* The gateway's orderAmount in the deciding query's answer, when it names one. */
static bool gateway_amount(const aop_resolution_t *r, char *out, size_t cap) {
    const aop_offline_pay_query_response_t *q = r->result ? aop_offline_pay_query_response(r->result) : NULL;
    if (!q || !q->body.has_order_amount) return false;
    char minor[32], cur[8];
    snprintf(minor, sizeof minor, "%.*s", (int)q->body.order_amount.value.len, q->body.order_amount.value.ptr);
    snprintf(cur, sizeof cur, "%.*s", (int)q->body.order_amount.currency.len, q->body.order_amount.currency.ptr);
    cli_amount_text(minor, cur, out, cap);
    return true;
}

/* The first line: what happened to the money. */
static void money_line(FILE *out, const aop_resolution_t *r, const cli_sale_t *s, const cli_opts_t *o) {
    bool refund = r->kind == AOP_ENTRY_REFUND;
    fputs(outcome_text(r), out);
    if (s->sandbox) fputs(" (local sandbox: not real money)", out);
    fputs(": ", out);
    if (r->taken_over) {
        fputs("another process is finishing this payment; see aop journal\n", out);
        return;
    }
    if (r->interrupted) {
        fprintf(out, "stopped by %s; the %s may have been sent and is not known yet: do not hand over the goods "
                     "and do not charge again; finish it with: ", cli_interrupt_name(), refund ? "refund" : "payment");
        cli_recover_hint(out, o);
        fputc('\n', out);
        return;
    }
    switch (r->outcome) {
    case AOP_OUTCOME_PAID:
        fputs("the customer paid ", out);
        amount_line(out, s);
        break;
    case AOP_OUTCOME_REFUNDED:
        amount_line(out, s);
        fputs(" went back to the customer", out);
        break;
    case AOP_OUTCOME_FAILED:
        if (refund) {
            fputs("the refund was refused: nothing went back", out);
        } else if (r->mistake == AOP_MISTAKE_CREDENTIAL) {
            fputs("the gateway refused the payment for this terminal's configuration, not the customer's wallet: "
                  "check --client-id and the keys (--private-key, --alipay-public-key); the customer was not charged",
                  out);
        } else {
            fputs("the customer was not charged", out);
        }
        if (r->watch) {
            char at[16];
            time_t due = time(NULL) + (time_t)(s->watch_window_s > 0 ? s->watch_window_s : 180);
            struct tm tm;
            strftime(at, sizeof at, "%H:%M", localtime_r(&due, &tm));
            fprintf(out, "; a late check runs at %s (aop recover); if it finds the payment paid, it says so", at);
        }
        break;
    case AOP_OUTCOME_CANCELLED:
        fputs("the payment is cancelled: if the customer was charged, the charge is reversed and the money goes back",
              out);
        break;
    case AOP_OUTCOME_NEEDS_ATTENTION: {
        char theirs[64];
        fputs("the gateway's answers contradict each other, a person decides: ", out);
        cli_put_safe(out, aop_str(r->reason));
        fputs("; the journal holds ", out);
        amount_line(out, s);
        if (gateway_amount(r, theirs, sizeof theirs)) fputs(", the gateway reports ", out), cli_put_safe(out, aop_str(theirs));
        fprintf(out, "; once checked, close it with: aop journal close %lld --as %s --note TEXT", (long long)r->entry_id,
                refund ? "REFUNDED|FAILED" : "PAID|FAILED|CANCELLED");
        break;
    }
    default:
        fprintf(out, "not known yet: do not hand over the goods and do not %s again; run: ", refund ? "refund" : "charge");
        cli_recover_hint(out, o);
        break;
    }
    fputc('\n', out);
}

/* What a configuration mistake the resolver recognised asks the person to check. */
static void mistake_line(FILE *out, const aop_resolution_t *r) {
    if (r->mistake == AOP_MISTAKE_UNVERIFIED)
        fprintf(out, "  check:            --sign-type and --alipay-public-key: the answers do not verify (%s on HTTP "
                     "%ld; the client cannot tell a wrong sign type from a wrong key)\n",
                aop_status_name(r->mistake_error), r->mistake_http_status);
    else if (r->mistake == AOP_MISTAKE_PATH)
        fprintf(out, "  check:            the path of --gateway: the gateway answered HTTP %ld\n", r->mistake_http_status);
}

void cli_outcome_human(FILE *out, const aop_resolution_t *r, const cli_sale_t *s, const cli_opts_t *o) {
    money_line(out, r, s, o);
    const aop_result_t *d = r->result;
    if (d) {
        /* the deciding call only when a call decided; otherwise what the last one said */
        fprintf(out, "  %s    ", r->decided_by ? "deciding call:" : "last call:    ");
        fprintf(out, "%s %c ", cli_short_name(d->function), d->outcome_known ? d->status : 'U');
        cli_put_safe(out, d->result_code.len ? d->result_code : aop_str(aop_status_name(d->error)));
        if (r->decided_by && r->acquirement_status[0]) /* what the deciding query read: CLOSED, SUCCESS... */
            fputs(", the payment is ", out), cli_put_safe(out, aop_str(r->acquirement_status));
        fprintf(out, " (%s)\n", d->verified ? "verified" : "NOT verified");
    }
    mistake_line(out, r);
    const char *key_label = r->kind == AOP_ENTRY_REFUND ? "  merchantRefundId: " : "  merchantTransId:  ";
    if (r->key[0]) fprintf(out, "%s", key_label), cli_put_safe(out, aop_str(r->key)), fputc('\n', out);
    if (r->acquirement_id[0]) fputs("  acquirementId:    ", out), cli_put_safe(out, aop_str(r->acquirement_id)), fputc('\n', out);
    if (r->reason[0] && r->outcome != AOP_OUTCOME_NEEDS_ATTENTION)
        fputs("  note:             ", out), cli_put_safe(out, aop_str(r->reason)), fputc('\n', out);
    fprintf(out, "  calls:            %u\n", r->n_steps);
    if (r->late_paid) fputs("  late PAID:        refund it if the sale was not completed\n", out);
}

void cli_outcome_json(FILE *out, const aop_resolution_t *r, const cli_sale_t *s, unsigned open_entries) {
    const aop_result_t *d = r->result;
    char status = r->taken_over || r->interrupted                                     ? 'U'
                  : r->outcome == AOP_OUTCOME_PAID || r->outcome == AOP_OUTCOME_REFUNDED ? 'S'
                  : r->outcome == AOP_OUTCOME_FAILED || r->outcome == AOP_OUTCOME_CANCELLED ? 'F'
                                                                                           : 'U';
    cli_json_begin(out);
    fputs(",\"outcome\":", out);
    cli_json_str(out, aop_str(r->taken_over ? "TAKEN_OVER" : aop_outcome_name(r->outcome)));
    if (r->entry_id) fprintf(out, ",\"id\":%lld", (long long)r->entry_id);
    fprintf(out, ",\"status\":\"%c\",\"outcomeKnown\":%s,\"interrupted\":%s", status,
            !r->taken_over && !r->interrupted && aop_outcome_known(r->outcome) ? "true" : "false",
            r->interrupted ? "true" : "false");
    fputs(",\"row\":", out);
    cli_json_str(out, r->row[0] ? aop_str(r->row) : AOP_STR_NULL);
    fputs(",\"mistake\":", out);
    const char *m = mistake_name(r->mistake);
    cli_json_str(out, m ? aop_str(m) : AOP_STR_NULL);
    fputs(",\"amount\":", out);
    cli_json_str(out, s->amount ? aop_str(s->amount) : AOP_STR_NULL);
    fputs(",\"currency\":", out);
    cli_json_str(out, s->currency ? aop_str(s->currency) : AOP_STR_NULL);
    fputs(",\"decidedBy\":", out);
    cli_json_str(out, r->decided_by ? aop_str(r->decided_by->name) : AOP_STR_NULL);
    fputs(",\"resultCode\":", out);
    cli_json_str(out, d ? d->result_code : AOP_STR_NULL);
    fputs(",\"resultCodeId\":", out);
    cli_json_str(out, d ? d->result_code_id : AOP_STR_NULL);
    fputs(",\"resultMsg\":", out);
    cli_json_str(out, d ? d->result_msg : AOP_STR_NULL);
    fprintf(out, ",\"verified\":%s,\"httpStatus\":%ld,\"reqMsgId\":", d && d->verified ? "true" : "false",
            d ? d->http_status : 0L);
    cli_json_str(out, d ? aop_str(d->req_msg_id) : AOP_STR_NULL);
    fputs(",\"error\":", out);
    const char *why = r->reason[0] ? r->reason : d && d->error != AOP_OK ? d->detail.msg : NULL;
    cli_json_str(out, why && *why ? aop_str(why) : AOP_STR_NULL);
    fputs(",\"acquirementStatus\":", out);
    cli_json_str(out, r->acquirement_status[0] ? aop_str(r->acquirement_status) : AOP_STR_NULL);
    fputs(r->kind == AOP_ENTRY_REFUND ? ",\"merchantRefundId\":" : ",\"merchantTransId\":", out);
    cli_json_str(out, r->key[0] ? aop_str(r->key) : AOP_STR_NULL);
    fputs(",\"acquirementId\":", out);
    cli_json_str(out, r->acquirement_id[0] ? aop_str(r->acquirement_id) : AOP_STR_NULL);
    fputs(",\"steps\":[", out);
    for (unsigned i = 0; i < r->n_steps; i++) {
        const aop_step_t *st = &r->steps[i];
        fprintf(out, "%s{\"function\":", i ? "," : "");
        cli_json_str(out, aop_str(st->function->name));
        fprintf(out, ",\"status\":\"%c\",\"resultCode\":", st->status);
        cli_json_str(out, st->result_code[0] ? aop_str(st->result_code) : AOP_STR_NULL);
        fprintf(out, ",\"latencyMs\":%ld}", st->latency_ms);
    }
    fprintf(out, "],\"openEntries\":%u,\"sandbox\":%s,\"watch\":%s,\"latePaid\":%s,\"warnings\":[", open_entries,
            s->sandbox ? "true" : "false", r->watch ? "true" : "false", r->late_paid ? "true" : "false");
    for (unsigned i = 0; d && i < d->warnings.count; i++) {
        char w[AOP_ERROR_PATH_MAX + 128];
        snprintf(w, sizeof w, "%s: %s", d->warnings.items[i].path, aop_status_text(d->warnings.items[i].code));
        if (i) fputc(',', out);
        cli_json_str(out, aop_str(w));
    }
    fputs("]}", out);
}
