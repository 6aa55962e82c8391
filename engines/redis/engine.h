/* SPDX-License-Identifier: MIT */
/* The redis engine's shared state. One instance owns two connections: the
 * reader's only ever carries the blocking XREADGROUP (a blocked read holds back
 * every reply behind it), the writer's carries everything else: acks, results,
 * dead letters, claims, refreshes, heartbeats, the sweep of dead consumers. A
 * dry run uses the reader's alone, reading without the group (see reader.c).
 * A third, the stats connection, is opened only once the core asks for the
 * queue's figures, so that fetching them never waits behind a read nor holds
 * back an ack (see queue.c). */
#ifndef REDIS_ENGINE_H
#define REDIS_ENGINE_H

#include <stddef.h>

#include <minionize/plugin.h>

#include "conn.h"
#include "entry.h"
#include "redis_url.h"
#include "streams.h"

struct event;

/* Keys of one group (README.md): "<stream>" SUFFIX "<group>". */
#define RELEASED_SUFFIX ":released:"
#define DELAYED_SUFFIX ":delayed:"

/* The settings table fills this. */
struct redis_conf {
    char *url;
    char *stream;
    char *group;
    long long claim_idle_ms;
    char *results; /* NULL: "<stream>:results"; "": no results */
    char *dead;    /* NULL: "<stream>:dead" */
    int trim;      /* REDIS_TRIM: trim what every group acked (trim.c) */
    long long results_maxlen; /* REDIS_RESULTS_MAXLEN; 0: no cap */
};

/* One param this minion holds: fetched and waiting for credit (`ready`), or
 * handed to the core (`running`; the core's handle). */
struct rtask {
    struct rtask *prev, *next;
    char id[RID_MAX];
    unsigned attempt;
    int foreign; /* another minion owns it now: stop refreshing it */
    /* Runs of it were released (release.c): its ack clears their count. */
    int released;
    char *param; /* ready only */
    size_t len;
    double handed; /* running: minion_now() when handed to the core */
};

struct rlist {
    struct rtask *head, *tail;
    size_t n;
};

/* What a writer command is, for handling its reply. */
enum write_kind {
    WRITE_RESULT, /* XADD to the results stream */
    WRITE_DEAD,   /* the dead-letter script */
    WRITE_ACK,    /* XACK of a batch of ids */
    WRITE_RETRY,  /* the take script: failed params back for another attempt */
    WRITE_BEAT,   /* heartbeat */
    /* release.c: runs given back unfinished. */
    WRITE_RELEASE,
    /* delay.c: a failed param set to wait out its retry delay. */
    WRITE_DELAY,
};

/* A formatted command waiting to be sent, or sent and awaiting its reply. */
struct write_cmd {
    char *buf;
    size_t len;
    unsigned char kind; /* enum write_kind */
    unsigned char done; /* its reply came */
    char *about;        /* the entry its reply is about (WRITE_DELAY); NULL */
};

struct write_batch;

/* queue.c: one fetch of the queue's figures, filled as its replies come. */
enum queue_seen {
    QUEUE_UNKNOWN = 0, /* no answer, or an error: its figures stay -1 */
    QUEUE_FOUND = 1,
    QUEUE_MISSING = 2, /* no such stream, or no such group on it */
};

struct queue_fetch {
    unsigned out;                /* replies still to come */
    int lost;                    /* one never came: keep the last figures */
    unsigned char stream, group; /* enum queue_seen */
    long long added, length;     /* XINFO STREAM; -1: not said */
    long long pending, entries_read, lag; /* the group's; -1: nil, not said */
    long long dead;                       /* XLEN of the dead letters */
};

/* Acks, results, dead letters and retries, batched (writer.c). */
struct writer {
    struct write_cmd *q; /* formatted, not sent yet */
    size_t nq, capq;
    char *acks; /* ids to XACK, RID_MAX bytes apart */
    size_t nacks, capacks;
    char *retries; /* ids to take back for another attempt */
    size_t nretries, capretries;
    struct write_batch *batches; /* sent, awaiting replies */
    struct event *flush_ev;
    unsigned long long result_errors;
};

/* reader.c: the XREADGROUP on its way: the COUNT it asked for, whether
 * it was sent without BLOCK, and when (minion_now()). */
struct read_out {
    unsigned count;
    int at_once;
    double sent;
};

struct redis_engine {
    struct minion_instance *inst;
    struct event_base *base;
    const struct minion_context *ctx;
    const struct redis_conf *conf;

    struct redis_url url;
    struct rtarget target;
    char where[512]; /* the URL without its password */
    struct streams_keys keys;
    const char *group, *me;
    char *stats_key; /* hash: this minion's counters */
    char claim_idle[24];
    unsigned block_ms;
    double started;

