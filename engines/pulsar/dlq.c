/* SPDX-License-Identifier: MIT */
/* Dead letters: a param that failed for good is published to
 * <topic>-<subscription>-DLQ (the name Pulsar's own clients use) through
 * the REST producer, and its message is acked only once the broker said it
 * stored the copy. A failed publish acks nothing: the message is negatively
 * acked and comes back, to fail and be dead-lettered again.
 *
 * REST rather than a WebSocket producer: dead letters are rare, so one
 * short request each costs less than a second connection held open by
 * every minion (its memory, its pings, its reconnects), and the REST reply
 * says per message whether it was stored. The REST producer does not make
 * topics: on a 404 the DLQ topic is created through the admin API once,
 * then the publish is tried again.
 *
 * The same hand-off puts back, at a stop, the messages whose run the stop
 * cut short (or that never started): the WebSocket API cannot give a
 * message back without counting a redelivery, so a copy goes to the end of
 * the params topic with the attempts its param had used, and the original
 * is acked once the copy is stored. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define DLQ_TIMEOUT_S 10.0

enum dlq_step {
    STEP_PUBLISH, /* POST /topics/...: the copy */
    STEP_CREATE,  /* PUT /admin/v2/...: the DLQ topic was missing */
};

struct dlq_req {
    struct dlq_req *prev, *next; /* e->dead */
    struct pulsar_engine *e;
    struct ptask *t;
    char *body; /* the POST body, kept to publish again after a create */
    enum dlq_step step;
    int created; /* this request made (or found) the topic */
    int requeue; /* a copy to the params topic at a stop, not a dead letter */
};

static void on_done(int status, const char *body, size_t len, const char *why,
                    void *arg);

static void req_free(struct dlq_req *q)
{
    struct pulsar_engine *e = q->e;

    if (q->prev) {
        q->prev->next = q->next;
    } else {
        e->dead = q->next;
    }
    if (q->next) {
        q->next->prev = q->prev;
    }
    e->n_dead--;
    ptask_free(q->t);
    free(q->body);
    free(q);
}

/* The task is settled: ack (stored) or nack (not), then forget it. */
static void settle(struct dlq_req *q, int stored, const char *why)
{
    struct pulsar_engine *e = q->e;
    struct ptask *t = q->t;

    if (q->requeue) {
        if (stored) {
            minion_log(e->inst, MINION_LOG_DEBUG,
                       "task %s put back at the end of %s, uncounted", t->id,
                       e->topic.full);
            conn_send(e, pframe_ack(t->id));
        } else {
            minion_log(e->inst, MINION_LOG_WARN,
                       "putting task %s back failed: %s; it stays unacked, "
                       "and the broker counts its next delivery as an attempt",
                       t->id, why);
        }
    } else if (stored) {
        minion_log(e->inst, MINION_LOG_INFO, "task %s dead-lettered to %s",
                   t->id, e->dlq.full);
        conn_send(e, pframe_ack(t->id));
    } else {
        minion_log(e->inst, MINION_LOG_ERROR,
                   "dead-lettering task %s to %s failed: %s; it stays unacked "
                   "and comes back",
                   t->id, e->dlq.full, why);
        conn_send(e, pframe_nack(t->id));
    }
    req_free(q);
    if (e->stopping) {
        engine_maybe_stopped(e);
    }
}

/* Send @q's next step. Returns 0, or -ENOMEM (then nothing is out). */
static int send_step(struct dlq_req *q)
{
    struct pulsar_engine *e = q->e;
    const struct pulsar_topic *to = q->requeue ? &e->topic : &e->dlq;
    char *path = q->step == STEP_PUBLISH ? pulsar_producer_url("", to)
                                         : pulsar_admin_url("", to, "");
    struct phttp *h = NULL;

    if (path) {
        h = phttp_start(e->base, &e->http,
                        q->step == STEP_PUBLISH ? "POST" : "PUT", path,
                        q->step == STEP_PUBLISH ? q->body : NULL, DLQ_TIMEOUT_S,
                        on_done, q);
    }
    free(path);
    return h ? 0 : -ENOMEM;
}

