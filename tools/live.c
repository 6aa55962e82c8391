/* SPDX-License-Identifier: MIT */
/*
 * minion-status --redis: the fleet as Redis holds it, read with the
 * minion's own REDIS_* settings. A refresh asks for the queue's figures,
 * the heartbeats and the minions' hashes in two pipelines (two round trips
 * whatever the fleet's size), then reads only the results added since the
 * previous refresh (live_results.c). A CLI may block, so this uses
 * hiredis' sync API.
 *
 * Times are Redis's clock (TIME), as the heartbeats and the entry ids are:
 * an idle time or a rate never mixes two clocks.
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "figures.h"
#include "fleet.h"
#include "live.h"
#include "settings.h"
#include "tools.h"

#define CONNECT_TIMEOUT_S 5
#define ERRORS_SHOWN "5" /* the latest dead letters (XREVRANGE COUNT) */
/* A live minion beats every REDIS_CLAIM_IDLE_MS/3, and the engine already
 * lets another minion take the id of one whose beat is one claim idle old
 * (and claims its entries, unrefreshed as long). Three claim idles is nine
 * beats missed in a row: a Redis restart or a network blip is over long
 * before, so a minion that quiet has crashed or lost its node. */
#define DEAD_AFTER_CLAIM_IDLES 3
#define CLAIM_IDLE_MIN 100LL
#define CLAIM_IDLE_MAX (86400000LL * 7)

/* One minion as the queue names it: a consumer, a heartbeat, or both. */
struct who {
    const char *id; /* borrowed from a reply */
    double beat_ms; /* its last heartbeat, epoch ms */
    double pending; /* its consumer's */
    double idle_ms; /* its consumer's */
};

/* What the first pipeline asks, in order. */
enum {
    Q_TIME,
    Q_STREAM,
    Q_GROUPS,
    Q_PENDING,
    Q_CONSUMERS,
    Q_BEATS,
    Q_DEAD_LEN,
    Q_DEAD_LAST,
    Q_RESULTS_INFO,
    Q_N
};

