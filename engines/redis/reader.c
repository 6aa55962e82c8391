/* SPDX-License-Identifier: MIT */
/* The read path. First this consumer's own pending entries (a minion that
 * reuses its MINION_ID re-runs what it held when it died), page by page on
 * the command connection; then new entries with a blocking XREADGROUP `>`
 * on the read connection, COUNT = the free slots and the read-ahead, a
 * finite BLOCK so the connection can always be closed and the watchdog can
 * tell a dead server from an empty stream (with MINION_EXIT_WHEN_EMPTY,
 * reads that answer at once, polled: see drain_poll_wait). Also: recreating
 * a deleted group, the drain check of MINION_EXIT_WHEN_EMPTY, and the read
 * of a dry run, which is no consumer at all: a plain XREAD from the group's
 * last delivered id on, so that no delivery is counted, nothing is parked
 * in a pending list and the entries stay for real minions. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "engine.h"
#include "timeval.h"

#define GROUP_BACKOFF_FIRST_MS 100
#define GROUP_BACKOFF_MAX_MS 5000

static int starts_with(const redisReply *r, const char *prefix)
{
    size_t n = strlen(prefix);

    return r->len >= n && strncmp(r->str, prefix, n) == 0;
}

/* ------------------------------------------------------------------------ */
/* Own history                                                               */

/* Rows per XPENDING page of the history. */
#define HISTORY_PAGE 100
#define HISTORY_PAGE_TEXT "100"

static int held(const struct redis_engine *r, const char *id)
{
    const struct writer *w = &r->w;

    if (rlist_find(&r->running, id) || rlist_find(&r->ready, id)) {
        return 1;
    }
    for (size_t i = 0; i < w->nretries; i++) {
        if (strcmp(w->retries + i * RID_MAX, id) == 0) {
            return 1;
        }
    }
    return 0;
}

static void history_end(struct redis_engine *r)
{
    if (r->hist_taken) {
        minion_log(r->inst, MINION_LOG_INFO,
                   "took back %zu pending entr%s this minion held",
                   r->hist_taken, r->hist_taken == 1 ? "y" : "ies");
    }
    r->hist_taken = 0;
    r->live = 1;
    /* Then what dead minions left: claiming waited for the history. */
    claims_run(r);
    claims_sweep(r);
}

static void history_failed(struct redis_engine *r, const redisReply *reply)
{
    minion_log(r->inst, MINION_LOG_WARN,
               "reading this minion's pending entries failed: %s; they are "
               "claimed once idle",
               reply->type == REDIS_REPLY_ERROR ? reply->str
                                                : "unexpected reply");
    history_end(r);
}

static void on_history_take(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
    const redisReply *reply = rep;
    struct take_row row;
    size_t taken = 0;

    r->hist_busy = 0;
    if (!rconn_reply_usable(ac, reply) || r->dying) {
        return; /* asked again once the connection is back */
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        history_failed(r, reply);
    } else {
        for (size_t i = 0; i < reply->elements; i++) {
            if (take_row_parse(reply->element[i], &row) == 0) {
                taken += row.status == TAKE_OK;
                engine_admit(r, &row);
            }
        }
    }
    r->hist_taken += taken;
    if (r->hist_done) {
        history_end(r);
    }
    engine_pump(r);
}

/* A page of this consumer's pending list: take back what is not held here
 * (entries of a previous life, or of a read whose reply a lost connection
 * swallowed), at most the credit at a time. */
static void on_history(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
    const redisReply *reply = rep;
    const char **argv = NULL;
    size_t n = 0, candidates = 0;
    const char *last = NULL;

    r->hist_busy = 0;
    if (!rconn_reply_usable(ac, reply) || r->dying) {
        return;
    }
    if (r->hist_req_epoch != r->hist_epoch) {
        /* Asked before a resync restarted the history: its cursor and its
         * end are stale. The next kick asks again from the start. */
        engine_pump(r);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        history_failed(r, reply);
        engine_pump(r);
        return;
    }
    argv = malloc((SCRIPT_HEAD_ARGS + 1 + reply->elements) * sizeof(*argv));
    if (!argv) {
        return; /* tried again at the next kick */
    }
    script_head(r, script_take, argv);
    argv[SCRIPT_HEAD_ARGS] = "ids";
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *row = reply->element[i];
        const char *id;
        if (row->type != REDIS_REPLY_ARRAY || row->elements < 1 ||
            row->element[0]->type != REDIS_REPLY_STRING) {
            continue;
        }
        id = row->element[0]->str;
        if (!rid_valid(id, row->element[0]->len) || held(r, id)) {
            if (n == 0) {
                last = id;
            }
            continue;
        }
        candidates++;
        if (n < r->credit || n == 0) {
            argv[SCRIPT_HEAD_ARGS + 1 + n++] = id;
            last = id;
        }
    }
    r->hist_done = reply->elements < HISTORY_PAGE && n == candidates;
    if (last) {
        snprintf(r->hist_cursor, sizeof(r->hist_cursor), "(%s", last);
    }
    if (n > 0) {
        /* Acks queued this turn go first: a task that just finished must
         * not be taken back and run again. */
        writer_flush(r);
        if (rconn_send(r->writer_conn, on_history_take, r,
                       (int)(SCRIPT_HEAD_ARGS + 1 + n), argv, NULL) == 0) {
            r->hist_busy = 1;
        }
    } else if (r->hist_done) {
        history_end(r);
    }
    free(argv);
    engine_pump(r);
}

