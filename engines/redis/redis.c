/* SPDX-License-Identifier: MIT */
/* The redis engine: params from a Redis stream through a consumer group.
 * This file holds the plugin's hooks and the hand-over of params to the
 * core; reader.c reads, claims.c keeps work alive across minions, writer.c
 * settles, conn.c connects. README.md tells the consumer-group story. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "dlist.h"
#include "engine.h"

/* Start-up check: connect and each reply within this (seconds). */
#define PROBE_TIMEOUT_S 5.0
/* A blocked XREADGROUP gets this much longer than its BLOCK to answer. */
#define READ_MARGIN_S 5.0
/* Any other command on the command connection. */
#define CMD_TIMEOUT_S 15.0
/* Longest BLOCK of a read: an idle minion wakes up this often. */
#define BLOCK_MAX_MS 2000
/* stop(): the last acks get this long to be confirmed. */
#define STOP_TIMEOUT_S 5

#define OFF(field) offsetof(struct redis_conf, field)

static const struct minion_option redis_options[] = {
    {"REDIS_URL", MINION_OPT_STRING, STREAMS_DEFAULT_URL, OFF(url),
     MINION_OPT_SECRET,
     "Redis to use: redis://[user:password@]host:port[/db] or "
     "unix:///path/redis.sock (default redis://localhost:6379)."},
    {"REDIS_STREAM", MINION_OPT_STRING, STREAMS_DEFAULT_STREAM, OFF(stream), 0,
     "Stream the params are read from (one entry per param)."},
    {"REDIS_GROUP", MINION_OPT_STRING, STREAMS_DEFAULT_GROUP, OFF(group), 0,
     "Consumer group the minions share; created from id 0 when missing."},
    {"REDIS_CLAIM_IDLE_MS", MINION_OPT_INT, STREAMS_DEFAULT_CLAIM_IDLE_MS,
     OFF(claim_idle_ms), 0,
     "Milliseconds an entry may sit unrefreshed in a minion's pending list "
     "before a live minion claims it (its minion is presumed dead)."},
    {"REDIS_RESULTS", MINION_OPT_STRING, NULL, OFF(results), 0,
     "Stream that gets one entry per finished run; default <stream>:results, "
     "empty: no results."},
    {"REDIS_DEAD", MINION_OPT_STRING, NULL, OFF(dead), 0,
     "Stream that gets the params that failed for good; default "
     "<stream>:dead."},
    {"REDIS_TRIM", MINION_OPT_BOOL, STREAMS_DEFAULT_TRIM, OFF(trim), 0,
     "Trim from the params stream, about once a second, the entries every "
     "group on it has read and acked (never one still pending)."},
    {"REDIS_RESULTS_MAXLEN", MINION_OPT_INT, STREAMS_DEFAULT_RESULTS_MAXLEN,
     OFF(results_maxlen), 0,
     "Cap the results stream at about this many entries (MAXLEN ~); 0: no "
     "cap. Read results (minion-submit --wait) faster than the cap fills."},
    {NULL}};

/* ------------------------------------------------------------------------ */
/* What this minion holds                                                    */

void rlist_append(struct rlist *l, struct rtask *t)
{
    DQUEUE_APPEND(*l, t);
}

void rlist_remove(struct rlist *l, struct rtask *t)
{
    DQUEUE_REMOVE(*l, t);
}

void rlist_prepend(struct rlist *l, struct rtask *t)
{
    DQUEUE_INSERT_AFTER(*l, (struct rtask *)NULL, t);
}

struct rtask *rlist_find(const struct rlist *l, const char *id)
{
    for (struct rtask *t = l->head; t; t = t->next) {
        if (strcmp(t->id, id) == 0) {
            return t;
        }
    }
    return NULL;
}

static void rlist_clear(struct rlist *l)
{
    struct rtask *t, *next;

    for (t = l->head; t; t = next) {
        next = t->next;
        free(t->param);
        free(t);
    }
    memset(l, 0, sizeof(*l));
}

/* Hand @t to the core. Returns 0 (the core may already have finished it:
 * @t is gone), or < 0 when the core had no credit (@t is still ours). */
static int deliver(struct redis_engine *r, struct rtask *t, const char *data,
                   size_t len)
{
    struct minion_param p = MINION_PARAM_INIT;
    int rc;

    p.data = data;
    p.len = len;
    p.id = t->id;
    p.attempt = t->attempt;
    p.handle = t;
    t->handed = minion_now();
    rlist_append(&r->running, t);
    rc = minion_engine_deliver(r->inst, &p);
    if (rc < 0) {
        rlist_remove(&r->running, t);
        r->credit = 0;
        return rc;
    }
    r->credit--;
    return 0;
}

