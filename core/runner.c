/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "decoder.h"
#include "dlist.h"
#include "halt.h"
#include "instance.h"
#include "log.h"
#include "runner.h"
#include "stats.h"
#include "task.h"
#include "timeval.h"

/* How long plugins get to flush and close once every task is settled. */
#define CLOSE_TIMEOUT_S 10
/* After a forced stop, how long cancelled tasks get to end. */
#define FORCE_TIMEOUT_S 15
/* How long a task killed by a stop signal is held to learn whether its
 * minion is being stopped too (hold_for_stop). */
#define STOP_SIGNAL_HOLD_MS 300
/* Tasks that could not start for the minion's own reasons (MINION_DEFER)
 * are tried again after this, doubling up to the maximum. */
#define DEFER_FIRST_MS 50
#define DEFER_MAX_MS 5000
/* While tasks stay held, the warning comes back this often. */
#define DEFER_REMIND_S 60

/* Stop signals: the usual three, and the checkpoint signals batch
 * schedulers send before they kill a job (Slurm's --signal, OAR's
 * --checkpoint). */
static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
#define N_STOP_SIGNALS (sizeof(stop_signals) / sizeof(stop_signals[0]))

enum phase {
    PHASE_RUNNING,  /* taking params */
    PHASE_STOPPING, /* no new params; waiting for the tasks in flight */
    PHASE_CLOSING,  /* every task settled; plugins are stopping */
};

struct runner {
    struct event_base *base;
    const struct minion_context *ctx;
    struct minion_instance *engine, *callback;
    struct minion_instance **reporters;
    size_t n_reporters;

    struct minion_task *tasks; /* in flight, newest first */
    unsigned in_flight;
    unsigned credit; /* granted to the engine, not yet used */
    long long delivered;
    unsigned long long generation; /* reports written */
    char run_uid[40];              /* this run of the minion process */
    /* When the engine was asked for each param it owes, oldest first: the
     * "next" step of their timelines. A ring; when full, later asks go
     * untimed. */
    double *asked;
    unsigned asked_cap, asked_head, asked_len;
    struct stats stats;
    unsigned long long n_killed;   /* tasks left unfinished by a stop */
    unsigned long long n_dry_dead; /* dry run: params a minion would reject */
    unsigned n_waiting;            /* tasks not holding a slot */

    enum phase phase;
    int engine_drained;
    int paused;
    int forced;
    int signals;
    int exit_code;
    int dead_exit; /* MINION_DEAD_EXIT: drained with dead params */
    int stop_exit; /* MINION_STOP_EXIT; -1: unset */
    int signalled; /* a stop signal began the stop */
    int halted;    /* MINION_HALT_DEAD began the stop */
    struct halt_policy halt;
    int completed; /* ended because drained or MINION_MAX_TASKS */
    unsigned stops_pending;

    /* Tasks held after MINION_DEFER, oldest first, still in r->tasks. */
    struct minion_task *deferred, **deferred_tail;
    unsigned defer_ms;   /* the next wait; 0 until a task is deferred */
    int defer_logged;    /* this episode was announced: say when it ends */
    double defer_warned; /* when it was last said; 0: never */
    struct event *defer_timer;

    struct event *pump; /* deferred: grant credit, check for the end */
    struct event *sig[N_STOP_SIGNALS];
    struct event *grace;       /* MINION_GRACE after the first signal */
    struct event *force_limit; /* cancelled tasks that will not end */
    struct event *close_limit; /* plugins that will not stop */
    const struct timeval *task_timeout;
};

/* Timelines of up to this many steps are built without an allocation. */
#define TIMELINE_ON_STACK 6

/* Run the pump soon, after the events already active. When every task
 * settles inside process(), each pump starts the next: the loop's
 * max_dispatch setting (main.c) still polls signals and sockets between. */
static void schedule(struct runner *r)
{
    event_active(r->pump, EV_TIMEOUT, 1);
}

static void asked_push(struct runner *r, double when, unsigned n)
{
    while (n-- > 0 && r->asked_len < r->asked_cap) {
        r->asked[(r->asked_head + r->asked_len++) % r->asked_cap] = when;
    }
}

static double asked_pop(struct runner *r)
{
    double when;

    if (r->asked_len == 0) {
        return 0;
    }
    when = r->asked[r->asked_head];
    r->asked_head = (r->asked_head + 1) % r->asked_cap;
    r->asked_len--;
    return when;
}

/* A UUID (version 4, random): the "uid" of every report this process
 * writes, so that a restart with the same MINION_ID reads as a new run. */
