/* SPDX-License-Identifier: MIT */
/* The sandbox's notifications (--notify-url; docs/protocol.md section 8): once a payment reaches
 * SUCCESS or CLOSED, the notifier thread POSTs a notify.pay signed with the gateway's key, and
 * sends it again after each wait of the schedule until the merchant answers S / SUCCESS in a
 * response signed with the merchant's key (verified, read strictly, its echoes checked).
 *
 * The queue is in memory, one notice per payment, due first: a notification still pending when
 * the sandbox stops is not sent. What a notice sends is read from the store when it is due, so a
 * payment's timer is applied then (as a query would apply it) and the notification states the
 * payment as it stands; the payment's row (its tag) says how it is notified. Every send of a
 * notice carries the first send's reqTime and a fresh reqMsgId. One send at a time, on the
 * notifier's own libcurl transport. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monotonic.h"
#include "sbx_internal.h"

#define DEFAULT_LATE_MS 90000u /* past the default query budget of a pay (60 s after its answer) */
#define SEND_DEADLINE_MS 10000L
#define QUEUE_MAX 100000u

/* The vendor's waits between sends (2 min, 10 min, 10 min, 1 h, 2 h, 6 h, 15 h: 8 sends over
 * about 25 hours), divided by 60. */
static const unsigned vendor_schedule_ms[] = {2000, 10000, 10000, 60000, 120000, 360000, 900000};

typedef struct notice {
    struct notice *next;
    int64_t due_ms; /* monotonic */
    char merchant_id[SBX_ID_MAX], merchant_trans_id[SBX_ID_MAX];
    char client_id[AOP_REQUEST_HEAD_CLIENT_ID_MAX * 4 + 1];
    char req_time[32]; /* the first send's, "" before it */
    unsigned sent;
    bool answered; /* a signed S / SUCCESS came back (the twice row sends once more) */
} notice_t;

struct sbx_notifier {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running;
    volatile int stop; /* also the transport's stop flag: a send in flight ends within 0.5 s */
    char *url;
    unsigned schedule_ms[SBX_NOTIFY_SCHEDULE_MAX], n_schedule, late_ms;
    notice_t *head;
    unsigned count;
    aop_transport_t *transport; /* the notifier thread's alone */
};

/* ---- the queue ------------------------------------------------------------------------------- */

/* Inserts n by its due time (caller holds mu). */
static void insert(struct sbx_notifier *v, notice_t *n) {
    notice_t **at = &v->head;
    while (*at && (*at)->due_ms <= n->due_ms) at = &(*at)->next;
    n->next = *at;
    *at = n;
    v->count++;
    pthread_cond_signal(&v->cv);
}

/* n again, due at due_mono. */
static void requeue(aop_sandbox_t *s, notice_t *n, int64_t due_mono) {
    struct sbx_notifier *v = s->notifier;
    n->due_ms = due_mono;
    pthread_mutex_lock(&v->mu);
    insert(v, n);
    pthread_mutex_unlock(&v->mu);
}

static int64_t mono_at(const aop_sandbox_t *s, int64_t clock_ms) {
    int64_t wait = clock_ms - sbx_clock_ms(s);
    return aop_mono_ms() + (wait > 0 ? wait : 0);
}

