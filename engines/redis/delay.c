/* SPDX-License-Identifier: MIT */
/* MINION_RETRY_DELAY. A failed param that must wait stays pending in its
 * holder's list, refreshed like a running task so that no claim takes it
 * while its holder lives, and goes into <stream>:delayed:<group>, scored
 * by when it is due (ms on Redis's clock). Once due, whoever has a free
 * slot takes it (script_due: ZRANGEBYSCORE, ZREM, XCLAIM, which counts the
 * delivery): its holder, on a timer armed for its own entries, or any
 * minion with MINION_RETRY_DELAY set, which polls at most once a second
 * while it has room. A dead holder's entry that a claim finds not yet due
 * is held on by the claimer until it is (TAKE_DELAYED). A stop loses
 * nothing: the entry stays pending and in the set, and is taken when due.
 * Without a delay none of this runs: a failed param is taken back at once
 * (writer_retry), as it always was. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "engine.h"
#include "timeval.h"

/* The longest a polling minion with free slots goes without looking for
 * due entries. */
#define DUE_POLL_MS 1000

static int polling(const struct redis_engine *r)
{
    return r->ctx->retry_delay > 0 || r->waiting.n > 0;
}

/* Look for due entries in @ms, unless the timer already fires earlier. */
static void arm(struct redis_engine *r, long long ms)
{
    double at = minion_now() + (double)ms / 1000.0;
    struct timeval tv;

    if (!r->delay_ev || r->paused || r->dying) {
        return;
    }
    if (r->delay_at > 0 && r->delay_at <= at &&
        evtimer_pending(r->delay_ev, NULL)) {
        return;
    }
    tv = timeval_of_ms(ms);
    evtimer_add(r->delay_ev, &tv);
    r->delay_at = at;
}

static void take_due(struct redis_engine *r);

static void on_due(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
    const redisReply *reply = rep;
    const redisReply *rows;
    struct take_row row;
    long long next;

    r->delay_busy = 0;
    if (!rconn_reply_usable(ac, reply) || r->dying) {
        r->delay_wanted = 1; /* asked again once the connection is back */
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
        /* NOGROUP: the reader recreates the group. */
        minion_log(r->inst, MINION_LOG_WARN,
                   "taking failed params whose delay is over: %s; tried "
                   "again in %d ms",
                   reply->type == REDIS_REPLY_ERROR ? reply->str
                                                    : "unexpected reply",
                   DUE_POLL_MS);
        arm(r, DUE_POLL_MS);
        return;
    }
    next = reply->element[0]->integer;
    rows = reply->element[1];
    for (size_t i = rows->elements; i-- > 0;) {
        struct rtask *t;
        if (take_row_parse(rows->element[i], &row) < 0) {
            continue;
        }
        engine_admit(r, &row);
        /* Its time has come: ahead of params read ahead (the rows go in
         * backwards, so they keep their order). */
        if (row.status == TAKE_OK &&
            (t = rlist_find(&r->ready, row.id)) != NULL) {
            rlist_remove(&r->ready, t);
            rlist_prepend(&r->ready, t);
        }
    }
    if (rows->elements > 0) {
        minion_log(r->inst, MINION_LOG_DEBUG,
                   "took %zu failed param%s whose delay is over",
                   rows->elements, rows->elements == 1 ? "" : "s");
    }
    if (next == 0 && r->credit <= r->ready.n) {
        next = DUE_POLL_MS; /* no free slot: at most one squeezed in a poll */
    }
    if (next >= 0) {
        arm(r, polling(r) && next > DUE_POLL_MS ? DUE_POLL_MS : next);
    } else if (polling(r)) {
        arm(r, DUE_POLL_MS);
    }
    engine_pump(r);
}

static void take_due(struct redis_engine *r)
{
    char count[16];
    const char *argv[SCRIPT_HEAD_ARGS + 1];
    unsigned want;

    if (r->paused || r->drained || r->dying || r->ctx->dry_run) {
        return;
    }
    /* Free slots no fetched param waits for. When fetched params wait for
     * every slot, they were read ahead and start soon: one due param may
     * queue behind them, or a busy fleet of short tasks would never take
     * it. */
    want = r->credit > r->ready.n ? r->credit - (unsigned)r->ready.n
                                  : r->ready.n > 0;
    if (r->delay_busy || want == 0 || !r->live ||
        !rconn_is_ready(r->writer_conn)) {
        /* Once a slot frees, or the history is taken, or Redis is back. */
        r->delay_wanted = !r->delay_busy;
        return;
    }
    r->delay_wanted = 0;
    snprintf(count, sizeof(count), "%u", want);
    script_head(r, script_due, argv);
    argv[SCRIPT_HEAD_ARGS] = count;
    if (rconn_send(r->writer_conn, on_due, r, SCRIPT_HEAD_ARGS + 1, argv,
                   NULL) == 0) {
        r->delay_busy = 1;
    } else {
        arm(r, DUE_POLL_MS);
    }
}

