/* SPDX-License-Identifier: MIT */
/* The task flow on the loop: credit to the engine, tasks to the callback,
 * outcomes to verdicts, reports, timeouts, signals and the orderly stop. */
#ifndef CORE_RUNNER_H
#define CORE_RUNNER_H

#include <stddef.h>

#include <minionize/plugin.h>

struct event_base;
struct minion_instance;
struct minion_task;
struct runner;

/* Borrows: base, ctx and the instances, which must outlive the runner.
 * Sets each instance's runner. Returns: new runner; NULL on ENOMEM. */
struct runner *
runner_new(struct event_base *base, const struct minion_context *ctx,
           struct minion_instance *engine, struct minion_instance *callback,
           struct minion_instance **reporters, size_t n_reporters);
void runner_free(struct runner *r);

/* The exit status when the minion drained (or reached MINION_MAX_TASKS)
 * and at least one param it handled ended dead (MINION_DEAD_EXIT, 4). */
void runner_set_dead_exit(struct runner *r, int code);
/* MINION_STOP_EXIT: the exit status when a stop signal ended the minion
 * before it drained; -1: the usual 0 or 1. */
void runner_set_stop_exit(struct runner *r, int code);
struct halt_policy;
/* MINION_HALT_DEAD. Borrows: nothing (copied). */
void runner_set_halt(struct runner *r, const struct halt_policy *policy);

/* Run until drained, MINION_MAX_TASKS, a signal or a fatal error, and stop
 * every plugin. Returns the process exit status: 0; the dead exit; 1 for a
 * fatal error or tasks cut short; 2 for a configuration error found at run
 * time. */
int runner_run(struct runner *r);

/* What <minionize/plugin.h> promises, for api.c. Loop thread only. */
int runner_deliver(struct runner *r, struct minion_instance *inst,
                   const struct minion_param *param);
void runner_report(struct runner *r, struct minion_instance *inst,
                   const struct minion_report *report);
void runner_drained(struct runner *r);
void runner_set_waiting(struct runner *r, struct minion_task *t, int waiting);
/* @r may be NULL (not running yet, or any more): all zeros. */
void runner_stats(const struct runner *r, struct minion_stats *out);
struct stats;
/* The minion's counts and durations, and its tasks in flight, for
 * /metrics and the progress line. Borrows: the stats, while @r lives. */
const struct stats *runner_figures(const struct runner *r, unsigned *in_flight);
/* The engine's queue figures as last known (its queue() hook); each is
 * -1 when it cannot tell, all of them when it has no such hook. */
void runner_queue(const struct runner *r, struct minion_queue *out);
void runner_task_done(struct runner *r, struct minion_task *t,
                      enum minion_outcome outcome);
void runner_on_stopped(struct runner *r, struct minion_instance *inst);
/* Release what is in flight and exit with @exit_code (1 or 2). */
void runner_fail(struct runner *r, int exit_code);

#endif
