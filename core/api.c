/* SPDX-License-Identifier: MIT */
/*
 * Every function <minionize/plugin.h> declares, and only those. Each one
 * calls down into the instance, the task or the runner; none of those ever
 * calls back up here, so a change to what plugins are promised touches this
 * file and the header alone.
 */
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "clock.h"
#include "instance.h"
#include "log.h"
#include "runner.h"
#include "task.h"

/* ------------------------------------------------------------------------ */
/* Instances                                                                 */

void minion_set_error(struct minion_instance *inst, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    instance_vset_error(inst, fmt, ap);
    va_end(ap);
}

const char *minion_error(const struct minion_instance *inst)
{
    return instance_error(inst);
}

void minion_log(struct minion_instance *inst, enum minion_log_level level,
                const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, inst ? inst->label : NULL, fmt, ap);
    va_end(ap);
}

void minion_instance_set_data(struct minion_instance *inst, void *data)
{
    inst->data = data;
}

void *minion_instance_data(const struct minion_instance *inst)
{
    return inst->data;
}

void *minion_instance_conf(const struct minion_instance *inst)
{
    return inst->conf;
}

struct event_base *minion_instance_base(const struct minion_instance *inst)
{
    return inst->base;
}

const struct minion_context *
minion_instance_context(const struct minion_instance *inst)
{
    return inst->ctx;
}

void minion_instance_stopped(struct minion_instance *inst)
{
    if (inst->stopped) {
        return;
    }
    inst->stopped = 1;
    inst->stop_pending = 0;
    if (inst->runner) {
        runner_on_stopped(inst->runner, inst);
    }
}

static void fail_with(struct minion_instance *inst, int exit_code,
                      const char *fmt, va_list ap)
{
    instance_vset_error(inst, fmt, ap);
    log_msg(MINION_LOG_ERROR, inst->label, "%s", instance_error(inst));
    if (inst->runner) {
        runner_fail(inst->runner, exit_code);
    }
}

void minion_instance_fail(struct minion_instance *inst, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail_with(inst, 1, fmt, ap);
    va_end(ap);
}

void minion_instance_fail_config(struct minion_instance *inst, const char *fmt,
                                 ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail_with(inst, 2, fmt, ap);
    va_end(ap);
}

void minion_stats_get(const struct minion_instance *inst,
                      struct minion_stats *out)
{
    runner_stats(inst->runner, out);
}

/* ------------------------------------------------------------------------ */
/* Engines                                                                   */

int minion_engine_deliver(struct minion_instance *inst,
                          const struct minion_param *param)
{
    return runner_deliver(inst->runner, inst, param);
}

void minion_engine_report(struct minion_instance *inst,
                          const struct minion_report *report)
{
    runner_report(inst->runner, inst, report);
}

void minion_engine_drained(struct minion_instance *inst)
{
    runner_drained(inst->runner);
}

/* ------------------------------------------------------------------------ */
/* Tasks                                                                     */

const char *minion_task_param(const minion_task *t, size_t *len)
{
    if (len) {
        *len = t->len;
    }
    return t->param;
}

const char *minion_task_id(const minion_task *t)
{
    return t->id;
}

unsigned minion_task_attempt(const minion_task *t)
{
    return t->attempt;
}

minion_output *minion_task_output(minion_task *t)
{
    return &t->out;
}

void minion_task_set_error(const minion_task *task, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    task_vset_error(task, fmt, ap);
    va_end(ap);
}

void minion_task_set_exit_code(const minion_task *task, int code)
{
    task->said->exit_code = code;
}

void minion_task_set_usage(minion_task *t, const struct minion_usage *usage)
{
    memset(&t->usage, 0, sizeof(t->usage));
    memcpy(&t->usage, usage,
           usage->size < sizeof(t->usage) ? usage->size : sizeof(t->usage));
    t->usage.size = sizeof(t->usage);
}

void minion_task_set_data(minion_task *t, void *data)
{
    t->data = data;
}

void *minion_task_data(const minion_task *t)
{
    return t->data;
}

void minion_task_set_waiting(minion_task *t, int waiting)
{
    runner_set_waiting(t->runner, t, waiting);
}

void minion_task_add_action(minion_task *t, const char *name, double start,
                            double end)
{
    task_add_action(t, name, start, end);
}

void minion_task_done(minion_task *t, enum minion_outcome outcome)
{
    runner_task_done(t->runner, t, outcome);
}

int minion_output_write(minion_output *out, const void *buf, size_t len)
{
    return task_output_write(out, buf, len);
}

int minion_output_printf(minion_output *out, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = task_output_vprintf(out, fmt, ap);
    va_end(ap);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Anywhere                                                                  */

const char *minion_status_name(enum minion_status status)
{
    switch (status) {
    case MINION_STATUS_OK: return "ok";
    case MINION_STATUS_FAILED: return "failed";
    case MINION_STATUS_DEAD: return "dead";
    case MINION_STATUS_RELEASED: return "released";
    }
    return "unknown";
}

double minion_now(void)
{
    return clock_now();
}
