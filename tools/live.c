/* SPDX-License-Identifier: MIT */
/*
 * minion-status --redis: the fleet as Redis holds it, read with the
 * minion's own REDIS_* settings. A refresh asks for the queue's figures,
 * the heartbeats and the minions' hashes in two pipelines (two round trips
 * whatever the fleet's size), then reads only the results added since the
 * previous refresh: a --watch over a million results reads each one once.
 * A CLI may block, so this uses hiredis' sync API.
 *
 * Times are Redis's clock (TIME), as the heartbeats and the entry ids are:
 * an idle time or a rate never mixes two clocks.
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "redis_sync.h"
#include "redis_url.h"
#include "settings.h"
#include "streams.h"
#include "tools.h"

#define CONNECT_TIMEOUT_S 5
#define COMMAND_TIMEOUT_S 30
/* Results per XRANGE: large enough that a million take a hundred round
 * trips, small enough that a batch of long outputs stays a few megabytes. */
#define RESULTS_BATCH 10000
#define RESULTS_BATCH_TEXT "10000"
#define ERRORS_SHOWN "5" /* the latest dead letters (XREVRANGE COUNT) */
/* A live minion beats every REDIS_CLAIM_IDLE_MS/3, and the engine already
 * lets another minion take the id of one whose beat is one claim idle old
 * (and claims its entries, unrefreshed as long). Three claim idles is nine
 * beats missed in a row: a Redis restart or a network blip is over long
 * before, so a minion that quiet has crashed or lost its node. */
#define DEAD_AFTER_CLAIM_IDLES 3
#define MINUTE_S 60
#define RING 64 /* per-second counters: a minute and some */
/* (time, done) of past refreshes: the ETA's rate spans a minute of them. */
#define SAMPLES 64
#define CLAIM_IDLE_MIN 100LL
#define CLAIM_IDLE_MAX (86400000LL * 7)

/* Run durations in milliseconds, kept sorted for the percentiles: a refresh
 * sorts only what it added and merges it in, so a long --watch never sorts
 * the whole history again. */
struct durations {
    uint32_t *v;
    size_t n, sorted, cap;
    double sum;
};

/* Runs finished in each of the last RING seconds (a ring by epoch second). */
struct minute {
    long long sec[RING];
    double n[RING];
};

/* What the results said, about one minion or the whole fleet. */
struct tally {
    char *id; /* the minion; NULL for the fleet */
    double ok, failed, dead;
    struct durations d;
    struct minute runs; /* every run */
    struct minute done; /* ok and dead runs: acked, what the ETA counts */
    double first_s;     /* the earliest start, epoch seconds; 0: none */
    double last_s;      /* the latest finish */
};

/* Finished runs per step since the first result; when the span outgrows
 * FLEET_SERIES_MAX steps, pairs of steps merge and the step doubles. */
struct chart {
    double t0, step; /* step 0: no result yet */
    double v[FLEET_SERIES_MAX];
    size_t n;
};

struct sample {
    double t, done;
};

struct live {
    struct fleet_source base; /* first: the views only see this */
    struct redis_url url;
    char where[256]; /* the URL without its password */
    struct streams_keys keys;
    char *group;
    long long claim_idle_ms;
    redisContext *c; /* NULL until connected, and after a failure */
    /* The results read so far, up to this entry id */
    unsigned long long last_ms, last_seq;
    double results_added; /* the stream's entries-added then; -1: none */
    struct tally all;
    struct tally **per; /* by minion id, sorted */
    size_t n_per, cap_per, hint;
    struct chart rate;
    /* done (delivered and acked) at past refreshes, oldest first */
    struct sample samples[SAMPLES];
    size_t n_samples;
};

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

/* One line in the source's error, after the server's name. Returns -1. */
static int fail(struct live *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct live *s, const char *fmt, ...)
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

/* A failed read leaves the connection out of step: the next refresh makes
 * a new one. */
static int lost(struct live *s, const char *why)
{
    fail(s, "%s", why);
    redisFree(s->c);
    s->c = NULL;
    return -1;
}

/* ---- replies ----------------------------------------------------------- */

/* Whether @r is the error a missing key or group gives (@prefix, "ERR no
 * such key" or "NOGROUP"): not there yet, which is no fault. */
