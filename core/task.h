/* SPDX-License-Identifier: MIT */
/* One run of one param, and the output it produces. */
#ifndef CORE_TASK_H
#define CORE_TASK_H

#include <stdarg.h>
#include <stddef.h>

#include <minionize/plugin.h>

struct event;
struct runner;

struct minion_output {
    size_t limit; /* MINION_RESULT_BYTES: tail kept as the result */
    char *tail;   /* the last bytes written, up to 2 * limit */
    size_t tail_len, tail_cap;
    char *echo; /* written but not yet passed to stdout */
    size_t echo_len, echo_cap;
};

struct minion_task {
    struct minion_task *prev, *next; /* the runner's in-flight list */
    struct runner *runner;
    void *handle; /* the engine's */
    const char *id;
    const char *param;
    size_t len;
    unsigned attempt;
    void *data; /* the callback's */
    /* What the thread running the task says of it, reached through a
     * pointer so that a const task (a function gets one) can still say
     * it without a cast. Points at own_said. */
    struct task_said *said;
    struct task_said {
        char *error;   /* one line; NULL: none said */
        int exit_code; /* -1: none */
    } own_said;
    double asked;     /* the runner asked the engine for it; 0: unknown */
    double delivered; /* the engine delivered it */
    double start, end;
    struct minion_usage usage; /* size 0: none said */
    struct minion_output out;
    struct event *timer; /* MINION_TIMEOUT */
    struct minion_action *actions;
    size_t n_actions, cap_actions;
    unsigned timed_out : 1;    /* the timeout fired: the run counts as failed */
    unsigned released : 1;     /* cancelled by shutdown: leave it unacked */
    unsigned running : 1;      /* process() called, done() not yet */
    unsigned held : 1;         /* MINION_DEFER: waiting to be started again */
    unsigned waiting : 1;      /* minion_task_set_waiting(): holds no slot */
    unsigned stop_hold : 1;    /* killed by a stop signal: held to learn whether
                                  the minion is being stopped too (runner.c) */
    unsigned hold_outcome : 2; /* the outcome it ended with meanwhile */
    struct minion_task *defer_next; /* the runner's held queue */
    char buf[];                     /* id and param, NUL-terminated */
};

/* Returns: new task holding copies of @p's id and data; NULL on ENOMEM. */
struct minion_task *task_new(const struct minion_param *p, size_t result_bytes);
void task_free(struct minion_task *task);

/* The report's timeline into @out (room for @cap steps, at least 4):
 * next (the engine was asked, until it delivered), setup (from the start
 * to the callback's own process step), process (the callback's, else the
 * whole run) and teardown (from its end to the end of the run), each at
 * most once, process always; then the callback's other steps. A step the
 * callback named itself wins. Borrows: the names, from @t. Returns: the
 * number of steps. */
size_t task_timeline(const struct minion_task *t, struct minion_action *out,
                     size_t cap);

/* Forget what a run that never started left (error, output, timeline), so
 * the task can start again as new. */
void task_reset(struct minion_task *task);

/* The result: the last @limit bytes written. Borrows: valid until the task
 * is freed or written to. */
const char *task_result(const struct minion_task *task, size_t *len);

/* Append to the output (minion_output_write: the tail kept as the result,
 * whole lines echoed on the loop thread). Returns 0 or -ENOMEM. */
int task_output_write(struct minion_output *o, const void *buf, size_t len);
int task_output_vprintf(struct minion_output *o, const char *fmt, va_list ap);

/* Say why the task failed (minion_task_set_error): one line, the last call
 * wins. Only the thread running the task calls it. */
void task_vset_error(const struct minion_task *task, const char *fmt,
                     va_list ap);
void task_set_error(const struct minion_task *task, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Add a step to the timeline. Borrows: name (copied). */
void task_add_action(struct minion_task *t, const char *name, double start,
                     double end);

/* Pass what is left of the output to stdout, ending with a newline. */
void task_flush_output(struct minion_task *task);

/* The thread whose writes go straight to stdout (the loop's). */
void task_set_loop_thread(void);

/* True once stdout is a closed pipe (EPIPE): the runner then stops. */
int task_stdout_closed(void);

/* Write all of @buf to stdout, retrying short writes. Returns 0 or -errno. */
int task_write_stdout(const char *buf, size_t len);

#endif
