/* SPDX-License-Identifier: MIT */
/*
 * minion-status's model: the figures of a fleet, whatever they came from.
 * A source (a reports folder, reports.c; Redis, live.c) fills a struct
 * fleet on each refresh, reading only what is new since the last one; the
 * views (the table and --json, fleet_view.c; --watch, watch.c) only read
 * it. A figure a source cannot know is FLEET_UNKNOWN (numbers) or NULL
 * (text), and shows as "-" or JSON null.
 */
#ifndef TOOLS_FLEET_H
#define TOOLS_FLEET_H

#include <stddef.h>
#include <stdio.h>

#include <cJSON.h>

/* An unknown count or duration. */
#define FLEET_UNKNOWN (-1.0)

/* Points of the charts (rate and tasks in flight over time). */
#define FLEET_SERIES_MAX 512

/* One minion. For reports: one uid (one run of a minion process), named
 * by its MINION_ID; for Redis: one consumer or heartbeat. */
struct fleet_minion {
    char *id;       /* MINION_ID, the consumer's name */
    char *uid;      /* reports: the process run; NULL for Redis */
    char *nodename; /* NULL: unknown */
    char *oar_job_id, *slurm_job_id, *slurm_array_task_id; /* NULL: unset */
    double ok, failed, dead;                               /* finished runs */
    double pending;            /* Redis: its pending entries */
    double in_flight;          /* Redis heartbeat hash: its tasks running */
    double p50, mean, p95;     /* run durations, seconds */
    double rate_1m, rate_all;  /* finished runs per second */
    double started, last_seen; /* epoch seconds */
    double idle_ms;            /* since last seen, or the consumer's idle */
    int probably_dead;         /* idle far past the claim idle */
};

/* An error text and how often it was seen. */
struct fleet_error {
    char *text;
    double count;
    double last; /* epoch seconds of the latest */
};

/* A chart: one value per step of @step seconds, the last one ending at
 * @end; at most FLEET_SERIES_MAX values, oldest first. */
struct fleet_series {
    double values[FLEET_SERIES_MAX];
    size_t n;
    double step, end;
};

struct fleet {
    const char *source; /* "json" or "redis" */
    const char *where;  /* the folder, or the URL without password */
    double now;         /* epoch seconds of this refresh */
    /* Totals */
    double ok, failed, dead;
    double pending;       /* delivered, not yet acked */
    double lag;           /* not yet delivered */
    double in_flight;     /* running now, when known */
    double stream_length; /* Redis: entries in the params stream */
    double added;         /* Redis: entries ever added to it */
    double dead_letters;  /* Redis: entries of the dead-letter stream */
    double percent;       /* done, 0..100 */
    double eta_s;         /* seconds left at the recent rate */
    double p50, mean, p95;
    double rate_1m, rate_all;
    double started; /* the first start seen */
    /* Per minion, sorted by id then uid */
    struct fleet_minion *minions;
    size_t n_minions;
    /* Most frequent errors first (reports), or the latest first (Redis:
     * the dead letters'); at most 10 */
    struct fleet_error *errors;
    size_t n_errors;
    /* Charts; n == 0 when the source has none (the watch view then draws
     * them from its own refreshes) */
    struct fleet_series rate, in_flight_series;
    unsigned long malformed; /* report lines that were not reports */
};

/* Empty @f: every figure unknown. */
void fleet_init(struct fleet *f, const char *source, const char *where);
/* Free what @f holds and empty it again. */
void fleet_clear(struct fleet *f);
/* ok + failed + dead, or FLEET_UNKNOWN when none of them is known. */
double fleet_done(const struct fleet *f);

struct fleet_source {
    /* Refill @f from what is new since the last call. Returns 0, or -1
     * with one line in @error (a folder that cannot be read, Redis that
     * cannot be reached). */
    int (*refresh)(struct fleet_source *src, struct fleet *f);
    void (*free)(struct fleet_source *src);
    char error[512];
};

/* reports.c: the json reporter's folder (v1 and v2 records). */
struct fleet_source *reports_source_new(const char *dir);

struct settings;
/* live.c: Redis, with the minion's REDIS_* settings from @cfg. Returns:
 * the source, or NULL with one line printed (a bad setting). */
struct fleet_source *redis_source_new(struct settings *cfg);

/* fleet_view.c: the table, and the --json document (the contract's fields
 * and all of the above). */
void fleet_print_table(const struct fleet *f, FILE *out);
cJSON *fleet_json(const struct fleet *f);

/* watch.c (and watch_frame.c): refresh every @interval seconds until q,
 * Ctrl-C or SIGTERM; full-screen on a terminal, one plain line per refresh
 * otherwise. Returns the exit status. */
int watch_run(struct fleet_source *src, struct fleet *f, double interval);

#endif
