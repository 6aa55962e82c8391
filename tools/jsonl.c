/* SPDX-License-Identifier: MIT */
#include "jsonl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct jsonl_minion *find_minion(struct jsonl_stats *st, const char *id)
{
    struct jsonl_minion *m;
    size_t i;

    /* Lines come file by file, so the last minion is nearly always it. */
    if (st->last < st->nminions && strcmp(st->minions[st->last].id, id) == 0) {
        return &st->minions[st->last];
    }
    for (i = 0; i < st->nminions; i++) {
        if (strcmp(st->minions[i].id, id) == 0) {
            st->last = i;
            return &st->minions[i];
        }
    }
    if (st->nminions == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 8;

        m = realloc(st->minions, cap * sizeof(*m));
        if (m == NULL) {
            return NULL;
        }
        st->minions = m;
        st->cap = cap;
    }
    m = &st->minions[st->nminions];
    memset(m, 0, sizeof(*m));
    m->id = strdup(id);
    if (m->id == NULL) {
        return NULL;
    }
    m->last_seen = NAN;
    st->last = st->nminions++;
    return m;
}

static int add_duration(struct jsonl_minion *m, double d)
{
    if (m->ndurations == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        double *v = realloc(m->durations, cap * sizeof(*v));

        if (v == NULL) {
            return -ENOMEM;
        }
        m->durations = v;
        m->cap = cap;
    }
    m->durations[m->ndurations++] = d;
    return 0;
}