    struct rconn *reader_conn, *writer_conn;

    /* Credit and what this minion holds. */
    unsigned credit;
    struct rlist ready, running;
    int pumping;

    /* reader.c */
    int live;    /* own pending entries are done: read `>` */
    int reading; /* an XREADGROUP is out (a dry run: its XREAD) */
    struct read_out read_out;
    int hist_busy;           /* a history command is out */
    unsigned hist_epoch;     /* bumped by each resync */
    unsigned hist_req_epoch; /* the epoch the history page out was asked in */
    int hist_done;           /* the last history page was the end */
    size_t hist_taken;       /* entries the history took back, for the log */
    int group_wait; /* backing off after a failed read; 2: then recreate
                       the group */
    int group_backoff_ms;
    int drain_busy;
    long long drain_pending; /* XPENDING total of the drain check */
    int drain_poll;          /* an empty read: the next waits (drain_ev) */
    int ran_one;             /* a task has run here */
    struct event *drain_ev;
    char hist_cursor[RID_MAX + 1];
    struct event *group_ev;
    /* A dry run reads without the group, from here on (exclusive). */
    char dry_cursor[RID_MAX];
    /* Read-ahead (reader.c): at most this many fetched beyond the credit;
     * the mean time a task held a slot lately, and a full read took
     * (seconds; 0: none yet). */
    unsigned ahead_max;
    double slot_s, read_s;
    unsigned claim_budget; /* claims.c: what this claim tick may still take
                              beyond the free slots */

    /* release.c, delay.c: <stream>:released:<group> (hash: entry id ->
     * runs released unfinished) and <stream>:delayed:<group> (sorted set:
     * entry id by the time its retry is due, ms on Redis's clock). */
    char *released_key, *delayed_key;
    /* Failed params this minion holds while they wait out their delay. */
    struct rlist waiting;
    struct event *delay_ev;
    double delay_at;  /* minion_now() when delay_ev fires; 0: not armed */
    int delay_busy;   /* a take of due entries is out */
    int delay_wanted; /* the timer fired without free slots */

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

    /* trim.c */
    struct event *trim_ev;
    int trim_busy, trim_said_unknown;

    /* queue.c */
    struct rconn *stats_conn; /* made on the first queue() */
    struct queue_fetch fetch;
    double fetch_sent; /* monotonic seconds; 0: never */
    int have_figures;
    struct minion_queue figures; /* as last fetched, when have_figures */

    int paused;   /* no more deliveries (pause, stop) */
    int stopping; /* stop() was called */
    int drained;
    int dying; /* destroy() runs: callbacks only clean up */
    struct event *stop_ev;
};

/* With MINION_EXIT_WHEN_EMPTY an empty read is what ends the minion: the
 * longest BLOCK of a dry run's read, and the pace at which a minion
 * polls a group whose entries others still hold (reader.c). */
#define BLOCK_DRAIN_MS 250

/* max(@per_slot × concurrency, @floor): how the read-ahead and a claim
 * tick bound what they take beyond the free slots. */
static inline unsigned per_slot_bound(const struct redis_engine *r,
                                      unsigned per_slot, unsigned floor)
{
    unsigned n = per_slot * r->ctx->concurrency;

    return n > floor ? n : floor;
}

/* redis.c: the lists of what this minion holds. */
void rlist_append(struct rlist *l, struct rtask *t);
void rlist_remove(struct rlist *l, struct rtask *t);
void rlist_prepend(struct rlist *l, struct rtask *t);
/* Returns: the task with @id, or NULL. O(n): for the rare paths only. */
struct rtask *rlist_find(const struct rlist *l, const char *id);

/* redis.c: hand params to the core. */
/* Offer one fetched param: delivered now if there is credit, else queued.
 * Borrows: id and data (copied). */
void engine_offer(struct redis_engine *r, const char *id, unsigned attempt,
                  const char *data, size_t len);
/* A script row from a take or claim: run it, dead-letter it, or drop it. */
void engine_admit(struct redis_engine *r, const struct take_row *row);
/* An entry gone from the stream while pending: dead-letter it as lost. */
void engine_lost(struct redis_engine *r, const char *id, unsigned attempts);
/* Deliver what waits, then fetch more if there is credit left. */
void engine_pump(struct redis_engine *r);
/* stop(): end once the writer has nothing left. */
void engine_maybe_stopped(struct redis_engine *r);

/* reader.c */
int reader_init(struct redis_engine *r);
void reader_kick(struct redis_engine *r);
void reader_on_ready(struct redis_engine *r);
void reader_on_down(struct redis_engine *r);
/* After a lost connection: Redis may have handed this minion entries whose
 * reply never came. Go through its pending list again before reading on. */
