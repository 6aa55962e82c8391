/* SPDX-License-Identifier: MIT */
/* The consumer connection: one WebSocket to the broker (ws.h), made again
 * with backoff whenever it is lost, for as long as the minion runs. Acks
 * and negative acks of tasks that finish while it is down wait in an
 * outbox and go out first on the next connection: Pulsar takes an ack on
 * any connection of the same subscription. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "engine.h"
#include "grow.h"
#include "ws.h"
#include "timeval.h"

/* Reconnection backoff: first wait, then doubled up to the cap. */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
/* The broker closes a session with no frame for 5 minutes (and redelivers
 * what it held: a long task would run twice): ping well within that. */
#define PING_EVERY_S 30.0
#define PONG_TIMEOUT_S 15.0
#define HANDSHAKE_TIMEOUT_S 10.0

static void on_open(struct ws_conn *c, void *arg);
static void on_message(struct ws_conn *c, const char *data, size_t len,
                       int binary, void *arg);
static void on_closed(struct ws_conn *c, int http_status, int close_code,
                      const char *why, void *arg);

static const struct ws_ops consumer_ops = {on_open, on_message, on_closed};

static void connect_now(struct pulsar_engine *e)
{
    struct ws_options o = {0};
    char err[256];

    o.url = e->ws_url;
    o.bearer = e->token;
    o.handshake_timeout_s = HANDSHAKE_TIMEOUT_S;
    o.ping_every_s = PING_EVERY_S;
    o.pong_timeout_s = PONG_TIMEOUT_S;
    e->gen++;
    e->ws = ws_connect(e->base, &o, &consumer_ops, e, err, sizeof(err));
    if (!e->ws) {
        /* Out of memory: try again later rather than give up. */
        struct timeval tv = {1, 0};
        minion_log(e->inst, MINION_LOG_WARN, "%s: %s; retrying", e->base_url,
                   err);
        evtimer_add(e->retry_ev, &tv);
    }
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct pulsar_engine *e = arg;

    /* A stopping minion comes back only to send what waits. */
    if (!e->ws && !e->dying && (!e->stopping || !conn_idle(e))) {
        connect_now(e);
    }
}

static void schedule_retry(struct pulsar_engine *e)
{
    struct timeval tv;

    e->backoff_ms = e->backoff_ms ? e->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (e->backoff_ms > BACKOFF_MAX_MS) {
        e->backoff_ms = BACKOFF_MAX_MS;
    }
    tv = timeval_of_ms(e->backoff_ms);
    evtimer_add(e->retry_ev, &tv);
}

/* Send what waited for the connection, oldest first. */
static void flush_outbox(struct pulsar_engine *e)
{
    struct outbox *o = &e->out;
    size_t sent = 0;

    while (sent < o->n && e->open) {
        char *f = o->frames[sent];
        if (ws_send_text(e->ws, f, strlen(f)) < 0) {
            break;
        }
        free(f);
        sent++;
    }
    if (sent > 0) { /* frames is NULL while nothing was ever queued */
        memmove(o->frames, o->frames + sent,
                (o->n - sent) * sizeof(*o->frames));
        o->n -= sent;
    }
}

static void on_open(struct ws_conn *c, void *arg)
{
    struct pulsar_engine *e = arg;

    e->open = 1;
    e->backoff_ms = 0;
    if (!e->ever_open) {
        minion_log(e->inst, MINION_LOG_INFO,
                   "consuming %s as %s in subscription %s (Shared) on %s",
                   e->topic.full, e->ctx->minion_id, e->subscription,
                   e->base_url);
    } else if (e->outage) {
        minion_log(e->inst, MINION_LOG_INFO,
                   "reconnected to %s; sending %zu ack%s that waited",
                   e->base_url, e->out.n, e->out.n == 1 ? "" : "s");
    }
    e->ever_open = 1;
    e->outage = 0;
    /* Acks first: a message acked here must not be dispatched again. */
    flush_outbox(e);
    reader_on_open(e);
    if (e->stopping) {
        engine_maybe_stopped(e);
    }
}

static void on_message(struct ws_conn *c, const char *data, size_t len,
                       int binary, void *arg)
{
    reader_on_message(arg, data, len);
}

