/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "log.h"
#include "options.h"
#include "settings.h"

struct minion_instance *instance_new(enum minion_kind kind)
{
    struct minion_instance *inst = calloc(1, sizeof(*inst));

    if (inst) {
        inst->kind = kind;
    }
    return inst;
}

void instance_vset_error(struct minion_instance *inst, const char *fmt,
                         va_list ap)
{
    vsnprintf(inst->error, sizeof(inst->error), fmt, ap);
}

void instance_set_error(struct minion_instance *inst, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    instance_vset_error(inst, fmt, ap);
    va_end(ap);
}

const char *instance_error(const struct minion_instance *inst)
{
    return inst->error;
}

int instance_load(struct minion_instance *inst, const char *spec,
                  const char *search_path, struct settings *cfg)
{
    int rc = loader_open(&inst->lp, spec, inst->kind, search_path);

    if (rc < 0) {
        instance_set_error(inst, "%s", inst->lp.error);
        return rc;
    }
    return instance_configure(inst, cfg);
}

int instance_configure(struct minion_instance *inst, struct settings *cfg)
{
    inst->plugin = inst->lp.plugin;
    snprintf(inst->label, sizeof(inst->label), "%s %s",
             loader_kind_name(inst->kind), inst->plugin->name);
    inst->conf =
        calloc(1, inst->plugin->conf_size ? inst->plugin->conf_size : 1);
    if (!inst->conf) {
        instance_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    if (options_fill(inst->lp.options, inst->conf, cfg) < 0) {
        instance_set_error(inst, "%s: %s", inst->label, settings_error(cfg));
        return -EINVAL;
    }
    return 0;
}

/* A hook failed: the error line names the instance, with what the plugin
 * said (or @what failed, when it said nothing). */
static int hook_failed(struct minion_instance *inst, const char *what)
{
    char said[sizeof(inst->error)];

    snprintf(said, sizeof(said), "%s", inst->error[0] ? inst->error : what);
    instance_set_error(inst, "%s: %s", inst->label, said);
    return -EINVAL;
}

int instance_init(struct minion_instance *inst,
                  const struct minion_context *ctx)
{
    inst->ctx = ctx;
    inst->error[0] = '\0';
    if (inst->plugin->init && inst->plugin->init(inst, inst->conf) < 0) {
        return hook_failed(inst, "init failed");
    }
    inst->inited = 1;
    return 0;
}

int instance_start(struct minion_instance *inst, struct event_base *base)
{
    inst->base = base;
    inst->error[0] = '\0';
    if (inst->plugin->start && inst->plugin->start(inst, base) < 0) {
        return hook_failed(inst, "start failed");
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
    if (inst->plugin->stop && inst->plugin->stop(inst) == 1 && !inst->stopped) {
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
