/* SPDX-License-Identifier: MIT */
/* Keeping work alive across minions.
 * - Claim: every REDIS_CLAIM_IDLE_MS/2, XAUTOCLAIM (through a script that
 *   also reads each entry's delivery count) the entries idle longer than
 *   REDIS_CLAIM_IDLE_MS in any consumer's pending list: their minion died.
 * - Refresh: every REDIS_CLAIM_IDLE_MS/3, reset the idle time of what this
 *   minion holds, so a long task is never claimed by another while it runs,
 *   and publish the heartbeat. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "engine.h"

/* Ids per refresh script call: bounds the Lua stack and the command. */
#define REFRESH_CHUNK 256
/* The per-minion stats hash outlives its minion this long (ms). */
#define STATS_TTL_MS "86400000"

static void on_claim(redisAsyncContext *ac, void *rep, void *priv)
{
    struct rds *r = priv;
    const redisReply *reply = rep;
    const redisReply *rows, *deleted;
    const char *cursor;
    struct take_row row;
    size_t taken = 0;

    r->claim_busy = 0;
    if (!rconn_reply_usable(ac, reply) || r->dying) {
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        /* NOGROUP: the reader recreates the group. */
        minion_log(r->inst, MINION_LOG_WARN, "claiming idle entries: %s",
                   reply->str);
        return;
    }
    if (claim_reply_parse(reply, &cursor, &rows, &deleted) < 0) {
        minion_log(r->inst, MINION_LOG_WARN,
                   "claiming idle entries: unexpected reply");
        snprintf(r->claim_cursor, sizeof(r->claim_cursor), "0-0");
        return;
    }
    snprintf(r->claim_cursor, sizeof(r->claim_cursor), "%s", cursor);
    for (size_t i = 0; i < rows->elements; i++) {
        if (take_row_parse(rows->element[i], &row) < 0) {
            continue;
        }
        if (row.status == TAKE_OK) {
            taken++;
        }
        engine_admit(r, &row);
    }
    if (taken) {
        minion_log(r->inst, MINION_LOG_INFO,
                   "claimed %zu entr%s idle for over %s ms", taken,
                   taken == 1 ? "y" : "ies", r->claim_idle);
    }
    for (size_t i = 0; i < deleted->elements; i++) {
        engine_lost(r, deleted->element[i]->str, 0);
    }
    engine_pump(r);
    /* Not at the end of the pending list yet: go on while there is room. */
    if (strcmp(r->claim_cursor, "0-0") != 0) {
        claims_run(r);
    }
}

void claims_run(struct rds *r)
{
    char count[16];
    const char *argv[] = {"EVAL",        script_claim,    "1",
                          r->stream,     r->group,        r->me,
                          r->claim_idle, r->claim_cursor, count};
    unsigned want;

    if (r->paused || r->drained || r->dying || r->claim_busy || !r->live ||
        !rconn_is_ready(r->cmd)) {
        return;
    }
    want = r->credit > r->ready.n ? r->credit - (unsigned)r->ready.n : 0;
    if (want == 0) {
        return;
    }
    snprintf(count, sizeof(count), "%u", want);
    if (rconn_send(r->cmd, on_claim, r, 9, argv, NULL) == 0) {
        r->claim_busy = 1;
    }
}

static void on_claim_tick(evutil_socket_t fd, short what, void *arg)
{
    claims_run(arg);
}

/* ------------------------------------------------------------------------ */
/* Refresh and heartbeat                                                     */

static void on_refresh(redisAsyncContext *ac, void *rep, void *priv)
{
    struct rds *r = priv;
    const redisReply *reply = rep;

    if (r->refresh_busy) {
        r->refresh_busy--;
    }
    if (!rconn_reply_usable(ac, reply) || r->dying) {
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        minion_log(r->inst, MINION_LOG_WARN, "refreshing entries: %s",
                   reply->type == REDIS_REPLY_ERROR ? reply->str
                                                    : "unexpected reply");
        return;
    }
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const char *id = reply->element[i]->str;
        const char *owner = reply->element[i + 1]->str;
        struct rtask *t;

        if (!id || !owner) {
            continue;
        }
        if ((t = rlist_find(&r->ready, id)) != NULL) {
            /* Not started here yet: leave it to whoever has it now. */
            rlist_remove(&r->ready, t);
            free(t->param);
            free(t);
        } else if ((t = rlist_find(&r->running, id)) != NULL) {
            t->foreign = 1;
        } else {
            continue;
        }
        if (owner[0]) {
            minion_log(r->inst, MINION_LOG_WARN,
                       "task %s was claimed by %s while this minion held it; "
                       "it may run twice",
                       id, owner);
        } else {
            minion_log(r->inst, MINION_LOG_WARN,
                       "task %s is no longer pending (acked elsewhere?)", id);
        }
    }
}