/* A refusal on the very first connection is a setting to fix (a token the
 * admin API took but the WebSocket service does not, a subscription held
 * with another type, a broker without its WebSocket service): say so and
 * end with exit status 2, as at start-up. Later, the same refusal is an
 * outage (a broker restarting, a topic moving): retry. */
static int refusal_is_fatal(const struct pulsar_engine *e, int http_status)
{
    return !e->ever_open &&
           (http_status == 400 || http_status == 401 || http_status == 403 ||
            http_status == 404 || http_status == 405 || http_status == 409);
}

static void on_closed(struct ws_conn *c, int http_status, int close_code,
                      const char *why, void *arg)
{
    struct pulsar_engine *e = arg;
    int was_open = e->open;

    ws_free(c);
    e->ws = NULL;
    e->open = 0;
    e->closing = 0;
    e->permits = 0;
    reader_on_down(e);
    if (e->dying) {
        return;
    }
    if (e->stopping) {
        if (!conn_idle(e)) {
            schedule_retry(e);
        }
        engine_maybe_stopped(e);
        return;
    }
    if (refusal_is_fatal(e, http_status)) {
        const char *hint = "";
        if (http_status == 404) {
            hint = " (is webSocketServiceEnabled=true on the broker?)";
        } else if (http_status == 409) {
            hint = " (the subscription is held by a consumer of another "
                   "type than Shared)";
        }
        minion_instance_fail_config(
            e->inst, "cannot subscribe to %s as %s on %s: %s%s", e->topic.full,
            e->subscription, e->base_url, why, hint);
        return;
    }
    if (was_open) {
        minion_log(e->inst, e->outage ? MINION_LOG_DEBUG : MINION_LOG_WARN,
                   "connection to %s lost (%s, close code %d); reconnecting; "
                   "tasks keep running, their acks wait",
                   e->base_url, why, close_code);
    } else {
        minion_log(e->inst, e->outage ? MINION_LOG_DEBUG : MINION_LOG_WARN,
                   "cannot connect to %s: %s; retrying", e->base_url, why);
    }
    e->outage = 1;
    schedule_retry(e);
}

int conn_init(struct pulsar_engine *e)
{
    e->retry_ev = evtimer_new(e->base, on_retry, e);
    return e->retry_ev ? 0 : -ENOMEM;
}

void conn_open(struct pulsar_engine *e)
{
    if (!e->ws) {
        connect_now(e);
    }
}

int conn_send_now(struct pulsar_engine *e, const char *frame)
{
    if (!e->open || !frame) {
        return -ENOTCONN;
    }
    return ws_send_text(e->ws, frame, strlen(frame));
}

void conn_send(struct pulsar_engine *e, char *frame)
{
    struct outbox *o = &e->out;

    if (!frame) {
        minion_log(e->inst, MINION_LOG_ERROR,
                   "out of memory: an ack is lost; its param will run again");
        return;
    }
    if (o->n == 0 && conn_send_now(e, frame) == 0) {
        free(frame);
        return;
    }
    if (grow(&o->frames, &o->cap, o->n + 1, sizeof(*o->frames), 16) < 0) {
        minion_log(e->inst, MINION_LOG_ERROR,
                   "out of memory: an ack is lost; its param will run again");
        free(frame);
        return;
    }
    o->frames[o->n++] = frame;
    flush_outbox(e);
}

int conn_idle(const struct pulsar_engine *e)
{
    return e->out.n == 0;
}

void conn_close(struct pulsar_engine *e)
{
    evtimer_del(e->retry_ev);
    if (e->ws && !e->closing) {
        e->closing = 1;
        ws_close(e->ws, 1000, "minion stopping");
    }
}

void conn_fini(struct pulsar_engine *e)
{
    ws_free(e->ws);
    e->ws = NULL;
    e->open = 0;
    if (e->retry_ev) {
        event_free(e->retry_ev);
        e->retry_ev = NULL;
    }
    for (size_t i = 0; i < e->out.n; i++) {
        free(e->out.frames[i]);
    }
    free(e->out.frames);
    memset(&e->out, 0, sizeof(e->out));
}
