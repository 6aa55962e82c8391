/* SPDX-License-Identifier: MIT */
/* The subscription's figures, from the admin API's topic stats
 * (GET /admin/v2/persistent/<t>/<ns>/<topic>/stats), fetched in the
 * background on the loop (http.c), one fetch at a time and at most
 * once a second: the core's queue() hook and its progress line only ever
 * copy what was last fetched. The same figures tell a draining minion
 * (MINION_EXIT_WHEN_EMPTY) when the subscription is empty.
 *
 * In Pulsar, msgBacklog counts every message of the subscription not yet
 * acked, delivered or not; unackedMessages, those delivered and not acked
 * (summed over its consumers). So lag (not delivered yet) is their
 * difference, and pending is unackedMessages. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <event2/event.h>

#include "engine.h"

/* Figures this old are fetched again when the core asks. */
#define REFRESH_S 1.0
/* A draining minion that is idle looks this often. */
#define DRAIN_EVERY_MS 300
/* ...once no message came for this long. */
#define DRAIN_QUIET_S 0.2
#define STATS_TIMEOUT_S 5.0

static int locally_idle(const struct pulsar_engine *e)
{
    return e->open && e->running.n == 0 && e->held.n == 0 && e->n_dead == 0 &&
           conn_idle(e);
}

/* The subscription's numbers in a stats reply. Returns 0, or -ENOENT when
 * the topic has no such subscription, -EPROTO. */
static int read_stats(struct pulsar_engine *e, const char *body, size_t len,
                      long long *backlog, long long *unacked)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *subs, *sub, *b, *u;
    int rc = -EPROTO;

    subs =
        root ? cJSON_GetObjectItemCaseSensitive(root, "subscriptions") : NULL;
    if (cJSON_IsObject(subs)) {
        rc = -ENOENT;
        sub = cJSON_GetObjectItemCaseSensitive(subs, e->subscription);
        if (cJSON_IsObject(sub)) {
            b = cJSON_GetObjectItemCaseSensitive(sub, "msgBacklog");
            u = cJSON_GetObjectItemCaseSensitive(sub, "unackedMessages");
            *backlog = cJSON_IsNumber(b) ? (long long)b->valuedouble : -1;
            *unacked = cJSON_IsNumber(u) ? (long long)u->valuedouble : -1;
            rc = 0;
        }
    }
    cJSON_Delete(root);
    return rc;
}

static void on_stats(int status, const char *body, size_t len, const char *why,
                     void *arg)
{
    struct pulsar_engine *e = arg;
    long long backlog = -1, unacked = -1;
    char buf[256];

    e->stats_out = 0;
    if (status == 200) {
        e->have_figures = read_stats(e, body, len, &backlog, &unacked) == 0;
        e->backlog = backlog;
        e->unacked = unacked;
    } else {
        /* Said at debug level: asked every second while it lasts. */
        minion_log(e->inst, MINION_LOG_DEBUG, "queue figures: %s",
                   status ? pulsar_http_why(status, body, len, buf, sizeof(buf))
                          : why);
        e->have_figures = 0;
    }
    if (e->ctx->exit_when_empty && !e->drained && !e->paused &&
        e->have_figures && e->backlog == 0 && e->unacked <= 0 &&
        locally_idle(e)) {
        minion_log(e->inst, MINION_LOG_INFO,
                   "%s is drained: subscription %s has no message left",
                   e->topic.full, e->subscription);
        e->drained = 1;
        minion_engine_drained(e->inst);
    }
}

/* Start a fetch unless one is out or the last is younger than @min_age. */
static void fetch(struct pulsar_engine *e, double min_age)
{
    double now = mono_now();
    char *path;

    if (e->stats_out || e->stopping || e->dying ||
        (e->stats_sent > 0 && now - e->stats_sent < min_age)) {
        return;
    }
    /* Precise: the cheap estimate may not say 0 when the backlog is. */
    path = pulsar_admin_url("", &e->topic, "/stats?getPreciseBacklog=true");
    if (path && phttp_start(e->base, &e->http, "GET", path, NULL,
                            STATS_TIMEOUT_S, on_stats, e)) {
        e->stats_out = 1;
        e->stats_sent = now;
    }
    free(path);
}

void queue_get(struct pulsar_engine *e, struct minion_queue *out)
{
    struct minion_queue q = MINION_QUEUE_INIT;

    fetch(e, REFRESH_S);
    if (!e->have_figures) {
        return; /* the caller's -1s stand */
    }
    if (e->unacked >= 0) {
        q.pending = e->unacked;
    }
    if (e->backlog >= 0) {
        q.lag = e->backlog - (e->unacked > 0 ? e->unacked : 0);
        if (q.lag < 0) {
            q.lag = 0;
        }
    }
    /* The caller's struct may be older and smaller: only what it holds. */
    q.size = out->size;
    memcpy(out, &q, out->size < sizeof(q) ? out->size : sizeof(q));
}

static void on_drain_timer(evutil_socket_t fd, short what, void *arg)
{
    struct pulsar_engine *e = arg;
    struct timeval tv = {0, DRAIN_EVERY_MS * 1000};

    if (e->drained || e->paused || e->stopping || e->dying) {
        return;
    }
    if (locally_idle(e) && mono_now() - e->last_message >= DRAIN_QUIET_S) {
        fetch(e, DRAIN_EVERY_MS / 1000.0);
    }
    evtimer_add(e->drain_ev, &tv);
}

void queue_drain_check(struct pulsar_engine *e)
{
    struct timeval tv = {0, DRAIN_EVERY_MS * 1000};

    if (e->ctx->exit_when_empty && e->drain_ev &&
        !evtimer_pending(e->drain_ev, NULL)) {
        evtimer_add(e->drain_ev, &tv);
    }
}

int queue_init(struct pulsar_engine *e)
{
    if (!e->ctx->exit_when_empty) {
        return 0;
    }
    e->drain_ev = evtimer_new(e->base, on_drain_timer, e);
    if (!e->drain_ev) {
        return -ENOMEM;
    }
    queue_drain_check(e);
    return 0;
}

void queue_fini(struct pulsar_engine *e)
{
    if (e->drain_ev) {
        event_free(e->drain_ev);
        e->drain_ev = NULL;
    }
    /* A fetch out was dropped by phttp_target_fini(), which ran first. */
}