static void history_next(struct redis_engine *r)
{
    const char *argv[] = {
        "XPENDING", r->keys.stream,    r->group, r->hist_cursor,
        "+",        HISTORY_PAGE_TEXT, r->me};

    if (r->hist_busy || !rconn_is_ready(r->writer_conn)) {
        return;
    }
    if (rconn_send(r->writer_conn, on_history, r, 7, argv, NULL) == 0) {
        r->hist_busy = 1;
        r->hist_req_epoch = r->hist_epoch;
    }
}

void reader_resync(struct redis_engine *r)
{
    r->hist_epoch++;
    r->live = 0;
    r->hist_done = 0;
    r->hist_taken = 0;
    snprintf(r->hist_cursor, sizeof(r->hist_cursor), "-");
}

/* ------------------------------------------------------------------------ */
/* Group recreation                                                          */

static void on_group_created(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
    const redisReply *reply = rep;

    if (!rconn_reply_usable(ac, reply) || r->dying) {
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR && !starts_with(reply, "BUSYGROUP")) {
        minion_log(r->inst, MINION_LOG_WARN, "XGROUP CREATE %s %s: %s",
                   r->keys.stream, r->group, reply->str);
    } else if (reply->type != REDIS_REPLY_ERROR) {
        minion_log(r->inst, MINION_LOG_INFO, "recreated group %s on %s",
                   r->group, r->keys.stream);
    }
}

/* The backoff is over: recreate the group, the next read goes behind it. */
static void on_group_timer(evutil_socket_t fd, short what, void *arg)
{
    struct redis_engine *r = arg;
    const char *argv[] = {"XGROUP", "CREATE", r->keys.stream,
                          r->group, "0",      "MKSTREAM"};
    int recreate = r->group_wait == 2;

    r->group_wait = 0;
    if (recreate && rconn_is_ready(r->reader_conn)) {
        rconn_send(r->reader_conn, on_group_created, r, 6, argv, NULL);
    }
    reader_kick(r);
}

/* The read failed for a reason a retry may cure: wait, then try again. */
static void backoff(struct redis_engine *r, int recreate)
{
    struct timeval tv;

    r->group_backoff_ms =
        r->group_backoff_ms ? r->group_backoff_ms * 2 : GROUP_BACKOFF_FIRST_MS;
    if (r->group_backoff_ms > GROUP_BACKOFF_MAX_MS) {
        r->group_backoff_ms = GROUP_BACKOFF_MAX_MS;
    }
    tv = timeval_of_ms(r->group_backoff_ms);
    r->group_wait = recreate ? 2 : 1;
    evtimer_add(r->group_ev, &tv);
}

/* ------------------------------------------------------------------------ */
/* Drain check                                                               */

static int holds_nothing(const struct redis_engine *r)
{
    return r->running.n == 0 && r->ready.n == 0 && !r->claim_busy &&
           !r->hist_busy && r->live;
}

static int locally_idle(const struct redis_engine *r)
{
    return holds_nothing(r) && writer_idle(r);
}

