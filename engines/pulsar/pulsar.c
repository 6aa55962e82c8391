/* SPDX-License-Identifier: MIT */
/* The pulsar engine: params from an Apache Pulsar topic through a Shared
 * subscription, over the broker's HTTP port: the WebSocket consumer API,
 * plus the admin and REST producer APIs, with no Pulsar client library.
 * This file holds the plugin's hooks and the start-up check; conn.c keeps
 * the connection, reader.c takes messages in, dlq.c stores dead letters,
 * queue.c reads the subscription's figures. README.md tells the story. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "dlist.h"
#include "engine.h"
#include "ws.h"

/* Start-up: each admin request must end within this (seconds). */
#define PROBE_TIMEOUT_S 10.0
/* stop(): acks and dead letters still to send get this long. */
#define STOP_TIMEOUT_S 8
/* Pulsar clamps a receiver queue to this. */
#define RECEIVER_QUEUE_MAX 1000

#define OFF(field) offsetof(struct pulsar_conf, field)

static const struct minion_option pulsar_options[] = {
    {"PULSAR_URL", MINION_OPT_STRING, PULSAR_DEFAULT_URL, OFF(url), 0,
     "The broker's HTTP service, http://host:port or https://host:port: the "
     "WebSocket consumer, admin and REST producer APIs."},
    {"PULSAR_TOPIC", MINION_OPT_STRING, NULL, OFF(topic), MINION_OPT_REQUIRED,
     "Topic the params are read from: persistent://tenant/namespace/topic, "
     "or a topic name in public/default."},
    {"PULSAR_SUBSCRIPTION", MINION_OPT_STRING, PULSAR_DEFAULT_SUBSCRIPTION,
     OFF(subscription), 0,
     "Shared subscription the minions consume through; created at the "
     "earliest message when missing."},
    {"PULSAR_TOKEN", MINION_OPT_STRING, NULL, OFF(token), MINION_OPT_SECRET,
     "Bearer token (JWT) sent to the broker; unset: none."},
    {NULL}};

/* ------------------------------------------------------------------------ */
/* What this minion holds                                                    */

void plist_append(struct plist *l, struct ptask *t)
{
    DQUEUE_APPEND(*l, t);
}

void plist_remove(struct plist *l, struct ptask *t)
{
    DQUEUE_REMOVE(*l, t);
}

void ptask_free(struct ptask *t)
{
    if (!t) {
        return;
    }
    free(t->id);
    free(t->task);
    free(t->param);
    free(t);
}

static void plist_clear(struct plist *l)
{
    struct ptask *t;

    while ((t = l->head)) {
        plist_remove(l, t);
        ptask_free(t);
    }
}

double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------ */
/* Engine hooks                                                              */

static void pulsar_request(struct minion_instance *inst, unsigned n)
{
    struct pulsar_engine *e = minion_instance_data(inst);

    if (e->paused) {
        return;
    }
    e->credit += n;
    reader_pump(e);
}

static void pulsar_finish(struct minion_instance *inst, void *handle,
                          enum minion_verdict verdict,
                          const struct minion_report *rep)
{
    struct pulsar_engine *e = minion_instance_data(inst);
    struct ptask *t = handle;

    plist_remove(&e->running, t);
    if (t->gen == 0 && e->old_running > 0) {
        e->old_running--;
    }
    switch (verdict) {
    case MINION_VERDICT_ACK: conn_send(e, pframe_ack(t->id)); break;
    case MINION_VERDICT_RETRY:
        if (rep->size > offsetof(struct minion_report, retry_delay) &&
            rep->retry_delay > 0) {
            delay_add(e, t, rep->retry_delay); /* nacked when due */
            return;
        }
        /* The broker redelivers it (to any consumer) with its
         * redeliveryCount one higher: the next attempt's number. */
        conn_send(e, pframe_nack(t->id));
        break;
    case MINION_VERDICT_DEAD:
        dlq_publish(e, t, rep); /* acks it once the copy is stored */
        return;
    case MINION_VERDICT_RELEASE:
        if (!e->ctx->dry_run && rep->attempt > 0) {
            /* Put back uncounted; else it stays unacked and the broker
             * gives it to another consumer when this connection closes
             * (README.md: what that does to its count). */
            dlq_requeue(e, t, rep->param, rep->param_len, rep->attempt - 1);
            return;
        }
        break;
    }
    ptask_free(t);
    if (e->stopping) {
        engine_maybe_stopped(e);
    }
}

static void pulsar_pause(struct minion_instance *inst)
{
    reader_pause(minion_instance_data(inst));
}

