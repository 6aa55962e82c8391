/* SPDX-License-Identifier: MIT */
/* Keeping work alive across minions.
 * - Claim: every REDIS_CLAIM_IDLE_MS/2, XAUTOCLAIM (through a script that
 *   also reads each entry's delivery count) the entries idle longer than
 *   REDIS_CLAIM_IDLE_MS in any consumer's pending list: their minion died.
 *   A claimed entry still waiting out a retry delay is held here, not run
 *   before it is due (delay.c); attempts leave out released runs.
 * - Refresh: every REDIS_CLAIM_IDLE_MS/3, reset the idle time of what this
 *   minion holds, so a long task is never claimed by another while it runs,
 *   and publish the heartbeat (on Redis's clock).
 * - Sweep: every so often, remove the consumers whose heartbeat is long
 *   stale and that hold nothing, a bounded pass at a time, so a fleet with
 *   ever new names (Kubernetes pods) does not grow the group forever. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "engine.h"
#include "timeval.h"

/* What a claim tick may take beyond the free slots: max(CLAIM_PER_SLOT ×
 * concurrency, CLAIM_MIN), a batch for every slot and no hoard of slow
 * tasks (the read-ahead's bound is made for microsecond ones). */
#define CLAIM_PER_SLOT 2
#define CLAIM_MIN 16
/* Ids per refresh script call: bounds the Lua stack and the command. */
#define REFRESH_CHUNK 256
/* A consumer is removed once its heartbeat is this many claim idle times
 * old, and at least SWEEP_STALE_MIN_MS: long after its entries would have
 * been claimed, long enough to look at a dead minion in XINFO CONSUMERS. */
#define SWEEP_STALE_FACTOR 10
#define SWEEP_STALE_MIN_MS 3600000LL
/* A sweep starts every stale bound / SWEEP_EVERY_DIV. */
#define SWEEP_EVERY_DIV 4
/* Heartbeat fields per sweep pass (an HSCAN COUNT): what one script call
 * may look at, so a group of thousands of consumers never stalls Redis. */
#define SWEEP_CHUNK "100"