int live_fail(struct live *s, const char *fmt, ...)
{
    size_t len = sizeof(s->base.error), n;
    va_list ap;

    n = (size_t)snprintf(s->base.error, len, "%s: ", s->where);
    if (n < len) {
        va_start(ap, fmt);
        vsnprintf(s->base.error + n, len - n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The next refresh makes a new connection. */
int live_lost(struct live *s, const char *why)
{
    live_fail(s, "%s", why);
    redisFree(s->c);
    s->c = NULL;
    return -1;
}

/* ---- replies ----------------------------------------------------------- */

int live_is_missing(const redisReply *r, const char *prefix)
{
    return r->type == REDIS_REPLY_ERROR &&
           strncmp(r->str, prefix, strlen(prefix)) == 0;
}

const redisReply *live_field(const redisReply *r, const char *name)
{
    size_t i;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }
    for (i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i];

        if ((k->type == REDIS_REPLY_STRING || k->type == REDIS_REPLY_STATUS) &&
            strcmp(k->str, name) == 0) {
            return r->element[i + 1];
        }
    }
    return NULL;
}

double live_number(const redisReply *r)
{
    char *end;
    double v;

    if (r == NULL) {
        return FLEET_UNKNOWN;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        return (double)r->integer;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0) {
        return FLEET_UNKNOWN;
    }
    v = strtod(r->str, &end);
    return *end == '\0' && isfinite(v) && v >= 0 ? v : FLEET_UNKNOWN;
}

const char *live_text(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_STRING ? r->str : NULL;
}

int live_parse_id(const char *id, unsigned long long *ms,
                  unsigned long long *seq)
{
    char *end;

    if (id == NULL || *id < '0' || *id > '9') {
        return -1;
    }
    errno = 0;
    *ms = strtoull(id, &end, 10);
    if (*end != '-' || end[1] < '0' || end[1] > '9') {
        return -1;
    }
    *seq = strtoull(end + 1, &end, 10);
    return *end == '\0' && errno == 0 ? 0 : -1;
}

/* ---- the queue ---------------------------------------------------------- */

static int cmp_who(const void *a, const void *b)
{
    return strcmp(((const struct who *)a)->id, ((const struct who *)b)->id);
}

/* The minions: every heartbeat and every consumer, one entry per id.
 * Returns: new array (*n entries), caller frees; NULL on no memory. */
static struct who *who_list(const redisReply *beats,
                            const redisReply *consumers, size_t *n)
{
    size_t cap = 1, i, k = 0, out = 0;
    struct who *w;

    if (beats->type == REDIS_REPLY_ARRAY) {
        cap += beats->elements / 2;
    }
    if (consumers->type == REDIS_REPLY_ARRAY) {
        cap += consumers->elements;
    }
    w = calloc(cap, sizeof(*w));
    if (w == NULL) {
        return NULL;
    }
    for (i = 0; beats->type == REDIS_REPLY_ARRAY && i + 1 < beats->elements;
         i += 2) {
        if (live_text(beats->element[i]) == NULL) {
            continue;
        }
        w[k].id = beats->element[i]->str;
        w[k].beat_ms = live_number(beats->element[i + 1]);
        w[k].pending = w[k].idle_ms = FLEET_UNKNOWN;
        k++;
    }
    for (i = 0; consumers->type == REDIS_REPLY_ARRAY && i < consumers->elements;
         i++) {
        const redisReply *c = consumers->element[i];

        if (live_text(live_field(c, "name")) == NULL) {
            continue;
        }
        w[k].id = live_text(live_field(c, "name"));
        w[k].beat_ms = FLEET_UNKNOWN;
        w[k].pending = live_number(live_field(c, "pending"));
        w[k].idle_ms = live_number(live_field(c, "idle"));
        k++;
    }
    qsort(w, k, sizeof(*w), cmp_who);
    /* A consumer and its heartbeat sort next to each other: one minion. */
    for (i = 0; i < k; i++) {
        if (out > 0 && strcmp(w[out - 1].id, w[i].id) == 0) {
            struct who *m = &w[out - 1];

            if (w[i].beat_ms >= 0) {
                m->beat_ms = w[i].beat_ms;
            }
            if (w[i].pending >= 0) {
                m->pending = w[i].pending;
                m->idle_ms = w[i].idle_ms;
            }
            continue;
        }
        w[out++] = w[i];
    }
    *n = out;
    return w;
}

/* Fill @m from its queue entry @w and its hash @h (HGETALL; empty when the
 * minion has none: made by another tool, or expired a day after its last
 * beat). Returns 0, or -ENOMEM. */
static int minion_fill(struct live *s, struct fleet_minion *m,
                       const struct who *w, const redisReply *h, double now_ms)
{
    const char *state = live_text(live_field(h, STREAMS_FIELD_STATE));
    const char *node = live_text(live_field(h, STREAMS_FIELD_NODENAME));
    double started = live_number(live_field(h, STREAMS_FIELD_STARTED));

    m->id = strdup(w->id);
    if (m->id == NULL ||
        (node != NULL && node[0] && (m->nodename = strdup(node)) == NULL)) {
        return -ENOMEM;
    }
    /* What the results may tell, after; the rest is the hash's. */
    m->p50 = m->mean = m->p95 = FLEET_UNKNOWN;
    m->rate_1m = m->rate_all = FLEET_UNKNOWN;
    m->in_flight = live_number(live_field(h, STREAMS_FIELD_IN_FLIGHT));
    m->ok = live_number(live_field(h, STREAMS_FIELD_OK));
    m->failed = live_number(live_field(h, STREAMS_FIELD_FAILED));
    m->dead = live_number(live_field(h, STREAMS_FIELD_DEAD));
    m->started = started >= 0 ? started / 1000.0 : FLEET_UNKNOWN;
    /* Without a consumer it holds nothing: the group's pending list is
     * the consumers'. */
    m->pending = w->pending >= 0 ? w->pending : 0;
    if (w->beat_ms >= 0) {
        m->last_seen = w->beat_ms / 1000.0;
        m->idle_ms = now_ms > w->beat_ms ? now_ms - w->beat_ms : 0;
    } else if (w->idle_ms >= 0) {
        /* No heartbeat: a consumer minionize did not make. Its idle
         * restarts when a read serves it or a claim hands it entries, so a
         * live one that finds nothing to read ages too. */
        m->idle_ms = w->idle_ms;
        m->last_seen = (now_ms - w->idle_ms) / 1000.0;
    } else {
        m->idle_ms = m->last_seen = FLEET_UNKNOWN;
    }
    /* A minion that stopped said so: its old beat is no crash. */
    m->probably_dead =
        m->idle_ms >= 0 &&
        m->idle_ms > (double)s->claim_idle_ms * DEAD_AFTER_CLAIM_IDLES &&
        (state == NULL || strcmp(state, "stopped") != 0);
    return 0;
}

/* The hashes of the minions in @w, one pipeline, into f->minions. */
static int read_minions(struct live *s, struct fleet *f, const struct who *w,
                        size_t n, double now_ms)
{
    const char *argv[2] = {"HGETALL", NULL};
    char err[256];
    redisReply *h;
    size_t i;
    int rc = 0;

    if (n == 0) {
        return 0;
    }
    f->minions = calloc(n, sizeof(*f->minions));
    if (f->minions == NULL) {
        return live_fail(s, "out of memory");
    }
    for (i = 0; i < n; i++) {
        char *key = streams_minion_key(s->keys.stream, w[i].id);

        argv[1] = key;
        if (key == NULL ||
            redisAppendCommandArgv(s->c, 2, argv, NULL) != REDIS_OK) {
            free(key);
            /* What was queued is never read: a new connection next time. */
            return live_lost(s, "HGETALL: out of memory");
        }
        free(key);
    }
    /* Every reply is read, whatever happens: the connection stays in step. */
    for (i = 0; i < n; i++) {
        h = redis_sync_reply(s->c, LIVE_COMMAND_TIMEOUT_S, "HGETALL", err,
                             sizeof(err));
        if (h == NULL) {
            return live_lost(s, err);
        }
        if (rc == 0 && h->type == REDIS_REPLY_ERROR) {
            rc = live_fail(s, "HGETALL of minion %s: %s", w[i].id, h->str);
        } else if (rc == 0) {
            f->n_minions = i + 1;
            if (minion_fill(s, &f->minions[i], &w[i], h, now_ms) < 0) {
                rc = live_fail(s, "out of memory");
            }
        }
        freeReplyObject(h);
    }
    return rc;
}

/* The latest dead letters' errors, newest first, equal texts counted once
 * each. */
static int dead_errors(struct live *s, struct fleet *f, const redisReply *r)
{
    size_t i, k;

    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        return 0;
    }
    f->errors = calloc(r->elements, sizeof(*f->errors));
    if (f->errors == NULL) {
        return live_fail(s, "out of memory");
    }
    for (i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        unsigned long long ms, seq;
        const char *why;

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
            live_parse_id(live_text(e->element[0]), &ms, &seq) < 0) {
            continue;
        }
        why = live_text(live_field(e->element[1], STREAMS_FIELD_ERROR));
        if (why == NULL) {
            why = "";
        }
        for (k = 0; k < f->n_errors; k++) {
            if (strcmp(f->errors[k].text, why) == 0) {
                break;
            }
        }
        if (k < f->n_errors) {
            f->errors[k].count++; /* .last stays the newest one's */
            continue;
        }
        f->errors[k].text = strdup(why);
        if (f->errors[k].text == NULL) {
            return live_fail(s, "out of memory");
        }
        f->errors[k].count = 1;
        f->errors[k].last = (double)ms / 1000.0;
        f->n_errors++;
    }
    return 0;
}