static void on_drain_groups(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
    const redisReply *reply = rep;
    long long pending = r->drain_pending;
    int lag_known_nonzero = 0;

    r->drain_busy = 0;
    if (!rconn_reply_usable(ac, reply) || r->dying || r->drained || r->paused) {
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || pending != 0) {
        engine_pump(r); /* not drained: read on */
        return;
    }
    /* XINFO GROUPS: one flat name/value list per group; 7.0 adds `lag`,
     * nil when Redis cannot tell (then the empty read decides). */
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *g = reply->element[i];
        int ours = 0;
        if (g->type != REDIS_REPLY_ARRAY) {
            continue;
        }
        for (size_t k = 0; k + 1 < g->elements; k += 2) {
            const redisReply *name = g->element[k], *v = g->element[k + 1];
            if (name->type != REDIS_REPLY_STRING) {
                continue;
            }
            if (strcmp(name->str, "name") == 0 &&
                v->type == REDIS_REPLY_STRING &&
                strcmp(v->str, r->group) == 0) {
                ours = 1;
            } else if (ours && strcmp(name->str, "lag") == 0 &&
                       v->type == REDIS_REPLY_INTEGER && v->integer > 0) {
                lag_known_nonzero = 1;
            }
        }
    }
    if (lag_known_nonzero || !locally_idle(r)) {
        engine_pump(r);
        return;
    }
    minion_log(r->inst, MINION_LOG_INFO,
               "%s is drained: nothing new, nothing pending", r->keys.stream);
    r->drained = 1;
    claims_pause(r);
    minion_engine_drained(r->inst);
}

static void on_drain_pending(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
    const redisReply *reply = rep;

    r->drain_pending = -1;
    if (!rconn_reply_usable(ac, reply)) {
        return;
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
        reply->element[0]->type == REDIS_REPLY_INTEGER) {
        r->drain_pending = reply->element[0]->integer;
    }
}

/* An empty read: nothing undelivered right now. Done when nothing is
 * pending anywhere in the group either, and nothing is left here. The
 * last acks may still wait in the writer: they go now, ahead of the
 * XPENDING on the same connection, so that Redis counts them as acked
 * (the answer is judged once their replies are in). */
static void drain_check(struct redis_engine *r)
{
    const char *pend[] = {"XPENDING", r->keys.stream, r->group};
    const char *groups[] = {"XINFO", "GROUPS", r->keys.stream};

    if (!r->ctx->exit_when_empty || r->drained || r->drain_busy ||
        !holds_nothing(r) || !rconn_is_ready(r->writer_conn)) {
        return;
    }
    writer_flush(r);
    if (rconn_send(r->writer_conn, on_drain_pending, r, 3, pend, NULL) < 0) {
        return;
    }
    r->drain_pending = -1;
    if (rconn_send(r->writer_conn, on_drain_groups, r, 3, groups, NULL) == 0) {
        r->drain_busy = 1;
    }
}

/* With MINION_EXIT_WHEN_EMPTY, reads stop blocking once a task has run
 * here: a blocked read would hold the exit for its whole BLOCK after the
 * last task. (Until then they block, so that a minion started next to its
 * producer waits a little for the first params.) After an empty read that
 * did not block, the next one waits for a task to end (it may be the
 * last) or for BLOCK_DRAIN_MS, the pace at which a minion with nothing
 * left polls a group whose other minions still hold entries. */
static void on_drain_poll(evutil_socket_t fd, short what, void *arg)
{
    struct redis_engine *r = arg;

    r->drain_poll = 0;
    engine_pump(r);
}

static void drain_poll_wait(struct redis_engine *r)
{
    struct timeval tv = timeval_of_ms(BLOCK_DRAIN_MS);

    r->drain_poll = 1;
    evtimer_add(r->drain_ev, &tv);
}

static void drain_poll_end(struct redis_engine *r)
{
    if (r->drain_poll) {
        r->drain_poll = 0;
        evtimer_del(r->drain_ev);
    }
}

/* ------------------------------------------------------------------------ */
/* Read-ahead                                                                */

/* Entries read ahead are meant to start within a window (seconds) at the
 * recent pace: twice the time a read takes to come back, so the next one
 * is answered before the slots run dry, within these bounds. The floor
 * is what a read takes on a loaded Redis next door; the ceiling keeps a
 * minion behind a slow link from holding params that another would have
 * started much sooner. */
#define AHEAD_WINDOW_MIN_S 0.005
#define AHEAD_WINDOW_MAX_S 0.05
/* The bound: max(AHEAD_PER_SLOT × concurrency, AHEAD_MIN). When every
 * slot frees at once (a batch of short tasks) each finds its next param
 * here, and the read for the batch after is already on its way; and
 * microsecond tasks need reads of hundreds of entries, or Redis spends
 * its time on reads rather than entries. */
#define AHEAD_PER_SLOT 2
#define AHEAD_MIN 512
/* Weight of the latest sample in the mean time a slot is held, and in
 * the mean time a read takes. */
#define SLOT_EWMA_WEIGHT 0.125

/* @mean moved toward @sample; the first sample (mean 0) is the mean. */
static double mean_with(double mean, double sample)
{
    return mean > 0 ? mean + (sample - mean) * SLOT_EWMA_WEIGHT : sample;
}