static int is_missing(const redisReply *r, const char *prefix)
{
    return r->type == REDIS_REPLY_ERROR &&
           strncmp(r->str, prefix, strlen(prefix)) == 0;
}

/* The value after @name in a flat [name, value, ...] reply (XINFO, HGETALL);
 * NULL when absent. */
static const redisReply *field(const redisReply *r, const char *name)
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

/* A count or time from an integer or a number in text; FLEET_UNKNOWN for
 * nil, absent or not a number. */
static double number(const redisReply *r)
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

static const char *text(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_STRING ? r->str : NULL;
}

/* "ms-seq" into its two parts. Returns 0, or -1 when @id is not one. */
static int parse_id(const char *id, unsigned long long *ms,
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

static int id_after(unsigned long long ms, unsigned long long seq,
                    unsigned long long than_ms, unsigned long long than_seq)
{
    return ms > than_ms || (ms == than_ms && seq > than_seq);
}

/* ---- what the results add up to ---------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static int durations_add(struct durations *d, double ms)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        uint32_t *v = realloc(d->v, cap * sizeof(*v));

        if (v == NULL) {
            return -ENOMEM;
        }
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = ms < (double)UINT32_MAX ? (uint32_t)ms : UINT32_MAX;
    d->sum += ms;
    return 0;
}

/* Sort what was added since the last call and merge it into the rest. */
static void durations_sort(struct durations *d)
{
    size_t k = d->n - d->sorted, i = d->sorted, j = k, w = d->n;
    uint32_t *tail;

    if (k == 0) {
        return;
    }
    qsort(d->v + d->sorted, k, sizeof(*d->v), cmp_u32);
    tail = malloc(k * sizeof(*tail));
    if (tail == NULL) {
        qsort(d->v, d->n, sizeof(*d->v), cmp_u32); /* slower, no memory */
        d->sorted = d->n;
        return;
    }
    memcpy(tail, d->v + d->sorted, k * sizeof(*tail));
    /* From the end, so that nothing is overwritten before it is moved. */
    while (j > 0) {
        if (i > 0 && d->v[i - 1] > tail[j - 1]) {
            d->v[--w] = d->v[--i];
        } else {
            d->v[--w] = tail[--j];
        }
    }
    free(tail);
    d->sorted = d->n;
}

/* The @p-th percentile in seconds by nearest rank, as the reports source
 * computes it (the smallest value with at least p% at or below it). */
static double percentile(const struct durations *d, unsigned p)
{
    size_t rank = (d->n * p + 99) / 100;

    return d->v[rank > 0 ? rank - 1 : 0] / 1000.0;
}

static void minute_add(struct minute *m, long long sec)
{
    size_t i = (size_t)(sec % RING);

    if (m->sec[i] == sec) {
        m->n[i]++;
    } else if (m->sec[i] < sec) {
        m->sec[i] = sec;
        m->n[i] = 1;
    } /* else older than the slot's second: out of the minute anyway */
}

/* Per second, over the minute that ends at @now. */
static double minute_rate(const struct minute *m, double now)
{
    long long to = (long long)floor(now);
    double sum = 0;
    size_t i;

    for (i = 0; i < RING; i++) {
        if (m->sec[i] > to - MINUTE_S && m->sec[i] <= to) {
            sum += m->n[i];
        }
    }
    return sum / MINUTE_S;
}

/* The index of @t's step, merging pairs of steps until it fits. */
static size_t chart_fit(struct chart *c, double t)
{
    double at = floor((t - c->t0) / c->step);
    size_t k;

    while (at >= FLEET_SERIES_MAX) {
        for (k = 0; k < FLEET_SERIES_MAX / 2; k++) {
            c->v[k] = c->v[2 * k] + c->v[2 * k + 1];
        }
        memset(c->v + FLEET_SERIES_MAX / 2, 0,
               FLEET_SERIES_MAX / 2 * sizeof(*c->v));
        c->n = (c->n + 1) / 2;
        c->step *= 2;
        at = floor((t - c->t0) / c->step);
    }
    return at > 0 ? (size_t)at : 0;
}

static void chart_add(struct chart *c, double t)
{
    size_t at;

    if (c->step == 0) {
        c->t0 = floor(t);
        c->step = 1;
    }
    at = chart_fit(c, t);
    c->v[at]++;
    if (at >= c->n) {
        c->n = at + 1;
    }
}

static int tally_add(struct tally *t, const char *status, double ms,
                     double end_s)
{
    double start_s = end_s - (ms >= 0 ? ms / 1000.0 : 0);

    if (strcmp(status, "ok") == 0) {
        t->ok++;
        minute_add(&t->done, (long long)end_s);
    } else if (strcmp(status, "dead") == 0) {
        t->dead++;
        minute_add(&t->done, (long long)end_s);
    } else {
        t->failed++;
    }
    minute_add(&t->runs, (long long)end_s);
    if (t->first_s == 0 || start_s < t->first_s) {
        t->first_s = start_s;
    }
    if (end_s > t->last_s) {
        t->last_s = end_s;
    }
    return ms >= 0 ? durations_add(&t->d, ms) : 0;
}

static void tally_free(struct tally *t)
{
    if (t != NULL) {
        free(t->id);
        free(t->d.v);
    }
}

/* Where minion @id's tally is in s->per, or would go (*found 0). */
static size_t tally_find(struct live *s, const char *id, int *found)
{
    size_t lo = 0, hi = s->n_per, mid;
    int c;

    /* A minion's results often come in a row (it writes what finished in
     * one turn of its loop at once): try the last one found first. */
    *found = 1;
    if (s->hint < s->n_per && strcmp(s->per[s->hint]->id, id) == 0) {
        return s->hint;
    }
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strcmp(s->per[mid]->id, id);
        if (c == 0) {
            s->hint = mid;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = 0;
    return lo;
}

/* The tally of minion @id, made when new. Returns: borrowed; NULL on no
 * memory. */
static struct tally *tally_of(struct live *s, const char *id)
{
    int found;
    size_t at = tally_find(s, id, &found);
    struct tally *t;

    if (found) {
        return s->per[at];
    }
    if (s->n_per == s->cap_per) {
        size_t cap = s->cap_per ? s->cap_per * 2 : 16;
        struct tally **per = realloc(s->per, cap * sizeof(*per));

        if (per == NULL) {
            return NULL;
        }
        s->per = per;
        s->cap_per = cap;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL || (t->id = strdup(id)) == NULL) {
        free(t);
        return NULL;
    }
    memmove(s->per + at + 1, s->per + at, (s->n_per - at) * sizeof(*s->per));
    s->per[at] = t;
    s->n_per++;
    s->hint = at;
    return t;
}

/* Forget every result read: the results stream is not the one we read. */
static void results_reset(struct live *s)
{
    size_t i;

    for (i = 0; i < s->n_per; i++) {
        tally_free(s->per[i]);
        free(s->per[i]);
    }
    free(s->per);
    s->per = NULL;
    s->n_per = s->cap_per = s->hint = 0;
    tally_free(&s->all);
    memset(&s->all, 0, sizeof(s->all));
    memset(&s->rate, 0, sizeof(s->rate));
    s->last_ms = s->last_seq = 0;
    s->results_added = FLEET_UNKNOWN;
}

/* Count one results entry ([id, [field, value, ...]]). Returns 0, or
 * -ENOMEM. An entry that is not a result is skipped. */
static int result_add(struct live *s, const redisReply *e)
{
    const char *status, *minion;
    unsigned long long ms, seq;
    double dur, end_s;
    struct tally *t;

    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        parse_id(text(e->element[0]), &ms, &seq) < 0) {
        return 0;
    }
    s->last_ms = ms;
    s->last_seq = seq;
    status = text(field(e->element[1], STREAMS_FIELD_STATUS));
    if (status == NULL ||
        (strcmp(status, "ok") != 0 && strcmp(status, "failed") != 0 &&
         strcmp(status, "dead") != 0)) {
        return 0;
    }
    /* The entry id is when the engine wrote the result: the run's end. */
    end_s = (double)ms / 1000.0;
    dur = number(field(e->element[1], STREAMS_FIELD_DURATION_MS));
    chart_add(&s->rate, end_s);
    if (tally_add(&s->all, status, dur, end_s) < 0) {
        return -ENOMEM;
    }
    minion = text(field(e->element[1], STREAMS_FIELD_MINION));
    if (minion == NULL || minion[0] == '\0') {
        return 0;
    }
    t = tally_of(s, minion);
    if (t == NULL) {
        return -ENOMEM;
    }
    return tally_add(t, status, dur, end_s);
}

/* Whether the results stream is not the one read so far: deleted and made
 * again (by hand, or a Redis restarted without persistence) since the last
 * refresh. It then counts fewer entries ever added than it did, or ends
 * before the last entry read. One trimmed meanwhile is the same stream:
 * what it still holds is newer than what was read, which stays counted. */
static int results_replaced(const struct live *s, const redisReply *info)
{
    unsigned long long ms, seq;
    double added = number(field(info, "entries-added"));

    if (added >= 0 && s->results_added >= 0 && added < s->results_added) {
        return 1;
    }
    return parse_id(text(field(info, "last-generated-id")), &ms, &seq) == 0 &&
           id_after(s->last_ms, s->last_seq, ms, seq);
}

/* Read the results added since the last call, a batch at a time. @info is
 * XINFO STREAM of the results stream. */
static int read_results(struct live *s, const redisReply *info)
{
    char from[64], err[256];
    const char *argv[] = {"XRANGE", s->keys.results, from,
                          "+",      "COUNT",         RESULTS_BATCH_TEXT};
    redisReply *r;
    size_t i, got;

    if (is_missing(info, "ERR no such key")) {
        results_reset(s);
        return 0;
    }
    if (info->type != REDIS_REPLY_ARRAY) {
        return fail(s, "XINFO STREAM %s: %s", s->keys.results,
                    info->type == REDIS_REPLY_ERROR ? info->str
                                                    : "unexpected reply");
    }
    if (results_replaced(s, info)) {
        results_reset(s);
    }
    s->results_added = number(field(info, "entries-added"));
    do {
        if (s->last_ms == 0 && s->last_seq == 0) {
            snprintf(from, sizeof(from), "-");
        } else {
            snprintf(from, sizeof(from), "(%llu-%llu", s->last_ms, s->last_seq);
        }
        if (redisAppendCommandArgv(s->c, 6, argv, NULL) != REDIS_OK) {
            return lost(s, "XRANGE: out of memory");
        }
        r = redis_sync_reply(s->c, COMMAND_TIMEOUT_S, "XRANGE", err,
                             sizeof(err));
        if (r == NULL) {
            return lost(s, err);
        }
        if (r->type != REDIS_REPLY_ARRAY) {
            fail(s, "XRANGE %s: %s", s->keys.results,
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            freeReplyObject(r);
            return -1;
        }
        got = r->elements;
        for (i = 0; i < got; i++) {
            if (result_add(s, r->element[i]) < 0) {
                freeReplyObject(r);
                return fail(s, "out of memory");
            }
        }
        freeReplyObject(r);
    } while (got == RESULTS_BATCH);
    return 0;
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
        if (text(beats->element[i]) == NULL) {
            continue;
        }
        w[k].id = beats->element[i]->str;
        w[k].beat_ms = number(beats->element[i + 1]);
        w[k].pending = w[k].idle_ms = FLEET_UNKNOWN;
        k++;
    }
    for (i = 0; consumers->type == REDIS_REPLY_ARRAY && i < consumers->elements;
         i++) {
        const redisReply *c = consumers->element[i];

        if (text(field(c, "name")) == NULL) {
            continue;
        }
        w[k].id = text(field(c, "name"));
        w[k].beat_ms = FLEET_UNKNOWN;
        w[k].pending = number(field(c, "pending"));
        w[k].idle_ms = number(field(c, "idle"));
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
    const char *state = text(field(h, STREAMS_FIELD_STATE));
    const char *node = text(field(h, STREAMS_FIELD_NODENAME));
    double started = number(field(h, STREAMS_FIELD_STARTED));

    m->id = strdup(w->id);
    if (m->id == NULL ||
        (node != NULL && node[0] && (m->nodename = strdup(node)) == NULL)) {
        return -ENOMEM;
    }
    /* What the results may tell, after; the rest is the hash's. */
    m->p50 = m->mean = m->p95 = FLEET_UNKNOWN;
    m->rate_1m = m->rate_all = FLEET_UNKNOWN;
    m->in_flight = number(field(h, STREAMS_FIELD_IN_FLIGHT));
    m->ok = number(field(h, STREAMS_FIELD_OK));
    m->failed = number(field(h, STREAMS_FIELD_FAILED));
    m->dead = number(field(h, STREAMS_FIELD_DEAD));
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
        return fail(s, "out of memory");
    }
    for (i = 0; i < n; i++) {
        char *key = streams_minion_key(s->keys.stream, w[i].id);

        argv[1] = key;
        if (key == NULL ||
            redisAppendCommandArgv(s->c, 2, argv, NULL) != REDIS_OK) {
            free(key);
            /* What was queued is never read: a new connection next time. */
            return lost(s, "HGETALL: out of memory");
        }
        free(key);
    }
    /* Every reply is read, whatever happens: the connection stays in step. */
    for (i = 0; i < n; i++) {
        h = redis_sync_reply(s->c, COMMAND_TIMEOUT_S, "HGETALL", err,
                             sizeof(err));
        if (h == NULL) {
            return lost(s, err);
        }
        if (rc == 0 && h->type == REDIS_REPLY_ERROR) {
            rc = fail(s, "HGETALL of minion %s: %s", w[i].id, h->str);
        } else if (rc == 0) {
            f->n_minions = i + 1;
            if (minion_fill(s, &f->minions[i], &w[i], h, now_ms) < 0) {
                rc = fail(s, "out of memory");
            }
        }
        freeReplyObject(h);
    }
    return rc;
}

/* Figures from what the results say, where the hash had none. */
static void minion_results(struct live *s, struct fleet_minion *m, double now)
{
    static const struct tally none; /* a minion without a result yet */
    const struct tally *t = &none;
    size_t at;
    int found;

    if (s->keys.results == NULL) {
        return; /* the hash is all there is */
    }
    at = tally_find(s, m->id, &found);
    if (found) {
        t = s->per[at];
        durations_sort(&s->per[at]->d);
    }
    if (m->ok < 0 || m->failed < 0 || m->dead < 0) {
        m->ok = t->ok;
        m->failed = t->failed;
        m->dead = t->dead;
    }
    m->rate_1m = minute_rate(&t->runs, now);
    if (t->d.n > 0) {
        m->p50 = percentile(&t->d, 50);
        m->p95 = percentile(&t->d, 95);
        m->mean = t->d.sum / (double)t->d.n / 1000.0;
    }
    if (t->last_s > t->first_s) {
        m->rate_all = (t->ok + t->failed + t->dead) / (t->last_s - t->first_s);
    }
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
        return fail(s, "out of memory");
    }
    for (i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        unsigned long long ms, seq;
        const char *why;

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
            parse_id(text(e->element[0]), &ms, &seq) < 0) {
            continue;
        }
        why = text(field(e->element[1], STREAMS_FIELD_ERROR));
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
            return fail(s, "out of memory");
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

    if (is_missing(q[Q_STREAM], "ERR no such key")) {
        f->stream_length = f->added = 0;
    } else if (q[Q_STREAM]->type == REDIS_REPLY_ARRAY) {
        f->stream_length = number(field(q[Q_STREAM], "length"));
        f->added = number(field(q[Q_STREAM], "entries-added"));
    } else {
        return fail(s, "XINFO STREAM %s: %s", s->keys.stream,
                    q[Q_STREAM]->type == REDIS_REPLY_ERROR
                        ? q[Q_STREAM]->str
                        : "unexpected reply");
    }
    for (i = 0;
         q[Q_GROUPS]->type == REDIS_REPLY_ARRAY && i < q[Q_GROUPS]->elements;
         i++) {
        const char *name = text(field(q[Q_GROUPS]->element[i], "name"));

        if (name != NULL && strcmp(name, s->group) == 0) {
            g = q[Q_GROUPS]->element[i];
        }
    }
    if (g != NULL) {
        read = number(field(g, "entries-read"));
        lag = number(field(g, "lag"));
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
        f->pending = number(pending->element[0]);
    } else if (is_missing(pending, "NOGROUP")) {
        f->pending = 0;
    } else {
        return fail(s, "XPENDING %s %s: %s", s->keys.stream, s->group,
                    pending->type == REDIS_REPLY_ERROR ? pending->str
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
        if (f->now - s->samples[i].t >= MINUTE_S) {
            from = i;
        }
    }
    if (s->n_samples > 0 && f->now > s->samples[from].t &&
        (f->now - s->samples[from].t >= MINUTE_S || !s->keys.results)) {
        rate = (done - s->samples[from].done) / (f->now - s->samples[from].t);
    } else if (s->keys.results) {
        rate = minute_rate(&s->all.done, f->now);
    }
    left = f->added - done;
    if (left <= 0) {
        f->eta_s = 0;
    } else if (rate > 0) {
        f->eta_s = left / rate;
    }
    if (s->n_samples == SAMPLES) {
        memmove(s->samples, s->samples + 1,
                (SAMPLES - 1) * sizeof(*s->samples));
        s->n_samples--;
    }
    s->samples[s->n_samples].t = f->now;
    s->samples[s->n_samples].done = done;
    s->n_samples++;
}

/* The fleet's totals from what the results add up to. */
static void totals(struct live *s, struct fleet *f)
{
    const struct tally *a = &s->all;
    size_t i, k;

    if (s->keys.results) {
        f->ok = a->ok;
        f->failed = a->failed;
        f->dead = a->dead;
        f->rate_1m = minute_rate(&a->runs, f->now);
        if (a->last_s > a->first_s) {
            f->rate_all =
                (a->ok + a->failed + a->dead) / (a->last_s - a->first_s);
        }
        if (a->d.n > 0) {
            durations_sort(&s->all.d);
            f->p50 = percentile(&a->d, 50);
            f->p95 = percentile(&a->d, 95);
            f->mean = a->d.sum / (double)a->d.n / 1000.0;
        }
        if (a->first_s > 0) {
            f->started = a->first_s;
        }
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
    if (s->rate.step > 0) {
        struct chart *c = &s->rate;
        size_t n = chart_fit(c, f->now > c->t0 ? f->now : c->t0) + 1;

        if (n < c->n) {
            n = c->n;
        }
        for (k = 0; k < n; k++) {
            f->rate.values[k] = c->v[k] / c->step;
        }
        f->rate.n = n;
        f->rate.step = c->step;
        f->rate.end = c->t0 + (double)n * c->step;
    }
}

/* ---- a refresh ---------------------------------------------------------- */

static int connect_now(struct live *s)
{
    char err[sizeof(s->base.error)];

    s->c = redis_sync_connect(&s->url, CONNECT_TIMEOUT_S, COMMAND_TIMEOUT_S,
                              err, sizeof(err));
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
            return lost(s, "out of memory");
        }
    }
    for (i = 0; i < n; i++) {
        q[i] = redis_sync_reply(s->c, COMMAND_TIMEOUT_S, cmds[i][0], err,
                                sizeof(err));
        if (q[i] == NULL) {
            return lost(s, err);
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
        number(q[Q_TIME]->element[0]) < 0) {
        fail(s, "TIME: unexpected reply");
        goto out;
    }
    now_ms = number(q[Q_TIME]->element[0]) * 1000.0 +
             floor(number(q[Q_TIME]->element[1]) / 1000.0);
    f->now = now_ms / 1000.0;
    if (queue_figures(s, f, q, &done) < 0) {
        goto out;
    }
    if (q[Q_BEATS]->type == REDIS_REPLY_ERROR) {
        fail(s, "HGETALL %s: %s", s->keys.minions, q[Q_BEATS]->str);
        goto out;
    }
    /* XINFO CONSUMERS fails without a group: then no consumer. */
    w = who_list(q[Q_BEATS], q[Q_CONSUMERS], &n);
    if (w == NULL) {
        fail(s, "out of memory");
        goto out;
    }
    if (q[Q_DEAD_LEN]->type == REDIS_REPLY_ERROR) {
        fail(s, "XLEN %s: %s", s->keys.dead, q[Q_DEAD_LEN]->str);
        goto out;
    }
    f->dead_letters = number(q[Q_DEAD_LEN]);
    if (dead_errors(s, f, q[Q_DEAD_LAST]) < 0) {
        goto out;
    }
    if (s->keys.results && read_results(s, q[Q_RESULTS_INFO]) < 0) {
        goto out;
    }
    if (read_minions(s, f, w, n, now_ms) < 0) {
        goto out;
    }
    for (i = 0; i < f->n_minions; i++) {
        minion_results(s, &f->minions[i], f->now);
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
    results_reset(s);
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
    s->results_added = FLEET_UNKNOWN;
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