/* The queue's own figures: the params stream and the group. A stream or
 * group not made yet is no fault: no minion started (they make both), so
 * nothing was delivered and everything the stream holds is lag. */
static int queue_figures(struct live *s, struct fleet *f, redisReply **q,
                         double *done)
{
    const redisReply *g = NULL, *pending;
    double read = FLEET_UNKNOWN, lag = FLEET_UNKNOWN;
    size_t i;

    if (live_is_missing(q[Q_STREAM], "ERR no such key")) {
        f->stream_length = f->added = 0;
    } else if (q[Q_STREAM]->type == REDIS_REPLY_ARRAY) {
        f->stream_length = live_number(live_field(q[Q_STREAM], "length"));
        f->added = live_number(live_field(q[Q_STREAM], "entries-added"));
    } else {
        return live_fail(s, "XINFO STREAM %s: %s", s->keys.stream,
                         q[Q_STREAM]->type == REDIS_REPLY_ERROR
                             ? q[Q_STREAM]->str
                             : "unexpected reply");
    }
    for (i = 0;
         q[Q_GROUPS]->type == REDIS_REPLY_ARRAY && i < q[Q_GROUPS]->elements;
         i++) {
        const char *name =
            live_text(live_field(q[Q_GROUPS]->element[i], "name"));

        if (name != NULL && strcmp(name, s->group) == 0) {
            g = q[Q_GROUPS]->element[i];
        }
    }
    if (g != NULL) {
        read = live_number(live_field(g, "entries-read"));
        lag = live_number(live_field(g, "lag"));
        /* Redis says nil when it cannot count: entries deleted (XDEL)
         * among those not yet read. Then the entries added but not read
         * are an upper bound (the deleted ones will never be delivered),
         * and so is the stream's length (every entry not yet delivered is
         * still in it: minions trim only acked ones). Counting exactly
         * would mean reading the whole backlog on every refresh. */
        if (lag < 0 && read >= 0 && f->added >= 0) {
            lag = f->added - read;
            if (f->stream_length >= 0 && f->stream_length < lag) {
                lag = f->stream_length;
            }
        }
        if (read < 0 && lag >= 0 && f->added >= 0) {
            read = f->added - lag;
        }
    } else {
        read = 0;
        lag = f->stream_length;
    }
    f->lag = lag;
    pending = q[Q_PENDING];
    if (pending->type == REDIS_REPLY_ARRAY && pending->elements > 0) {
        f->pending = live_number(pending->element[0]);
    } else if (live_is_missing(pending, "NOGROUP")) {
        f->pending = 0;
    } else {
        return live_fail(s, "XPENDING %s %s: %s", s->keys.stream, s->group,
                         pending->type == REDIS_REPLY_ERROR
                             ? pending->str
                             : "unexpected reply");
    }
    *done = read >= 0 && f->pending >= 0 ? read - f->pending : FLEET_UNKNOWN;
    return 0;
}

