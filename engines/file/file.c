/* SPDX-License-Identifier: MIT */
/*
 * engines/file/file.c: the `file` engine. Params are the lines of
 * MINION_FILE (or standard input); the task id is the physical line number.
 *
 * Two modes:
 *  - stateless (no MINION_FILE_STATE): read the input once, front to back.
 *    A failed line is delivered again (before new lines) by this minion; the
 *    engine is drained at EOF once every line is settled; a last line
 *    without "\n" is a param at EOF. This is the fast
 *    path: a handle is a pooled record, an id is formatted on the stack, and
 *    regular files are read in large chunks right from request().
 *  - MINION_FILE_STATE=DIR: progress lives in DIR (see state.h), so minions
 *    resume after a restart, split one file between them, retry failures
 *    (and runs their minion died in) across restarts and keep dead letters
 *    in DIR/dead.jsonl. A line is a param once its "\n" is written; a last
 *    line without one waits (wait_tail).
 *
 * Nothing here blocks the loop: pipes, FIFOs, ttys and sockets are read on an
 * EV_READ event, one read(2) per readiness; regular files (which epoll
 * refuses) are read directly, only while there is credit; state locks are
 * tried without waiting and retried on a short timer.
 *
 * MINION_RETRY_DELAY: a failed param waits out the delay the core gives
 * it (report->retry_delay) apart, in a heap by due time, while other params
 * keep flowing; one timer is armed for the earliest. Stateless, the heap is
 * this minion's, on the monotonic clock, and a stop forgets it as it
 * forgets the rest of the input. With a state directory the wait is a
 * wall-clock time in the journal (state.h), kept by a restart or an
 * adopter. Either way the engine is not drained while a retry is owed.
 *
 * The minion's own shortage of descriptors or memory met by the state
 * directory (an adoption's opendir, a claim, a line read back) is never a
 * param's fault and never fatal: the engine holds (delivers nothing new,
 * the tasks running go on), tries again on a timer with backoff, and says
 * so once per episode, and once more when it takes lines again.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <minionize/plugin.h>

#include "due.h"
#include "lines.h"
#include "state.h"
#include "timeval.h"

/* Input read per read(2). */
#define READ_BYTES (256 * 1024)
/* With free slots but nothing to claim, look again this often (appended
 * lines, dead minions) while our own tasks still run. */
#define ADOPT_SCAN_S 1
/* A journal this large is rewritten down to the lines still owned. */
#define JOURNAL_COMPACT_BYTES (4u << 20)
/* Waiting for a state lock: first and longest pause, in milliseconds. */
#define LOCK_WAIT_MIN_MS 1
#define LOCK_WAIT_MAX_MS 50
/* Nothing left but a last line without its newline: how long (since it
 * last grew) the writer gets to end it, looking this often. */
#define TAIL_WAIT_S 2.0
#define TAIL_LOOK_MS 100
/* Held for the minion's own shortage: first and longest pause before the
 * state directory is tried again, in milliseconds. */
#define HOLD_MIN_MS 50
#define HOLD_MAX_MS 5000
/* How long stop() keeps trying to write the last dead letters. */
#define STOP_FLUSH_S 5.0
/* Stateless handles are allocated this many at a time. */
#define RECS_PER_SLAB 256

struct file_conf {
    char *path;  /* MINION_FILE */
    char *state; /* MINION_FILE_STATE */
    char *shard; /* MINION_SHARD */
};

