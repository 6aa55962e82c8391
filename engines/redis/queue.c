/* SPDX-License-Identifier: MIT */
/* The queue's figures for the core's progress line and /metrics. The core
 * asks often and must never wait, so queue() only copies the figures last
 * fetched; when they are over REFRESH_S old it starts a fetch in the
 * background, at most one at a time, on a connection of its own (made on
 * the first ask: a minion nobody watches never opens it). A fetch is three
 * read-only commands, pipelined, which a dry run may send too:
 *   XINFO STREAM <stream>   entries-added (total), length
 *   XINFO GROUPS <stream>   the group's pending, entries-read and lag
 *   XLEN <dead>             the dead letters
 * done is entries-read - pending: what the group delivered and no longer
 * holds, acked or dead-lettered (which acks). */
#include "config.h"

#include <string.h>
#include <time.h>

#include "engine.h"

/* Figures this old are fetched again on the next ask. */
#define REFRESH_S 1.0
/* A fetch unanswered this long counts as a lost connection. */
#define REPLY_TIMEOUT_S 5.0

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The value of @name in the flat name/value list @list; NULL when absent. */
static const redisReply *field(const redisReply *list, const char *name)
{
    for (size_t i = 0; i + 1 < list->elements; i += 2) {
        const redisReply *k = list->element[i];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0) {
            return list->element[i + 1];
        }
    }
    return NULL;
}

/* An integer of @list: -1 when absent (older Redis) or nil (Redis cannot
 * tell, as lag after a deletion). */
static long long int_field(const redisReply *list, const char *name)
{
    const redisReply *v = field(list, name);

    return v && v->type == REDIS_REPLY_INTEGER ? v->integer : -1;
}

static int no_such_key(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_ERROR &&
           strstr(reply->str, "no such key");
}

/* An error that is no outage (a key of another type, a renamed command):
 * its figures stay unknown. Said at debug level: asked every second. */
static void unknown(struct redis_engine *r, const char *cmd,
                    const redisReply *reply)
{
    minion_log(r->inst, MINION_LOG_DEBUG, "queue figures: %s: %s", cmd,
               reply->type == REDIS_REPLY_ERROR ? reply->str
                                                : "unexpected reply");
}

/* The fetch's figures become the engine's, where each tells the truth. */
static void commit(struct redis_engine *r)
{
    const struct queue_fetch *f = &r->fetch;
    struct minion_queue q = MINION_QUEUE_INIT;

    q.dead = f->dead;
    if (f->stream == QUEUE_MISSING) {
        /* Never made, or deleted with all it held. */
        q.total = q.done = q.lag = q.pending = 0;
    } else {
        q.total = f->added;
        if (f->group == QUEUE_FOUND) {
            q.pending = f->pending;
            q.lag = f->lag;
            if (f->entries_read >= 0 && f->pending >= 0 &&
                f->entries_read >= f->pending) {
                q.done = f->entries_read - f->pending;
            }
        } else if (f->group == QUEUE_MISSING) {
            /* A minion makes the group from id 0: all the stream holds
             * waits for it, and nothing was delivered yet. */
            q.done = q.pending = 0;
            q.lag = f->length;
        }
    }
    r->figures = q;
    r->have_figures = 1;
}

/* One reply of the fetch came (or was lost): the last one ends it. */
static void replied(struct redis_engine *r)
{
    if (r->fetch.out > 0 && --r->fetch.out == 0 && !r->fetch.lost &&
        !r->dying) {
        commit(r);
    }
}

/* Every reply callback starts here. Returns 1 when @reply can be read. */
static int usable(struct redis_engine *r, redisAsyncContext *ac,
                  const redisReply *reply)
{
    if (!rconn_reply_usable(ac, reply)) {
        r->fetch.lost = 1;
        return 0;
    }
    return !r->dying;
}

static void on_stream(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
    const redisReply *reply = rep;

    if (usable(r, ac, reply)) {
        if (no_such_key(reply)) {
            r->fetch.stream = QUEUE_MISSING;
        } else if (reply->type == REDIS_REPLY_ARRAY) {
            r->fetch.stream = QUEUE_FOUND;
            r->fetch.added = int_field(reply, "entries-added");
            r->fetch.length = int_field(reply, "length");
        } else {
            unknown(r, "XINFO STREAM", reply);
        }
    }
    replied(r);
}

