/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <string.h>

#include "clock.h"
#include "stats.h"

/* From a millisecond to an hour: the spread of tasks minionize runs. */
const double stats_bucket_bounds[STATS_BUCKETS] = {
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 600, 3600,
};

void stats_init(struct stats *s)
{
    memset(s, 0, sizeof(*s));
    s->started = clock_now();
}

void stats_record(struct stats *s, enum minion_status status, double seconds)
{
    size_t b = 0;

    if ((unsigned)status < sizeof(s->by_status) / sizeof(s->by_status[0])) {
        s->by_status[status]++;
    }
    if (seconds < 0) {
        seconds = 0;
    }
    while (b < STATS_BUCKETS && seconds > stats_bucket_bounds[b]) {
        b++;
    }
    s->buckets[b]++;
    s->duration_sum += seconds;
}

void stats_fill(const struct stats *s, unsigned in_flight,
                struct minion_stats *out)
{
    struct minion_stats full;
    unsigned size = out->size;

    memset(&full, 0, sizeof(full));
    full.size = size;
    full.ok = s->by_status[MINION_STATUS_OK];
    full.failed = s->by_status[MINION_STATUS_FAILED];
    full.dead = s->by_status[MINION_STATUS_DEAD];
    full.released = s->by_status[MINION_STATUS_RELEASED];
    full.in_flight = in_flight;
    full.started = s->started;
    memcpy(out, &full, size < sizeof(full) ? size : sizeof(full));
}
