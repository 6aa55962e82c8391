/* SPDX-License-Identifier: MIT */
/* minion-status --redis, in two parts: live.c reads the queue, the
 * minions and the dead letters anew at each refresh, and live_results.c
 * the results stream, only what was added since the last one. Private to
 * the two. */
#ifndef TOOLS_LIVE_H
#define TOOLS_LIVE_H

#include <stddef.h>

#include "figures.h"
#include "fleet.h"
#include "redis_sync.h"
#include "redis_url.h"
#include "streams.h"

/* The longest wait for one reply, seconds. */
#define LIVE_COMMAND_TIMEOUT_S 30

/* (time, done) of past refreshes: the ETA's rate spans a minute of them. */
#define LIVE_SAMPLES 64

/* What the results said, about one minion or the whole fleet. */
struct tally {
    char *id; /* the minion; NULL for the fleet */
    double ok, failed, dead;
    struct figures_values d;    /* run durations, ms */
    struct figures_minute runs; /* every run */
    /* The ok and dead runs: acked, what the ETA counts */
    struct figures_minute done;
    double first_s; /* the earliest start, epoch seconds; 0: none */
    double last_s;  /* the latest finish */
};

/* The results read so far: live_results.c's. Zeroed, with added -1:
 * none. */
struct results {
    unsigned long long last_ms, last_seq; /* the last entry read */
    double added; /* the stream's entries-added then; -1: none */
    struct tally all;
    struct tally **per; /* by minion id, sorted */
    size_t n_per, cap_per, hint;
    struct figures_chart rate; /* runs ended per step */
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
    struct results res;
    /* done (delivered and acked) at past refreshes, oldest first */
    struct sample samples[LIVE_SAMPLES];
    size_t n_samples;
};

/* live.c: one line in the source's error, after the server's name.
 * Returns -1. */
int live_fail(struct live *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* live.c: the error @why, and the connection closed (a failed read leaves
 * it out of step). Returns -1. */
int live_lost(struct live *s, const char *why);

/* live.c: whether @r is the error a missing key or group gives (@prefix,
 * "ERR no such key" or "NOGROUP"): not there yet, which is no fault. */
int live_is_missing(const redisReply *r, const char *prefix);

/* live.c: the value after @name in a flat [name, value, ...] reply (XINFO,
 * HGETALL); NULL when absent. */
const redisReply *live_field(const redisReply *r, const char *name);

/* live.c: a count or time from an integer or a number in text;
 * FLEET_UNKNOWN for nil, absent or not a number. */
double live_number(const redisReply *r);

/* live.c: a string reply's text; NULL for anything else. */
const char *live_text(const redisReply *r);

/* live.c: "ms-seq" into its two parts. Returns 0, or -1 when @id is not
 * one. */
int live_parse_id(const char *id, unsigned long long *ms,
                  unsigned long long *seq);

/* live_results.c: read the results added since the last call. @info is
 * XINFO STREAM of the results stream. Returns 0, or -1 with the error
 * set. */
int live_results_read(struct live *s, const redisReply *info);

/* live_results.c: forget every result read. */
void live_results_reset(struct results *r);

/* live_results.c: @m's figures from its results, where its hash had
 * none. */
void live_results_minion(struct results *r, struct fleet_minion *m, double now);

/* live_results.c: the fleet's counts, rates, durations and chart. */
void live_results_totals(struct results *r, struct fleet *f);

#endif