/* Percent done and the time left: done is what was delivered and acked
 * (run ok, or dead-lettered), out of every entry ever added. */
static void progress(struct live *s, struct fleet *f, double done)
{
    double rate = FLEET_UNKNOWN, left;
    size_t i, from = 0;

    if (done < 0 || f->added < 0) {
        s->n_samples = 0;
        return;
    }
    f->percent = f->added > 0 ? 100.0 * done / f->added : 0;
    if (f->percent > 100) {
        f->percent = 100;
    }
    /* Fewer done than before: the stream was made again. */
    if (s->n_samples > 0 && done < s->samples[s->n_samples - 1].done) {
        s->n_samples = 0;
    }
    /* The rate since the latest refresh at least a minute old: from one
     * refresh to the next alone it is too jumpy. Until the refreshes span
     * a minute, the results acked over the last minute say it (or, with
     * no results stream, the refreshes so far). */
    for (i = 0; i < s->n_samples; i++) {
        if (f->now - s->samples[i].t >= FIGURES_MINUTE_S) {
            from = i;
        }
    }
    if (s->n_samples > 0 && f->now > s->samples[from].t &&
        (f->now - s->samples[from].t >= FIGURES_MINUTE_S || !s->keys.results)) {
        rate = (done - s->samples[from].done) / (f->now - s->samples[from].t);
    } else if (s->keys.results) {
        rate = figures_minute_rate(&s->res.all.done, f->now);
    }
    left = f->added - done;
    if (left <= 0) {
        f->eta_s = 0;
    } else if (rate > 0) {
        f->eta_s = left / rate;
    }
    if (s->n_samples == LIVE_SAMPLES) {
        memmove(s->samples, s->samples + 1,
                (LIVE_SAMPLES - 1) * sizeof(*s->samples));
        s->n_samples--;
    }
    s->samples[s->n_samples].t = f->now;
    s->samples[s->n_samples].done = done;
    s->n_samples++;
}

/* The fleet's totals from what the results add up to. */
static void totals(struct live *s, struct fleet *f)
{
    size_t i;

    if (s->keys.results) {
        live_results_totals(&s->res, f);
    } else {
        /* No results stream: the minions' hashes are all that counts runs,
         * only for their current run, and each goes a day after its last
         * beat. */
        f->ok = f->failed = f->dead = 0;
        for (i = 0; i < f->n_minions; i++) {
            const struct fleet_minion *m = &f->minions[i];

            f->ok += m->ok >= 0 ? m->ok : 0;
            f->failed += m->failed >= 0 ? m->failed : 0;
            f->dead += m->dead >= 0 ? m->dead : 0;
        }
    }
    /* What runs now: the minions that are alive say so in their hash. */
    f->in_flight = 0;
    for (i = 0; i < f->n_minions; i++) {
        const struct fleet_minion *m = &f->minions[i];

        if (m->in_flight >= 0 && !m->probably_dead) {
            f->in_flight += m->in_flight;
        }
        if (m->started >= 0 && (f->started < 0 || m->started < f->started)) {
            f->started = m->started;
        }
    }
}