static void make_run_uid(char *out, size_t cap)
{
    unsigned char b[16];
    ssize_t got = getrandom(b, sizeof(b), GRND_NONBLOCK);

    if (got != (ssize_t)sizeof(b)) {
        /* No entropy yet (early boot): time and pid still tell runs
         * apart. */
        double now = clock_now();
        unsigned long long x = (unsigned long long)(now * 1e6);
        unsigned long long y = (unsigned long long)getpid() << 20 ^ x;
        memcpy(b, &x, 8);
        memcpy(b + 8, &y, 8);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, cap,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
}

static void link_task(struct runner *r, struct minion_task *t)
{
    DLIST_PUSH(r->tasks, t);
    r->in_flight++;
}

static void unlink_task(struct runner *r, struct minion_task *t)
{
    DLIST_UNLINK(r->tasks, t);
    r->in_flight--;
}

/* ------------------------------------------------------------------------ */
/* Tasks that could not start                                               */

static void start_task(struct runner *r, struct minion_task *t);
static void settle(struct runner *r, struct minion_task *t,
                   enum minion_outcome outcome);

static void arm_defer_timer(struct runner *r, unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    evtimer_add(r->defer_timer, &tv);
}

static void retry_deferred_soon(struct runner *r)
{
    arm_defer_timer(r, 0);
}

/* Hold @t: it still counts as in flight, so no new param is taken while
 * the minion lacks what it takes to start one. */
static void defer_task(struct runner *r, struct minion_task *t)
{
    if (t->timer) {
        event_del(t->timer);
    }
    /* One warning, then one a minute while it lasts or comes back: a
     * minion at its limit can hold and restart tasks many times a second. */
    if (r->defer_warned == 0 ||
        clock_now() - r->defer_warned >= DEFER_REMIND_S) {
        log_warn("%s task %s: %s; holding it and trying again (not counted "
                 "as an attempt)",
                 r->defer_warned == 0 ? "cannot start" : "still cannot start",
                 t->id, t->said->error ? t->said->error : "no reason given");
        r->defer_warned = clock_now();
        r->defer_logged = 1;
    } else {
        log_debug("task %s held again: %s", t->id,
                  t->said->error ? t->said->error : "no reason given");
    }
    task_reset(t);
    t->held = 1;
    t->defer_next = NULL;
    *r->deferred_tail = t;
    r->deferred_tail = &t->defer_next;
    if (r->defer_ms == 0) {
        r->defer_ms = DEFER_FIRST_MS;
    }
    if (!evtimer_pending(r->defer_timer, NULL)) {
        arm_defer_timer(r, r->defer_ms);
    }
}

/* Empty the held queue. Returns: its first task; each links the next
 * through defer_next, oldest first, with held cleared. */
static struct minion_task *take_held(struct runner *r)
{
    struct minion_task *first = r->deferred;

    for (struct minion_task *t = first; t; t = t->defer_next) {
        t->held = 0;
    }
    r->deferred = NULL;
    r->deferred_tail = &r->deferred;
    return first;
}

static void on_defer_timer(evutil_socket_t fd, short what, void *arg)
{
    struct runner *r = arg;
    struct minion_task *next;

    for (struct minion_task *t = take_held(r); t; t = next) {
        next = t->defer_next;
        t->defer_next = NULL;
        start_task(r, t); /* may hold it again, at the new tail */
    }
    if (r->deferred) {
        r->defer_ms =
            r->defer_ms * 2 > DEFER_MAX_MS ? DEFER_MAX_MS : r->defer_ms * 2;
        arm_defer_timer(r, r->defer_ms);
    } else {
        if (r->defer_logged) {
            log_info("tasks start again");
            r->defer_logged = 0;
        }
        r->defer_ms = 0;
    }
}

/* A stop: held tasks never started, so they are released, not killed. */
static void release_deferred(struct runner *r)
{
    struct minion_task *next;

    for (struct minion_task *t = take_held(r); t; t = next) {
        next = t->defer_next;
        t->released = 1;
        settle(r, t, MINION_RETRY);
    }
}

/* ------------------------------------------------------------------------ */
/* Settling a task                                                          */

static enum minion_verdict decide(const struct runner *r,
                                  const struct minion_task *t,
                                  enum minion_outcome outcome,
                                  enum minion_status *status)
{
    if (outcome == MINION_OK) {
        *status = MINION_STATUS_OK;
        return MINION_VERDICT_ACK;
    }
    if (t->released) {
        *status = MINION_STATUS_RELEASED;
        return MINION_VERDICT_RELEASE;
    }
    if (outcome == MINION_REJECT || t->attempt >= r->ctx->max_attempts) {
        *status = MINION_STATUS_DEAD;
        return MINION_VERDICT_DEAD;
    }
    *status = MINION_STATUS_FAILED;
    return MINION_VERDICT_RETRY;
}

static void begin_stop(struct runner *r, int exit_code);

#define N_STATUS(r, s) ((r)->stats.by_status[MINION_STATUS_##s])

/* MINION_HALT_DEAD: too many params ended dead; take no more, let what is
 * in flight finish, exit 3. */
static void check_halt(struct runner *r)
{
    char why[160];
    unsigned long long dead = N_STATUS(r, DEAD);
    unsigned long long finished = N_STATUS(r, OK) + dead;

    if (r->halted || r->phase != PHASE_RUNNING || r->ctx->dry_run ||
        !halt_reached(&r->halt, dead, finished)) {
        return;
    }
    r->halted = 1;
    halt_describe(&r->halt, dead, finished, why, sizeof(why));
    log_error("halting: %s; taking no more params, finishing %u task%s in "
              "flight",
              why, r->in_flight, r->in_flight == 1 ? "" : "s");
    begin_stop(r, 3);
}

static void report_all(struct runner *r, const struct minion_report *rep)
{
    for (size_t i = 0; i < r->n_reporters; i++) {
        struct minion_instance *rp = r->reporters[i];
        rp->lp.reporter.on_report(rp, rep);
    }
    stats_record(&r->stats, rep->status, rep->end - rep->start);
}

/* MINION_RETRY_DELAY for the run after failed attempt @attempt: doubled
 * per attempt after the first, at most MINION_RETRY_DELAY_MAX. */
static double retry_delay(const struct minion_context *ctx, unsigned attempt)
{
    double d = ctx->retry_delay;

    for (unsigned i = 1; i < attempt && d < ctx->retry_delay_max; i++) {
        d *= 2;
    }
    return d > ctx->retry_delay_max ? ctx->retry_delay_max : d;
}

void runner_stats(const struct runner *r, struct minion_stats *out)
{
    struct stats none;

    if (!r) { /* not running yet, or any more */
        stats_init(&none);
        stats_fill(&none, 0, out);
        return;
    }
    stats_fill(&r->stats, r->in_flight, out);
}

const struct stats *runner_figures(const struct runner *r, unsigned *in_flight)
{
    *in_flight = r->in_flight;
    return &r->stats;
}

void runner_queue(const struct runner *r, struct minion_queue *out)
{
    struct minion_queue q = MINION_QUEUE_INIT;

    if (r->engine->lp.engine.queue) {
        r->engine->lp.engine.queue(r->engine, &q);
    }
    q.size = out->size;
    memcpy(out, &q, out->size < sizeof(q) ? out->size : sizeof(q));
}

static void log_outcome(struct runner *r, const struct minion_task *t,
                        enum minion_status status)
{
    switch (status) {
    case MINION_STATUS_OK:
        log_debug("task %s ok (attempt %u)", t->id, t->attempt);
        break;
    case MINION_STATUS_FAILED:
        log_info("task %s failed (attempt %u of %u): %s", t->id, t->attempt,
                 r->ctx->max_attempts, t->said->error);
        break;
    case MINION_STATUS_DEAD:
        log_warn("task %s dead after %u attempt%s: %s", t->id, t->attempt,
                 t->attempt == 1 ? "" : "s", t->said->error);
        break;
    case MINION_STATUS_RELEASED:
        log_info("task %s released unfinished (attempt %u)", t->id, t->attempt);
        break;
    }
}

/* The end of a task, whatever ended it: verdict to the engine, report to
 * every reporter, then free it and look for more work. */
static void settle(struct runner *r, struct minion_task *t,
                   enum minion_outcome outcome)
{
    struct minion_report rep;
    struct minion_action on_stack[TIMELINE_ON_STACK], *timeline = NULL;
    size_t n_steps;
    enum minion_verdict verdict;
    enum minion_status status;

    t->end = clock_now();
    if (t->timer) {
        event_free(t->timer);
        t->timer = NULL;
    }
    if (t->timed_out) {
        outcome = MINION_RETRY;
        task_set_error(t, "timed out after %gs", r->ctx->timeout);
    }
    if (outcome != MINION_OK && outcome != MINION_REJECT) {
        outcome = MINION_RETRY;
    }
    if (outcome != MINION_OK && !t->said->error) {
        task_set_error(t, outcome == MINION_REJECT ? "rejected" : "failed");
    }
    task_flush_output(t);
    verdict = decide(r, t, outcome, &status);
    if (r->ctx->dry_run) {
        /* A dry run leaves every param where it was, for real minions,
         * and reports none as done or dead: it only shows. */
        if (status == MINION_STATUS_DEAD) {
            r->n_dry_dead++;
            log_warn("task %s would be dead-lettered: %s", t->id,
                     t->said->error);
        }
        status = MINION_STATUS_RELEASED;
        verdict = MINION_VERDICT_RELEASE;
    } else if (status == MINION_STATUS_RELEASED) {
        r->n_killed++; /* cut short, or never started: not finished */
    }
    if (t->waiting) {
        t->waiting = 0;
        r->n_waiting--;
    }

    /* next, setup, process, teardown: on the stack unless the callback
     * added steps of its own. */
    if (4 + t->n_actions > TIMELINE_ON_STACK) {
        timeline = malloc((4 + t->n_actions) * sizeof(*timeline));
    }
    if (!timeline) {
        timeline = on_stack;
    }
    n_steps = task_timeline(t, timeline,
                            timeline == on_stack ? TIMELINE_ON_STACK
                                                 : 4 + t->n_actions);

    memset(&rep, 0, sizeof(rep));
    rep.size = sizeof(rep);
    rep.minion_id = r->ctx->minion_id;
    rep.nodename = r->ctx->nodename;
    rep.task_id = t->id;
    rep.param = t->param;
    rep.param_len = t->len;
    rep.attempt = t->attempt;
    rep.generation = ++r->generation;
    rep.run_uid = r->run_uid;
    rep.usage = t->usage.size ? &t->usage : NULL;
    rep.status = status;
    rep.exit_code = t->said->exit_code;
    rep.error = outcome == MINION_OK ? NULL : t->said->error;
    rep.output = task_result(t, &rep.output_len);
    rep.start = t->start;
    rep.end = t->end;
    rep.actions = timeline;
    rep.n_actions = n_steps;
    if (verdict == MINION_VERDICT_RETRY) {
        rep.retry_delay = retry_delay(r->ctx, t->attempt);
    }

    r->engine->lp.engine.finish(r->engine, t->handle, verdict, &rep);
    report_all(r, &rep);
    if (!r->ctx->dry_run) {
        log_outcome(r, t, status);
    }
    unlink_task(r, t);
    task_free(t);
    if (timeline != on_stack) {
        free(timeline);
    }
    if (status == MINION_STATUS_DEAD || status == MINION_STATUS_OK) {
        check_halt(r); /* a share is judged at each settled param */
    }
    if (r->deferred && !(status == MINION_STATUS_RELEASED)) {
        /* A task that ends gives back what the held ones lacked. */
        retry_deferred_soon(r);
    }
    schedule(r);
}

void runner_set_waiting(struct runner *r, struct minion_task *t, int waiting)
{
    waiting = waiting != 0;
    if ((int)t->waiting == waiting) {
        return;
    }
    t->waiting = (unsigned)waiting;
    if (waiting) {
        r->n_waiting++;
    } else {
        r->n_waiting--;
    }
    schedule(r);
}

/* Whether @t's own process was killed by a stop signal (not by its
 * timeout, which sends one itself). */
static int killed_by_stop_signal(const struct minion_task *t)
{
    int sig = t->usage.size ? t->usage.signal : 0;

    return !t->timed_out && (sig == SIGTERM || sig == SIGINT || sig == SIGHUP);
}

static void on_stop_hold(evutil_socket_t fd, short what, void *arg)
{
    struct minion_task *t = arg;
    struct runner *r = t->runner;

    if (r->signalled) {
        t->released = 1; /* stopped with its minion: not an attempt */
    }
    settle(r, t, (enum minion_outcome)t->hold_outcome);
}

/* A scheduler that stops a job (scancel, a deleted pod, a killed process
 * group) signals every process of it, and the minion may see its task die
 * before it handles its own signal. Such a run is held briefly: if the
 * minion turns out to be stopping too, the run is released, not charged
 * to the param as a failure (and not started again at once). Returns 0
 * when held. */
static int hold_for_stop(struct runner *r, struct minion_task *t,
                         enum minion_outcome outcome)
{
    struct timeval tv = {0, STOP_SIGNAL_HOLD_MS * 1000};

    if (t->timer) {
        event_free(t->timer);
    }
    t->timer = evtimer_new(r->base, on_stop_hold, t);
    if (!t->timer) {
        return -1;
    }
    t->stop_hold = 1;
    t->hold_outcome = (unsigned)outcome;
    evtimer_add(t->timer, &tv);
    return 0;
}

void runner_task_done(struct runner *r, struct minion_task *t,
                      enum minion_outcome outcome)
{
    struct minion_instance *cb = r->callback;

    /* Catches a done() from inside setup() or teardown(); a second done()
     * after the first has returned is a plugin bug no check can catch. */
    if (!t->running) {
        log_error("%s ended task %s while it was not running; ignored",
                  cb->label, t->id);
        return;
    }
    t->running = 0;
    if (cb->lp.callback.teardown) {
        cb->lp.callback.teardown(cb, t, outcome);
    }
    if (outcome == MINION_DEFER && !t->released && !t->timed_out &&
        r->phase == PHASE_RUNNING) {
        defer_task(r, t);
        return;
    }
    if (outcome == MINION_DEFER) {
        /* Never started, and the minion is stopping: leave it unacked. */
        t->released = 1;
    }
    if (outcome != MINION_OK && !t->released && !r->ctx->dry_run &&
        killed_by_stop_signal(t)) {
        if (r->signalled) {
            t->released = 1;
        } else if (r->phase == PHASE_RUNNING &&
                   hold_for_stop(r, t, outcome) == 0) {
            return;
        }
    }
    settle(r, t, outcome);
}

static void on_task_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct minion_task *t = arg;
    struct runner *r = t->runner;
    struct minion_instance *cb = r->callback;

    t->timed_out = 1;
    log_warn("task %s timed out after %gs; stopping it", t->id,
             r->ctx->timeout);
    if (cb->lp.callback.cancel) {
        cb->lp.callback.cancel(cb, t);
    }
}