static void pulsar_queue(struct minion_instance *inst, struct minion_queue *out)
{
    queue_get(minion_instance_data(inst), out);
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */

static void engine_free(struct pulsar_engine *e)
{
    if (!e) {
        return;
    }
    phttp_target_fini(&e->http);
    free(e->base_url);
    free(e->ws_url);
    pulsar_topic_fini(&e->topic);
    pulsar_topic_fini(&e->dlq);
    free(e);
}

/* The consumer's URL: pull mode (permits), a receiver queue no larger than
 * the concurrency (the proxy prefetches that many for this consumer), an
 * explicit ackTimeoutMillis=0 (old brokers put a 30 s ack timeout on a
 * consumer that sets none: long tasks would run twice) and an immediate
 * redelivery after a negative ack (a failed param runs again at once, as
 * with the other engines). Returns: a new string, or NULL. */
static char *consumer_url(const struct pulsar_engine *e)
{
    unsigned queue = e->ctx->concurrency < RECEIVER_QUEUE_MAX
                         ? e->ctx->concurrency
                         : RECEIVER_QUEUE_MAX;
    char *sub = pulsar_escape(e->subscription);
    char *name = pulsar_escape(e->ctx->minion_id);
    char *url = NULL;
    int n;

    if (sub && name) {
        n = snprintf(NULL, 0,
                     "%s/ws/v2/consumer/%s/%s?subscriptionType=Shared"
                     "&pullMode=true&receiverQueueSize=%u&consumerName=%s"
                     "&ackTimeoutMillis=0&negativeAckRedeliveryDelay=0",
                     e->base_url, e->topic.path, sub, queue, name);
        url = malloc((size_t)n + 1);
        if (url) {
            snprintf(url, (size_t)n + 1,
                     "%s/ws/v2/consumer/%s/%s?subscriptionType=Shared"
                     "&pullMode=true&receiverQueueSize=%u&consumerName=%s"
                     "&ackTimeoutMillis=0&negativeAckRedeliveryDelay=0",
                     e->base_url, e->topic.path, sub, queue, name);
        }
    }
    free(sub);
    free(name);
    return url;
}

static int pulsar_init(struct minion_instance *inst, void *conf_)
{
    struct pulsar_conf *conf = conf_;
    const struct minion_context *ctx = minion_instance_context(inst);
    struct pulsar_engine *e;
    char err[512];
    int rc;

    if (!conf->subscription || !conf->subscription[0]) {
        minion_set_error(inst, "PULSAR_SUBSCRIPTION must not be empty");
        return -EINVAL;
    }
    if (!ctx->minion_id || !ctx->minion_id[0]) {
        minion_set_error(inst, "MINION_ID must not be empty: it names the "
                               "consumer");
        return -EINVAL;
    }
    if (ctx->dry_run) {
        /* Pulsar's WebSocket API cannot show a subscription's next
         * messages without taking them, and a message taken and given back
         * may count as a delivery: a dry run would spend attempts. */
        minion_set_error(inst, "a dry run is not supported by the pulsar "
                               "engine: a message can only be seen by "
                               "taking it from the subscription");
        return -EINVAL;
    }
    e = calloc(1, sizeof(*e));
    if (!e) {
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    e->inst = inst;
    e->conf = conf;
    e->ctx = ctx;
    e->subscription = conf->subscription;
    e->token = conf->token && conf->token[0] ? conf->token : NULL;
    rc = pulsar_url_base(conf->url, &e->base_url, err, sizeof(err));
    if (rc == 0) {
        rc = pulsar_topic_parse(conf->topic, &e->topic, err, sizeof(err));
    }
    if (rc < 0) {
        minion_set_error(inst, "%s", err);
        engine_free(e);
        return rc;
    }
    if (pulsar_topic_dlq(&e->topic, e->subscription, &e->dlq) < 0 ||
        !(e->ws_url = consumer_url(e))) {
        minion_set_error(inst, "out of memory");
        engine_free(e);
        return -ENOMEM;
    }
    rc = phttp_target_init(&e->http, e->base_url, e->token, err, sizeof(err));
    if (rc < 0) {
        minion_set_error(inst, "%s", err);
        engine_free(e);
        return rc;
    }
    minion_instance_set_data(inst, e);
    return 0;
}

/* The start-up check, blocking (nothing runs on the loop yet): the broker
 * answers, the token is taken, the topic exists, and the subscription does
 * too, made at the earliest message when missing, so that params
 * published before the first minion started are run (a subscription that a
 * consumer creates starts at the latest message). */
static int probe(struct pulsar_engine *e)
{
    /* MessageId.earliest, as the admin API reads a position. */
    static const char earliest[] =
        "{\"ledgerId\":-1,\"entryId\":-1,\"partitionIndex\":-1}";
    char *sub = pulsar_escape(e->subscription);
    char *suffix = sub ? malloc(strlen(sub) + 16) : NULL;
    char *path = NULL, *reply = NULL, why[512];
    int status, ret = -EIO;

    if (suffix) {
        sprintf(suffix, "/subscription/%s", sub);
        path = pulsar_admin_url("", &e->topic, suffix);
    }
    free(sub);
    free(suffix);
    if (!path) {
        minion_set_error(e->inst, "out of memory");
        return -ENOMEM;
    }
    status = phttp_run(&e->http, "PUT", path, earliest, PROBE_TIMEOUT_S, &reply,
                       why, sizeof(why));
    free(path);
    if (status == 0) {
        minion_set_error(e->inst, "cannot reach the Pulsar broker at %s: %s",
                         e->base_url, why);
    } else if (status == 409 || (status >= 200 && status < 300)) {
        if (status != 409) {
            minion_log(e->inst, MINION_LOG_INFO,
                       "created subscription %s on %s at the earliest "
                       "message",
                       e->subscription, e->topic.full);
        }
        ret = 0;
    } else {
        pulsar_http_why(status, reply ? reply : "", reply ? strlen(reply) : 0,
                        why, sizeof(why));
        if (status == 404) {
            minion_set_error(e->inst,
                             "%s: topic %s not found (or its namespace): %s",
                             e->base_url, e->topic.full, why);
        } else {
            minion_set_error(e->inst, "%s: subscription %s on %s: %s",
                             e->base_url, e->subscription, e->topic.full, why);
        }
    }
    free(reply);
    return ret;
}

static int pulsar_start(struct minion_instance *inst, struct event_base *base)
{
    struct pulsar_engine *e = minion_instance_data(inst);

    e->base = base;
    if (probe(e) < 0) {
        return -EIO;
    }
    if (conn_init(e) < 0 || queue_init(e) < 0 || delay_init(e) < 0) {
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    conn_open(e);
    return 0;
}

static void stopped(struct pulsar_engine *e)
{
    if (!e->stop_ev) {
        return;
    }
    event_free(e->stop_ev);
    e->stop_ev = NULL;
    minion_instance_stopped(e->inst);
}

void engine_maybe_stopped(struct pulsar_engine *e)
{
    if (!e->stop_ev || !dlq_idle(e) || !conn_idle(e)) {
        return; /* called again as each of them ends */
    }
    if (e->ws) {
        conn_close(e); /* closed() calls here again */
        return;
    }
    stopped(e);
}

static void on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct pulsar_engine *e = arg;

    minion_log(e->inst, MINION_LOG_WARN,
               "%s: %zu ack%s and %zu dead letter%s not sent within %ds; "
               "their params will run again",
               e->base_url, e->out.n, e->out.n == 1 ? "" : "s", e->n_dead,
               e->n_dead == 1 ? "" : "s", STOP_TIMEOUT_S);
    stopped(e);
}

static int pulsar_stop(struct minion_instance *inst)
{
    struct pulsar_engine *e = minion_instance_data(inst);
    struct timeval limit = {STOP_TIMEOUT_S, 0};
    struct ptask *t;

    reader_pause(e);
    delay_forget(e);
    e->stopping = 1;
    /* Messages that came against permits and never started: put back
     * uncounted too. */
    while (!e->ctx->dry_run && (t = e->held.head)) {
        plist_remove(&e->held, t);
        dlq_requeue(e, t, t->param, t->len,
                    t->attempt > 0 ? t->attempt - 1 : 0);
    }
    if (e->drain_ev) {
        evtimer_del(e->drain_ev);
    }
    if (!e->ws && conn_idle(e) && dlq_idle(e)) {
        return 0;
    }
    e->stop_ev = evtimer_new(e->base, on_stop_timeout, e);
    if (!e->stop_ev) {
        return 0;
    }
    evtimer_add(e->stop_ev, &limit);
    /* Acks waiting for a lost connection bring it back first. */
    if (!e->ws && !conn_idle(e)) {
        conn_open(e);
    }
    engine_maybe_stopped(e);
    return 1;
}

static void pulsar_destroy(struct minion_instance *inst)
{
    struct pulsar_engine *e = minion_instance_data(inst);

    if (!e) {
        return;
    }
    e->dying = 1;
    /* Requests and the connection first: nothing calls back after. */
    phttp_target_fini(&e->http);
    dlq_fini(e);
    conn_fini(e);
    queue_fini(e);
    delay_fini(e);
    if (e->stop_ev) {
        event_free(e->stop_ev);
    }
    plist_clear(&e->held);
    plist_clear(&e->running);
    engine_free(e);
}

static const struct minion_engine_ops pulsar_ops = {
    MINION_OPS_HEADER(struct minion_engine_ops),
    .request = pulsar_request,
    .finish = pulsar_finish,
    .pause = pulsar_pause,
    .queue = pulsar_queue,
};

const struct minion_plugin minion_plugin_pulsar = {
    MINION_PLUGIN_HEADER(MINION_KIND_ENGINE),
    .name = "pulsar",
    .summary = "Params from an Apache Pulsar topic, Shared subscription, "
               "over HTTP and WebSocket",
    .conf_size = sizeof(struct pulsar_conf),
    .options = pulsar_options,
    .init = pulsar_init,
    .start = pulsar_start,
    .stop = pulsar_stop,
    .destroy = pulsar_destroy,
    .engine = &pulsar_ops,
};
