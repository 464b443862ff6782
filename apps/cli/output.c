/* SPDX-License-Identifier: MIT */
/* Reporting a result: one JSON object (--json) or a short human summary. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "aop/json_quote.h"
#include "aop/util.h"
#include "cli.h"

/* The runtime's writer for a reader: DEL and the C1 controls escaped, never invalid UTF-8, so a
 * JSON report is safe on a terminal and valid for any parser. */
void cli_json_str(FILE *out, aop_str_t s) { aop_json_fquote(out, s.ptr, s.len); }

void cli_json_begin(FILE *out) { fprintf(out, "{\"formatVersion\":%d", CLI_JSON_FORMAT_VERSION); }

static struct {
    const char *program, *cmd;
    bool json;
} reporting = {NULL, "", false};

void cli_report_setup(const char *program, const char *cmd, bool json) {
    reporting.program = program;
    reporting.cmd = cmd ? cmd : "";
    reporting.json = json;
}

int cli_fail(int exit_code, aop_status_t code, const char *path, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bool unsent = exit_code == AOP_EXIT_USAGE || exit_code == AOP_EXIT_CONFIG;
    if (unsent && strlen(msg) + 20 < sizeof msg) strcat(msg, " (nothing was sent)");
    if (reporting.program)
        fprintf(stderr, "%s: ", reporting.program);
    else
        fprintf(stderr, "aop%s%s: ", *reporting.cmd ? " " : "", reporting.cmd);
    cli_put_safe(stderr, aop_str(msg)); /* library messages may quote journal or gateway text */
    fputc('\n', stderr);
    if (reporting.json) {
        cli_json_begin(stdout);
        fputs(",\"error\":", stdout);
        cli_json_str(stdout, aop_str(msg));
        fputs(",\"code\":", stdout);
        cli_json_str(stdout, aop_str(aop_status_name(code)));
        fputs(",\"path\":", stdout);
        cli_json_str(stdout, path && *path ? aop_str(path) : AOP_STR_NULL);
        fprintf(stdout, ",\"exitCode\":%d}\n", exit_code);
        fflush(stdout);
    }
    return exit_code;
}

void cli_json_field(FILE *out, const char *name, aop_str_t v) {
    fprintf(out, ",\"%s\":", name);
    cli_json_str(out, v);
}

/* s for a terminal (aop_terminal_safe): never longer than s, so n + 1 bytes always suffice. */
void cli_put_safe(FILE *out, aop_str_t s) {
    if (!s.ptr || !s.len) return;
    char small[512];
    char *buf = s.len < sizeof small ? small : malloc(s.len + 1);
    if (!buf) {
        fputs("(out of memory)", out);
        return;
    }
    size_t n = aop_terminal_safe(s.ptr, s.len, buf, s.len + 1);
    fwrite(buf, 1, n, out);
    if (buf != small) free(buf);
}

static void line(FILE *out, const char *label, aop_str_t v) {
    fputs(label, out);
    cli_put_safe(out, v);
    fputc('\n', out);
}

typedef struct {
    aop_str_t acquirement_id, acquirement_status, refund_id;
} extracted_t;

static extracted_t extract(const aop_function_desc_t *fn, const aop_result_t *r) {
    extracted_t x = {AOP_STR_NULL, AOP_STR_NULL, AOP_STR_NULL};
    if (!r->response) return x;
    if (fn == &aop_fn_offline_pay) {
        x.acquirement_id = ((const aop_offline_pay_response_t *)r->response)->body.acquirement_id;
    } else if (fn == &aop_fn_offline_pay_query) {
        const aop_offline_pay_query_response_body_t *b = &((const aop_offline_pay_query_response_t *)r->response)->body;
        x.acquirement_id = b->acquirement_id;
        x.acquirement_status = b->acquirement_status.text;
        if (!x.acquirement_status.ptr && b->acquirement_status.value)
            x.acquirement_status = aop_str(aop_acquirement_status_enum_to_string(b->acquirement_status.value));
    } else if (fn == &aop_fn_pay_cancel) {
        x.acquirement_id = ((const aop_pay_cancel_response_t *)r->response)->body.acquirement_id;
    } else if (fn == &aop_fn_refund) {
        x.acquirement_id = ((const aop_refund_response_t *)r->response)->body.acquirement_id;
        x.refund_id = ((const aop_refund_response_t *)r->response)->body.refund_id;
    }
    return x;
}