/* DRY mode: say what would run, and count it done. */
static void dry_run(struct runner *r, struct minion_task *t)
{
    struct minion_instance *cb = r->callback;
    int rc = 0;

    if (cb->lp.callback.describe) {
        rc = cb->lp.callback.describe(cb, t, &t->out);
    } else {
        task_output_write(&t->out, t->param, t->len);
    }
    settle(r, t, rc == 0 ? MINION_OK : MINION_REJECT);
}

static void start_task(struct runner *r, struct minion_task *t)
{
    struct minion_instance *cb = r->callback;
    char why[128];

    if (r->phase != PHASE_RUNNING) {
        /* A stop came while held tasks were being started again. */
        t->released = 1;
        settle(r, t, MINION_RETRY);
        return;
    }
    t->start = clock_now(); /* again for a held task: this run starts now */
    if (decoder_check(r->ctx->decoder, t->param, t->len, why, sizeof(why))) {
        task_set_error(t, "%s", why);
        settle(r, t, MINION_REJECT);
        return;
    }
    if (r->ctx->dry_run) {
        dry_run(r, t);
        return;
    }
    if (cb->lp.callback.setup) {
        int rc = cb->lp.callback.setup(cb, t);
        if (rc != MINION_OK) {
            settle(r, t, rc);
            return;
        }
    }
    if (r->task_timeout) {
        if (!t->timer) {
            t->timer = evtimer_new(r->base, on_task_timeout, t);
        }
        if (t->timer) {
            evtimer_add(t->timer, r->task_timeout);
        }
    }
    t->running = 1;
    cb->lp.callback.process(cb, t); /* may end (and free) t at once */
}