void reader_task_done(struct redis_engine *r, double seconds)
{
    r->ran_one = 1;
    if (r->drain_poll) {
        /* Read again on the next turn of the loop: this end may free no
         * slot (a task held back without one), so no request() would. */
        struct timeval now = {0, 0};
        evtimer_add(r->drain_ev, &now);
    }
    r->slot_s = mean_with(r->slot_s, seconds < 1e-6 ? 1e-6 : seconds);
}

/* A read that came back full took @seconds: it did not wait for entries,
 * so that is the round trip (Redis's work on it included). A blocked read
 * woken by a burst of entries looks full too: no sample counts for more
 * than half the widest window, which also keeps the window (twice the
 * mean) at most AHEAD_WINDOW_MAX_S. */
static void read_took(struct redis_engine *r, double seconds)
{
    r->read_s = mean_with(r->read_s, seconds < AHEAD_WINDOW_MAX_S / 2
                                         ? seconds
                                         : AHEAD_WINDOW_MAX_S / 2);
}

/* How many params to hold beyond the free slots: as many as the slots
 * free within the window at the recent pace (concurrency slots, each
 * freeing every slot_s), at most ahead_max. None before the pace is
 * known, none when tasks are long: a slow task's next param stays in the
 * stream for whichever minion frees a slot first. */
static unsigned ahead_target(const struct redis_engine *r)
{
    double window = 2 * r->read_s, n;

    if (r->slot_s <= 0) {
        return 0;
    }
    if (window < AHEAD_WINDOW_MIN_S) {
        window = AHEAD_WINDOW_MIN_S;
    }
    n = (double)r->ctx->concurrency * window / r->slot_s;
    return n >= (double)r->ahead_max ? r->ahead_max : (unsigned)n;
}

/* How many entries the next read may fetch, 0: do not read now. A slot
 * with no param waiting always reads; the read-ahead alone tops up only
 * once half of it is used, so that reads stay batches, not one entry each
 * time a slot frees. */
static unsigned read_room(const struct redis_engine *r)
{
    unsigned ahead = ahead_target(r);
    size_t want = (size_t)r->credit + ahead;

    if (r->credit == 0 && r->ready.n > ahead / 2) {
        return 0;
    }
    return want > r->ready.n ? (unsigned)(want - r->ready.n) : 0;
}

/* ------------------------------------------------------------------------ */
/* New entries                                                               */

/* Hand the entries of one read (@cmd: XREADGROUP, or XREAD in a dry run,
 * whose cursor follows them) to the core, in stream order. */
static void offer_entries(struct redis_engine *r, const redisReply *entries,
                          const char *cmd)
{
    for (size_t i = 0; entries && i < entries->elements; i++) {
        const char *id, *data;
        const redisReply *fields;
        size_t len;
        char *owned;

        if (entry_split(entries->element[i], &id, &fields) < 0) {
            minion_log(r->inst, MINION_LOG_WARN, "%s: malformed entry skipped",
                       cmd);
            continue;
        }
        if (r->ctx->dry_run) {
            snprintf(r->dry_cursor, sizeof(r->dry_cursor), "%s", id);
        }
        if (!fields || entry_param(fields, &data, &len, &owned) < 0) {
            engine_lost(r, id, 1); /* a dry run only says so */
            continue;
        }
        engine_offer(r, id, 1, data, len);
        free(owned);
    }
}

static void on_read(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
    const redisReply *reply = rep;
    const redisReply *entries;
    struct read_out out = r->read_out;

    r->reading = 0;
    if (!rconn_reply_usable(ac, reply) || r->dying) {
        return; /* read again once the connection is back */
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        /* The group (NOGROUP) or the whole stream (UNBLOCKED) was deleted
         * under us: recreate it and go on. */
        int gone =
            starts_with(reply, "NOGROUP") || starts_with(reply, "UNBLOCKED");
        minion_log(r->inst,
                   r->group_backoff_ms ? MINION_LOG_DEBUG : MINION_LOG_WARN,
                   "XREADGROUP: %s%s", reply->str,
                   gone ? "; recreating the group" : "; retrying");
        backoff(r, gone);
        return;
    }
    if (read_entries(reply, &entries) < 0) {
        minion_log(r->inst, MINION_LOG_WARN,
                   "XREADGROUP: unexpected reply; retrying");
        backoff(r, 0);
        return;
    }
    r->group_backoff_ms = 0;
    if (entries && entries->elements >= out.count) {
        read_took(r, minion_now() - out.sent);
    }
    offer_entries(r, entries, "XREADGROUP");
    if (!entries && r->ctx->exit_when_empty) {
        if (out.at_once) {
            drain_poll_wait(r);
        }
        drain_check(r);
    }
    engine_pump(r);
}

