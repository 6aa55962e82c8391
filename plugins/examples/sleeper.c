/* SPDX-License-Identifier: MIT */
/*
 * sleeper.c: a custom callback that completes on the minion's event loop,
 * with no thread and no process: each param is a number of milliseconds to
 * wait on a timer. The same shape fits any callback that waits on a socket,
 * a timer or a child: start the work in process(), end it from an event
 * with minion_task_done().
 *
 *   cc -shared -fPIC sleeper.c -o sleeper.so $(pkg-config --cflags --libs
 * minionize) printf '%s\n' 100 200 oops | minionize -j2 -c ./sleeper.so
 *
 * The hooks, in the order the core calls them for each param:
 *   setup()    check the param; MINION_REJECT dead-letters it at once.
 *   process()  start the work; it ends with exactly one minion_task_done().
 *   cancel()   a timeout or a stop: end the work now, still with one
 *              minion_task_done() (which frees the task: touch it no more).
 *   teardown() after the task is done, with its outcome: free what
 *              process() made.
 * All of them run on the loop thread: never block, never sleep.
 */
#include <errno.h>
#include <stdlib.h>

#include <event2/event.h>
#include <minionize/plugin.h>

/* A param may ask for at most an hour. */
#define SLEEP_MAX_MS (3600LL * 1000)

struct nap {
    struct event *timer;
    long long ms;
};

/* The param as milliseconds, or -1. */
static long long param_ms(const minion_task *task)
{
    size_t len;
    const char *p = minion_task_param(task, &len);
    long long ms = 0;

    if (len == 0 || len > 12) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        ms = ms * 10 + (p[i] - '0');
    }
    return ms <= SLEEP_MAX_MS ? ms : -1;
}

static int sleeper_setup(struct minion_instance *inst, minion_task *task)
{
    if (param_ms(task) < 0) {
        minion_task_set_error(task, "not a number of milliseconds (0 to "
                                    "3600000)");
        return MINION_REJECT; /* retrying would not help */
    }
    return MINION_OK;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    minion_task *task = arg;
    struct nap *nap = minion_task_data(task);

    minion_output_printf(minion_task_output(task), "slept %lld ms\n", nap->ms);
    minion_task_done(task, MINION_OK);
}

static void sleeper_process(struct minion_instance *inst, minion_task *task)
{
    struct nap *nap = calloc(1, sizeof(*nap));
    struct timeval tv;

    if (nap == NULL) {
        minion_task_set_error(task, "out of memory");
        minion_task_done(task, MINION_DEFER); /* ours, not the param's */
        return;
    }
    nap->ms = param_ms(task);
    nap->timer = evtimer_new(minion_instance_base(inst), on_timer, task);
    if (nap->timer == NULL) {
        free(nap);
        minion_task_set_error(task, "out of memory");
        minion_task_done(task, MINION_DEFER);
        return;
    }
    minion_task_set_data(task, nap);
    tv.tv_sec = (time_t)(nap->ms / 1000);
    tv.tv_usec = (suseconds_t)(nap->ms % 1000) * 1000;
    evtimer_add(nap->timer, &tv);
}

static void sleeper_cancel(struct minion_instance *inst, minion_task *task)
{
    struct nap *nap = minion_task_data(task);

    if (nap == NULL) {
        return;
    }
    evtimer_del(nap->timer);
    minion_task_set_error(task, "woken up before %lld ms", nap->ms);
    minion_task_done(task, MINION_RETRY); /* the task is gone after this */
}

static void sleeper_teardown(struct minion_instance *inst, minion_task *task,
                             enum minion_outcome outcome)
{
    struct nap *nap = minion_task_data(task);

    if (nap != NULL) {
        event_free(nap->timer);
        free(nap);
        minion_task_set_data(task, NULL);
    }
}

static const struct minion_callback_ops sleeper_ops = {
    MINION_OPS_HEADER(struct minion_callback_ops),
    .setup = sleeper_setup,
    .process = sleeper_process,
    .cancel = sleeper_cancel,
    .teardown = sleeper_teardown,
};

const struct minion_plugin minion_plugin_sleeper = {
    MINION_PLUGIN_HEADER(MINION_KIND_CALLBACK),
    .name = "sleeper",
    .summary = "Wait each param's milliseconds on a timer (an example)",
    .callback = &sleeper_ops,
};