void sbx_notify_payment(aop_sandbox_t *s, const sbx_txn_t *t, aop_str_t client_id) {
    struct sbx_notifier *v = s->notifier;
    if (!v) return;
    bool final = t->status == AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS || t->status == AOP_ACQUIREMENT_STATUS_ENUM_CLOSED;
    bool timer = t->status == AOP_ACQUIREMENT_STATUS_ENUM_PAYING && t->settle_at_ms;
    if (!final && !timer) return; /* PAYING until a cancel: the cancel queues it */
    int64_t due = timer ? t->settle_at_ms : sbx_clock_ms(s);
    if (t->visible_at_ms > due) due = t->visible_at_ms;
    int64_t due_mono = mono_at(s, due);
    pthread_mutex_lock(&v->mu);
    bool queued = false;
    for (notice_t **at = &v->head; *at && !queued; at = &(*at)->next) {
        notice_t *n = *at;
        if (strcmp(n->merchant_trans_id, t->merchant_trans_id) != 0 || strcmp(n->merchant_id, t->merchant_id) != 0)
            continue;
        queued = true; /* pending already: sooner, if this is sooner */
        if (due_mono < n->due_ms) {
            *at = n->next;
            v->count--;
            n->due_ms = due_mono;
            insert(v, n);
        }
    }
    notice_t *n = queued || v->count >= QUEUE_MAX ? NULL : calloc(1, sizeof *n);
    if (n) {
        snprintf(n->merchant_id, sizeof n->merchant_id, "%s", t->merchant_id);
        snprintf(n->merchant_trans_id, sizeof n->merchant_trans_id, "%s", t->merchant_trans_id);
        sbx_cstr(client_id, n->client_id, sizeof n->client_id);
        n->due_ms = due_mono;
        insert(v, n);
        queued = true;
    }
    unsigned pending = v->count;
    pthread_mutex_unlock(&v->mu);
    if (!queued) sbx_log(s, "notify.pay of %s: not queued (%u pending, or out of memory)", t->merchant_trans_id, pending);
}

/* ---- one send ---------------------------------------------------------------------------------- */

/* The payment as it stands (its timer applied and committed); false when it is gone. */
static bool read_payment(aop_sandbox_t *s, const notice_t *n, sbx_txn_t *t) {
    if (sbx_store_begin(&s->store) != 0) return false;
    int found = sbx_txn_by_trans_id(&s->store, n->merchant_id, n->merchant_trans_id, t);
    if (found == 1 && sbx_settle(t, sbx_clock_ms(s)) && sbx_txn_update(&s->store, t) != 0) found = -1;
    if (found != 1) {
        sbx_store_rollback(&s->store);
        return false;
    }
    return sbx_store_commit(&s->store) == 0;
}

typedef struct {
    char amount[24], pair[16], msg_id[AOP_UUID_SIZE];
} texts_t;

/* The notification of t: its fact (or, for a contradicting row, the opposite). */
static void build(const notice_t *n, const sbx_txn_t *t, bool contradict, texts_t *x, aop_notify_pay_request_t *rq) {
    memset(rq, 0, sizeof *rq);
    rq->head.version = aop_str("2.0.0");
    rq->head.function = aop_str(aop_fn_notify_pay.name);
    rq->head.client_id = aop_str(n->client_id);
    rq->head.req_time = aop_str(n->req_time);
    rq->head.req_msg_id = aop_str(x->msg_id);
    aop_notify_pay_request_body_t *b = &rq->body;
    bool success = (t->status == AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS) != contradict;
    b->merchant_trans_id = aop_str(t->merchant_trans_id);
    b->has_order_amount = true;
    aop_money_t pay;
    aop_exchange_rate_t rate;
    sbx_paid_amounts(t, x->amount, x->pair, &b->order_amount, &pay, &rate);
    const char *code = success                                         ? AOP_RC_SUCCESS
                       : t->status == AOP_ACQUIREMENT_STATUS_ENUM_CLOSED && t->result_code[0] ? t->result_code
                                                                                              : AOP_RC_ORDER_IS_CLOSED;
    const aop_result_code_t *rc = aop_result_code_find(aop_fn_offline_pay.codes, code, strlen(code));
    b->result_info.result_status.value = success ? AOP_RESULT_STATUS_ENUM_S : AOP_RESULT_STATUS_ENUM_F;
    b->result_info.result_code = aop_str(code);
    b->result_info.result_code_id = rc && rc->id ? aop_str(rc->id) : AOP_STR_NULL;
    b->result_info.result_msg = aop_str(rc ? rc->meaning : code);
    if (!success) return;
    b->acquirement_id = aop_str(t->acquirement_id);
    b->has_pay_amount = b->has_conversion_rate = true;
    b->pay_amount = pay;
    b->conversion_rate = rate;
    b->payment_time = aop_str(t->paid_time[0] ? t->paid_time : t->create_time);
}

