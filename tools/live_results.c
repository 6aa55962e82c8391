/* SPDX-License-Identifier: MIT */
/*
 * minion-status --redis: the results stream, read incrementally. Each
 * refresh asks for the entries after the last one read, a batch at a time,
 * and adds them to a tally per minion and one for the fleet: a --watch
 * over a million results reads each one once. A stream deleted and made
 * again is noticed, and read from its start.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"

/* Results per XRANGE: large enough that a million take a hundred round
 * trips, small enough that a batch of long outputs stays a few megabytes. */
#define RESULTS_BATCH 10000
#define RESULTS_BATCH_TEXT "10000"

static int tally_add(struct tally *t, const char *status, double ms,
                     double end_s)
{
    double start_s = end_s - (ms >= 0 ? ms / 1000.0 : 0);

    if (strcmp(status, "ok") == 0) {
        t->ok++;
        figures_minute_add(&t->done, (long long)end_s);
    } else if (strcmp(status, "dead") == 0) {
        t->dead++;
        figures_minute_add(&t->done, (long long)end_s);
    } else {
        t->failed++;
    }
    figures_minute_add(&t->runs, (long long)end_s);
    if (t->first_s == 0 || start_s < t->first_s) {
        t->first_s = start_s;
    }
    if (end_s > t->last_s) {
        t->last_s = end_s;
    }
    return ms >= 0 ? figures_add(&t->d, ms) : 0;
}

static void tally_free(struct tally *t)
{
    if (t != NULL) {
        free(t->id);
        figures_values_fini(&t->d);
    }
}

/* The percentiles and mean of @t's durations in seconds, when it has
 * any. */
static void tally_durations(struct tally *t, double *p50, double *mean,
                            double *p95)
{
    if (t->d.n == 0) {
        return;
    }
    figures_sort(&t->d);
    *p50 = figures_percentile(&t->d, 50) / 1000.0;
    *p95 = figures_percentile(&t->d, 95) / 1000.0;
    *mean = figures_mean(&t->d) / 1000.0;
}

static double tally_rate(const struct tally *t)
{
    return figures_rate(t->ok + t->failed + t->dead, t->first_s, t->last_s);
}