/* Send one refresh call for @n ids. */
static void refresh_send(struct rds *r, const char **argv, size_t n)
{
    if (rconn_send(r->cmd, on_refresh, r, (int)(6 + n), argv, NULL) == 0) {
        r->refresh_busy++;
    }
}

static void refresh(struct rds *r)
{
    const char **argv;
    struct rlist *lists[] = {&r->running, &r->ready};
    size_t n = 0;

    if (r->refresh_busy || !rconn_is_ready(r->cmd) ||
        r->running.n + r->ready.n == 0) {
        return;
    }
    argv = malloc((6 + REFRESH_CHUNK) * sizeof(*argv));
    if (!argv) {
        return;
    }
    argv[0] = "EVAL";
    argv[1] = script_refresh;
    argv[2] = "1";
    argv[3] = r->stream;
    argv[4] = r->group;
    argv[5] = r->me;
    for (size_t l = 0; l < 2; l++) {
        for (struct rtask *t = lists[l]->head; t; t = t->next) {
            if (t->foreign) {
                continue;
            }
            argv[6 + n++] = t->id;
            if (n == REFRESH_CHUNK) {
                refresh_send(r, argv, n);
                n = 0;
            }
        }
    }
    if (n) {
        refresh_send(r, argv, n);
    }
    free(argv);
}

static int push_argv(struct rds *r, int argc, const char **argv)
{
    char *buf = NULL;
    int len = redisFormatCommandArgv(&buf, argc, argv, NULL);

    writer_push(r, buf, len, W_BEAT);
    return len < 0 ? -ENOMEM : 0;
}

void claims_beat(struct rds *r, const char *state)
{
    char now[24], started[24], inflight[24], ok[24], failed[24], dead[24],
        conc[16];
    const char *seen[] = {"HSET", r->minions_key, r->me, now};
    const char *stats[] = {
        "HSET",        r->stats_key,
        "last_seen",   now,
        "state",       state,
        "nodename",    r->ctx->nodename ? r->ctx->nodename : "",
        "concurrency", conc,
        "in_flight",   inflight,
        "ok",          ok,
        "failed",      failed,
        "dead",        dead,
        "started",     started};
    const char *ttl[] = {"PEXPIRE", r->stats_key, STATS_TTL_MS};

    snprintf(now, sizeof(now), "%lld", (long long)(minion_now() * 1000.0));
    snprintf(started, sizeof(started), "%lld",
             (long long)(r->started * 1000.0));
    snprintf(inflight, sizeof(inflight), "%zu", r->running.n);
    snprintf(ok, sizeof(ok), "%llu", r->n_ok);
    snprintf(failed, sizeof(failed), "%llu", r->n_failed);
    snprintf(dead, sizeof(dead), "%llu", r->n_dead);
    snprintf(conc, sizeof(conc), "%u", r->ctx->concurrency);
    push_argv(r, 4, seen);
    push_argv(r, (int)(sizeof(stats) / sizeof(stats[0])), stats);
    push_argv(r, 3, ttl);
}

static void on_refresh_tick(evutil_socket_t fd, short what, void *arg)
{
    struct rds *r = arg;

    refresh(r);
    /* A beat queued while Redis is away would only be replayed stale. */
    if (rconn_is_ready(r->cmd)) {
        claims_beat(r, r->paused ? "stopping" : "running");
    }
}

/* ------------------------------------------------------------------------ */

static struct timeval ms_tv(long long ms)
{
    struct timeval tv;

    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    return tv;
}

int claims_start(struct rds *r)
{
    long long idle = r->conf->claim_idle_ms;
    struct timeval claim = ms_tv(idle / 2), fresh = ms_tv(idle / 3);

    snprintf(r->claim_cursor, sizeof(r->claim_cursor), "0-0");
    r->claim_ev = event_new(r->base, -1, EV_PERSIST, on_claim_tick, r);
    r->refresh_ev = event_new(r->base, -1, EV_PERSIST, on_refresh_tick, r);
    if (!r->claim_ev || !r->refresh_ev) {
        return -ENOMEM;
    }
    evtimer_add(r->claim_ev, &claim);
    evtimer_add(r->refresh_ev, &fresh);
    return 0;
}

void claims_pause(struct rds *r)
{
    if (r->claim_ev) {
        evtimer_del(r->claim_ev);
    }
}

void claims_stop(struct rds *r)
{
    claims_pause(r);
    if (r->refresh_ev) {
        evtimer_del(r->refresh_ev);
    }
}

void claims_fini(struct rds *r)
{
    if (r->claim_ev) {
        event_free(r->claim_ev);
    }
    if (r->refresh_ev) {
        event_free(r->refresh_ev);
    }
    r->claim_ev = r->refresh_ev = NULL;
}