static double number_or_nan(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

int jsonl_stats_add(struct jsonl_stats *st, const char *line, size_t len,
                    const char *fallback_id)
{
    cJSON *root = cJSON_ParseWithLength(line, len);
    const cJSON *status, *minion;
    struct jsonl_minion *m;
    const char *id = fallback_id, *s;
    double start, end, dur, seen;
    int rc = 0, final = 1;

    if (root == NULL || !cJSON_IsObject(root)) {
        goto malformed;
    }
    status = cJSON_GetObjectItemCaseSensitive(root, "status");
    if (!cJSON_IsString(status)) {
        goto malformed;
    }
    s = status->valuestring;
    if (strcmp(s, "released") == 0) {
        final = 0;
    } else if (strcmp(s, "ok") != 0 && strcmp(s, "failed") != 0 &&
               strcmp(s, "dead") != 0) {
        goto malformed;
    }
    minion = cJSON_GetObjectItemCaseSensitive(root, "minion");
    if (cJSON_IsString(minion) && minion->valuestring[0] != '\0') {
        id = minion->valuestring;
    }
    m = find_minion(st, id != NULL ? id : "");
    if (m == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    switch (s[0]) {
    case 'o': m->ok++; break;
    case 'f': m->failed++; break;
    case 'd': m->dead++; break;
    default: m->released++; break;
    }
    start = number_or_nan(root, "start");
    end = number_or_nan(root, "end");
    dur = number_or_nan(root, "duration");
    if (isnan(dur) && !isnan(start) && !isnan(end)) {
        dur = end - start;
    }
    /* A released task was cut short at shutdown: its time says nothing. */
    if (final && isfinite(dur) && dur >= 0) {
        rc = add_duration(m, dur);
    }
    seen = isnan(end) ? start : end;
    if (isfinite(seen) && (isnan(m->last_seen) || seen > m->last_seen)) {
        m->last_seen = seen;
    }
out:
    cJSON_Delete(root);
    return rc;
malformed:
    cJSON_Delete(root);
    st->malformed++;
    return 1;
}

static int cmp_minion(const void *a, const void *b)
{
    return strcmp(((const struct jsonl_minion *)a)->id,
                  ((const struct jsonl_minion *)b)->id);
}

void jsonl_stats_sort(struct jsonl_stats *st)
{
    if (st->nminions > 1) {
        qsort(st->minions, st->nminions, sizeof(*st->minions), cmp_minion);
    }
    st->last = 0;
}

void jsonl_stats_fini(struct jsonl_stats *st)
{
    size_t i;

    for (i = 0; i < st->nminions; i++) {
        free(st->minions[i].id);
        free(st->minions[i].durations);
    }
    free(st->minions);
    memset(st, 0, sizeof(*st));
}

double jsonl_mean(const double *v, size_t n)
{
    double sum = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        sum += v[i];
    }
    return n > 0 ? sum / (double)n : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double jsonl_p95(double *v, size_t n)
{
    size_t rank;

    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof(*v), cmp_double);
    /* Nearest rank: ceil(0.95 n), computed in integers to dodge 0.95's
     * binary rounding (20 values must give rank 19, not 20). */
    rank = (n * 95 + 99) / 100;
    return v[rank > 0 ? rank - 1 : 0];
}

/* Numbers the way a person reads them: fixed decimals, no 17-digit tails. */
static int add_fixed(cJSON *obj, const char *key, double v, int decimals)
{
    char num[64];

    if (!isfinite(v)) {
        return cJSON_AddNullToObject(obj, key) != NULL ? 0 : -ENOMEM;
    }
    snprintf(num, sizeof(num), "%.*f", decimals, v);
    return cJSON_AddRawToObject(obj, key, num) != NULL ? 0 : -ENOMEM;
}

static int add_counts(cJSON *obj, unsigned long ok, unsigned long failed,
                      unsigned long dead)
{
    if (cJSON_AddNumberToObject(obj, "ok", (double)ok) == NULL ||
        cJSON_AddNumberToObject(obj, "failed", (double)failed) == NULL ||
        cJSON_AddNumberToObject(obj, "dead", (double)dead) == NULL ||
        cJSON_AddNullToObject(obj, "pending") == NULL) {
        return -ENOMEM;
    }
    return 0;
}

static int add_durations(cJSON *obj, double *v, size_t n)
{
    if (n == 0) {
        return cJSON_AddNullToObject(obj, "mean_s") != NULL &&
                       cJSON_AddNullToObject(obj, "p95_s") != NULL
                   ? 0
                   : -ENOMEM;
    }
    if (add_fixed(obj, "mean_s", jsonl_mean(v, n), 6) < 0 ||
        add_fixed(obj, "p95_s", jsonl_p95(v, n), 6) < 0) {
        return -ENOMEM;
    }
    return 0;
}

static int add_minion(cJSON *list, struct jsonl_minion *m, double now)
{
    cJSON *o = cJSON_CreateObject();
    double idle = (now - m->last_seen) * 1000.0;

    if (o == NULL || !cJSON_AddItemToArray(list, o)) {
        cJSON_Delete(o);
        return -ENOMEM;
    }
    if (cJSON_AddStringToObject(o, "id", m->id) == NULL ||
        add_counts(o, m->ok, m->failed, m->dead) < 0 ||
        add_fixed(o, "idle_ms", idle < 0 ? 0 : idle, 0) < 0 ||
        add_fixed(o, "last_seen", m->last_seen, 3) < 0 ||
        cJSON_AddNumberToObject(o, "released", (double)m->released) == NULL ||
        add_durations(o, m->durations, m->ndurations) < 0) {
        return -ENOMEM;
    }
    return 0;
}

cJSON *jsonl_stats_json(struct jsonl_stats *st, double now)
{
    cJSON *root = cJSON_CreateObject(), *totals, *list;
    unsigned long ok = 0, failed = 0, dead = 0, released = 0;
    double *all = NULL;
    size_t i, n = 0;

    if (root == NULL) {
        return NULL;
    }
    for (i = 0; i < st->nminions; i++) {
        n += st->minions[i].ndurations;
    }
    if (n > 0) {
        all = malloc(n * sizeof(*all));
        if (all == NULL) {
            goto fail;
        }
    }
    n = 0;
    for (i = 0; i < st->nminions; i++) {
        const struct jsonl_minion *m = &st->minions[i];

        ok += m->ok;
        failed += m->failed;
        dead += m->dead;
        released += m->released;
        if (m->ndurations > 0) {
            memcpy(all + n, m->durations, m->ndurations * sizeof(*all));
            n += m->ndurations;
        }
    }
    if (cJSON_AddStringToObject(root, "source", "json") == NULL) {
        goto fail;
    }
    totals = cJSON_AddObjectToObject(root, "totals");
    if (totals == NULL || add_counts(totals, ok, failed, dead) < 0 ||
        cJSON_AddNullToObject(totals, "lag") == NULL ||
        cJSON_AddNumberToObject(totals, "released", (double)released) == NULL ||
        add_durations(totals, all, n) < 0 ||
        cJSON_AddNumberToObject(totals, "malformed", (double)st->malformed) ==
            NULL) {
        goto fail;
    }
    list = cJSON_AddArrayToObject(root, "minions");
    if (list == NULL) {
        goto fail;
    }
    for (i = 0; i < st->nminions; i++) {
        if (add_minion(list, &st->minions[i], now) < 0) {
            goto fail;
        }
    }
    free(all);
    return root;
fail:
    free(all);
    cJSON_Delete(root);
    return NULL;
}
