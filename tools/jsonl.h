/* SPDX-License-Identifier: MIT */
/* minion-status over the json reporter's files: per-minion counts and
 * durations from JSON lines. Pure: the caller reads the files. */
#ifndef TOOLS_JSONL_H
#define TOOLS_JSONL_H

#include <stddef.h>

#include <cJSON.h>

struct jsonl_minion {
    char *id;
    unsigned long ok, failed, dead, released;
    double *durations; /* seconds, of ok, failed and dead tasks */
    size_t ndurations, cap;
    double last_seen; /* the latest "end" (or "start"), epoch seconds */
};

struct jsonl_stats {
    struct jsonl_minion *minions;
    size_t nminions, cap;
    unsigned long malformed; /* lines that are not a report */
    size_t last;             /* index of the last minion used: a cache */
};

/* Count one report line of @len bytes (no newline needed); @fallback_id
 * names the minion when the line has no "minion" field. Returns 0, 1 when
 * the line is not a report (counted in st->malformed), or -ENOMEM. */
int jsonl_stats_add(struct jsonl_stats *st, const char *line, size_t len,
                    const char *fallback_id);

/* Sort the minions by id: stable output whatever the file order. */
void jsonl_stats_sort(struct jsonl_stats *st);

/* Free @st. Accepts a zeroed struct. */
void jsonl_stats_fini(struct jsonl_stats *st);

/* Mean of @n values; 0 when n is 0. */
double jsonl_mean(const double *v, size_t n);

/* The 95th percentile by nearest rank (the smallest value with at least
 * 95% of the values at or below it); 0 when n is 0. Sorts @v in place. */
double jsonl_p95(double *v, size_t n);

/* The minion-status --json object, "source":"json"; @now (epoch seconds)
 * gives idle_ms. Returns: new object; caller frees with cJSON_Delete(), or
 * NULL on no memory. Sorts the durations in place. */
cJSON *jsonl_stats_json(struct jsonl_stats *st, double now);

#endif