/* engine_offer() of an entry that had @released runs given back. */
/* Borrows: data. @front: ahead of what was read ahead (a claimed or taken
 * back entry has waited longer than any new one). */
static void offer(struct redis_engine *r, const char *id, unsigned attempt,
                  int released, int front, const char *data, size_t len)
{
    struct rtask *t;

    if (r->paused) {
        /* No taker any more: given back for another minion, not run. */
        release_one(r, id);
        return;
    }
    t = calloc(1, sizeof(*t));
    if (!t) {
        minion_log(r->inst, MINION_LOG_ERROR,
                   "out of memory: task %s stays pending for a claim", id);
        return;
    }
    snprintf(t->id, sizeof(t->id), "%s", id);
    t->attempt = attempt;
    t->released = released;
    /* The hot path: straight from the reply to the core, no copy. */
    if (!r->pumping && r->credit > 0 && !r->ready.head &&
        deliver(r, t, data, len) == 0) {
        return;
    }
    t->param = malloc(len ? len : 1);
    if (!t->param) {
        minion_log(r->inst, MINION_LOG_ERROR,
                   "out of memory: task %s stays pending for a claim", id);
        free(t);
        return;
    }
    memcpy(t->param, data, len);
    t->len = len;
    if (front) {
        rlist_prepend(&r->ready, t);
    } else {
        rlist_append(&r->ready, t);
    }
}

void engine_offer(struct redis_engine *r, const char *id, unsigned attempt,
                  const char *data, size_t len)
{
    offer(r, id, attempt, 0, 0, data, len);
}

void engine_pump(struct redis_engine *r)
{
    if (r->pumping || r->dying) {
        return;
    }
    r->pumping = 1;
    while (r->credit > 0 && r->ready.head && !r->paused) {
        struct rtask *t = r->ready.head;
        char *param = t->param;

        rlist_remove(&r->ready, t);
        t->param = NULL;
        if (deliver(r, t, param, t->len) < 0) {
            t->param = param;
            rlist_prepend(&r->ready, t);
            break;
        }
        free(param);
    }
    r->pumping = 0;
    reader_kick(r);
    delay_kick(r);
}

/* A param this engine dead-letters by itself: the results and dead streams,
 * and the core's reporters and counts, all hear of it. */
static void dead_letter(struct redis_engine *r, const char *id,
                        const char *param, size_t len, unsigned attempts,
                        const char *why, int force)
{
    struct minion_report rep = MINION_REPORT_INIT;

    if (r->ctx->dry_run) {
        minion_log(r->inst, MINION_LOG_WARN,
                   "task %s: %s; a real minion would dead-letter it", id, why);
        return;
    }
    minion_log(r->inst, MINION_LOG_WARN, "task %s: %s; dead-lettered", id, why);
    rep.task_id = id;
    rep.param = param;
    rep.param_len = len;
    rep.attempt = attempts;
    rep.status = MINION_STATUS_DEAD;
    rep.exit_code = -1;
    rep.error = why;
    rep.start = rep.end = minion_now();
    writer_result(r, &rep, "dead");
    writer_dead(r, id, param, len, why, attempts, force);
    minion_engine_report(r->inst, &rep);
}

void engine_lost(struct redis_engine *r, const char *id, unsigned attempts)
{
    dead_letter(r, id, "", 0, attempts,
                "entry was deleted or trimmed while pending", 1);
}

