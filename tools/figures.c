/* SPDX-License-Identifier: MIT */
/* The figures both minion-status sources compute, once (figures.h). */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "figures.h"
#include "grow.h"

#define RADIX_BITS 11
#define RADIX (1 << RADIX_BITS)

int figures_add(struct figures_values *d, double v)
{
    if (d->n == d->cap && grow(&d->v, &d->cap, d->n + 1, sizeof(*d->v), 64)) {
        return -ENOMEM;
    }
    d->v[d->n++] = v;
    d->sum += v;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Sort @n values. They are never negative, and the bits of non-negative
 * doubles order as unsigned integers do: a radix sort is several times
 * faster than qsort() on the million runs of a big sweep. Returns 0 or
 * -ENOMEM (then @v is as it was). */
static int radix_sort(double *v, size_t n)
{
    uint64_t *a, *b, *t;
    size_t count[RADIX], i, sum, c;
    unsigned shift;

    if (n < 64) {
        qsort(v, n, sizeof(*v), cmp_double);
        return 0;
    }
    a = malloc(n * sizeof(*a));
    b = malloc(n * sizeof(*b));
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return -ENOMEM;
    }
    memcpy(a, v, n * sizeof(*a));
    for (shift = 0; shift < 64; shift += RADIX_BITS) {
        memset(count, 0, sizeof(count));
        for (i = 0; i < n; i++) {
            count[(a[i] >> shift) & (RADIX - 1)]++;
        }
        if (count[(a[0] >> shift) & (RADIX - 1)] == n) {
            continue; /* one digit for all: nothing to move */
        }
        for (i = 0, sum = 0; i < RADIX; i++) {
            c = count[i];
            count[i] = sum;
            sum += c;
        }
        for (i = 0; i < n; i++) {
            b[count[(a[i] >> shift) & (RADIX - 1)]++] = a[i];
        }
        t = a;
        a = b;
        b = t;
    }
    memcpy(v, a, n * sizeof(*v));
    free(a);
    free(b);
    return 0;
}

/* Merge the sorted tail of @d (from d->sorted on) into its sorted head.
 * Returns 0 or -ENOMEM. */
static int merge_tail(struct figures_values *d)
{
    size_t a = d->sorted, b = d->n - d->sorted, i = a, j = b, k = d->n;
    double *tail;

    if (a == 0 || d->v[a - 1] <= d->v[a]) {
        return 0; /* the tail starts at or above the head's largest */
    }
    tail = malloc(b * sizeof(*tail));
    if (tail == NULL) {
        return -ENOMEM;
    }
    memcpy(tail, d->v + a, b * sizeof(*tail));
    /* From the back, so the sorted part is never overwritten unread. */
    while (j > 0) {
        if (i > 0 && d->v[i - 1] > tail[j - 1]) {
            d->v[--k] = d->v[--i];
        } else {
            d->v[--k] = tail[--j];
        }
    }
    free(tail);
    return 0;
}

void figures_sort(struct figures_values *d)
{
    if (d->sorted == d->n) {
        return;
    }
    if (radix_sort(d->v + d->sorted, d->n - d->sorted) < 0 ||
        merge_tail(d) < 0) {
        qsort(d->v, d->n, sizeof(*d->v), cmp_double);
    }
    d->sorted = d->n;
}

/* Integer arithmetic: 0.95 is no exact double, and 20 values must give
 * the 19th. */
double figures_percentile(const struct figures_values *d, unsigned pct)
{
    size_t rank;

    if (d->n == 0) {
        return FLEET_UNKNOWN;
    }
    rank = (d->n * pct + 99) / 100;
    return d->v[rank > 0 ? rank - 1 : 0];
}

double figures_mean(const struct figures_values *d)
{
    return d->n > 0 ? d->sum / (double)d->n : FLEET_UNKNOWN;
}

void figures_values_fini(struct figures_values *d)
{
    free(d->v);
    memset(d, 0, sizeof(*d));
}

double figures_rate(double runs, double from, double to)
{
    double span = to - from;

    return isfinite(span) && span > 0 ? runs / span : FLEET_UNKNOWN;
}

void figures_minute_add(struct figures_minute *m, long long sec)
{
    size_t i = (size_t)(sec % FIGURES_RING);

    if (m->sec[i] == sec) {
        m->n[i]++;
    } else if (m->sec[i] < sec) {
        m->sec[i] = sec;
        m->n[i] = 1;
    }
}

double figures_minute_rate(const struct figures_minute *m, double now)
{
    long long to = (long long)floor(now);
    double sum = 0;
    size_t i;

    for (i = 0; i < FIGURES_RING; i++) {
        if (m->sec[i] > to - FIGURES_MINUTE_S && m->sec[i] <= to) {
            sum += m->n[i];
        }
    }
    return sum / FIGURES_MINUTE_S;
}

double figures_chart_step(double first, double last)
{
    static const double steps[] = {
        1,     2,     5,      10,     15,      30,      60,    120,
        300,   600,   900,    1800,   3600,    7200,    10800, 21600,
        43200, 86400, 172800, 604800, 2592000, 31536000};
    double step = 0;
    size_t i;

    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        step = steps[i];
        if (floor(last / step) - floor(first / step) < FLEET_SERIES_MAX) {
            return step;
        }
    }
    while (floor(last / step) - floor(first / step) >= FLEET_SERIES_MAX) {
        step *= 2;
    }
    return step;
}

size_t figures_chart_bin(double t, double step, double b0, size_t n)
{
    double i = floor(t / step) - b0;

    return i <= 0 ? 0 : i >= (double)n ? n - 1 : (size_t)i;
}

/* The index of @t's step, merging pairs of steps until it fits. */
static size_t chart_fit(struct figures_chart *c, double t)
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

void figures_chart_add(struct figures_chart *c, double t)
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

void figures_chart_series(struct figures_chart *c, double now,
                          struct fleet_series *out)
{
    size_t n, k;

    if (c->step == 0) {
        return;
    }
    n = chart_fit(c, now > c->t0 ? now : c->t0) + 1;
    if (n < c->n) {
        n = c->n;
    }
    for (k = 0; k < n; k++) {
        out->values[k] = c->v[k] / c->step;
    }
    out->n = n;
    out->step = c->step;
    out->end = c->t0 + (double)n * c->step;
}