static const char *reason(const aop_result_t *r) {
    if (r->outcome_known) return NULL;
    if (r->error == AOP_OK) return "the gateway reports the outcome as unknown";
    return r->detail.msg[0] ? r->detail.msg : aop_status_text(r->error);
}

int cli_report(const cli_opts_t *o, const aop_function_desc_t *fn, const aop_result_t *r, const cli_ids_t *ids,
               bool sandbox) {
    char status = r->outcome_known ? r->status : 'U';
    extracted_t x = extract(fn, r);
    FILE *out = stdout;
    if (o->json) {
        cli_json_begin(out);
        fprintf(out, ",\"status\":\"%c\"", status);
        cli_json_field(out, "resultCode", r->result_code);
        cli_json_field(out, "resultCodeId", r->result_code_id);
        cli_json_field(out, "resultMsg", r->result_msg);
        cli_json_field(out, "acquirementId", x.acquirement_id);
        cli_json_field(out, "merchantTransId", ids->merchant_trans_id ? aop_str(ids->merchant_trans_id) : AOP_STR_NULL);
        if (fn == &aop_fn_refund) {
            cli_json_field(out, "merchantRefundId", aop_str(ids->merchant_refund_id));
            cli_json_field(out, "refundId", x.refund_id);
        }
        if (fn == &aop_fn_offline_pay_query) cli_json_field(out, "acquirementStatus", x.acquirement_status);
        fprintf(out, ",\"verified\":%s,\"outcomeKnown\":%s", r->verified ? "true" : "false",
                r->outcome_known ? "true" : "false");
        const char *why = reason(r);
        cli_json_field(out, "error", why ? aop_str(why) : AOP_STR_NULL);
        fprintf(out, ",\"httpStatus\":%ld,\"reqMsgId\":\"%s\",\"sandbox\":%s,\"warnings\":[", r->http_status,
                r->req_msg_id, sandbox ? "true" : "false");
        for (unsigned i = 0; i < r->warnings.count; i++) {
            char w[AOP_ERROR_PATH_MAX + 128];
            snprintf(w, sizeof w, "%s: %s", r->warnings.items[i].path, aop_status_text(r->warnings.items[i].code));
            if (i) fputc(',', out);
            cli_json_str(out, aop_str(w));
        }
        fputs("]}\n", out);
    } else {
        /* A cancel's answer in the cashier's words first: it never tells whether the payment had
         * been paid, so "closed or reversed", never "reverses it". */
        if (fn == &aop_fn_pay_cancel && status == 'S')
            fputs("CANCELLED: the payment is closed or reversed; if the customer was charged, the money goes back\n",
                  out);
        else if (fn == &aop_fn_pay_cancel && status == 'F')
            fputs("NOT CANCELLED: the gateway refused the cancel; the payment is as it was (aop query tells)\n", out);
        /* Everything but fixed text may come from the gateway (or hold what it sent): made safe
         * for the terminal, so a response cannot put escape sequences on the cashier's screen. */
        fprintf(out, "%c ", status);
        cli_put_safe(out, r->result_code);
        fprintf(out, " (%s%s)%s\n", r->verified ? "verified" : "NOT verified", sandbox ? ", local sandbox" : "",
                r->outcome_known ? "" : " - outcome unknown");
        if (r->result_msg.len) line(out, "  message:          ", r->result_msg);
        if (ids->merchant_trans_id) line(out, "  merchantTransId:  ", aop_str(ids->merchant_trans_id));
        if (x.acquirement_id.ptr) line(out, "  acquirementId:    ", x.acquirement_id);
        if (x.acquirement_status.ptr) line(out, "  acquirementStatus: ", x.acquirement_status);
        if (ids->merchant_refund_id) line(out, "  merchantRefundId: ", aop_str(ids->merchant_refund_id));
        if (x.refund_id.ptr) line(out, "  refundId:         ", x.refund_id);
        const char *why = reason(r);
        if (why) line(out, "  why unknown:      ", aop_str(why));
        for (unsigned i = 0; i < r->warnings.count; i++) {
            char w[AOP_ERROR_PATH_MAX + 128];
            snprintf(w, sizeof w, "%s: %s", r->warnings.items[i].path, aop_status_text(r->warnings.items[i].code));
            line(out, "  warning:          ", aop_str(w));
        }
        if (!r->outcome_known && (fn == &aop_fn_offline_pay || fn == &aop_fn_refund))
            fputs("  next:             aop recover (the journal holds the entry; never pay again with a new id)\n", out);
    }
    fflush(out);
    return aop_exit_for_status(status);
}