/* The answer's resultStatus and resultCode, as the log line shows them. */
#define STATUS_SIZE 2
#define CODE_SIZE 65

/* Whether the merchant's answer is a signed S / SUCCESS that echoes the notification; what it
 * was, for the log, in why (and its result, when readable, in status and code). */
static bool read_answer(aop_sandbox_t *s, const aop_notify_pay_request_t *rq, aop_http_response_t *http,
                        char *why, size_t cap, char status[STATUS_SIZE], char code[CODE_SIZE]) {
    aop_error_t err;
    aop_error_clear(&err);
    if (http->status != 200) {
        snprintf(why, cap, "HTTP %ld", http->status);
        return false;
    }
    aop_json_ws_t ws = {0};
    aop_json_doc_t doc;
    aop_envelope_t env;
    aop_notify_pay_response_t rs;
    aop_status_t st = aop_json_ws_alloc(&ws, http->body.data, http->body.len, &err);
    if (st == AOP_OK) st = aop_envelope_read(http->body.data, http->body.len, "response", &ws, &doc, &env, &err);
    if (st == AOP_OK) {
        aop_verifier_t *verifier = sbx_verifier_take(s, &err);
        st = verifier ? aop_envelope_verify(&env, verifier, &err) : err.code;
        sbx_verifier_give(s, verifier);
    }
    /* what the merchant sends is read strictly, as the gateway reads its requests */
    if (st == AOP_OK) st = aop_notify_pay_response_decode(&doc, env.payload_tok, http->body.data, &rs, NULL, &err);
    if (st == AOP_OK) st = aop_check_echo(&aop_fn_notify_pay, rq, &rs, &err);
    aop_json_ws_free(&ws);
    if (st != AOP_OK) {
        snprintf(why, cap, "an answer refused: %s", err.msg[0] ? err.msg : aop_strstatus(st));
        return false;
    }
    const aop_result_info_t *ri = &rs.body.result_info;
    const char *st_text = aop_result_status_enum_to_string((aop_result_status_enum_t)ri->result_status.value);
    snprintf(status, STATUS_SIZE, "%s", st_text ? st_text : "");
    sbx_cstr(ri->result_code, code, CODE_SIZE);
    bool ok = ri->result_status.value == AOP_RESULT_STATUS_ENUM_S && aop_str_eq_cstr(ri->result_code, AOP_RC_SUCCESS);
    snprintf(why, cap, "%s %s (signed)", status, code);
    return ok;
}