/* A plugin broke the rules: say so as its error, and stop (exit 1). */
static void fail_plugin(struct runner *r, struct minion_instance *inst,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_plugin(struct runner *r, struct minion_instance *inst,
                        const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    instance_vset_error(inst, fmt, ap);
    va_end(ap);
    log_msg(MINION_LOG_ERROR, inst->label, "%s", instance_error(inst));
    runner_fail(r, 1);
}

int runner_deliver(struct runner *r, struct minion_instance *inst,
                   const struct minion_param *param)
{
    struct minion_param full = MINION_PARAM_INIT;
    const struct minion_param *p = &full;
    struct minion_task *t;

    /* Read only what the engine's header had; the rest stays 0. */
    if (param->size < PARAM_SIZE_2_0) {
        fail_plugin(r, inst,
                    "a param of %u bytes: not made with "
                    "MINION_PARAM_INIT",
                    param->size);
        return -EINVAL;
    }
    memcpy(&full, param,
           param->size < sizeof(full) ? param->size : sizeof(full));
    if (r->credit == 0 || r->phase != PHASE_RUNNING) {
        return -ENOSPC;
    }
    t = task_new(p, r->ctx->result_bytes);
    if (!t) {
        fail_plugin(r, inst, "out of memory for a task");
        return -ENOMEM;
    }
    r->credit--;
    r->delivered++;
    t->runner = r;
    t->asked = asked_pop(r);
    t->delivered = clock_now();
    link_task(r, t);
    if (r->ctx->max_tasks > 0 && r->delivered >= r->ctx->max_tasks) {
        schedule(r); /* the pump pauses the engine: nothing more is taken */
    }
    start_task(r, t);
    return 0;
}

void runner_report(struct runner *r, struct minion_instance *inst,
                   const struct minion_report *report)
{
    struct minion_report rep = MINION_REPORT_INIT;

    if (report->size < REPORT_SIZE_2_0) {
        fail_plugin(r, inst,
                    "a report of %u bytes: not made with "
                    "MINION_REPORT_INIT",
                    report->size);
        return;
    }
    memcpy(&rep, report,
           report->size < sizeof(rep) ? report->size : sizeof(rep));
    if (!rep.minion_id) {
        rep.minion_id = r->ctx->minion_id;
    }
    if (!rep.nodename) {
        rep.nodename = r->ctx->nodename;
    }
    if (!rep.generation) {
        rep.generation = ++r->generation;
    }
    if (!rep.run_uid) {
        rep.run_uid = r->run_uid;
    }
    report_all(r, &rep);
    if (rep.status == MINION_STATUS_DEAD || rep.status == MINION_STATUS_OK) {
        check_halt(r);
    }
}

void runner_drained(struct runner *r)
{
    r->engine_drained = 1;
    schedule(r);
}

/* ------------------------------------------------------------------------ */
/* Stopping                                                                  */

static void pause_engine(struct runner *r)
{
    r->credit = 0;
    r->asked_len = 0;
    if (!r->paused && r->engine->lp.engine.pause) {
        r->paused = 1;
        r->engine->lp.engine.pause(r->engine);
    }
    r->paused = 1;
}

static void finish_closing(struct runner *r)
{
    event_base_loopbreak(r->base);
}

static void on_close_limit(evutil_socket_t fd, short what, void *arg)
{
    struct runner *r = arg;

    log_warn("plugins did not stop within %ds; exiting anyway",
             CLOSE_TIMEOUT_S);
    finish_closing(r);
}

/* Every task is settled: stop the plugins, engine first so its acks are
 * flushed while the others still run. */
static void close_all(struct runner *r)
{
    struct timeval limit = {CLOSE_TIMEOUT_S, 0};

    r->phase = PHASE_CLOSING;
    pause_engine(r);
    if (r->grace) {
        event_del(r->grace);
    }
    if (r->force_limit) {
        event_del(r->force_limit);
    }
    r->stops_pending = 0;
    r->stops_pending += (unsigned)instance_stop(r->engine);
    r->stops_pending += (unsigned)instance_stop(r->callback);
    for (size_t i = 0; i < r->n_reporters; i++) {
        r->stops_pending += (unsigned)instance_stop(r->reporters[i]);
    }
    if (r->stops_pending == 0) {
        finish_closing(r);
        return;
    }
    r->close_limit = evtimer_new(r->base, on_close_limit, r);
    if (r->close_limit) {
        evtimer_add(r->close_limit, &limit);
    }
}

void runner_on_stopped(struct runner *r, struct minion_instance *inst)
{
    if (r->phase != PHASE_CLOSING || r->stops_pending == 0) {
        return;
    }
    if (--r->stops_pending == 0) {
        finish_closing(r);
    }
}

static void on_force_limit(evutil_socket_t fd, short what, void *arg)
{
    struct runner *r = arg;

    /* The callback did not end its tasks: they stay unacked, and the
     * process exits without them. */
    log_error("%u task%s did not stop within %ds; exiting without them "
              "(they stay unacked)",
              r->in_flight, r->in_flight == 1 ? "" : "s", FORCE_TIMEOUT_S);
    r->exit_code = r->exit_code > 1 ? r->exit_code : 1;
    event_base_loopbreak(r->base);
}

/* Cancel whatever runs; cancelled tasks end unacked (released). */
static void force_stop(struct runner *r)
{
    struct timeval limit = {FORCE_TIMEOUT_S, 0};
    struct minion_instance *cb = r->callback;
    struct minion_task *t, *next;

    release_deferred(r);
    if (r->forced) {
        /* Asked again: cancel again (callbacks escalate to SIGKILL). */
        for (t = r->tasks; t; t = next) {
            next = t->next;
            if (t->running && cb->lp.callback.cancel) {
                cb->lp.callback.cancel(cb, t);
            }
        }
        return;
    }
    r->forced = 1;
    /* The exit status comes from how the tasks end: one that finishes
     * now is acked as usual; one cut short stays unacked and makes it 1. */
    if (r->in_flight && cb->lp.callback.cancel) {
        log_warn("stopping %u task%s in flight; unfinished ones stay "
                 "unacked",
                 r->in_flight, r->in_flight == 1 ? "" : "s");
    } else if (r->in_flight) {
        log_warn("%u task%s in flight cannot be interrupted (callback %s); "
                 "waiting up to %ds for them to finish",
                 r->in_flight, r->in_flight == 1 ? "" : "s", cb->plugin->name,
                 FORCE_TIMEOUT_S);
    }
    for (t = r->tasks; t; t = t->next) {
        t->released = 1;
    }
    for (t = r->tasks; t; t = next) {
        next = t->next; /* cancel may end t at once */
        if (t->running && cb->lp.callback.cancel) {
            cb->lp.callback.cancel(cb, t);
        }
    }
    if (r->in_flight) {
        r->force_limit = evtimer_new(r->base, on_force_limit, r);
        if (r->force_limit) {
            evtimer_add(r->force_limit, &limit);
        }
    }
    schedule(r);
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    struct runner *r = arg;

    log_warn("grace period of %gs is over", r->ctx->grace);
    force_stop(r);
}

/* Take no new params; the pump closes once nothing is in flight. */
static void begin_stop(struct runner *r, int exit_code)
{
    if (exit_code > r->exit_code) {
        r->exit_code = exit_code;
    }
    if (r->phase != PHASE_RUNNING) {
        return;
    }
    r->phase = PHASE_STOPPING;
    pause_engine(r);
    release_deferred(r);
    schedule(r);
}

void runner_fail(struct runner *r, int exit_code)
{
    if (r->phase == PHASE_CLOSING) {
        if (exit_code > r->exit_code) {
            r->exit_code = exit_code;
        }
        return;
    }
    begin_stop(r, exit_code);
    force_stop(r);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct runner *r = arg;
    struct timeval grace;

    r->signals++;
    if (r->phase == PHASE_CLOSING) {
        /* Every task is settled; only plugins are flushing. */
        log_warn("%s while closing: exiting now", strsignal((int)sig));
        event_base_loopbreak(r->base);
        return;
    }
    if (r->signals > 1 || r->phase == PHASE_STOPPING) {
        log_warn("%s again: stopping now", strsignal((int)sig));
        force_stop(r);
        return;
    }
    if (r->phase != PHASE_RUNNING) {
        return;
    }
    log_info("%s: taking no more params; waiting up to %gs for %u task%s",
             strsignal((int)sig), r->ctx->grace, r->in_flight,
             r->in_flight == 1 ? "" : "s");
    r->signalled = 1;
    begin_stop(r, 0);
    grace = timeval_of_seconds(r->ctx->grace);
    r->grace = evtimer_new(r->base, on_grace, r);
    if (r->grace) {
        evtimer_add(r->grace, &grace);
    }
}

/* ------------------------------------------------------------------------ */
/* The pump: runs once per loop iteration when anything changed.            */

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
    struct runner *r = arg;
    const struct minion_context *ctx = r->ctx;
    long long want;

    if (r->phase == PHASE_RUNNING && task_stdout_closed()) {
        log_warn("standard output is closed; stopping");
        begin_stop(r, 0);
    }
    if (r->phase == PHASE_STOPPING) {
        if (r->in_flight == 0) {
            close_all(r);
        }
        return;
    }
    if (r->phase != PHASE_RUNNING) {
        return;
    }
    if (ctx->max_tasks > 0 && r->delivered >= ctx->max_tasks) {
        /* Nothing more will be taken: tell the engine now, so that a retry
         * of a task still running is left for others, not fetched again. */
        pause_engine(r);
        if (r->in_flight == 0) {
            r->completed = 1;
            close_all(r);
        }
        return;
    }
    if (r->in_flight == 0 && r->engine_drained) {
        r->completed = 1;
        close_all(r);
        return;
    }
    want =
        (long long)ctx->concurrency - (r->in_flight - r->n_waiting) - r->credit;
    if (ctx->max_tasks > 0) {
        long long left = ctx->max_tasks - r->delivered - r->credit;
        if (left < want) {
            want = left;
        }
    }
    if (want <= 0 || r->engine_drained) {
        return;
    }
    r->credit += (unsigned)want;
    asked_push(r, clock_now(), (unsigned)want);
    r->engine->lp.engine.request(r->engine, (unsigned)want);
}