static void on_claim(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
    const redisReply *reply = rep;
    const redisReply *rows;
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
    if (claim_reply_parse(reply, &cursor, &rows) < 0) {
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
    r->claim_budget =
        taken < r->claim_budget ? r->claim_budget - (unsigned)taken : 0;
    if (taken) {
        minion_log(r->inst, MINION_LOG_INFO,
                   "claimed %zu entr%s idle for over %s ms", taken,
                   taken == 1 ? "y" : "ies", r->claim_idle);
    }
    engine_pump(r);
    /* Not at the end of the pending list yet: go on while there is room. */
    if (strcmp(r->claim_cursor, "0-0") != 0) {
        claims_run(r);
    }
}

void claims_run(struct redis_engine *r)
{
    char count[16];
    const char *argv[SCRIPT_HEAD_ARGS + 3];
    unsigned want;

    if (r->ctx->dry_run || r->paused || r->drained || r->dying ||
        r->claim_busy || !r->live || !rconn_is_ready(r->writer_conn)) {
        return;
    }
    want = r->credit > r->ready.n ? r->credit - (unsigned)r->ready.n : 0;
    if (want < r->claim_budget) {
        want = r->claim_budget;
    }
    if (want == 0) {
        return;
    }
    snprintf(count, sizeof(count), "%u", want);
    script_head(r, script_claim, argv);
    argv[SCRIPT_HEAD_ARGS] = r->claim_idle;
    argv[SCRIPT_HEAD_ARGS + 1] = r->claim_cursor;
    argv[SCRIPT_HEAD_ARGS + 2] = count;
    if (rconn_send(r->writer_conn, on_claim, r, SCRIPT_HEAD_ARGS + 3, argv,
                   NULL) == 0) {
        r->claim_busy = 1;
    }
}

static void on_claim_tick(evutil_socket_t fd, short what, void *arg)
{
    struct redis_engine *r = arg;

    /* A busy minion's slots are refilled from its read-ahead, so it would
     * never have room to claim: each tick may claim a batch for its slots
     * beyond what they need now (claimed entries run before what was read
     * ahead). Otherwise, on a busy fleet, a crashed or stopped minion's
     * entries would wait for the end of the backlog, and hold back
     * trimming as long. */
    r->claim_budget = per_slot_bound(r, CLAIM_PER_SLOT, CLAIM_MIN);
    claims_run(r);
}

/* ------------------------------------------------------------------------ */
/* Refresh and heartbeat                                                     */

static void on_refresh(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
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
        if ((t = rlist_find(&r->waiting, id)) != NULL) {
            /* Its delay is over and another minion took it, as it may. */
            rlist_remove(&r->waiting, t);
            free(t);
            minion_log(r->inst, MINION_LOG_DEBUG,
                       "task %s was taken by %s once its delay was over", id,
                       owner[0] ? owner : "(acked)");
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
static void refresh_send(struct redis_engine *r, const char **argv, size_t n)
{
    if (rconn_send(r->writer_conn, on_refresh, r, (int)(SCRIPT_HEAD_ARGS + n),
                   argv, NULL) == 0) {
        r->refresh_busy++;
    }
}

static void refresh(struct redis_engine *r)
{
    const char **argv;
    struct rlist *lists[] = {&r->running, &r->ready, &r->waiting};
    size_t n = 0;

    if (r->refresh_busy || !rconn_is_ready(r->writer_conn) ||
        r->running.n + r->ready.n + r->waiting.n == 0) {
        return;
    }
    argv = malloc((SCRIPT_HEAD_ARGS + REFRESH_CHUNK) * sizeof(*argv));
    if (!argv) {
        return;
    }
    script_head(r, script_refresh, argv);
    for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
        for (struct rtask *t = lists[l]->head; t; t = t->next) {
            if (t->foreign) {
                continue;
            }
            argv[SCRIPT_HEAD_ARGS + n++] = t->id;
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

void claims_beat(struct redis_engine *r, const char *state)
{
    char started[24], inflight[24], ok[24], failed[24], dead[24], conc[16];
    struct minion_stats counts = MINION_STATS_INIT;
    const char *argv[] = {"EVAL",
                          script_beat,
                          "2",
                          r->keys.minions,
                          r->stats_key,
                          r->me,
                          STREAMS_STATS_TTL_MS,
                          STREAMS_FIELD_STATE,
                          state,
                          STREAMS_FIELD_NODENAME,
                          r->ctx->nodename ? r->ctx->nodename : "",
                          STREAMS_FIELD_CONCURRENCY,
                          conc,
                          STREAMS_FIELD_IN_FLIGHT,
                          inflight,
                          STREAMS_FIELD_OK,
                          ok,
                          STREAMS_FIELD_FAILED,
                          failed,
                          STREAMS_FIELD_DEAD,
                          dead,
                          STREAMS_FIELD_STARTED,
                          started};
    char *buf = NULL;
    int len;

    if (r->ctx->dry_run) {
        return; /* a dry run is no consumer: nothing may look alive */
    }
    snprintf(started, sizeof(started), "%lld",
             (long long)(r->started * 1000.0));
    snprintf(inflight, sizeof(inflight), "%zu", r->running.n);
    minion_stats_get(r->inst, &counts);
    snprintf(ok, sizeof(ok), "%llu", counts.ok);
    snprintf(failed, sizeof(failed), "%llu", counts.failed);
    snprintf(dead, sizeof(dead), "%llu", counts.dead);
    snprintf(conc, sizeof(conc), "%u", r->ctx->concurrency);
    len = redisFormatCommandArgv(&buf, (int)(sizeof(argv) / sizeof(argv[0])),
                                 argv, NULL);
    writer_push(r, buf, len, WRITE_BEAT);
}

static void on_refresh_tick(evutil_socket_t fd, short what, void *arg)
{
    struct redis_engine *r = arg;

    refresh(r);
    /* A beat queued while Redis is away would only be replayed stale. */
    if (rconn_is_ready(r->writer_conn)) {
        claims_beat(r, r->paused ? "stopping" : "running");
    }
}

/* ------------------------------------------------------------------------ */
/* Sweep of dead consumers                                                   */

static void sweep_pass(struct redis_engine *r);

static void on_sweep(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
    const redisReply *reply = rep;
    const redisReply *gone;

    r->sweep_busy = 0;
    if (!rconn_reply_usable(ac, reply) || r->dying) {
        return; /* the sweep goes on from its cursor once back */
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
        minion_log(r->inst, MINION_LOG_WARN,
                   "removing dead consumers: %s; tried again later",
                   reply->type == REDIS_REPLY_ERROR ? reply->str
                                                    : "unexpected reply");
        r->sweep_due = 0;
        return;
    }
    gone = reply->element[1];
    r->sweep_passes++;
    r->sweep_removed += gone->elements;
    for (size_t i = 0; i < gone->elements; i++) {
        if (gone->element[i]->type == REDIS_REPLY_STRING) {
            minion_log(r->inst, MINION_LOG_DEBUG,
                       "removed consumer %s: heartbeat over %s ms old, "
                       "nothing pending",
                       gone->element[i]->str, r->sweep_stale);
        }
    }
    snprintf(r->sweep_cursor, sizeof(r->sweep_cursor), "%s",
             reply->element[0]->str);
    if (strcmp(r->sweep_cursor, "0") != 0) {
        sweep_pass(r); /* the next chunk, behind what else is queued */
        return;
    }
    minion_log(r->inst, r->sweep_removed ? MINION_LOG_INFO : MINION_LOG_DEBUG,
               "removed %zu dead consumer%s from group %s (heartbeat over %s "
               "ms old, nothing pending; %zu pass%s)",
               r->sweep_removed, r->sweep_removed == 1 ? "" : "s", r->group,
               r->sweep_stale, r->sweep_passes,
               r->sweep_passes == 1 ? "" : "es");
    r->sweep_due = 0;
}

static void sweep_pass(struct redis_engine *r)
{
    const char *argv[] = {"EVAL",          script_sweep, "2",   r->keys.stream,
                          r->keys.minions, r->group,     r->me, r->sweep_stale,
                          r->sweep_cursor, SWEEP_CHUNK};

    if (r->ctx->dry_run || !r->sweep_due || r->sweep_busy || r->paused ||
        r->drained || r->dying || !r->live || !rconn_is_ready(r->writer_conn)) {
        return;
    }
    if (rconn_send(r->writer_conn, on_sweep, r, 10, argv, NULL) == 0) {
        r->sweep_busy = 1;
    }
}

void claims_sweep(struct redis_engine *r)
{
    sweep_pass(r);
}

static void on_sweep_tick(evutil_socket_t fd, short what, void *arg)
{
    struct redis_engine *r = arg;

    if (!r->sweep_due) {
        r->sweep_due = 1;
        r->sweep_removed = r->sweep_passes = 0;
        snprintf(r->sweep_cursor, sizeof(r->sweep_cursor), "0");
    }
    sweep_pass(r);
}

/* ------------------------------------------------------------------------ */

int claims_start(struct redis_engine *r)
{
    long long idle = r->conf->claim_idle_ms;
    long long stale = idle * SWEEP_STALE_FACTOR;
    struct timeval claim = timeval_of_ms(idle / 2),
                   fresh = timeval_of_ms(idle / 3), sweep;

    if (stale < SWEEP_STALE_MIN_MS) {
        stale = SWEEP_STALE_MIN_MS;
    }
    sweep = timeval_of_ms(stale / SWEEP_EVERY_DIV);
    snprintf(r->sweep_stale, sizeof(r->sweep_stale), "%lld", stale);
    snprintf(r->claim_cursor, sizeof(r->claim_cursor), "0-0");
    /* The first sweep runs as soon as the minion reads live. */
    snprintf(r->sweep_cursor, sizeof(r->sweep_cursor), "0");
    r->sweep_due = 1;
    r->claim_ev = event_new(r->base, -1, EV_PERSIST, on_claim_tick, r);
    r->refresh_ev = event_new(r->base, -1, EV_PERSIST, on_refresh_tick, r);
    r->sweep_ev = event_new(r->base, -1, EV_PERSIST, on_sweep_tick, r);
    if (!r->claim_ev || !r->refresh_ev || !r->sweep_ev) {
        return -ENOMEM;
    }
    evtimer_add(r->claim_ev, &claim);
    evtimer_add(r->refresh_ev, &fresh);
    evtimer_add(r->sweep_ev, &sweep);
    return 0;
}

void claims_pause(struct redis_engine *r)
{
    if (r->claim_ev) {
        evtimer_del(r->claim_ev);
    }
    if (r->sweep_ev) {
        evtimer_del(r->sweep_ev);
    }
}

void claims_stop(struct redis_engine *r)
{
    claims_pause(r);
    if (r->refresh_ev) {
        evtimer_del(r->refresh_ev);
    }
}

void claims_fini(struct redis_engine *r)
{
    if (r->claim_ev) {
        event_free(r->claim_ev);
    }
    if (r->refresh_ev) {
        event_free(r->refresh_ev);
    }
    if (r->sweep_ev) {
        event_free(r->sweep_ev);
    }
    r->claim_ev = r->refresh_ev = r->sweep_ev = NULL;
}