static const struct minion_option file_options[] = {
    {"MINION_FILE", MINION_OPT_STRING, "-", offsetof(struct file_conf, path), 0,
     "File to read params from, one per line; '-' reads standard input.", NULL},
    {"MINION_FILE_STATE", MINION_OPT_STRING, NULL,
     offsetof(struct file_conf, state), 0,
     "Directory keeping progress, so minions resume after a restart, share "
     "the file without running a line twice and keep dead letters in "
     "DIR/dead.jsonl; unset: no state.",
     NULL},
    {"MINION_SHARD", MINION_OPT_STRING, NULL, offsetof(struct file_conf, shard),
     0,
     "I/N: keep only the lines whose 0-based index modulo N is I-1 (I from 1 "
     "to N); with MINION_FILE_STATE the shard keeps its progress in "
     "DIR/shard-I-of-N; unset: every line.",
     NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

/* A delivered line in stateless mode; also a queued retry. */
struct rec {
    uint64_t line;
    unsigned attempt;
    char *data; /* retries only: a copy of the param */
    size_t len;
    struct rec *next; /* free list or retry queue */
};

struct slab {
    struct slab *next;
    struct rec recs[RECS_PER_SLAB];
};

struct file_engine {
    struct minion_instance *inst;
    const struct minion_context *ctx;
    struct file_conf *conf;
    struct lines_shard shard;
    char *state_dir; /* with the shard's folder when sharded */

    int fd;
    int own_fd; /* ours to close (not standard input) */
    int polled; /* read on EV_READ; else read directly */
    struct event *read_ev, *kick_ev, *timer_ev;
    struct event *delay_ev; /* the earliest retry delay's end */
    int read_on;

    struct lines in;
    int eof;       /* stateless: read(2) said EOF */
    int exhausted; /* stateless: EOF and no line left in the window */
    /* Stateless, a regular file: the bytes it had from where we started
     * reading; once the window reaches them, it holds the input's end. */
    int regular;
    uint64_t size_at_start;

    unsigned credit;
    unsigned long outstanding;
    int paused, pumping, drained, failed;

    /* Stateless handles and retries. */
    struct rec *free_recs;
    struct slab *slabs;
    struct rec *retry_head, *retry_tail;
    struct due_heap delayed; /* retries waiting out their delay */

    /* State mode. */
    struct fstate *st;
    struct fline **batch; /* room for ctx->concurrency claimed lines */
    int idle;             /* the last look found nothing: wait for a change */
    int waiting;          /* the lock timer is armed */
    int relook;           /* ... only to look again (arm_relook) */
    unsigned wait_ms;
    int dry_state; /* a dry run with MINION_FILE_STATE, which it leaves
                      alone */
    int stopping;  /* stop() returned 1 */
    int closed;    /* stop() was called: no more timers */
    int held;      /* a shortage of our own: wait for the timer (hold) */
    int held_op;   /* what met it: HOLD_NEXT or HOLD_SYNC */
    unsigned hold_ms;
    double held_since;
    double stop_deadline;
    unsigned seed;

    /* The queue's figures (file_queue), counted as lines go by so that
     * asking never reads anything. */
    uint64_t taken;   /* stateless: params taken from the input */
    uint64_t settled; /* for good, here: acked, dead (a dry run: shown) */
    uint64_t dead;    /* dead-lettered here */
    long long total;  /* stateless: params in the input; -1 until known */
    int at_end;       /* state: the last claim found the end of the file */

    /* The unterminated last line, waiting for its "\n" at the end. */
    uint64_t tail_line;
    size_t tail_len;
    double tail_since; /* when it was first seen at that length */
    int tail_warned;   /* said once why it did not run */
};

static void pump(struct file_engine *fe);

static void fail(struct file_engine *fe, const char *what)
{
    if (!fe->failed) {
        fe->failed = 1;
        fe->credit = 0;
        minion_instance_fail(fe->inst, "%s", what);
    }
}

/* Run pump() on the next loop iteration rather than deep in a call chain. */
static void kick(struct file_engine *fe)
{
    event_active(fe->kick_ev, EV_TIMEOUT, 0);
}

/* Seconds on a clock no one sets: a stateless wait survives clock jumps. */
static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The wait the core asks for before the next run of a failed param: 0 from
 * a core older than ABI 2.3, whose report has no such field. */
static double report_delay(const struct minion_report *report)
{
    if (report->size < offsetof(struct minion_report, retry_delay) +
                           sizeof(report->retry_delay)) {
        return 0;
    }
    return report->retry_delay > 0 ? report->retry_delay : 0;
}

/* Arm the delay timer for the earliest retry due, or disarm it when none
 * waits. */
static void arm_delay(struct file_engine *fe)
{
    double wait;
    struct timeval tv;

    if (!fe->delay_ev || fe->closed) {
        return;
    }
    if (fe->st && fstate_waiting(fe->st)) {
        wait = fstate_next_due(fe->st) - minion_now();
    } else if (!fe->st && due_peek(&fe->delayed, &wait)) {
        wait -= mono_now();
    } else {
        evtimer_del(fe->delay_ev);
        return;
    }
    tv = timeval_of_seconds(wait);
    evtimer_add(fe->delay_ev, &tv);
}

/* ------------------------------------------------------------------------ */
/* Stateless handles                                                        */

static struct rec *rec_get(struct file_engine *fe)
{
    struct rec *r = fe->free_recs;

    if (!r) {
        struct slab *s = malloc(sizeof(*s));
        if (!s) {
            return NULL;
        }
        s->next = fe->slabs;
        fe->slabs = s;
        for (size_t i = 0; i < RECS_PER_SLAB; i++) {
            s->recs[i].next = fe->free_recs;
            fe->free_recs = &s->recs[i];
        }
        r = fe->free_recs;
    }
    fe->free_recs = r->next;
    r->data = NULL;
    return r;
}

static void rec_put(struct file_engine *fe, struct rec *r)
{
    free(r->data);
    r->data = NULL;
    r->next = fe->free_recs;
    fe->free_recs = r;
}

static void retry_push(struct file_engine *fe, struct rec *r, int front)
{
    r->next = NULL;
    if (!fe->retry_head) {
        fe->retry_head = fe->retry_tail = r;
    } else if (front) {
        r->next = fe->retry_head;
        fe->retry_head = r;
    } else {
        fe->retry_tail->next = r;
        fe->retry_tail = r;
    }
}

/* ------------------------------------------------------------------------ */
/* Delivering                                                               */

/* Hand one line to the core. Returns 0, or -1 when the core took nothing
 * (it is stopping or out of memory): the credit is gone. */
static int deliver(struct file_engine *fe, const char *data, size_t len,
                   uint64_t line, unsigned attempt, void *handle)
{
    char id[24];
    struct minion_param p = MINION_PARAM_INIT;

    lines_u64(id, line);
    p.data = data;
    p.len = len;
    p.id = id;
    p.attempt = attempt;
    p.handle = handle;
    fe->credit--;
    /* Counted first: the core may settle the task before deliver returns. */
    fe->outstanding++;
    if (minion_engine_deliver(fe->inst, &p) < 0) {
        fe->outstanding--;
        fe->credit = 0;
        return -1;
    }
    return 0;
}

static void deliver_new(struct file_engine *fe, const struct lines_param *lp)
{
    struct rec *r = rec_get(fe);

    if (!r) {
        fail(fe, "out of memory");
        return;
    }
    r->line = lp->line;
    r->attempt = 1;
    if (deliver(fe, lp->data, lp->len, lp->line, 1, r) < 0) {
        /* Keep the line for a later request; the window moves on. */
        r->data = malloc(lp->len ? lp->len : 1);
        if (!r->data) {
            rec_put(fe, r);
            fail(fe, "out of memory");
            return;
        }
        memcpy(r->data, lp->data, lp->len);
        r->len = lp->len;
        retry_push(fe, r, 1);
    }
}

static void deliver_retry(struct file_engine *fe)
{
    struct rec *r = fe->retry_head;
    char *data = r->data;

    fe->retry_head = r->next;
    if (!fe->retry_head) {
        fe->retry_tail = NULL;
    }
    /* The core copies the param; a failure settled inside deliver() may
     * give @r a new copy, so ours is detached first and freed after. */
    r->data = NULL;
    if (deliver(fe, data, r->len, r->line, r->attempt, r) < 0) {
        r->data = data;
        retry_push(fe, r, 1);
        return;
    }
    free(data);
}

/* ------------------------------------------------------------------------ */
/* Reading (stateless)                                                      */

/* The window holds the end of the input: what it still has plus what was
 * taken is every param. Counted in memory, the input is not read again. */
static void count_total(struct file_engine *fe)
{
    fe->total = (long long)(fe->taken + lines_count(&fe->in, &fe->shard, 1));
}

/* One read(2) into the window. Returns 1 when bytes or EOF came, 0 when
 * the descriptor had nothing after all, -1 on a fatal error. */
static int read_some(struct file_engine *fe)
{
    size_t room;
    char *space = lines_space(&fe->in, &room);
    ssize_t n;

    if (!space) {
        fail(fe, "out of memory");
        return -1;
    }
    do {
        n = read(fe->fd, space, room);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        lines_added(&fe->in, (size_t)n);
        /* Again after each read past it: a file that grew meanwhile. */
        if (fe->regular && lines_end_offset(&fe->in) >= fe->size_at_start) {
            count_total(fe);
        }
        return 1;
    }
    if (n == 0) {
        fe->eof = 1;
        count_total(fe);
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return 0;
    }
    {
        char msg[512];
        snprintf(msg, sizeof(msg), "read %s: %s",
                 strcmp(fe->conf->path, "-") ? fe->conf->path : "stdin",
                 strerror(errno));
        fail(fe, msg);
    }
    return -1;
}

static void set_read(struct file_engine *fe, int on)
{
    if (!fe->read_ev || on == fe->read_on) {
        return;
    }
    if (on) {
        if (event_add(fe->read_ev, NULL) < 0) {
            fail(fe, "cannot watch the input for reading");
            return;
        }
    } else {
        event_del(fe->read_ev);
    }
    fe->read_on = on;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct file_engine *fe = arg;

    if (read_some(fe) >= 0) {
        pump(fe);
    }
}

/* ------------------------------------------------------------------------ */
/* The end                                                                  */

static void check_drained(struct file_engine *fe)
{
    int done;

    if (fe->drained || fe->failed || fe->paused) {
        return;
    }
    if (fe->st) {
        done = fe->idle && !fe->waiting && fstate_owned(fe->st) == 0;
    } else {
        done = fe->exhausted && !fe->retry_head && fe->delayed.n == 0 &&
               fe->outstanding == 0;
    }
    if (done) {
        fe->drained = 1;
        minion_engine_drained(fe->inst);
    }
}

/* ------------------------------------------------------------------------ */
/* State mode                                                               */

static void arm_wait(struct file_engine *fe)
{
    unsigned ms;
    struct timeval tv;

    if (fe->waiting) {
        return;
    }
    /* Doubling with jitter, so minions that collided spread out. */
    fe->wait_ms = fe->wait_ms ? fe->wait_ms * 2 : LOCK_WAIT_MIN_MS;
    if (fe->wait_ms > LOCK_WAIT_MAX_MS) {
        fe->wait_ms = LOCK_WAIT_MAX_MS;
    }
    ms = fe->wait_ms + (unsigned)rand_r(&fe->seed) % (fe->wait_ms + 1);
    tv = timeval_of_ms(ms);
    fe->waiting = 1;
    fe->relook = 0;
    evtimer_add(fe->timer_ev, &tv);
}

/* Look again in @ms milliseconds, unless a look is already due. */
static void arm_relook(struct file_engine *fe, unsigned ms)
{
    struct timeval tv;

    if (fe->waiting) {
        return;
    }
    tv = timeval_of_ms(ms);
    fe->waiting = 1;
    fe->relook = 1;
    evtimer_add(fe->timer_ev, &tv);
}

/* A line settled: look now rather than when a relook is due, so that the
 * last line settled drains the minion at once. A lock wait or a hold
 * keeps its timer. */
static void relook_now(struct file_engine *fe)
{
    if (fe->waiting && fe->relook) {
        evtimer_del(fe->timer_ev);
        fe->waiting = 0;
        fe->relook = 0;
    }
}

/*
 * The last claim found nothing but a last line without its "\n", and this
 * minion has nothing else to do. The line is not a param until its newline
 * is written (state.h): give its writer TAIL_WAIT_S since the line last
 * grew (`echo -n ...` then `echo`), then let the minion drain, saying once
 * why that line did not run. Returns 1 while waiting.
 */
static int wait_tail(struct file_engine *fe)
{
    uint64_t line;
    size_t len = fstate_tail(fe->st, &line);
    double now = minion_now();

    if (len == 0) {
        return 0;
    }
    if (line != fe->tail_line || len != fe->tail_len) {
        fe->tail_line = line;
        fe->tail_len = len;
        fe->tail_since = now;
    }
    if (now - fe->tail_since < TAIL_WAIT_S) {
        arm_relook(fe, TAIL_LOOK_MS);
        return 1;
    }
    if (!fe->tail_warned) {
        fe->tail_warned = 1;
        minion_log(fe->inst, MINION_LOG_WARN,
                   "line %llu of %s has no newline: not run (with "
                   "MINION_FILE_STATE a line is a param once its newline is "
                   "written; a minion started after that runs it)",
                   (unsigned long long)line, fe->conf->path);
    }
    return 0;
}

/*
 * The letter of a line found out of attempts at a replay or an adoption is
 * written (fstate_on_dead): mostly a param whose runs kept dying with their
 * minion. Logged and reported as the redis engine does, so reporters and
 * the exit status count it like any dead param.
 */
static void on_dead_line(void *arg, const struct fline *fl)
{
    struct file_engine *fe = arg;
    const char *why = fl->error ? fl->error : "failed";
    struct minion_report rep = MINION_REPORT_INIT;
    char id[24];

    lines_u64(id, fl->line);
    fe->settled++;
    fe->dead++;
    minion_log(fe->inst, MINION_LOG_WARN, "task %s: %s; dead-lettered", id,
               why);
    rep.task_id = id;
    rep.param = fl->data;
    rep.param_len = fl->len;
    rep.attempt = fl->failed;
    rep.status = MINION_STATUS_DEAD;
    rep.exit_code = -1;
    rep.error = why;
    rep.start = rep.end = minion_now();
    minion_engine_report(fe->inst, &rep);
}

static void state_failed(struct file_engine *fe)
{
    char msg[600];

    snprintf(msg, sizeof(msg), "state %s: %s", fe->state_dir,
             fstate_error(fe->st));
    fail(fe, msg);
}

/* What met a shortage, so only the same step doing well again ends it. */
enum { HOLD_NEXT = 1, HOLD_SYNC = 2 };

/* The minion's own shortage, not the state's nor a param's (state.h: the
 * call changed nothing and may be made again). */
static int shortage(int rc)
{
    return rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM;
}

/*
 * A state call of step @op failed with @rc. A shortage holds the engine:
 * nothing new is delivered until the timer, which doubles from HOLD_MIN_MS
 * to HOLD_MAX_MS while it lasts; the tasks running go on and settle as
 * usual. Said once per episode. Anything else stops the minion.
 * Returns -EAGAIN when held, -1 after a fatal error.
 */
static int state_trouble(struct file_engine *fe, int rc, int op)
{
    struct timeval tv;

    if (!shortage(rc)) {
        state_failed(fe);
        return -1;
    }
    if (!fe->held) {
        fe->held = 1;
        fe->held_since = minion_now();
        fe->hold_ms = HOLD_MIN_MS;
        minion_log(fe->inst, MINION_LOG_WARN,
                   "state %s: %s; taking no new line until it passes "
                   "(running tasks go on; no param is charged)",
                   fe->state_dir, fstate_error(fe->st));
    } else {
        fe->hold_ms =
            fe->hold_ms * 2 > HOLD_MAX_MS ? HOLD_MAX_MS : fe->hold_ms * 2;
        minion_log(fe->inst, MINION_LOG_DEBUG, "state %s: still %s",
                   fe->state_dir, fstate_error(fe->st));
    }
    fe->held_op = op;
    /* This timer replaces a lock wait or a relook due: either way the
     * next look comes from on_timer. */
    tv = timeval_of_ms(fe->hold_ms);
    fe->waiting = 1;
    fe->relook = 0;
    evtimer_add(fe->timer_ev, &tv);
    return -EAGAIN;
}

/* Step @op went through: the shortage it met, if any, is over. */
static void state_recovered(struct file_engine *fe, int op)
{
    if (fe->held && fe->held_op == op) {
        fe->held = 0;
        fe->hold_ms = 0;
        minion_log(fe->inst, MINION_LOG_INFO,
                   "state %s: taking lines again after %.1f s", fe->state_dir,
                   minion_now() - fe->held_since);
    }
}

/*
 * The critical section: under the directory's lock, write the dead letters
 * waiting, adopt dead minions' journals when due, and with @claim claim up
 * to the credit in new lines, delivered once the lock is released.
 * Returns lines adopted or claimed, -EAGAIN when the timer will try again
 * (a busy lock, or a shortage: state_trouble), or -1 after a fatal error.
 */
static int sync_state(struct file_engine *fe, int claim)
{
    struct fstate *st = fe->st;
    int rc, got = 0, n = 0;

    rc = fstate_lock(st);
    if (rc == -EAGAIN) {
        arm_wait(fe);
        return -EAGAIN;
    }
    if (rc < 0) {
        goto failed;
    }
    if ((rc = fstate_flush_dead(st)) < 0) {
        goto failed;
    }
    if (claim) {
        /* Before every claim: a minion killed between writing its claim and
         * moving the cursor left lines that must be adopted before anyone
         * claims past them, or they would run twice. An adoption cut short
         * claims nothing: the next try finishes it first. */
        if ((rc = fstate_adopt(st)) < 0) {
            goto failed;
        }
        got += rc;
        if (got > 0) {
            minion_log(fe->inst, MINION_LOG_INFO,
                       "took over %d line%s left by stopped minions", got,
                       got == 1 ? "" : "s");
        }
    }
    if (claim && got == 0 && fstate_ready(st) == 0) {
        unsigned max = fe->credit;
        if (max > fe->ctx->concurrency) {
            max = fe->ctx->concurrency;
        }
        n = fstate_claim(st, max, fe->batch);
        if (n > 0) {
            fe->at_end = 0; /* the file grew: its end is unknown again */
        }
        if (n == -EAGAIN) {
            fstate_unlock(st);
            arm_wait(fe);
            return -EAGAIN;
        }
        if (n < 0) {
            rc = n;
            n = 0;
            goto failed;
        }
    }
    /* Adopted lines may be dead already: write their letters now. */
    if (fstate_dead_pending(st) && (rc = fstate_flush_dead(st)) < 0) {
        goto failed;
    }
    fstate_unlock(st);
    fe->wait_ms = 0;
    if (claim) {
        state_recovered(fe, HOLD_SYNC);
    }
    rc = 0;
    for (int i = 0; i < n; i++) {
        struct fline *fl = fe->batch[i];
        if (fe->credit == 0 ||
            deliver(fe, fl->data, fl->len, fl->line, fl->attempt, fl) < 0) {
            /* Stays claimed: run later, or adopted after we stop. */
            if (fstate_release(st, fl) < 0) {
                rc = -1;
            }
        }
    }
    if (rc < 0) {
        state_failed(fe);
        return -1;
    }
    return got + n;
failed:
    fstate_unlock(st);
    /* Lines claimed before the failure are ours: they wait in the ready
     * queue, still claimed. */
    for (int i = 0; i < n; i++) {
        if (fstate_release(st, fe->batch[i]) < 0) {
            state_failed(fe);
            return -1;
        }
    }
    return state_trouble(fe, rc, HOLD_SYNC);
}

static void pump_state(struct file_engine *fe)
{
    if (fe->held && fe->waiting) {
        return; /* short of descriptors or memory: on_timer tries again */
    }
    while (fe->credit > 0 && !fe->paused && !fe->failed) {
        struct fline *fl;
        int rc;

        fl = fstate_next(fe->st, &rc);
        if (rc < 0) {
            state_trouble(fe, rc, HOLD_NEXT);
            return;
        }
        if (fl) {
            state_recovered(fe, HOLD_NEXT);
            rc = deliver(fe, fl->data, fl->len, fl->line, fl->attempt, fl);
            if (rc < 0 && fstate_release(fe->st, fl) < 0) {
                state_failed(fe);
                return;
            }
            continue;
        }
        if (fe->idle || fe->waiting) {
            break;
        }
        rc = sync_state(fe, 1);
        if (rc < 0) {
            break;
        }
        if (rc == 0) {
            /* Nothing adopted, and the claim found the end of the file:
             * every line is some minion's now. */
            fe->at_end = 1;
            fe->idle = 1;
            /* Slots are free while our own tasks run: look again later
             * for appended lines and lines of minions that died. */
            if (fstate_owned(fe->st) > 0) {
                arm_relook(fe, ADOPT_SCAN_S * 1000);
            } else {
                wait_tail(fe);
            }
        }
    }
    /* Dead letters go out even when no credit brings us here. */
    if (!fe->failed && !fe->waiting && fstate_dead_pending(fe->st)) {
        sync_state(fe, 0);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct file_engine *fe = arg;

    fe->waiting = 0;
    fe->relook = 0;
    if (fe->stopping) {
        if (sync_state(fe, 0) == -EAGAIN && minion_now() < fe->stop_deadline) {
            return;
        }
        if (fstate_dead_pending(fe->st)) {
            minion_log(fe->inst, MINION_LOG_WARN,
                       "could not lock %s to write %zu dead letter%s; they "
                       "stay in the journal for the next minion",
                       fe->state_dir, fstate_dead_pending(fe->st),
                       fstate_dead_pending(fe->st) == 1 ? "" : "s");
        }
        if (fe->waiting) {
            evtimer_del(fe->timer_ev);
            fe->waiting = 0;
        }
        fe->stopping = 0;
        minion_instance_stopped(fe->inst);
        return;
    }
    fe->idle = 0; /* a lock wait or a relook: either way, look again */
    pump(fe);
}

/* ------------------------------------------------------------------------ */
/* The pump                                                                 */

static void pump_plain(struct file_engine *fe)
{
    struct lines_param lp;
    int rc;

    while (fe->credit > 0 && !fe->paused && !fe->failed) {
        if (fe->retry_head) {
            deliver_retry(fe);
            continue;
        }
        if (lines_next(&fe->in, &fe->shard, fe->eof, &lp)) {
            fe->taken++;
            deliver_new(fe, &lp);
            continue;
        }
        if (fe->eof) {
            fe->exhausted = 1;
            break;
        }
        if (fe->polled) {
            break; /* on_readable brings more */
        }
        rc = read_some(fe);
        if (rc < 0) {
            break;
        }
        if (rc == 0) {
            /* A device with nothing yet that epoll cannot watch: look
             * again shortly rather than spin. */
            struct timeval tv = {0, 10000};
            evtimer_add(fe->timer_ev, &tv);
            break;
        }
    }
    /* Read a pipe only for lines someone can take: never buffer the whole
     * producer's output. */
    set_read(fe, fe->polled && !fe->eof && !fe->failed && !fe->paused &&
                     fe->credit > 0);
}

/* Deliver while there is credit. Re-entry (the core settling or asking for
 * more inside a deliver) only updates counters: the outer loop goes on. */
static void pump(struct file_engine *fe)
{
    if (fe->pumping) {
        return;
    }
    fe->pumping = 1;
    if (fe->st) {
        pump_state(fe);
    } else {
        pump_plain(fe);
    }
    fe->pumping = 0;
    if (fe->st) {
        arm_delay(fe); /* a failure or an adoption may have added a wait */
    }
    check_drained(fe);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    pump(arg);
}

/* The earliest retry delay is over. With a state directory fstate_next
 * finds the lines due itself; stateless, they join the retry queue here,
 * after the retries already waiting there. */
static void on_delay(evutil_socket_t fd, short what, void *arg)
{
    struct file_engine *fe = arg;
    double due, now = mono_now();
    struct rec *r;

    while (!fe->st && (r = due_peek(&fe->delayed, &due)) &&
           due <= now + 0.001) {
        due_pop(&fe->delayed);
        retry_push(fe, r, 0);
    }
    pump(fe);
    arm_delay(fe);
}

/* ------------------------------------------------------------------------ */
/* Engine hooks                                                             */

static void file_request(struct minion_instance *inst, unsigned n)
{
    struct file_engine *fe = minion_instance_data(inst);

    fe->credit += n;
    pump(fe);
}

static void finish_plain(struct file_engine *fe, struct rec *r,
                         enum minion_verdict verdict,
                         const struct minion_report *report)
{
    int front = 0;
    double delay;

    /* A dry run releases every param it printed: each is shown once, and
     * the input moves on. */
    if (verdict == MINION_VERDICT_RELEASE && !fe->ctx->dry_run) {
        /* Not run to the end: first in line again, same attempt. */
        front = 1;
    } else if (verdict != MINION_VERDICT_RETRY) {
        fe->settled++;
        fe->dead += verdict == MINION_VERDICT_DEAD;
        rec_put(fe, r);
        return;
    }
    r->len = report->param_len;
    r->data = malloc(r->len ? r->len : 1);
    if (!r->data) {
        rec_put(fe, r);
        fail(fe, "out of memory");
        return;
    }
    memcpy(r->data, report->param, r->len);
    r->attempt = front ? report->attempt : report->attempt + 1;
    delay = front ? 0 : report_delay(report);
    /* Without the memory to keep it waiting, it is retried at once: a lost
     * delay costs less than a lost param. */
    if (delay > 0 && due_push(&fe->delayed, mono_now() + delay, r) == 0) {
        arm_delay(fe);
        return;
    }
    retry_push(fe, r, front);
    if (fe->credit > 0 && !fe->pumping) {
        kick(fe);
    }
}

static void finish_state(struct file_engine *fe, struct fline *fl,
                         enum minion_verdict verdict,
                         const struct minion_report *report)
{
    int rc = 0;

    switch (verdict) {
    case MINION_VERDICT_ACK:
        fe->settled++;
        rc = fstate_ack(fe->st, fl);
        if (rc == 0) {
            rc = fstate_compact(fe->st, JOURNAL_COMPACT_BYTES);
            if (shortage(rc)) {
                /* The journal stays whole and merely long: the next ack
                 * compacts it. */
                minion_log(fe->inst, MINION_LOG_DEBUG,
                           "state %s: compaction put off: %s", fe->state_dir,
                           fstate_error(fe->st));
                rc = 0;
            }
        }
        break;
    case MINION_VERDICT_RETRY: {
        double delay = report_delay(report);
        rc = fstate_fail_until(fe->st, fl, report->attempt, report->error,
                               delay > 0 ? minion_now() + delay : 0);
        break;
    }
    case MINION_VERDICT_DEAD:
        fe->settled++;
        fe->dead++;
        rc = fstate_dead(fe->st, fl, report->attempt, report->error);
        break;
    case MINION_VERDICT_RELEASE:
        /* Not run to the end (a stop): it stays claimed, with the same
         * attempt, for a restart or an adopter. */
        rc = fstate_release(fe->st, fl);
        break;
    }
    if (rc < 0) {
        state_failed(fe);
        return;
    }
    /* Something changed: the file may have grown, a peer may have died,
     * a retry or a dead letter waits. */
    fe->idle = 0;
    relook_now(fe);
    if (!fe->pumping) {
        kick(fe);
    }
}

static void file_finish(struct minion_instance *inst, void *handle,
                        enum minion_verdict verdict,
                        const struct minion_report *report)
{
    struct file_engine *fe = minion_instance_data(inst);

    fe->outstanding--;
    if (fe->st) {
        finish_state(fe, handle, verdict, report);
    } else {
        finish_plain(fe, handle, verdict, report);
        if (fe->outstanding == 0 && !fe->pumping) {
            check_drained(fe);
        }
    }
}

/* The figures from the counters kept as lines go by: nothing is read here.
 * With a state directory they are this minion's own (its peers' are in
 * their journals, on disk), but for the lag: a claim that found the end of
 * the file says that no line waits for anyone. */
static void file_queue(struct minion_instance *inst, struct minion_queue *out)
{
    const struct file_engine *fe = minion_instance_data(inst);
    struct minion_queue q = MINION_QUEUE_INIT;

    if (!fe) {
        return;
    }
    q.done = (long long)fe->settled;
    q.dead = (long long)fe->dead;
    if (fe->st) {
        /* Owned lines are delivered (now or before, to a retry or to a
         * dead peer), but for the dead ones waiting for their letter. */
        q.pending =
            (long long)(fstate_owned(fe->st) - fstate_dead_pending(fe->st));
        q.lag = fe->at_end ? 0 : -1;
    } else {
        /* Taken and not settled: running, or back for another run. */
        q.pending = (long long)(fe->taken - fe->settled);
        q.total = fe->total;
        if (fe->total >= 0) {
            q.lag = fe->total - (long long)fe->taken;
        }
    }
    /* The caller's struct may be older and smaller: only what it holds. */
    q.size = out->size;
    memcpy(out, &q, out->size < sizeof(q) ? out->size : sizeof(q));
}

static void file_pause(struct minion_instance *inst)
{
    struct file_engine *fe = minion_instance_data(inst);

    fe->paused = 1;
    fe->credit = 0;
    set_read(fe, 0);
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                */

static void file_destroy(struct minion_instance *inst);

static int file_init(struct minion_instance *inst, void *conf_)
{
    struct file_conf *conf = conf_;
    struct file_engine *fe;
    int stdin_input = !conf->path || !*conf->path || !strcmp(conf->path, "-");
    int stateful = conf->state && *conf->state;
    int dry = minion_instance_context(inst)->dry_run;

    if (stateful && stdin_input) {
        minion_set_error(inst,
                         "MINION_FILE_STATE needs MINION_FILE to name a file");
        return -EINVAL;
    }
    fe = calloc(1, sizeof(*fe));
    if (!fe) {
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    fe->inst = inst;
    fe->ctx = minion_instance_context(inst);
    fe->conf = conf;
    fe->fd = -1;
    fe->total = -1;
    if (lines_shard_parse(conf->shard, &fe->shard) < 0) {
        minion_set_error(inst,
                         "MINION_SHARD '%s': expected I/N with 1 <= I <= N",
                         conf->shard);
        free(fe);
        return -EINVAL;
    }
    minion_instance_set_data(inst, fe);
    /* A dry run leaves the state dir alone (nothing in it changes, nothing
     * is created): it reads the file once, like a plain one, and each line
     * it shows comes back released and is dropped. */
    fe->dry_state = stateful && dry;
    if (stateful && !dry) {
        int rc =
            fe->shard.count > 1
                ? asprintf(&fe->state_dir, "%s/shard-%llu-of-%llu", conf->state,
                           (unsigned long long)fe->shard.index + 1,
                           (unsigned long long)fe->shard.count)
                : asprintf(&fe->state_dir, "%s", conf->state);
        if (rc < 0) {
            fe->state_dir = NULL;
            goto nomem;
        }
        fe->batch = calloc(fe->ctx->concurrency ? fe->ctx->concurrency : 1,
                           sizeof(*fe->batch));
        if (!fe->batch) {
            goto nomem;
        }
    } else if (lines_init(&fe->in, READ_BYTES) < 0) {
        goto nomem;
    }
    fe->seed = (unsigned)getpid() ^ (unsigned)minion_now();
    return 0;
nomem:
    minion_set_error(inst, "out of memory");
    file_destroy(inst);
    minion_instance_set_data(inst, NULL);
    return -ENOMEM;
}

static int file_start(struct minion_instance *inst, struct event_base *base)
{
    struct file_engine *fe = minion_instance_data(inst);
    const char *path = fe->conf->path;
    struct stat sb;

    if (!path || !*path || !strcmp(path, "-")) {
        fe->fd = STDIN_FILENO;
        path = "standard input";
    } else {
        /* O_NONBLOCK: opening a FIFO must not wait for its writer. */
        fe->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fe->fd < 0) {
            minion_set_error(inst, "MINION_FILE %s: %s", path, strerror(errno));
            return -errno;
        }
        fe->own_fd = 1;
    }
    if (fstat(fe->fd, &sb) < 0) {
        minion_set_error(inst, "MINION_FILE %s: %s", path, strerror(errno));
        return -errno;
    }
    if (S_ISDIR(sb.st_mode)) {
        minion_set_error(inst, "MINION_FILE %s: is a directory", path);
        return -EISDIR;
    }
    fe->polled = S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode) ||
                 (S_ISCHR(sb.st_mode) && isatty(fe->fd));
    if (S_ISREG(sb.st_mode)) {
        /* Standard input may come already partly read. */
        off_t at = lseek(fe->fd, 0, SEEK_CUR);
        fe->regular = at >= 0 && at <= sb.st_size;
        fe->size_at_start = fe->regular ? (uint64_t)(sb.st_size - at) : 0;
    }
    if (fe->own_fd && !fe->polled) {
        /* Read directly, only when there is credit: plain blocking reads. */
        int fl = fcntl(fe->fd, F_GETFL);
        if (fl >= 0) {
            fcntl(fe->fd, F_SETFL, fl & ~O_NONBLOCK);
        }
    }
    fe->kick_ev = event_new(base, -1, 0, on_kick, fe);
    fe->timer_ev = evtimer_new(base, on_timer, fe);
    fe->delay_ev = evtimer_new(base, on_delay, fe);
    if (fe->polled) {
        fe->read_ev =
            event_new(base, fe->fd, EV_READ | EV_PERSIST, on_readable, fe);
    }
    if (!fe->kick_ev || !fe->timer_ev || !fe->delay_ev ||
        (fe->polled && !fe->read_ev)) {
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    if (fe->dry_state) {
        minion_log(inst, MINION_LOG_WARN,
                   "dry run: MINION_FILE_STATE %s is left untouched; showing "
                   "every line of %s",
                   fe->conf->state, path);
    }
    if (fe->state_dir) {
        char err[600];
        if (!S_ISREG(sb.st_mode)) {
            minion_set_error(inst,
                             "MINION_FILE_STATE needs a regular file, and "
                             "MINION_FILE %s is not one",
                             path);
            return -EINVAL;
        }
        fe->st =
            fstate_new(fe->state_dir, fe->ctx->minion_id, fe->fd, &fe->shard,
                       fe->ctx->max_attempts, err, sizeof(err));
        if (!fe->st) {
            minion_set_error(inst, "MINION_FILE_STATE %s: %s", fe->state_dir,
                             err);
            return -EIO;
        }
        fstate_on_dead(fe->st, on_dead_line, fe);
        if (fstate_ready(fe->st) || fstate_waiting(fe->st) ||
            fstate_dead_pending(fe->st)) {
            minion_log(inst, MINION_LOG_INFO,
                       "resuming %zu unfinished line%s of minion %s",
                       fstate_owned(fe->st),
                       fstate_owned(fe->st) == 1 ? "" : "s",
                       fe->ctx->minion_id);
        }
    }
    return 0;
}

/* Stateless, a stop forgets the params owed another run, as it forgets the
 * input not yet read: say how many, since a delayed retry makes them
 * more. */
static void say_retries_dropped(struct file_engine *fe)
{
    size_t n = fe->delayed.n;

    for (const struct rec *r = fe->retry_head; r; r = r->next) {
        n++;
    }
    if (n > 0) {
        minion_log(fe->inst, MINION_LOG_WARN,
                   "%zu param%s owed another run (failed, or cut short by the "
                   "stop) not run: without MINION_FILE_STATE nothing is kept",
                   n, n == 1 ? "" : "s");
    }
}

static int file_stop(struct minion_instance *inst)
{
    struct file_engine *fe = minion_instance_data(inst);

    set_read(fe, 0);
    fe->closed = 1;
    if (fe->delay_ev) {
        evtimer_del(fe->delay_ev);
    }
    if (!fe->st) {
        say_retries_dropped(fe);
    }
    if (fe->st && fstate_dead_pending(fe->st) && !fe->failed) {
        if (!fe->waiting) {
            sync_state(fe, 0);
        }
        if (fstate_dead_pending(fe->st) && fe->waiting) {
            /* The lock is busy: on_timer keeps trying, then says stopped. */
            fe->stopping = 1;
            fe->stop_deadline = minion_now() + STOP_FLUSH_S;
            return 1;
        }
    }
    if (fe->timer_ev) {
        evtimer_del(fe->timer_ev);
        fe->waiting = 0;
    }
    return 0;
}

static void file_destroy(struct minion_instance *inst)
{
    struct file_engine *fe = minion_instance_data(inst);
    struct rec *r;

    if (!fe) {
        return;
    }
    if (fe->read_ev) {
        event_free(fe->read_ev);
    }
    if (fe->kick_ev) {
        event_free(fe->kick_ev);
    }
    if (fe->timer_ev) {
        event_free(fe->timer_ev);
    }
    if (fe->delay_ev) {
        event_free(fe->delay_ev);
    }
    fstate_free(fe->st);
    if (fe->own_fd) {
        close(fe->fd);
    }
    for (r = fe->retry_head; r; r = r->next) {
        free(r->data);
    }
    while ((r = due_pop(&fe->delayed))) {
        free(r->data);
    }
    due_fini(&fe->delayed);
    while (fe->slabs) {
        struct slab *s = fe->slabs;
        fe->slabs = s->next;
        free(s);
    }
    lines_fini(&fe->in);
    free(fe->batch);
    free(fe->state_dir);
    free(fe);
}

static const struct minion_engine_ops file_ops = {
    MINION_OPS_HEADER(struct minion_engine_ops),
    .request = file_request,
    .finish = file_finish,
    .pause = file_pause,
    .queue = file_queue,
};

const struct minion_plugin minion_plugin_file = {
    MINION_PLUGIN_HEADER(MINION_KIND_ENGINE),
    .name = "file",
    .summary = "Params from a file or standard input, one per line",
    .conf_size = sizeof(struct file_conf),
    .options = file_options,
    .init = file_init,
    .start = file_start,
    .stop = file_stop,
    .destroy = file_destroy,
    .engine = &file_ops,
};