void reader_resync(struct redis_engine *r);
void reader_stop(struct redis_engine *r);
void reader_fini(struct redis_engine *r);
/* A task held a slot for @seconds: the pace that sizes the read-ahead. */
void reader_task_done(struct redis_engine *r, double seconds);

/* trim.c: REDIS_TRIM, once a second by one minion of the fleet. */
int trim_start(struct redis_engine *r);
void trim_stop(struct redis_engine *r);
void trim_fini(struct redis_engine *r);

/* release.c */
/* Give @id back unfinished (stop, pause): count the run as released and
 * make the entry claimable at once. */
void release_one(struct redis_engine *r, const char *id);
/* The same for every param fetched but never handed to the core. */
void release_ready(struct redis_engine *r);
/* Ack @id and clear its count of released runs. */
void release_ack(struct redis_engine *r, const char *id);

/* delay.c */
int delay_init(struct redis_engine *r);
/* Park failed @t for @seconds (> 0): any minion runs it once due. Takes:
 * t. */
void delay_park(struct redis_engine *r, struct rtask *t, double seconds);
/* A take or claim found @row's entry waiting out its delay: hold it. */
void delay_adopt(struct redis_engine *r, const struct take_row *row);
/* The delay script's reply for the formatted command @cmd: a failure takes
 * the param back at once, an entry held elsewhere is forgotten. */
void delay_replied(struct redis_engine *r, const char *id,
                   const redisReply *reply);
/* Free slots came: take due entries if a poll waited for them. */
void delay_kick(struct redis_engine *r);
void delay_pause(struct redis_engine *r);
void delay_fini(struct redis_engine *r);

/* claims.c */
int claims_start(struct redis_engine *r);
void claims_run(struct redis_engine *r);
void claims_pause(struct redis_engine *r);
void claims_stop(struct redis_engine *r);
void claims_beat(struct redis_engine *r, const char *state);
/* Remove dead consumers, if a sweep is due: a pass at a time. */
void claims_sweep(struct redis_engine *r);
void claims_fini(struct redis_engine *r);

/* queue.c */
/* The queue's figures as last fetched into @out (as much as out->size
 * holds; nothing before the first fetch), and a fetch in the background
 * when they are stale. Never waits. */
void queue_get(struct redis_engine *r, struct minion_queue *out);
/* Close the stats connection: no fetch any more. */
void queue_stop(struct redis_engine *r);
/* Free it; its reply callbacks run now (as lost), while @r is whole. */
void queue_fini(struct redis_engine *r);

/* writer.c */
int writer_init(struct redis_engine *r);
void writer_fini(struct redis_engine *r);
/* Queue the results entry of one finished run. Borrows: rep. */
void writer_result(struct redis_engine *r, const struct minion_report *rep,
                   const char *status);
void writer_ack(struct redis_engine *r, const char *id);
void writer_retry(struct redis_engine *r, const char *id);
/* Copy the param to the dead-letter stream and ack it, atomically; only if
 * it is still pending unless @force. Borrows: everything. */
void writer_dead(struct redis_engine *r, const char *id, const char *param,
                 size_t len, const char *error, unsigned attempts, int force);
/* Queue an already formatted command. Takes: buf (even on failure). */
void writer_push(struct redis_engine *r, char *buf, int len,
                 enum write_kind kind);
/* writer_push, for a command whose reply handler must know which entry it
 * was about. Borrows: id (copied). */
void writer_push_about(struct redis_engine *r, char *buf, int len,
                       enum write_kind kind, const char *id);
/* Queue @head followed by @n ids (RID_MAX bytes apart), @chunk ids per
 * command. Returns: how many ids were queued (fewer when out of memory).
 * Borrows: everything. */
size_t writer_push_ids(struct redis_engine *r, const char *const *head,
                       size_t nhead, const char *ids, size_t n, size_t chunk,
                       enum write_kind kind);
void writer_flush(struct redis_engine *r);
int writer_idle(const struct redis_engine *r);

/* scripts.c: the Lua scripts, atomic where Redis must see one step. */
/* The arguments every script over the params stream starts with: EVAL,
 * @script, 3, the stream, the group's released counts and delayed set
 * (KEYS[1..3]), then the group and this consumer (ARGV[1..2]). */
#define SCRIPT_HEAD_ARGS 8
/* Write them into @argv[0..SCRIPT_HEAD_ARGS). Borrows: script and r's
 * names, for as long as @argv is used. */
void script_head(const struct redis_engine *r, const char *script,
                 const char **argv);
extern const char script_take[];
extern const char script_claim[];
extern const char script_refresh[];
extern const char script_dead[];
extern const char script_enlist[];
extern const char script_beat[];
extern const char script_sweep[];
extern const char script_release[];
extern const char script_ack_released[];
extern const char script_delay[];
extern const char script_due[];

#endif
