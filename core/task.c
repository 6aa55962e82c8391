/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "grow.h"
#include "progress.h"
#include "task.h"

/* A line longer than this is passed on in pieces of this size, each ended
 * by a newline: memory stays bounded, and no piece is ever mixed with
 * another task's output. The task's result keeps the bytes as they were. */
#define ECHO_LINE_MAX (1024 * 1024)

static pthread_t loop_thread;
static int loop_thread_set;
static int stdout_closed;

void task_set_loop_thread(void)
{
    loop_thread = pthread_self();
    loop_thread_set = 1;
}

static int on_loop_thread(void)
{
    return loop_thread_set && pthread_equal(pthread_self(), loop_thread);
}

int task_stdout_closed(void)
{
    return stdout_closed;
}

int task_write_stdout(const char *buf, size_t len)
{
    if (stdout_closed) {
        return -EPIPE;
    }
    progress_hide(); /* never mixed with a task's line on a terminal */
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            if (errno == EPIPE) {
                stdout_closed = 1;
            }
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

struct minion_task *task_new(const struct minion_param *p, size_t result_bytes)
{
    size_t idlen = p->id ? strlen(p->id) : 0;
    struct minion_task *t = malloc(sizeof(*t) + idlen + 1 + p->len + 1);
    char *id, *param;

    if (!t) {
        return NULL;
    }
    memset(t, 0, sizeof(*t));
    id = t->buf;
    param = t->buf + idlen + 1;
    if (idlen) {
        memcpy(id, p->id, idlen);
    }
    id[idlen] = '\0';
    if (p->len) {
        memcpy(param, p->data, p->len);
    }
    param[p->len] = '\0';
    t->id = id;
    t->param = param;
    t->len = p->len;
    t->handle = p->handle;
    t->attempt = p->attempt ? p->attempt : 1;
    t->said = &t->own_said;
    t->said->exit_code = -1;
    t->out.limit = result_bytes;
    return t;
}

void task_free(struct minion_task *t)
{
    if (!t) {
        return;
    }
    if (t->timer) {
        event_free(t->timer);
    }
    for (size_t i = 0; i < t->n_actions; i++) {
        free((char *)t->actions[i].name);
    }
    free(t->actions);
    free(t->said->error);
    free(t->out.tail);
    free(t->out.echo);
    free(t);
}

void task_reset(struct minion_task *t)
{
    for (size_t i = 0; i < t->n_actions; i++) {
        free((char *)t->actions[i].name);
    }
    t->n_actions = 0;
    /* The error stays: if the task never starts, it says why. */
    t->said->exit_code = -1;
    t->usage.size = 0;
    t->out.tail_len = 0;
    t->out.echo_len = 0;
    t->data = NULL;
}

static int keep_tail(struct minion_output *o, const char *buf, size_t len)
{
    if (o->limit == 0) {
        return 0;
    }
    if (len >= o->limit) { /* only the end of this write survives */
        buf += len - o->limit;
        len = o->limit;
        o->tail_len = 0;
    }
    if (o->tail_len + len > 2 * o->limit) {
        /* Drop the head in one move, amortised over limit bytes. */
        size_t keep = o->limit - len;
        memmove(o->tail, o->tail + o->tail_len - keep, keep);
        o->tail_len = keep;
    }
    if (grow(&o->tail, &o->tail_cap, o->tail_len + len, 1, 256) < 0) {
        return -ENOMEM;
    }
    memcpy(o->tail + o->tail_len, buf, len);
    o->tail_len += len;
    return 0;
}

/* Write the complete lines waiting in the echo buffer. */
static void echo_lines(struct minion_output *o)
{
    size_t n = o->echo_len;

    while (n > 0 && o->echo[n - 1] != '\n') {
        n--;
    }
    if (n == 0 && o->echo_len < ECHO_LINE_MAX) {
        return;
    }
    if (n > 0) {
        task_write_stdout(o->echo, n);
    } else {
        /* One piece of an overlong line, ended here so that the next
         * write to stdout, maybe another task's, starts a line. */
        n = ECHO_LINE_MAX;
        task_write_stdout(o->echo, n);
        task_write_stdout("\n", 1);
    }
    memmove(o->echo, o->echo + n, o->echo_len - n);
    o->echo_len -= n;
    if (o->echo_len >= ECHO_LINE_MAX) {
        echo_lines(o); /* one write brought more than a piece */
    }
}

int task_output_write(struct minion_output *o, const void *buf, size_t len)
{
    if (len == 0) {
        return 0;
    }
    if (keep_tail(o, buf, len) < 0 ||
        grow(&o->echo, &o->echo_cap, o->echo_len + len, 1, 256) < 0) {
        return -ENOMEM;
    }
    memcpy(o->echo + o->echo_len, buf, len);
    o->echo_len += len;
    if (on_loop_thread()) {
        echo_lines(o);
    }
    return 0;
}

int task_output_vprintf(struct minion_output *o, const char *fmt, va_list ap)
{
    char small[512], *big;
    va_list again;
    int n, rc;

    va_copy(again, ap);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n < 0) {
        va_end(again);
        return -EINVAL;
    }
    if ((size_t)n < sizeof(small)) {
        va_end(again);
        return task_output_write(o, small, (size_t)n);
    }
    big = malloc((size_t)n + 1);
    if (!big) {
        va_end(again);
        return -ENOMEM;
    }
    vsnprintf(big, (size_t)n + 1, fmt, again);
    va_end(again);
    rc = task_output_write(o, big, (size_t)n);
    free(big);
    return rc;
}