/* ---- a refresh ---------------------------------------------------------- */

static int connect_now(struct live *s)
{
    char err[sizeof(s->base.error)];

    s->c = redis_sync_connect(&s->url, CONNECT_TIMEOUT_S,
                              LIVE_COMMAND_TIMEOUT_S, err, sizeof(err));
    if (s->c == NULL) {
        snprintf(s->base.error, sizeof(s->base.error), "%s", err);
        return -1;
    }
    return 0;
}

/* The first pipeline: everything whose keys are known up front. Returns 0
 * with every reply in @q, or -1 (the connection failed). */
static int ask_queue(struct live *s, redisReply **q)
{
    const char *cmds[Q_N][6] = {
        [Q_TIME] = {"TIME"},
        [Q_STREAM] = {"XINFO", "STREAM", s->keys.stream},
        [Q_GROUPS] = {"XINFO", "GROUPS", s->keys.stream},
        [Q_PENDING] = {"XPENDING", s->keys.stream, s->group},
        [Q_CONSUMERS] = {"XINFO", "CONSUMERS", s->keys.stream, s->group},
        [Q_BEATS] = {"HGETALL", s->keys.minions},
        [Q_DEAD_LEN] = {"XLEN", s->keys.dead},
        [Q_DEAD_LAST] = {"XREVRANGE", s->keys.dead, "+", "-", "COUNT",
                         ERRORS_SHOWN},
        [Q_RESULTS_INFO] = {"XINFO", "STREAM", s->keys.results},
    };
    /* The results stream's info is last: left out when results are off. */
    size_t i, n = s->keys.results ? Q_N : Q_RESULTS_INFO;
    char err[256];
    int argc;

    for (i = 0; i < n; i++) {
        argc = 0;
        while (argc < 6 && cmds[i][argc] != NULL) {
            argc++;
        }
        if (redisAppendCommandArgv(s->c, argc, cmds[i], NULL) != REDIS_OK) {
            return live_lost(s, "out of memory");
        }
    }
    for (i = 0; i < n; i++) {
        q[i] = redis_sync_reply(s->c, LIVE_COMMAND_TIMEOUT_S, cmds[i][0], err,
                                sizeof(err));
        if (q[i] == NULL) {
            return live_lost(s, err);
        }
    }
    return 0;
}

static int refresh_once(struct live *s, struct fleet *f)
{
    redisReply *q[Q_N] = {NULL};
    struct who *w = NULL;
    double now_ms, done = FLEET_UNKNOWN;
    size_t i, n = 0;
    int rc = -1;

    if (ask_queue(s, q) < 0) {
        goto out;
    }
    if (q[Q_TIME]->type != REDIS_REPLY_ARRAY || q[Q_TIME]->elements < 2 ||
        live_number(q[Q_TIME]->element[0]) < 0) {
        live_fail(s, "TIME: unexpected reply");
        goto out;
    }
    now_ms = live_number(q[Q_TIME]->element[0]) * 1000.0 +
             floor(live_number(q[Q_TIME]->element[1]) / 1000.0);
    f->now = now_ms / 1000.0;
    if (queue_figures(s, f, q, &done) < 0) {
        goto out;
    }
    if (q[Q_BEATS]->type == REDIS_REPLY_ERROR) {
        live_fail(s, "HGETALL %s: %s", s->keys.minions, q[Q_BEATS]->str);
        goto out;
    }
    /* XINFO CONSUMERS fails without a group: then no consumer. */
    w = who_list(q[Q_BEATS], q[Q_CONSUMERS], &n);
    if (w == NULL) {
        live_fail(s, "out of memory");
        goto out;
    }
    if (q[Q_DEAD_LEN]->type == REDIS_REPLY_ERROR) {
        live_fail(s, "XLEN %s: %s", s->keys.dead, q[Q_DEAD_LEN]->str);
        goto out;
    }
    f->dead_letters = live_number(q[Q_DEAD_LEN]);
    if (dead_errors(s, f, q[Q_DEAD_LAST]) < 0) {
        goto out;
    }
    if (s->keys.results && live_results_read(s, q[Q_RESULTS_INFO]) < 0) {
        goto out;
    }
    if (read_minions(s, f, w, n, now_ms) < 0) {
        goto out;
    }
    /* Without results, the hashes are all there is. */
    for (i = 0; s->keys.results && i < f->n_minions; i++) {
        live_results_minion(&s->res, &f->minions[i], f->now);
    }
    totals(s, f);
    progress(s, f, done);
    rc = 0;
out:
    for (i = 0; i < Q_N; i++) {
        if (q[i] != NULL) {
            freeReplyObject(q[i]);
        }
    }
    free(w);
    return rc;
}

