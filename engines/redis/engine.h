/* SPDX-License-Identifier: MIT */
/* The redis engine's shared state. One instance owns two connections: `rd`
 * only ever carries the blocking XREADGROUP (a blocked read holds back every
 * reply behind it), `cmd` carries everything else: acks, results, dead
 * letters, claims, refreshes, heartbeats, the sweep of dead consumers. A
 * dry run uses `rd` alone, reading without the group (see reader.c). */
#ifndef REDIS_ENGINE_H
#define REDIS_ENGINE_H

#include <stddef.h>

#include <minionize/plugin.h>

#include "conn.h"
#include "entry.h"
#include "redis_url.h"

struct event;

/* The per-minion stats hash outlives its minion this long (ms). */
#define STATS_TTL_MS "86400000"

/* The settings table fills this. */
struct redis_conf {
    char *url;
    char *stream;
    char *group;
    long long claim_idle_ms;
    char *results; /* NULL: "<stream>:results"; "": no results */
    char *dead;    /* NULL: "<stream>:dead" */
};

/* One param this minion holds: fetched and waiting for credit (`ready`), or
 * handed to the core (`running`; the core's handle). */
struct rtask {
    struct rtask *prev, *next;
    char id[RID_MAX];
    unsigned attempt;
    int foreign; /* another minion owns it now: stop refreshing it */
    char *param; /* ready only */
    size_t len;
};

struct rlist {
    struct rtask *head, *tail;
    size_t n;
};

/* What a writer command is, for handling its reply. */
enum wkind {
    W_RESULT, /* XADD to the results stream */
    W_DEAD,   /* the dead-letter script */
    W_ACK,    /* XACK of a batch of ids */
    W_TAKE,   /* the take script: failed params back for another attempt */
    W_BEAT,   /* heartbeat */
};

/* A formatted command waiting to be sent, or sent and awaiting its reply. */
struct wcmd {
    char *buf;
    size_t len;
    unsigned char kind; /* enum wkind */
    unsigned char done; /* its reply came */
};

struct wbatch;

/* Acks, results, dead letters and retries, batched per loop iteration. */
struct writer {
    struct wcmd *q; /* formatted, not sent yet */
    size_t nq, capq;
    char *acks; /* ids to XACK, RID_MAX bytes apart */
    size_t nacks, capacks;
    char *retries; /* ids to take back for another attempt */
    size_t nretries, capretries;
    struct wbatch *batches; /* sent, awaiting replies */
    struct event *flush_ev;
    unsigned long long result_errors;
};

struct rds {
    struct minion_instance *inst;
    struct event_base *base;
    const struct minion_context *ctx;
    const struct redis_conf *conf;

    struct redis_url url;
    struct rtarget target;
    char *where; /* the URL without its password */
    const char *stream, *group, *me;
    char *results; /* NULL: off */
    char *dead;
    char *minions_key; /* hash: minion id -> last heartbeat (epoch ms) */
    char *stats_key;   /* hash: this minion's counters */
    char claim_idle[24];
    unsigned block_ms;
    double started;

    struct rconn *rd, *cmd;

    /* Credit and what this minion holds. */
    unsigned credit;
    struct rlist ready, running;
    int pumping;

    /* reader.c */
    int live;          /* own pending entries are done: read `>` */
    int reading;       /* an XREADGROUP is out */
    int hist_busy;     /* a history command is out */
    unsigned hist_epoch;     /* bumped by each resync */
    unsigned hist_req_epoch; /* the epoch the history page out was asked in */
    int hist_done;     /* the last history page was the end */
    size_t hist_taken; /* entries the history took back, for the log */
    int group_wait;    /* backing off after a failed read; 2: then recreate
                          the group */
    int group_backoff_ms;
    int drain_busy;
    long long drain_pending; /* XPENDING total of the drain check */
    char hist_cursor[RID_MAX + 1];
    struct event *group_ev;
    /* A dry run reads without the group, from here on (exclusive). */
    char dry_cursor[RID_MAX];

    /* claims.c */
    int claim_busy;
    unsigned refresh_busy;
    char claim_cursor[RID_MAX];
    struct event *claim_ev, *refresh_ev;
    /* The sweep of dead consumers: a pass is out; a sweep is due; where
     * the pass over the heartbeat hash is; removed in this sweep. */
    int sweep_busy, sweep_due;
    char sweep_cursor[24];
    char sweep_stale[24]; /* ms after which a heartbeat is long stale */
    size_t sweep_removed, sweep_passes;
    struct event *sweep_ev;

    struct writer w;

    int paused;   /* no more deliveries (pause, stop) */
    int stopping; /* stop() was called */
    int drained;
    int dying; /* destroy() runs: callbacks only clean up */
    struct event *stop_ev;
};

/* redis.c: the lists of what this minion holds. */
void rlist_append(struct rlist *l, struct rtask *t);
void rlist_remove(struct rlist *l, struct rtask *t);
/* Returns: the task with @id, or NULL. O(n): for the rare paths only. */
struct rtask *rlist_find(const struct rlist *l, const char *id);

/* redis.c: hand params to the core. */
/* Offer one fetched param: delivered now if there is credit, else queued.
 * Borrows: id and data (copied). */
void engine_offer(struct rds *r, const char *id, unsigned attempt,
                  const char *data, size_t len);
/* A script row from a take or claim: run it, dead-letter it, or drop it. */
void engine_admit(struct rds *r, const struct take_row *row);
/* An entry gone from the stream while pending: dead-letter it as lost. */
void engine_lost(struct rds *r, const char *id, unsigned attempts);
/* Deliver what waits, then fetch more if there is credit left. */
void engine_pump(struct rds *r);
/* stop(): end once the writer has nothing left. */
void engine_maybe_stopped(struct rds *r);

/* reader.c */
int reader_init(struct rds *r);
void reader_kick(struct rds *r);
void reader_on_ready(struct rds *r);
void reader_on_down(struct rds *r);
/* After a lost connection: Redis may have handed this minion entries whose
 * reply never came. Go through its pending list again before reading on. */
void reader_resync(struct rds *r);
void reader_stop(struct rds *r);
void reader_fini(struct rds *r);

/* claims.c */
int claims_start(struct rds *r);
void claims_run(struct rds *r);
void claims_pause(struct rds *r);
void claims_stop(struct rds *r);
void claims_beat(struct rds *r, const char *state);
/* Remove dead consumers, if a sweep is due: a pass at a time. */
void claims_sweep(struct rds *r);
void claims_fini(struct rds *r);

/* writer.c */
int writer_init(struct rds *r);
void writer_fini(struct rds *r);
/* Queue the results entry of one finished run. Borrows: rep. */
void writer_result(struct rds *r, const struct minion_report *rep,
                   const char *status);
void writer_ack(struct rds *r, const char *id);
void writer_retry(struct rds *r, const char *id);
/* Copy the param to the dead-letter stream and ack it, atomically; only if
 * it is still pending unless @force. Borrows: everything. */
void writer_dead(struct rds *r, const char *id, const char *param, size_t len,
                 const char *error, unsigned attempts, int force);
/* Queue an already formatted command. Takes: buf (even on failure). */
void writer_push(struct rds *r, char *buf, int len, enum wkind kind);
void writer_flush(struct rds *r);
int writer_idle(const struct rds *r);

/* scripts.c: the Lua scripts, atomic where Redis must see one step. */
extern const char script_take[];
extern const char script_claim[];
extern const char script_refresh[];
extern const char script_dead[];
extern const char script_enlist[];
extern const char script_beat[];
extern const char script_sweep[];

#endif