void task_flush_output(struct minion_task *t)
{
    struct minion_output *o = &t->out;

    if (o->echo_len == 0) {
        return;
    }
    if (o->echo[o->echo_len - 1] != '\n' &&
        grow(&o->echo, &o->echo_cap, o->echo_len + 1, 1, 256) == 0) {
        o->echo[o->echo_len++] = '\n';
    }
    task_write_stdout(o->echo, o->echo_len);
    o->echo_len = 0;
}

const char *task_result(const struct minion_task *t, size_t *len)
{
    const struct minion_output *o = &t->out;
    size_t n = o->tail_len < o->limit ? o->tail_len : o->limit;

    *len = n;
    return o->tail ? o->tail + o->tail_len - n : "";
}

void task_vset_error(const struct minion_task *task, const char *fmt,
                     va_list ap)
{
    struct task_said *said = task->said; /* only its owner thread calls */
    char *e = NULL;

    if (vasprintf(&e, fmt, ap) < 0) {
        return;
    }
    /* One line: the error goes into logs and result fields. */
    for (char *p = e; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    free(said->error);
    said->error = e;
}

void task_set_error(const struct minion_task *task, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    task_vset_error(task, fmt, ap);
    va_end(ap);
}

void task_add_action(struct minion_task *t, const char *name, double start,
                     double end)
{
    char *copy;

    if (t->n_actions == t->cap_actions) {
        size_t cap = t->cap_actions ? t->cap_actions * 2 : 4;
        struct minion_action *a = realloc(t->actions, cap * sizeof(*a));
        if (!a) {
            return;
        }
        t->actions = a;
        t->cap_actions = cap;
    }
    copy = strdup(name);
    if (!copy) {
        return;
    }
    t->actions[t->n_actions].name = copy;
    t->actions[t->n_actions].start = start;
    t->actions[t->n_actions].end = end;
    t->n_actions++;
}

static const char *const timeline_steps[4] = {"next", "setup", "process",
                                              "teardown"};

static int step_index(const char *name)
{
    for (int k = 0; k < 4; k++) {
        if (strcmp(name, timeline_steps[k]) == 0) {
            return k;
        }
    }
    return -1;
}

static void put_step(struct minion_action *out, size_t *n, const char *name,
                     double start, double end)
{
    out[*n].name = name;
    out[*n].start = start;
    out[*n].end = end;
    (*n)++;
}

size_t task_timeline(const struct minion_task *t, struct minion_action *out,
                     size_t cap)
{
    const struct minion_action *own[4] = {NULL, NULL, NULL, NULL};
    const struct minion_action *run;
    size_t n = 0;

    for (size_t i = 0; i < t->n_actions; i++) {
        int k = step_index(t->actions[i].name);
        if (k >= 0 && !own[k]) {
            own[k] = &t->actions[i];
        }
    }
    run = own[2];
    if (own[0]) {
        out[n++] = *own[0];
    } else if (t->asked > 0 && t->delivered >= t->asked) {
        put_step(out, &n, "next", t->asked, t->delivered);
    }
    /* With the callback's own process step, setup and teardown are what
     * lies around it, also when that is no time at all: every such report
     * has the same four steps. */
    if (own[1]) {
        out[n++] = *own[1];
    } else if (run) {
        put_step(out, &n, "setup", t->start,
                 run->start > t->start ? run->start : t->start);
    }
    if (run) {
        out[n++] = *run;
    } else {
        put_step(out, &n, "process", t->start, t->end);
    }
    if (own[3]) {
        out[n++] = *own[3];
    } else if (run) {
        put_step(out, &n, "teardown", run->end < t->end ? run->end : t->end,
                 t->end);
    }
    for (size_t i = 0; i < t->n_actions && n < cap; i++) {
        if (step_index(t->actions[i].name) < 0) {
            out[n++] = t->actions[i];
        }
    }
    return n;
}
