/* SPDX-License-Identifier: MIT */
/* MINION_STATS_ADDR: GET /metrics (Prometheus text format 0.0.4) and GET
 * /stats (the same figures as one JSON object), served by libevent's HTTP
 * server on the minion's loop. Both read the stats module and the engine's
 * queue figures as last known: a scrape never waits for I/O and never
 * touches a task. */
#ifndef CORE_METRICS_H
#define CORE_METRICS_H

#include <stddef.h>

struct event_base;
struct minion_context;
struct runner;
struct metrics;

/* Listen on @addr, HOST:PORT ([IPv6]:PORT; an empty HOST is every
 * address). Borrows: base, r and ctx, which must outlive the server.
 * Returns: the server, or NULL with one line in @err (a bad address, a
 * port in use). */
struct metrics *metrics_new(struct event_base *base, const char *addr,
                            struct runner *r, const struct minion_context *ctx,
                            char *err, size_t errlen);
/* Stop listening and free. Accepts NULL. */
void metrics_free(struct metrics *m);

#endif