void engine_admit(struct redis_engine *r, const struct take_row *row)
{
    const char *data;
    size_t len;
    char *owned;
    char why[96];
    struct rtask *waiting;

    if (row->status == TAKE_DELAYED) {
        delay_adopt(r, row);
        return;
    }
    /* Held here while it waited out its delay: now taken, by this minion
     * or, once due, by another. */
    if ((waiting = rlist_find(&r->waiting, row->id)) != NULL) {
        rlist_remove(&r->waiting, waiting);
        free(waiting);
    }
    switch (row->status) {
    case TAKE_GONE:
        minion_log(r->inst, MINION_LOG_DEBUG,
                   "task %s is no longer pending; skipped", row->id);
        return;
    case TAKE_OTHER:
        minion_log(r->inst, MINION_LOG_INFO,
                   "task %s is now held by %s; left to it", row->id,
                   row->owner);
        return;
    case TAKE_DELETED: engine_lost(r, row->id, (unsigned)row->count); return;
    case TAKE_OK: break;
    case TAKE_DELAYED: return;
    }
    if (rlist_find(&r->running, row->id) || rlist_find(&r->ready, row->id)) {
        return; /* already here (history and a claim met) */
    }
    if (entry_param(row->fields, &data, &len, &owned) < 0) {
        engine_lost(r, row->id, (unsigned)row->count);
        return;
    }
    /* count: deliveries less the runs released by a stop (not attempts). */
    if (row->count > (long long)r->ctx->max_attempts) {
        /* Its runs keep dying with their minion: stop feeding it to us. */
        snprintf(why, sizeof(why), "delivered %lld time%s without finishing",
                 row->count - 1, row->count == 2 ? "" : "s");
        dead_letter(r, row->id, data, len, (unsigned)(row->count - 1), why, 0);
    } else {
        offer(r, row->id, row->count > 0 ? (unsigned)row->count : 1,
              row->released > 0, 1, data, len);
    }
    free(owned);
}

/* ------------------------------------------------------------------------ */
/* Engine hooks                                                              */

static void redis_request(struct minion_instance *inst, unsigned n)
{
    struct redis_engine *r = minion_instance_data(inst);

    r->credit += n;
    engine_pump(r);
}

static void redis_finish(struct minion_instance *inst, void *handle,
                         enum minion_verdict verdict,
                         const struct minion_report *rep)
{
    struct redis_engine *r = minion_instance_data(inst);
    struct rtask *t = handle;

    rlist_remove(&r->running, t);
    reader_task_done(r, minion_now() - t->handed);
    /* A dry run's verdicts are all RELEASE (plugin.h): nothing is written. */
    switch (verdict) {
    case MINION_VERDICT_ACK:
        if (rep) {
            writer_result(r, rep, "ok");
        }
        if (t->released) {
            release_ack(r, t->id); /* its count of released runs goes too */
        } else {
            writer_ack(r, t->id);
        }
        break;
    case MINION_VERDICT_RETRY:
        if (rep) {
            writer_result(r, rep, "failed");
        }
        if (rep &&
            rep->size >= offsetof(struct minion_report, retry_delay) +
                             sizeof(rep->retry_delay) &&
            rep->retry_delay > 0) {
            /* Held here, refreshed, until some minion takes it once due. */
            delay_park(r, t, rep->retry_delay);
            return;
        }
        /* Taking it back bumps its delivery count; a paused minion could
         * not run it, so leave it pending for a claim to count once. */
        if (!r->paused) {
            writer_retry(r, t->id);
        }
        break;
    case MINION_VERDICT_DEAD:
        if (rep) {
            writer_result(r, rep, "dead");
        }
        writer_dead(r, t->id, rep ? rep->param : "", rep ? rep->param_len : 0,
                    rep && rep->error ? rep->error : "failed",
                    rep ? rep->attempt : t->attempt, 0);
        break;
    case MINION_VERDICT_RELEASE:
        /* Not an attempt: counted as released, claimable at once. A dry
         * run's release writes nothing. */
        release_one(r, t->id);
        break;
    }
    free(t);
}

static void redis_pause(struct minion_instance *inst)
{
    struct redis_engine *r = minion_instance_data(inst);

    if (r->paused) {
        return;
    }
    r->paused = 1;
    r->credit = 0;
    reader_stop(r);
    claims_pause(r);
    trim_stop(r);
    delay_pause(r);
    /* Fetched but never started: given back, not counted as attempts, and
     * claimable by another minion at once. Failed params waiting out a
     * delay stay here, refreshed, until the stop. */
    release_ready(r);
    rlist_clear(&r->ready);
}

static void redis_queue(struct minion_instance *inst, struct minion_queue *out)
{
    queue_get(minion_instance_data(inst), out);
}

/* ------------------------------------------------------------------------ */
/* Connections                                                               */

static void on_reader_ready(void *arg)
{
    reader_on_ready(arg);
}

static void on_reader_down(void *arg)
{
    struct redis_engine *r = arg;

    reader_on_down(r);
    reader_resync(r);
}

static void on_writer_ready(void *arg)
{
    struct redis_engine *r = arg;

    writer_flush(r);
    engine_pump(r);
    claims_run(r);
    claims_sweep(r);
    delay_kick(r);
}

static void on_writer_down(void *arg)
{
    /* Writes in flight come back through their callbacks (NULL reply) and
     * are sent again. A claim or take may have run without its reply. */
    reader_resync(arg);
}

