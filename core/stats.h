/* SPDX-License-Identifier: MIT */
/* The minion's figures, counted in one place: finished runs by status and
 * a histogram of run durations (tasks in flight are the runner's). The runner
 * feeds it; the final log line, plugins (minion_stats_get) and, later, the
 * /metrics endpoint read it. Loop thread only. */
#ifndef CORE_STATS_H
#define CORE_STATS_H

#include <minionize/plugin.h>

/* Upper bounds of the duration buckets, in seconds (the last is +Inf). */
#define STATS_BUCKETS 12

struct stats {
    unsigned long long by_status[4]; /* indexed by enum minion_status */
    unsigned long long
        buckets[STATS_BUCKETS + 1]; /* per bucket, not cumulative */
    double duration_sum;
    double started; /* epoch seconds */
};

/* The bucket bounds, ascending: STATS_BUCKETS numbers. */
extern const double stats_bucket_bounds[STATS_BUCKETS];

void stats_init(struct stats *s);
/* A run finished with @status after @seconds. */
void stats_record(struct stats *s, enum minion_status status, double seconds);
/* The figures a plugin may read, with the @in_flight tasks the runner
 * holds. Fills no more than out->size bytes. */
void stats_fill(const struct stats *s, unsigned in_flight,
                struct minion_stats *out);

#endif