/* Sends n's notification of t once; true when answered S / SUCCESS. */
static bool send_once(aop_sandbox_t *s, notice_t *n, const sbx_txn_t *t, const sbx_scenario_t *row) {
    struct sbx_notifier *v = s->notifier;
    texts_t x;
    aop_error_t err;
    aop_error_clear(&err);
    if (!n->req_time[0]) sbx_rfc3339(sbx_clock_ms(s), n->req_time);
    if (aop_uuid(x.msg_id) != AOP_OK) {
        sbx_log(s, "notify.pay of %s: no random bytes for a reqMsgId; sent later", n->merchant_trans_id);
        return false;
    }
    aop_notify_pay_request_t rq;
    sbx_notify_t kind = row ? row->notify : SBX_NOTIFY_NORMAL;
    build(n, t, kind == SBX_NOTIFY_CONTRADICT, &x, &rq);
    aop_buf_t body = {0};
    aop_envelope_layout_t lay;
    aop_signer_t *signer = sbx_signer_take(s, &err);
    aop_status_t st = signer ? aop_envelope_write("request", aop_fn_notify_pay.request, &rq, signer, &body, &lay, &err)
                             : err.code;
    sbx_signer_give(s, signer);
    char why[AOP_ERROR_MSG_MAX + 32] = "", status[STATUS_SIZE] = "", code[CODE_SIZE] = "";
    bool ok = false;
    n->sent++;
    if (st != AOP_OK) {
        snprintf(why, sizeof why, "not sent: %s", err.msg);
    } else {
        if (kind == SBX_NOTIFY_BAD_SIGNATURE) sbx_spoil_signature(&body, &lay);
        aop_http_request_t req = {v->url, body.data, body.len, SEND_DEADLINE_MS, &v->stop};
        aop_http_response_t http = {0};
        st = v->transport->post(v->transport, &req, &http, &err);
        if (st != AOP_OK) snprintf(why, sizeof why, "no answer: %s", aop_status_name(st));
        else ok = read_answer(s, &rq, &http, why, sizeof why, status, code);
        aop_buf_free(&http.body);
    }
    aop_buf_free(&body);
    const aop_result_info_t *ri = &rq.body.result_info;
    sbx_log(s, "notify.pay of %s (%s %.*s%s) send %u of %u -> %s", n->merchant_trans_id,
            ri->result_status.value == AOP_RESULT_STATUS_ENUM_S ? "S" : "F", (int)ri->result_code.len,
            ri->result_code.ptr, kind == SBX_NOTIFY_BAD_SIGNATURE ? ", signature spoilt" : "", n->sent,
            v->n_schedule + 1, why);
    sbx_reqlog_entry_t e = {aop_fn_notify_pay.name, n->merchant_trans_id, t->acquirement_id[0] ? t->acquirement_id : NULL,
                            status[0] ? status : NULL, code[0] ? code : NULL, sbx_clock_ms(s)};
    sbx_reqlog_write(s, &e);
    return ok;
}

/* What is due for n now: nothing (freed), a send, or a later time (requeued). */
static void process(aop_sandbox_t *s, notice_t *n) {
    struct sbx_notifier *v = s->notifier;
    sbx_txn_t t;
    if (!read_payment(s, n, &t)) {
        sbx_log(s, "notify.pay of %s: not sent: the payment is gone (a payCancel closed the id of a late pay) "
                   "or the state store failed",
                n->merchant_trans_id);
        return free(n);
    }
    const sbx_scenario_t *row = s->no_faults ? NULL : sbx_scenario_by_tag(t.scenario);
    sbx_notify_t kind = row ? row->notify : SBX_NOTIFY_NORMAL;
    int64_t now = sbx_clock_ms(s);
    if (kind == SBX_NOTIFY_NEVER) return free(n);
    if (sbx_hidden(&t, now)) return requeue(s, n, mono_at(s, t.visible_at_ms));
    if (t.status == AOP_ACQUIREMENT_STATUS_ENUM_PAYING && t.settle_at_ms)
        return requeue(s, n, mono_at(s, t.settle_at_ms));
    if (t.status != AOP_ACQUIREMENT_STATUS_ENUM_SUCCESS && t.status != AOP_ACQUIREMENT_STATUS_ENUM_CLOSED)
        return free(n); /* PAYING until a cancel queues it again, or reversed (CANCELLED) */
    if (kind == SBX_NOTIFY_LATE && n->sent == 0 && now < t.created_ms + (int64_t)v->late_ms)
        return requeue(s, n, mono_at(s, t.created_ms + (int64_t)v->late_ms));
    bool redelivery = n->answered;
    bool ok = send_once(s, n, &t, row);
    if (v->stop || redelivery) return free(n);
    if (ok && kind == SBX_NOTIFY_TWICE) {
        n->answered = true; /* the same fact once more, after the first wait */
        return requeue(s, n, aop_mono_ms() + (v->n_schedule ? v->schedule_ms[0] : 0));
    }
    if (ok) return free(n);
    if (n->sent > v->n_schedule) {
        sbx_log(s, "notify.pay of %s: no S / SUCCESS after %u sends; given up", n->merchant_trans_id, n->sent);
        return free(n);
    }
    requeue(s, n, aop_mono_ms() + v->schedule_ms[n->sent - 1]);
}