/* ------------------------------------------------------------------------ */

struct runner *
runner_new(struct event_base *base, const struct minion_context *ctx,
           struct minion_instance *engine, struct minion_instance *callback,
           struct minion_instance **reporters, size_t n_reporters)
{
    struct runner *r = calloc(1, sizeof(*r));

    if (!r) {
        return NULL;
    }
    r->base = base;
    r->ctx = ctx;
    stats_init(&r->stats);
    make_run_uid(r->run_uid, sizeof(r->run_uid));
    r->asked_cap = ctx->concurrency * 2 + 16;
    r->asked = calloc(r->asked_cap, sizeof(*r->asked));
    r->engine = engine;
    r->callback = callback;
    r->reporters = reporters;
    r->n_reporters = n_reporters;
    engine->runner = r;
    callback->runner = r;
    for (size_t i = 0; i < n_reporters; i++) {
        reporters[i]->runner = r;
    }
    r->pump = event_new(base, -1, 0, on_pump, r);
    for (size_t i = 0; i < N_STOP_SIGNALS; i++) {
        r->sig[i] = evsignal_new(base, stop_signals[i], on_signal, r);
        if (!r->sig[i]) {
            runner_free(r);
            return NULL;
        }
    }
    r->defer_timer = evtimer_new(base, on_defer_timer, r);
    r->deferred_tail = &r->deferred;
    r->dead_exit = 4;
    r->stop_exit = -1;
    if (!r->pump || !r->defer_timer || !r->asked) {
        runner_free(r);
        return NULL;
    }
    if (ctx->timeout > 0) {
        struct timeval tv = timeval_of_seconds(ctx->timeout);

        /* Every task has the same timeout: one shared queue, O(1) each. */
        r->task_timeout = event_base_init_common_timeout(base, &tv);
    }
    return r;
}