/* ------------------------------------------------------------------------ */
/* Dry run                                                                   */

static void on_dry_read(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
    const redisReply *reply = rep;
    const redisReply *entries;

    r->reading = 0;
    if (!rconn_reply_usable(ac, reply) || r->dying) {
        return; /* read again from the cursor once the connection is back */
    }
    if (reply->type == REDIS_REPLY_ERROR || read_entries(reply, &entries) < 0) {
        minion_log(
            r->inst, r->group_backoff_ms ? MINION_LOG_DEBUG : MINION_LOG_WARN,
            "XREAD: %s; retrying",
            reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        backoff(r, 0);
        return;
    }
    r->group_backoff_ms = 0;
    offer_entries(r, entries, "XREAD");
    if (!entries && r->ctx->exit_when_empty && !r->drained &&
        r->running.n == 0 && r->ready.n == 0) {
        minion_log(r->inst, MINION_LOG_INFO, "dry run: reached the end of %s",
                   r->keys.stream);
        r->drained = 1;
        minion_engine_drained(r->inst);
        return;
    }
    engine_pump(r);
}

static void dry_kick(struct redis_engine *r)
{
    char count[16], block[16];
    const char *argv[] = {"XREAD", "COUNT",   count,          "BLOCK",
                          block,   "STREAMS", r->keys.stream, r->dry_cursor};

    if (r->reading || r->group_wait || !rconn_is_ready(r->reader_conn)) {
        return;
    }
    snprintf(count, sizeof(count), "%u", r->credit);
    snprintf(block, sizeof(block), "%u", r->block_ms);
    if (rconn_send(r->reader_conn, on_dry_read, r, 8, argv, NULL) == 0) {
        r->reading = 1;
    }
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */

void reader_kick(struct redis_engine *r)
{
    char count[16], block[16];
    const char *argv[11];
    int argc = 0, at_once = r->ctx->exit_when_empty && r->ran_one;
    unsigned room;

    if (r->paused || r->drained || r->dying) {
        return;
    }
    if (r->ctx->dry_run || !r->live) {
        /* Only what free slots take: a dry run shows, the history takes
         * back, one param per slot. */
        if (r->credit == 0 || r->ready.head) {
            return;
        }
        if (r->ctx->dry_run) {
            dry_kick(r);
        } else {
            history_next(r);
        }
        return;
    }
    /* No read while a drain check is out: an entry it fetched could
     * arrive after the check said drained, and stay pending in the name
     * of a minion gone. The check reads on when it does not end us. */
    if (r->reading || r->group_wait || r->drain_poll || r->drain_busy ||
        !rconn_is_ready(r->reader_conn) || (room = read_room(r)) == 0) {
        return;
    }
    snprintf(count, sizeof(count), "%u", room);
    snprintf(block, sizeof(block), "%u", r->block_ms);
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = r->group;
    argv[argc++] = r->me;
    argv[argc++] = "COUNT";
    argv[argc++] = count;
    if (!at_once) {
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
    }
    argv[argc++] = "STREAMS";
    argv[argc++] = r->keys.stream;
    argv[argc++] = ">";
    if (rconn_send(r->reader_conn, on_read, r, argc, argv, NULL) == 0) {
        r->read_out.count = room;
        r->read_out.at_once = at_once;
        r->read_out.sent = minion_now();
        r->reading = 1;
    }
}

void reader_on_ready(struct redis_engine *r)
{
    reader_kick(r);
}

void reader_on_down(struct redis_engine *r)
{
    r->reading = 0;
}

void reader_stop(struct redis_engine *r)
{
    if (r->group_ev) {
        evtimer_del(r->group_ev);
    }
    r->group_wait = 0;
    drain_poll_end(r);
    /* A blocked read would hold a graceful close for up to BLOCK: drop it.
     * Entries Redis handed out meanwhile stay pending for a claim. */
    if (r->reader_conn) {
        rconn_close(r->reader_conn);
    }
    r->reading = 0;
}

int reader_init(struct redis_engine *r)
{
    r->ahead_max = per_slot_bound(r, AHEAD_PER_SLOT, AHEAD_MIN);
    r->group_ev = evtimer_new(r->base, on_group_timer, r);
    r->drain_ev = evtimer_new(r->base, on_drain_poll, r);
    reader_resync(r);
    return r->group_ev && r->drain_ev ? 0 : -ENOMEM;
}

void reader_fini(struct redis_engine *r)
{
    if (r->group_ev) {
        event_free(r->group_ev);
        r->group_ev = NULL;
    }
    if (r->drain_ev) {
        event_free(r->drain_ev);
        r->drain_ev = NULL;
    }
}