static void *notifier_main(void *arg) {
    aop_sandbox_t *s = arg;
    struct sbx_notifier *v = s->notifier;
    pthread_mutex_lock(&v->mu);
    while (!v->stop) {
        notice_t *n = v->head;
        if (n && n->due_ms <= aop_mono_ms()) {
            v->head = n->next;
            v->count--;
            pthread_mutex_unlock(&v->mu);
            process(s, n);
            pthread_mutex_lock(&v->mu);
            continue;
        }
        if (!n) {
            pthread_cond_wait(&v->cv, &v->mu);
            continue;
        }
        struct timespec until = apps_mono_timespec(n->due_ms);
        pthread_cond_timedwait(&v->cv, &v->mu, &until);
    }
    pthread_mutex_unlock(&v->mu);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------------------------- */

/* The URL for the log: up to its query, which may carry a token of the merchant's. */
static int url_shown(const char *url) {
    const char *q = strpbrk(url, "?#");
    return q ? (int)(q - url) : (int)strlen(url);
}

aop_status_t sbx_notifier_start(aop_sandbox_t *s, const aop_sandbox_config_t *cfg, aop_error_t *err) {
    if (!cfg->notify_url) return AOP_OK;
    if (!*cfg->notify_url || !aop_url_allowed(cfg->notify_url))
        return aop_error_set(err, AOP_E_CONFIG, "notify_url", -1,
                             "the notify URL must be https, or http to a loopback host");
    if (cfg->n_notify_schedule > SBX_NOTIFY_SCHEDULE_MAX || (cfg->n_notify_schedule && !cfg->notify_schedule_ms))
        return aop_error_set(err, AOP_E_CONFIG, "notify_schedule", -1, "the schedule has 1 to %d waits",
                             SBX_NOTIFY_SCHEDULE_MAX);
    struct sbx_notifier *v = calloc(1, sizeof *v);
    if (!v || !(v->url = strdup(cfg->notify_url))) {
        free(v);
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "out of memory");
    }
    const unsigned *sched = cfg->n_notify_schedule ? cfg->notify_schedule_ms : vendor_schedule_ms;
    v->n_schedule = cfg->n_notify_schedule ? cfg->n_notify_schedule
                                           : (unsigned)(sizeof vendor_schedule_ms / sizeof vendor_schedule_ms[0]);
    memcpy(v->schedule_ms, sched, v->n_schedule * sizeof *sched);
    v->late_ms = cfg->notify_late_ms ? cfg->notify_late_ms : DEFAULT_LATE_MS;
    pthread_mutex_init(&v->mu, NULL);
    apps_cond_init_monotonic(&v->cv);
    s->notifier = v;
    aop_curl_options_t opt = {0};
    aop_status_t st = aop_curl_transport_new(&opt, &v->transport, err);
    if (st != AOP_OK) return st; /* the sandbox frees s->notifier */
    if (pthread_create(&v->thread, NULL, notifier_main, s) != 0)
        return aop_error_set(err, AOP_E_NOMEM, NULL, -1, "no thread for the notifier");
    v->running = true;
    sbx_log(s, "notifications to %.*s, sent again after %u waits", url_shown(v->url), v->url, v->n_schedule);
    return AOP_OK;
}

void sbx_notifier_stop(aop_sandbox_t *s) {
    struct sbx_notifier *v = s->notifier;
    if (!v) return;
    pthread_mutex_lock(&v->mu);
    v->stop = 1;
    pthread_cond_broadcast(&v->cv);
    pthread_mutex_unlock(&v->mu);
    if (v->running) pthread_join(v->thread, NULL);
    if (v->count) sbx_log(s, "%u notification%s not sent (the sandbox stops)", v->count, v->count == 1 ? "" : "s");
    for (notice_t *n = v->head, *next; n; n = next) {
        next = n->next;
        free(n);
    }
    if (v->transport) v->transport->destroy(v->transport);
    pthread_mutex_destroy(&v->mu);
    pthread_cond_destroy(&v->cv);
    free(v->url);
    free(v);
    s->notifier = NULL;
}