static void on_groups(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
    const redisReply *reply = rep;

    if (!usable(r, ac, reply)) {
        replied(r);
        return;
    }
    if (no_such_key(reply)) {
        r->fetch.group = QUEUE_MISSING;
    } else if (reply->type == REDIS_REPLY_ARRAY) {
        r->fetch.group = QUEUE_MISSING;
        for (size_t i = 0; i < reply->elements; i++) {
            const redisReply *g = reply->element[i];
            const redisReply *name;

            if (g->type != REDIS_REPLY_ARRAY) {
                continue;
            }
            name = field(g, "name");
            if (name && name->type == REDIS_REPLY_STRING &&
                strcmp(name->str, r->group) == 0) {
                r->fetch.group = QUEUE_FOUND;
                r->fetch.pending = int_field(g, "pending");
                r->fetch.entries_read = int_field(g, "entries-read");
                r->fetch.lag = int_field(g, "lag");
                break;
            }
        }
    } else {
        unknown(r, "XINFO GROUPS", reply);
    }
    replied(r);
}

static void on_dead(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
    const redisReply *reply = rep;

    if (usable(r, ac, reply)) {
        if (reply->type == REDIS_REPLY_INTEGER) {
            r->fetch.dead = reply->integer;
        } else {
            unknown(r, "XLEN", reply);
        }
    }
    replied(r);
}

/* Send @argv for the fetch; a command that cannot go leaves it lost. */
static void send_part(struct redis_engine *r, redisCallbackFn *fn, int argc,
                      const char **argv)
{
    /* Counted first: whatever happens, its callback finds it. */
    r->fetch.out++;
    if (rconn_send(r->stats_conn, fn, r, argc, argv, NULL) < 0) {
        r->fetch.out--;
        r->fetch.lost = 1;
    }
}

static void fetch(struct redis_engine *r)
{
    const char *stream[] = {"XINFO", "STREAM", r->keys.stream};
    const char *groups[] = {"XINFO", "GROUPS", r->keys.stream};
    const char *dead[] = {"XLEN", r->keys.dead};
    double now = mono_now();

    if (r->stopping || r->dying || r->fetch.out > 0 ||
        !rconn_is_ready(r->stats_conn) ||
        (r->fetch_sent > 0 && now - r->fetch_sent < REFRESH_S)) {
        return;
    }
    memset(&r->fetch, 0, sizeof(r->fetch));
    r->fetch.added = r->fetch.length = -1;
    r->fetch.pending = r->fetch.entries_read = r->fetch.lag = -1;
    r->fetch.dead = -1;
    r->fetch_sent = now;
    send_part(r, on_stream, 3, stream);
    send_part(r, on_groups, 3, groups);
    send_part(r, on_dead, 2, dead);
}

static void on_stats_ready(void *arg)
{
    /* The first ask only opened the connection: fetch now. */
    fetch(arg);
}

static void on_stats_down(void *arg)
{
    /* A fetch out comes back through its callbacks, as lost. */
}

static const struct rconn_ops stats_conn_ops = {on_stats_ready, on_stats_down};

void queue_get(struct redis_engine *r, struct minion_queue *out)
{
    struct minion_queue q;

    if (!r->stats_conn && r->base && !r->stopping && !r->dying) {
        r->stats_conn = rconn_new(r->base, r->inst, "stats", &r->target,
                                  REPLY_TIMEOUT_S, &stats_conn_ops, r);
        if (r->stats_conn) {
            rconn_open(r->stats_conn);
        }
    } else if (r->stats_conn) {
        fetch(r);
    }
    if (!r->have_figures) {
        return; /* the caller's -1s stand */
    }
    /* The caller's struct may be older and smaller: only what it holds. */
    q = r->figures;
    q.size = out->size;
    memcpy(out, &q, out->size < sizeof(q) ? out->size : sizeof(q));
}

void queue_stop(struct redis_engine *r)
{
    if (r->stats_conn) {
        rconn_close(r->stats_conn);
    }
}

void queue_fini(struct redis_engine *r)
{
    rconn_free(r->stats_conn);
    r->stats_conn = NULL;
}