/* Where minion @id's tally is in r->per, or would go (*found 0). */
static size_t tally_find(struct results *r, const char *id, int *found)
{
    size_t lo = 0, hi = r->n_per, mid;
    int c;

    /* A minion's results often come in a row (it writes what finished in
     * one turn of its loop at once): try the last one found first. */
    *found = 1;
    if (r->hint < r->n_per && strcmp(r->per[r->hint]->id, id) == 0) {
        return r->hint;
    }
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strcmp(r->per[mid]->id, id);
        if (c == 0) {
            r->hint = mid;
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
static struct tally *tally_of(struct results *r, const char *id)
{
    int found;
    size_t at = tally_find(r, id, &found);
    struct tally *t;

    if (found) {
        return r->per[at];
    }
    if (r->n_per == r->cap_per) {
        size_t cap = r->cap_per ? r->cap_per * 2 : 16;
        struct tally **per = realloc(r->per, cap * sizeof(*per));

        if (per == NULL) {
            return NULL;
        }
        r->per = per;
        r->cap_per = cap;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL || (t->id = strdup(id)) == NULL) {
        free(t);
        return NULL;
    }
    memmove(r->per + at + 1, r->per + at, (r->n_per - at) * sizeof(*r->per));
    r->per[at] = t;
    r->n_per++;
    r->hint = at;
    return t;
}

void live_results_reset(struct results *r)
{
    size_t i;

    for (i = 0; i < r->n_per; i++) {
        tally_free(r->per[i]);
        free(r->per[i]);
    }
    free(r->per);
    r->per = NULL;
    r->n_per = r->cap_per = r->hint = 0;
    tally_free(&r->all);
    memset(&r->all, 0, sizeof(r->all));
    memset(&r->rate, 0, sizeof(r->rate));
    r->last_ms = r->last_seq = 0;
    r->added = FLEET_UNKNOWN;
}

/* Count one results entry ([id, [field, value, ...]]). Returns 0, or
 * -ENOMEM. An entry that is not a result is skipped. */
static int result_add(struct results *r, const redisReply *e)
{
    const char *status, *minion;
    unsigned long long ms, seq;
    double dur, end_s;
    struct tally *t;

    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        live_parse_id(live_text(e->element[0]), &ms, &seq) < 0) {
        return 0;
    }
    r->last_ms = ms;
    r->last_seq = seq;
    status = live_text(live_field(e->element[1], STREAMS_FIELD_STATUS));
    if (status == NULL ||
        (strcmp(status, "ok") != 0 && strcmp(status, "failed") != 0 &&
         strcmp(status, "dead") != 0)) {
        return 0;
    }
    /* The entry id is when the engine wrote the result: the run's end. */
    end_s = (double)ms / 1000.0;
    dur = live_number(live_field(e->element[1], STREAMS_FIELD_DURATION_MS));
    figures_chart_add(&r->rate, end_s);
    if (tally_add(&r->all, status, dur, end_s) < 0) {
        return -ENOMEM;
    }
    minion = live_text(live_field(e->element[1], STREAMS_FIELD_MINION));
    if (minion == NULL || minion[0] == '\0') {
        return 0;
    }
    t = tally_of(r, minion);
    if (t == NULL) {
        return -ENOMEM;
    }
    return tally_add(t, status, dur, end_s);
}

static int id_after(unsigned long long ms, unsigned long long seq,
                    unsigned long long than_ms, unsigned long long than_seq)
{
    return ms > than_ms || (ms == than_ms && seq > than_seq);
}

/* Whether the results stream is not the one read so far: deleted and made
 * again (by hand, or a Redis restarted without persistence) since the last
 * refresh. It then counts fewer entries ever added than it did, or ends
 * before the last entry read. One trimmed meanwhile is the same stream:
 * what it still holds is newer than what was read, which stays counted. */
static int results_replaced(const struct results *r, const redisReply *info)
{
    unsigned long long ms, seq;
    double added = live_number(live_field(info, "entries-added"));

    if (added >= 0 && r->added >= 0 && added < r->added) {
        return 1;
    }
    return live_parse_id(live_text(live_field(info, "last-generated-id")), &ms,
                         &seq) == 0 &&
           id_after(r->last_ms, r->last_seq, ms, seq);
}

int live_results_read(struct live *s, const redisReply *info)
{
    struct results *res = &s->res;
    char from[64], err[256];
    const char *argv[] = {"XRANGE", s->keys.results, from,
                          "+",      "COUNT",         RESULTS_BATCH_TEXT};
    redisReply *r;
    size_t i, got;

    if (live_is_missing(info, "ERR no such key")) {
        live_results_reset(res);
        return 0;
    }
    if (info->type != REDIS_REPLY_ARRAY) {
        return live_fail(s, "XINFO STREAM %s: %s", s->keys.results,
                         info->type == REDIS_REPLY_ERROR ? info->str
                                                         : "unexpected reply");
    }
    if (results_replaced(res, info)) {
        live_results_reset(res);
    }
    res->added = live_number(live_field(info, "entries-added"));
    do {
        if (res->last_ms == 0 && res->last_seq == 0) {
            snprintf(from, sizeof(from), "-");
        } else {
            snprintf(from, sizeof(from), "(%llu-%llu", res->last_ms,
                     res->last_seq);
        }
        if (redisAppendCommandArgv(s->c, 6, argv, NULL) != REDIS_OK) {
            return live_lost(s, "XRANGE: out of memory");
        }
        r = redis_sync_reply(s->c, LIVE_COMMAND_TIMEOUT_S, "XRANGE", err,
                             sizeof(err));
        if (r == NULL) {
            return live_lost(s, err);
        }
        if (r->type != REDIS_REPLY_ARRAY) {
            live_fail(s, "XRANGE %s: %s", s->keys.results,
                      r->type == REDIS_REPLY_ERROR ? r->str
                                                   : "unexpected reply");
            freeReplyObject(r);
            return -1;
        }
        got = r->elements;
        for (i = 0; i < got; i++) {
            if (result_add(res, r->element[i]) < 0) {
                freeReplyObject(r);
                return live_fail(s, "out of memory");
            }
        }
        freeReplyObject(r);
    } while (got == RESULTS_BATCH);
    return 0;
}

void live_results_minion(struct results *r, struct fleet_minion *m, double now)
{
    static const struct tally none; /* a minion without a result yet */
    const struct tally *t = &none;
    size_t at;
    int found;

    at = tally_find(r, m->id, &found);
    if (found) {
        t = r->per[at];
        tally_durations(r->per[at], &m->p50, &m->mean, &m->p95);
    }
    if (m->ok < 0 || m->failed < 0 || m->dead < 0) {
        m->ok = t->ok;
        m->failed = t->failed;
        m->dead = t->dead;
    }
    m->rate_1m = figures_minute_rate(&t->runs, now);
    m->rate_all = tally_rate(t);
}

void live_results_totals(struct results *r, struct fleet *f)
{
    struct tally *a = &r->all;

    f->ok = a->ok;
    f->failed = a->failed;
    f->dead = a->dead;
    f->rate_1m = figures_minute_rate(&a->runs, f->now);
    f->rate_all = tally_rate(a);
    tally_durations(a, &f->p50, &f->mean, &f->p95);
    if (a->first_s > 0) {
        f->started = a->first_s;
    }
    figures_chart_series(&r->rate, f->now, &f->rate);
}
