/* SPDX-License-Identifier: MIT */
/* One configured plugin: its descriptor, conf struct, state and error. */
#ifndef CORE_INSTANCE_H
#define CORE_INSTANCE_H

#include <stdarg.h>

#include <minionize/plugin.h>

#include "loader.h"

struct settings;
struct runner;

struct minion_instance {
    struct loaded_plugin lp;
    const struct minion_plugin *plugin; /* lp.plugin */
    void *conf;                         /* the plugin's, filled from options */
    void *data;                         /* the plugin's own */
    struct runner *runner;
    struct event_base *base;
    const struct minion_context *ctx;
    enum minion_kind kind;
    char label[160]; /* "engine redis" */
    char error[1024];
    unsigned inited : 1, started : 1, stop_pending : 1, stopped : 1;
};

/* Returns: a new empty instance of @kind; NULL on ENOMEM. Free it with
 * instance_free() whatever happens next. */
struct minion_instance *instance_new(enum minion_kind kind);

/* Every instance_ call below that fails returns a negative errno value and
 * leaves one line in the instance's error, naming the instance once it is
 * known ("engine redis: REDIS_URL: ..."): */
const char *instance_error(const struct minion_instance *inst);
void instance_set_error(struct minion_instance *inst, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void instance_vset_error(struct minion_instance *inst, const char *fmt,
                         va_list ap);

/* Load @spec (a name looked up in @search_path, or a path) and fill its conf
 * from @cfg. */
int instance_load(struct minion_instance *inst, const char *spec,
                  const char *search_path, struct settings *cfg);
/* Fill the conf of a plugin already in inst->lp (loader_adopt: tests). */
int instance_configure(struct minion_instance *inst, struct settings *cfg);
/* init() the plugin. */
int instance_init(struct minion_instance *inst,
                  const struct minion_context *ctx);
/* start() the plugin. */
int instance_start(struct minion_instance *inst, struct event_base *base);
/* stop() the plugin. Returns 1 while it finishes asynchronously, else 0. */
int instance_stop(struct minion_instance *inst);
/* destroy() if init'ed, then free everything. Accepts NULL. */
void instance_free(struct minion_instance *inst);

/* Print the plugin's summary and settings table. */
void instance_print_help(const struct loaded_plugin *lp, int markdown);

#endif