void runner_free(struct runner *r)
{
    if (!r) {
        return;
    }
    /* Tasks still here were abandoned by a forced exit. */
    if (r->pump) {
        event_free(r->pump);
    }
    for (size_t i = 0; i < N_STOP_SIGNALS; i++) {
        if (r->sig[i]) {
            event_free(r->sig[i]);
        }
    }
    if (r->defer_timer) {
        event_free(r->defer_timer);
    }
    if (r->grace) {
        event_free(r->grace);
    }
    if (r->force_limit) {
        event_free(r->force_limit);
    }
    if (r->close_limit) {
        event_free(r->close_limit);
    }
    free(r->asked);
    free(r);
}

int runner_run(struct runner *r)
{
    for (size_t i = 0; i < N_STOP_SIGNALS; i++) {
        evsignal_add(r->sig[i], NULL);
    }
    schedule(r);
    event_base_dispatch(r->base);
    for (size_t i = 0; i < N_STOP_SIGNALS; i++) {
        evsignal_del(r->sig[i]);
    }
    if (r->ctx->dry_run) {
        log_info("dry run done: %llu params shown, %llu would be "
                 "dead-lettered; nothing was run or acked",
                 N_STATUS(r, RELEASED), r->n_dry_dead);
    } else if (N_STATUS(r, RELEASED)) {
        log_info("done: %llu ok, %llu failed, %llu dead, %llu left unacked",
                 N_STATUS(r, OK), N_STATUS(r, FAILED), N_STATUS(r, DEAD),
                 N_STATUS(r, RELEASED));
    } else {
        log_info("done: %llu ok, %llu failed, %llu dead", N_STATUS(r, OK),
                 N_STATUS(r, FAILED), N_STATUS(r, DEAD));
    }
    if (r->exit_code == 0 && r->signalled && !r->completed &&
        r->stop_exit >= 0) {
        /* Stopped by the scheduler before the queue was drained: the
         * status it reads to resubmit the job (OAR's idempotent: 99). */
        r->exit_code = r->stop_exit;
    } else if (r->exit_code == 0 && r->n_killed > 0) {
        r->exit_code = 1; /* work was cut short */
    }
    if (r->exit_code == 0 && r->completed && N_STATUS(r, DEAD) > 0) {
        r->exit_code = r->dead_exit;
    }
    return r->exit_code;
}

void runner_set_dead_exit(struct runner *r, int code)
{
    r->dead_exit = code;
}

void runner_set_stop_exit(struct runner *r, int code)
{
    r->stop_exit = code;
}

void runner_set_halt(struct runner *r, const struct halt_policy *policy)
{
    r->halt = *policy;
}