/* Refill @out from Redis. A failed refresh leaves @out as it was, so that
 * --watch can keep showing the last figures next to the error. */
static int live_refresh(struct fleet_source *src, struct fleet *out)
{
    struct live *s = (struct live *)src;
    struct fleet f;
    int reused = s->c != NULL, rc;

    src->error[0] = '\0';
    if (s->c == NULL && connect_now(s) < 0) {
        return -1;
    }
    memset(&f, 0, sizeof(f));
    fleet_init(&f, "redis", s->where);
    rc = refresh_once(s, &f);
    /* A connection kept from the last refresh may have been closed since
     * (Redis restarted, an idle timeout): one new try before giving up. */
    if (rc < 0 && reused && s->c == NULL && connect_now(s) == 0) {
        fleet_clear(&f);
        fleet_init(&f, "redis", s->where);
        src->error[0] = '\0';
        rc = refresh_once(s, &f);
    }
    if (rc < 0) {
        fleet_clear(&f);
        return -1;
    }
    fleet_clear(out);
    *out = f;
    return 0;
}

static void live_free(struct fleet_source *src)
{
    struct live *s = (struct live *)src;

    if (s == NULL) {
        return;
    }
    if (s->c != NULL) {
        redisFree(s->c);
    }
    live_results_reset(&s->res);
    redis_url_fini(&s->url);
    streams_keys_fini(&s->keys);
    free(s->group);
    free(s);
}

/* REDIS_CLAIM_IDLE_MS as the engine takes it: a whole number of ms. */
static int parse_claim_idle(const char *v, long long *out)
{
    char *end;

    errno = 0;
    *out = strtoll(v, &end, 10);
    if (end == v || *end != '\0' || errno != 0) {
        tools_error("REDIS_CLAIM_IDLE_MS: not a whole number: '%s'", v);
        return -1;
    }
    if (*out < CLAIM_IDLE_MIN || *out > CLAIM_IDLE_MAX) {
        tools_error("REDIS_CLAIM_IDLE_MS must be between %lld and %lld "
                    "(7 days), not %lld",
                    CLAIM_IDLE_MIN, CLAIM_IDLE_MAX, *out);
        return -1;
    }
    return 0;
}

struct fleet_source *redis_source_new(struct settings *cfg)
{
    const char *url = tools_get(cfg, "REDIS_URL", STREAMS_DEFAULT_URL);
    const char *stream = tools_get(cfg, "REDIS_STREAM", STREAMS_DEFAULT_STREAM);
    const char *group = tools_get(cfg, "REDIS_GROUP", STREAMS_DEFAULT_GROUP);
    const char *idle =
        tools_get(cfg, "REDIS_CLAIM_IDLE_MS", STREAMS_DEFAULT_CLAIM_IDLE_MS);
    struct live *s;
    char err[512];

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        tools_error("out of memory");
        return NULL;
    }
    s->base.refresh = live_refresh;
    s->base.free = live_free;
    s->res.added = FLEET_UNKNOWN;
    if (parse_claim_idle(idle, &s->claim_idle_ms) < 0) {
        goto fail;
    }
    /* As the engine reads them: unset is the default, an empty
     * REDIS_RESULTS means no results. */
    if (streams_keys_init(&s->keys, stream, settings_get(cfg, "REDIS_RESULTS"),
                          settings_get(cfg, "REDIS_DEAD"), err,
                          sizeof(err)) < 0) {
        tools_error("%s", err);
        goto fail;
    }
    if (redis_url_parse(url, &s->url, err, sizeof(err)) < 0) {
        tools_error("REDIS_URL: %s", err);
        goto fail;
    }
    redis_url_describe(&s->url, s->where, sizeof(s->where));
    s->group = strdup(group);
    if (s->group == NULL) {
        tools_error("out of memory");
        goto fail;
    }
    return &s->base;
fail:
    live_free(&s->base);
    return NULL;
}