static void on_done(int status, const char *body, size_t len, const char *why,
                    void *arg)
{
    struct dlq_req *q = arg;
    char buf[512];
    int refused;

    if (status < 200 || status > 299) {
        if (q->step == STEP_PUBLISH && status == 404 && !q->created &&
            !q->requeue) {
            q->step = STEP_CREATE;
        } else if (q->step == STEP_CREATE && status == 409) {
            q->step = STEP_PUBLISH; /* made meanwhile, by another minion */
            q->created = 1;
        } else {
            settle(q, 0,
                   status ? pulsar_http_why(status, body, len, buf, sizeof(buf))
                          : why);
            return;
        }
        if (send_step(q) < 0) {
            settle(q, 0, "out of memory");
        }
        return;
    }
    if (q->step == STEP_CREATE) {
        minion_log(q->e->inst, MINION_LOG_INFO,
                   "created the dead-letter topic %s", q->e->dlq.full);
        q->step = STEP_PUBLISH;
        q->created = 1;
        if (send_step(q) < 0) {
            settle(q, 0, "out of memory");
        }
        return;
    }
    refused = pulsar_rest_reply(body, len, 1, buf, sizeof(buf));
    settle(q, refused == 0, buf);
}

/* Properties as Pulsar's own dead-letter hand-off writes them, and why. */
static char *make_body(struct pulsar_engine *e, const struct ptask *t,
                       const struct minion_report *rep, const char *param,
                       size_t len)
{
    char attempts[16];
    const char *props[] = {
        "REAL_TOPIC",
        e->topic.full,
        "ORIGIN_MESSAGE_ID",
        t->id,
        "SUBSCRIPTION",
        e->subscription,
        "error",
        rep && rep->error ? rep->error : "failed",
        "attempts",
        attempts,
        "minion",
        e->ctx->minion_id,
        "encoding",
        "base64",
    };
    struct pulsar_out m = {param, len, props, 6};
    char *body, *b64 = NULL;
    long bad;

    snprintf(attempts, sizeof(attempts), "%u", rep ? rep->attempt : t->attempt);
    body = pulsar_rest_body(e->ctx->minion_id, &m, 1, &bad);
    if (body || bad < 0) {
        return body;
    }
    /* Not text (invalid UTF-8, a NUL): the STRING schema cannot carry it,
     * so the copy is its base64, and says so. */
    b64 = base64_encode(param, len);
    if (!b64) {
        return NULL;
    }
    m.data = b64;
    m.len = strlen(b64);
    m.nprops = 7;
    body = pulsar_rest_body(e->ctx->minion_id, &m, 1, &bad);
    free(b64);
    return body;
}

static struct dlq_req *req_new(struct pulsar_engine *e, struct ptask *t)
{
    struct dlq_req *q = calloc(1, sizeof(*q));

    if (!q) {
        return NULL;
    }
    q->e = e;
    q->t = t;
    q->step = STEP_PUBLISH;
    q->next = e->dead;
    if (e->dead) {
        e->dead->prev = q;
    }
    e->dead = q;
    e->n_dead++;
    return q;
}

void dlq_publish(struct pulsar_engine *e, struct ptask *t,
                 const struct minion_report *rep)
{
    struct dlq_req *q = req_new(e, t);

    if (!q) {
        minion_log(e->inst, MINION_LOG_ERROR,
                   "out of memory: task %s is not dead-lettered and comes "
                   "back",
                   t->id);
        conn_send(e, pframe_nack(t->id));
        ptask_free(t);
        return;
    }
    q->body =
        make_body(e, t, rep, rep ? rep->param : "", rep ? rep->param_len : 0);
    if (!q->body || send_step(q) < 0) {
        settle(q, 0, "out of memory");
    }
}

void dlq_requeue(struct pulsar_engine *e, struct ptask *t, const char *param,
                 size_t len, unsigned attempts_used)
{
    char used[16];
    const char *props[] = {
        PULSAR_PROP_ATTEMPTS,      used,     PULSAR_PROP_TASK,
        t->task ? t->task : t->id, "minion", e->ctx->minion_id,
    };
    struct pulsar_out m = {param, len, props, 3};
    struct dlq_req *q;
    long bad;

    /* A message of a lost connection is the broker's again already: a
     * copy would run it twice. */
    if (t->gen != e->gen || !e->open) {
        ptask_free(t);
        return;
    }
    q = req_new(e, t);
    if (!q) {
        ptask_free(t); /* stays unacked: counted, but not lost */
        return;
    }
    q->requeue = 1;
    snprintf(used, sizeof(used), "%u", attempts_used);
    q->body = pulsar_rest_body(e->ctx->minion_id, &m, 1, &bad);
    if (!q->body) {
        settle(q, 0,
               bad >= 0 ? "the param is not text (a STRING message)"
                        : "out of memory");
        return;
    }
    if (send_step(q) < 0) {
        settle(q, 0, "out of memory");
    }
}

int dlq_idle(const struct pulsar_engine *e)
{
    return e->n_dead == 0;
}

void dlq_fini(struct pulsar_engine *e)
{
    /* Their requests are gone (phttp_target_fini): their messages stay
     * unacked, and come back. */
    while (e->dead) {
        req_free(e->dead);
    }
}
