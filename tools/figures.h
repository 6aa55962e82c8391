/* SPDX-License-Identifier: MIT */
/*
 * How minion-status turns runs into figures, whichever source read them
 * (reports.c, live.c): exact percentiles and means of run durations, rates,
 * and the charts' steps. A source keeps these per minion and for the fleet
 * and reads its figures off them at each refresh. Pure: no I/O.
 */
#ifndef TOOLS_FIGURES_H
#define TOOLS_FIGURES_H

#include <stddef.h>

#include "fleet.h"

/* The "last minute" of the rates over the last minute, seconds. */
#define FIGURES_MINUTE_S 60

/* Values that are never negative (run durations, run ends), the first
 * @sorted of them in order. Sorting sorts what was added since the last
 * sort and merges it in: a refresh after a few new runs costs one pass,
 * not a sort of the whole history. Zeroed: empty. */
struct figures_values {
    double *v;
    size_t n, cap, sorted;
    double sum; /* of all n */
};

/* Add @v (>= 0). Returns 0 or -ENOMEM. */
int figures_add(struct figures_values *d, double v);

/* Put all of @d in order. Without memory for the fast way it sorts in
 * place, slower: the percentiles are always exact. */
void figures_sort(struct figures_values *d);

/* The nearest-rank percentile @pct (0..100) of sorted @d: the smallest
 * value with at least @pct % of the values at or below it. FLEET_UNKNOWN
 * when @d is empty. */
double figures_percentile(const struct figures_values *d, unsigned pct);

/* The mean of @d, FLEET_UNKNOWN when it is empty. */
double figures_mean(const struct figures_values *d);

/* Free what @d holds and empty it. */
void figures_values_fini(struct figures_values *d);

/* @runs per second from @from to @to, epoch seconds; FLEET_UNKNOWN when
 * that span is not positive or not known (NAN). */
double figures_rate(double runs, double from, double to);

/* Runs counted by the epoch second they ended in, for the last minute
 * only: a rate over it without keeping every end. Zeroed: none. */
#define FIGURES_RING 64 /* seconds kept: a minute and some */
struct figures_minute {
    long long sec[FIGURES_RING];
    double n[FIGURES_RING];
};

/* Count one run that ended in epoch second @sec. Runs should come about
 * in order: one older than the second its slot holds is out of the minute
 * anyway, and dropped. */
void figures_minute_add(struct figures_minute *m, long long sec);

/* Runs per second over the FIGURES_MINUTE_S whole seconds up to @now. */
double figures_minute_rate(const struct figures_minute *m, double now);

/*
 * Charts of runs ended per second, at most FLEET_SERIES_MAX steps. A source
 * that keeps every end (reports) counts them again at each change, so it
 * takes the smallest round step that fits (1 s, 2 s, 5 s, ... a year),
 * steps starting at multiples of it. One that counts each run once as it
 * reads it (Redis results) can only merge steps it has: figures_chart
 * starts at 1 s from the first second and doubles its step when the span
 * outgrows it.
 */

/* The smallest round step that fits @first..@last, epoch seconds, in
 * FLEET_SERIES_MAX steps. */
double figures_chart_step(double first, double last);

/* The step @t falls in, of @n steps of @step from the one numbered @b0
 * (floor(first / step)); before the first is the first, after the last
 * the last. */
size_t figures_chart_bin(double t, double step, double b0, size_t n);

struct figures_chart {
    double t0, step; /* step 0: nothing counted yet */
    double v[FLEET_SERIES_MAX];
    size_t n;
};

/* Count one run ended at @t, epoch seconds. */
void figures_chart_add(struct figures_chart *c, double t);

/* Runs per second into @out, up to the step of @now at least (a quiet
 * minute shows as such). Leaves @out as it was when nothing was counted. */
void figures_chart_series(struct figures_chart *c, double now,
                          struct fleet_series *out);

#endif