static void on_delay_timer(evutil_socket_t fd, short what, void *arg)
{
    struct redis_engine *r = arg;

    r->delay_at = 0;
    take_due(r);
}

void delay_kick(struct redis_engine *r)
{
    if (r->delay_wanted) {
        take_due(r);
    }
}

void delay_park(struct redis_engine *r, struct rtask *t, double seconds)
{
    const char *argv[SCRIPT_HEAD_ARGS + 2];
    char ms_text[24];
    long long ms = (long long)(seconds * 1000.0 + 0.5);
    char *buf = NULL;
    int len;

    if (ms < 1) {
        ms = 1;
    }
    snprintf(ms_text, sizeof(ms_text), "%lld", ms);
    script_head(r, script_delay, argv);
    argv[SCRIPT_HEAD_ARGS] = ms_text;
    argv[SCRIPT_HEAD_ARGS + 1] = t->id;
    len = redisFormatCommandArgv(&buf, SCRIPT_HEAD_ARGS + 2, argv, NULL);
    writer_push_about(r, buf, len, WRITE_DELAY, t->id);
    /* Held and refreshed here until some minion takes it once due. */
    t->foreign = 0;
    free(t->param);
    t->param = NULL;
    rlist_append(&r->waiting, t);
    arm(r, ms);
}

void delay_replied(struct redis_engine *r, const char *id,
                   const redisReply *reply)
{
    struct rtask *t;
    int failed = reply->type == REDIS_REPLY_ERROR;

    if (!failed &&
        !(reply->type == REDIS_REPLY_INTEGER && reply->integer < 0)) {
        return; /* parked: some minion takes it once due */
    }
    if (!id || !(t = rlist_find(&r->waiting, id))) {
        return;
    }
    rlist_remove(&r->waiting, t);
    free(t);
    if (failed) {
        /* Not in the set, so no minion would ever take it while this one
         * keeps it fresh: take it back now, without its delay. */
        minion_log(r->inst, MINION_LOG_WARN,
                   "delaying task %s failed: %s; it runs again at once", id,
                   reply->str);
        writer_retry(r, id);
    }
    /* -1: another minion holds it now (a claim); it is that one's. */
}

void delay_adopt(struct redis_engine *r, const struct take_row *row)
{
    struct rtask *t;

    if (!rlist_find(&r->waiting, row->id)) {
        t = calloc(1, sizeof(*t));
        if (!t) {
            /* Not refreshed here: claimed again later, still not early. */
            minion_log(r->inst, MINION_LOG_ERROR,
                       "out of memory: task %s is left to a later claim",
                       row->id);
            return;
        }
        snprintf(t->id, sizeof(t->id), "%s", row->id);
        t->attempt = row->count > 0 ? (unsigned)row->count : 1;
        t->released = row->released > 0;
        rlist_append(&r->waiting, t);
        minion_log(r->inst, MINION_LOG_INFO,
                   "task %s waits out its retry delay (%.1fs left) here: "
                   "its minion is gone",
                   row->id, (double)row->wait_ms / 1000.0);
    }
    arm(r, row->wait_ms);
}

int delay_init(struct redis_engine *r)
{
    r->delay_ev = evtimer_new(r->base, on_delay_timer, r);
    if (!r->delay_ev) {
        return -1;
    }
    /* What other minions left waiting is taken once this one reads. */
    r->delay_wanted = r->ctx->retry_delay > 0;
    return 0;
}

void delay_pause(struct redis_engine *r)
{
    if (r->delay_ev) {
        evtimer_del(r->delay_ev);
    }
    r->delay_at = 0;
    r->delay_wanted = 0;
}

void delay_fini(struct redis_engine *r)
{
    if (r->delay_ev) {
        event_free(r->delay_ev);
        r->delay_ev = NULL;
    }
}