static const struct rconn_ops reader_conn_ops = {on_reader_ready,
                                                 on_reader_down};
static const struct rconn_ops writer_conn_ops = {on_writer_ready,
                                                 on_writer_down};

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */

static void engine_free(struct redis_engine *r)
{
    if (!r) {
        return;
    }
    redis_url_fini(&r->url);
    streams_keys_fini(&r->keys);
    free(r->stats_key);
    free(r->released_key);
    free(r->delayed_key);
    free(r);
}

/* The group's own keys, "<stream><suffix><group>": two groups on one
 * stream count releases and delays apart. Returns: new string; NULL. */
static char *group_key(const char *stream, const char *suffix,
                       const char *group)
{
    size_t n = strlen(stream) + strlen(suffix) + strlen(group) + 1;
    char *key = malloc(n);

    if (key) {
        snprintf(key, n, "%s%s%s", stream, suffix, group);
    }
    return key;
}

static int redis_init(struct minion_instance *inst, void *conf_)
{
    struct redis_conf *conf = conf_;
    const struct minion_context *ctx = minion_instance_context(inst);
    int rc;
    struct redis_engine *r;
    char err[512];

    if (!conf->group || !conf->group[0]) {
        minion_set_error(inst, "REDIS_GROUP must not be empty");
        return -EINVAL;
    }
    if (conf->claim_idle_ms < 100 || conf->claim_idle_ms > 86400000LL * 7) {
        minion_set_error(inst,
                         "REDIS_CLAIM_IDLE_MS must be between 100 and "
                         "604800000 (7 days), not %lld",
                         conf->claim_idle_ms);
        return -EINVAL;
    }
    if (conf->results_maxlen < 0) {
        minion_set_error(inst,
                         "REDIS_RESULTS_MAXLEN must be 0 (no cap) or more, "
                         "not %lld",
                         conf->results_maxlen);
        return -EINVAL;
    }
    if (!ctx->minion_id || !ctx->minion_id[0]) {
        minion_set_error(inst, "MINION_ID must not be empty: it names the "
                               "consumer");
        return -EINVAL;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    r->inst = inst;
    r->conf = conf;
    r->ctx = ctx;
    rc = streams_keys_init(&r->keys, conf->stream, conf->results, conf->dead,
                           err, sizeof(err));
    if (rc < 0) {
        minion_set_error(inst, "%s", err);
        engine_free(r);
        return rc;
    }
    if (redis_url_parse(conf->url, &r->url, err, sizeof(err)) < 0) {
        minion_set_error(inst, "REDIS_URL: %s", err);
        engine_free(r);
        return -EINVAL;
    }
    redis_url_describe(&r->url, r->where, sizeof(r->where));
    r->group = conf->group;
    r->me = ctx->minion_id;
    r->stats_key = streams_minion_key(r->keys.stream, r->me);
    r->released_key = group_key(r->keys.stream, RELEASED_SUFFIX, r->group);
    r->delayed_key = group_key(r->keys.stream, DELAYED_SUFFIX, r->group);
    if (!r->stats_key || !r->released_key || !r->delayed_key) {
        minion_set_error(inst, "out of memory");
        engine_free(r);
        return -ENOMEM;
    }
    snprintf(r->claim_idle, sizeof(r->claim_idle), "%lld", conf->claim_idle_ms);
    r->block_ms = (unsigned)(conf->claim_idle_ms / 2);
    if (r->block_ms > BLOCK_MAX_MS) {
        r->block_ms = BLOCK_MAX_MS;
    }
    if (r->ctx->exit_when_empty && r->block_ms > BLOCK_DRAIN_MS) {
        r->block_ms = BLOCK_DRAIN_MS;
    }
    r->target.url = &r->url;
    r->target.where = r->where;
    minion_instance_set_data(inst, r);
    return 0;
}

/* Take MINION_ID for this minion, unless a live minion has it: one whose
 * heartbeat is younger than REDIS_CLAIM_IDLE_MS (a live minion beats every
 * third of that; older, its entries are claimed as a dead minion's) and
 * that did not say it stopped. The last start-up step, so a start that
 * fails before it leaves no beat that would refuse the next try. */
static int enlist(struct redis_engine *r, redisContext *c)
{
    const char *argv[] = {"EVAL",          script_enlist,       "2",
                          r->keys.minions, r->stats_key,        r->me,
                          r->claim_idle,   STREAMS_STATS_TTL_MS};
    char err[512];
    redisReply *reply;
    long long age;

    reply = redis_sync_command(c, PROBE_TIMEOUT_S, 8, argv, err, sizeof(err));
    if (!reply) {
        minion_set_error(r->inst, "%s: checking MINION_ID %s: %s", r->where,
                         r->me, err);
        return -EIO;
    }
    age = reply->type == REDIS_REPLY_INTEGER ? reply->integer : -2;
    freeReplyObject(reply);
    if (age == -2) {
        minion_set_error(r->inst, "%s: checking MINION_ID %s: %s", r->where,
                         r->me, "unexpected reply");
        return -EIO;
    }
    if (age >= 0) {
        minion_set_error(r->inst,
                         "MINION_ID %s is in use by a live minion of %s on %s "
                         "(last heartbeat %.1fs ago; the id is free once the "
                         "heartbeat is REDIS_CLAIM_IDLE_MS=%s ms old)",
                         r->me, r->keys.stream, r->where, (double)age / 1000.0,
                         r->claim_idle);
        return -EBUSY;
    }
    return 0;
}

/* A dry run starts where a real minion would read next: after the group's
 * last delivered id; from the start when the group or the stream is still
 * missing (a real minion would create it from id 0). Creates nothing. */
static int dry_probe(struct redis_engine *r, redisContext *c)
{
    const char *argv[] = {"XINFO", "GROUPS", r->keys.stream};
    redisReply *reply = redisCommandArgv(c, 3, argv, NULL);
    const char *what = "the stream does not exist";

    snprintf(r->dry_cursor, sizeof(r->dry_cursor), "0-0");
    if (!reply) {
        minion_set_error(r->inst, "%s: XINFO GROUPS: %s", r->where, c->errstr);
        return -EIO;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        if (!strstr(reply->str, "no such key")) {
            minion_set_error(r->inst, "%s: XINFO GROUPS %s: %s", r->where,
                             r->keys.stream, reply->str);
            freeReplyObject(reply);
            return -EIO;
        }
    } else if (reply->type == REDIS_REPLY_ARRAY) {
        what = "the group does not exist";
        for (size_t i = 0; i < reply->elements; i++) {
            const redisReply *g = reply->element[i];
            const char *name = NULL, *last = NULL;
            if (g->type != REDIS_REPLY_ARRAY) {
                continue;
            }
            for (size_t k = 0; k + 1 < g->elements; k += 2) {
                const redisReply *key = g->element[k], *v = g->element[k + 1];
                if (key->type != REDIS_REPLY_STRING ||
                    v->type != REDIS_REPLY_STRING) {
                    continue;
                }
                if (strcmp(key->str, "name") == 0) {
                    name = v->str;
                } else if (strcmp(key->str, "last-delivered-id") == 0 &&
                           rid_valid(v->str, v->len)) {
                    last = v->str;
                }
            }
            if (name && last && strcmp(name, r->group) == 0) {
                snprintf(r->dry_cursor, sizeof(r->dry_cursor), "%s", last);
                what = NULL;
                break;
            }
        }
    }
    freeReplyObject(reply);
    minion_log(r->inst, MINION_LOG_INFO,
               "dry run: showing what group %s would deliver next from %s on "
               "%s (after %s%s%s); nothing is read as a consumer, acked or "
               "written",
               r->group, r->keys.stream, r->where, r->dry_cursor,
               what ? ": " : "", what ? what : "");
    return 0;
}

/* The start-up check: reachable, password right, group there, MINION_ID
 * free. Blocking, bounded by PROBE_TIMEOUT_S: nothing runs on the loop yet.
 * A dry run only looks. */
static int probe(struct redis_engine *r)
{
    const char *argv[] = {"XGROUP", "CREATE", r->keys.stream,
                          r->group, "0",      "MKSTREAM"};
    char err[512];
    redisContext *c;
    redisReply *reply;
    int rc;

    c = rtarget_connect_sync(&r->target, PROBE_TIMEOUT_S, err, sizeof(err));
    if (!c) {
        minion_set_error(r->inst, "%s", err);
        return -EIO;
    }
    if (r->ctx->dry_run) {
        rc = dry_probe(r, c);
        redisFree(c);
        return rc;
    }
    reply = redisCommandArgv(c, 6, argv, NULL);
    if (!reply) {
        minion_set_error(r->inst, "%s: XGROUP CREATE: %s", r->where, c->errstr);
        redisFree(c);
        return -EIO;
    }
    if (reply->type == REDIS_REPLY_ERROR &&
        strncmp(reply->str, "BUSYGROUP", 9) != 0) {
        minion_set_error(r->inst, "%s: XGROUP CREATE %s %s: %s", r->where,
                         r->keys.stream, r->group, reply->str);
        freeReplyObject(reply);
        redisFree(c);
        return -EIO;
    }
    freeReplyObject(reply);
    rc = enlist(r, c);
    redisFree(c);
    return rc;
}

static int redis_start(struct minion_instance *inst, struct event_base *base)
{
    struct redis_engine *r = minion_instance_data(inst);

    r->base = base;
    r->started = minion_now();
    if (probe(r) < 0) {
        return -EIO;
    }
    r->reader_conn =
        rconn_new(base, inst, "reader", &r->target,
                  r->block_ms / 1000.0 + READ_MARGIN_S, &reader_conn_ops, r);
    r->writer_conn = rconn_new(base, inst, "writer", &r->target, CMD_TIMEOUT_S,
                               &writer_conn_ops, r);
    if (!r->reader_conn || !r->writer_conn || writer_init(r) < 0 ||
        reader_init(r) < 0 || (!r->ctx->dry_run && claims_start(r) < 0) ||
        (!r->ctx->dry_run && delay_init(r) < 0) || trim_start(r) < 0) {
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    if (r->ctx->dry_run) {
        rconn_open(
            r->reader_conn); /* the command connection has nothing to say */
        return 0;
    }
    rconn_open(r->writer_conn);
    rconn_open(r->reader_conn);
    minion_log(inst, MINION_LOG_INFO, "consuming %s as %s in group %s on %s",
               r->keys.stream, r->me, r->group, r->where);
    return 0;
}

static void stopped(struct redis_engine *r)
{
    if (r->stop_ev) {
        event_free(r->stop_ev);
        r->stop_ev = NULL;
    }
    rconn_close(r->writer_conn);
    minion_instance_stopped(r->inst);
}

void engine_maybe_stopped(struct redis_engine *r)
{
    if (r->stop_ev && writer_idle(r)) {
        stopped(r);
    }
}

static void on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct redis_engine *r = arg;

    minion_log(r->inst, MINION_LOG_WARN,
               "%s did not confirm the last writes within %ds; their params "
               "may run again",
               r->where, STOP_TIMEOUT_S);
    stopped(r);
}

static int redis_stop(struct minion_instance *inst)
{
    struct redis_engine *r = minion_instance_data(inst);
    struct timeval limit = {STOP_TIMEOUT_S, 0};

    redis_pause(inst);
    r->stopping = 1;
    queue_stop(r);
    if (r->ctx->dry_run) {
        rconn_close(r->writer_conn);
        return 0; /* nothing was written */
    }
    claims_stop(r);
    claims_beat(r, "stopped");
    writer_flush(r);
    r->stop_ev = evtimer_new(r->base, on_stop_timeout, r);
    if (!r->stop_ev) {
        rconn_close(r->writer_conn);
        return 0;
    }
    evtimer_add(r->stop_ev, &limit);
    return 1;
}

static void redis_destroy(struct minion_instance *inst)
{
    struct redis_engine *r = minion_instance_data(inst);

    if (!r) {
        return;
    }
    r->dying = 1;
    /* First the connections: their pending callbacks still see r whole. */
    rconn_free(r->reader_conn);
    rconn_free(r->writer_conn);
    queue_fini(r);
    rtarget_fini(&r->target);
    reader_fini(r);
    claims_fini(r);
    trim_fini(r);
    delay_fini(r);
    writer_fini(r);
    if (r->stop_ev) {
        event_free(r->stop_ev);
    }
    rlist_clear(&r->ready);
    rlist_clear(&r->running);
    rlist_clear(&r->waiting);
    engine_free(r);
}

static const struct minion_engine_ops redis_ops = {
    MINION_OPS_HEADER(struct minion_engine_ops),
    .request = redis_request,
    .finish = redis_finish,
    .pause = redis_pause,
    .queue = redis_queue,
};

const struct minion_plugin minion_plugin_redis = {
    MINION_PLUGIN_HEADER(MINION_KIND_ENGINE),
    .name = "redis",
    .summary = "Params from a Redis stream, shared by a consumer group",
    .conf_size = sizeof(struct redis_conf),
    .options = redis_options,
    .init = redis_init,
    .start = redis_start,
    .stop = redis_stop,
    .destroy = redis_destroy,
    .engine = &redis_ops,
};
