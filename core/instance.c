/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "log.h"
#include "options.h"
#include "runner.h"

struct minion_instance *instance_new(const char *spec, enum minion_kind kind,
                                     const char *search_path,
                                     const struct settings *cfg, char *err,
                                     size_t errlen)
{
    struct minion_instance *inst = calloc(1, sizeof(*inst));
    char why[768];

    if (!inst) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (loader_open(spec, kind, search_path, &inst->lp, err, errlen) < 0) {
        free(inst);
        return NULL;
    }
    inst->plugin = inst->lp.plugin;
    snprintf(inst->label, sizeof(inst->label), "%s %s", loader_kind_name(kind),
             inst->plugin->name);
    inst->conf = calloc(1, inst->plugin->conf_size ? inst->plugin->conf_size
                                                   : 1);
    if (!inst->conf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (options_fill(inst->lp.options, inst->conf, cfg, why,
                     sizeof(why)) < 0) {
        snprintf(err, errlen, "%s: %s", inst->label, why);
        goto fail;
    }
    return inst;
fail:
    instance_free(inst);
    return NULL;
}

int instance_init(struct minion_instance *inst,
                  const struct minion_context *ctx, char *err, size_t errlen)
{
    inst->ctx = ctx;
    if (inst->plugin->init && inst->plugin->init(inst, inst->conf) < 0) {
        snprintf(err, errlen, "%s: %s", inst->label,
                 inst->error[0] ? inst->error : "init failed");
        return -1;
    }
    inst->inited = 1;
    return 0;
}

int instance_start(struct minion_instance *inst, struct event_base *base,
                   char *err, size_t errlen)
{
    inst->base = base;
    if (inst->plugin->start && inst->plugin->start(inst, base) < 0) {
        snprintf(err, errlen, "%s: %s", inst->label,
                 inst->error[0] ? inst->error : "start failed");
        return -1;
    }
    inst->started = 1;
    return 0;
}

int instance_stop(struct minion_instance *inst)
{
    if (!inst->started || inst->stopped || inst->stop_pending) {
        return inst->stop_pending;
    }
    /* A plugin may report "stopped" from inside stop() and still return 1. */
    if (inst->plugin->stop && inst->plugin->stop(inst) == 1 &&
        !inst->stopped) {
        inst->stop_pending = 1;
        return 1;
    }
    inst->stopped = 1;
    return 0;
}

void instance_free(struct minion_instance *inst)
{
    if (!inst) {
        return;
    }
    if (inst->inited && inst->plugin->destroy) {
        inst->plugin->destroy(inst);
    }
    if (inst->plugin) {
        options_free(inst->lp.options, inst->conf);
    }
    free(inst->conf);
    loader_close(&inst->lp);
    free(inst);
}

void instance_print_help(const struct loaded_plugin *lp, int markdown)
{
    const struct minion_plugin *p = lp->plugin;
    const struct minion_option *options = lp->options;

    if (markdown) {
        printf("# %s %s\n\n%s\n\n", loader_kind_name(p->kind), p->name,
               p->summary ? p->summary : "");
        if (options && options->name) {
            options_print(stdout, options, 1);
        } else {
            printf("No settings.\n");
        }
        return;
    }
    printf("%s %s: %s\n", loader_kind_name(p->kind), p->name,
           p->summary ? p->summary : "");
    if (options && options->name) {
        printf("\nSettings (environment, .env, or --set NAME=VALUE):\n");
        options_print(stdout, options, 0);
    } else {
        printf("\nNo settings.\n");
    }
}

/* ------------------------------------------------------------------------ */
/* The public instance API                                                   */

void minion_set_error(struct minion_instance *inst, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(inst->error, sizeof(inst->error), fmt, ap);
    va_end(ap);
}

const char *minion_error(const struct minion_instance *inst)
{
    return inst->error;
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
    vsnprintf(inst->error, sizeof(inst->error), fmt, ap);
    log_msg(MINION_LOG_ERROR, inst->label, "%s", inst->error);
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

void minion_instance_fail_config(struct minion_instance *inst,
                                 const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail_with(inst, 2, fmt, ap);
    va_end(ap);
}
