/* SPDX-License-Identifier: MIT */
/* One configured plugin: its descriptor, conf struct, state and error. */
#ifndef CORE_INSTANCE_H
#define CORE_INSTANCE_H

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
    char label[160]; /* "engine redis" */
    char error[1024];
    unsigned inited : 1, started : 1, stop_pending : 1, stopped : 1;
};

/* Load @spec as a @kind plugin and fill its conf from @cfg. Returns: new
 * instance (not yet init'ed); NULL with one line in @err. */
struct minion_instance *instance_new(const char *spec, enum minion_kind kind,
                                     const char *search_path,
                                     const struct settings *cfg, char *err,
                                     size_t errlen);

/* init() the plugin. Returns 0, or -1 with the error in @err. */
int instance_init(struct minion_instance *inst, const struct minion_context *ctx,
                  char *err, size_t errlen);
/* start() the plugin. Returns 0, or -1 with the error in @err. */
int instance_start(struct minion_instance *inst, struct event_base *base,
                   char *err, size_t errlen);
/* stop() the plugin. Returns 1 while it finishes asynchronously, else 0. */
int instance_stop(struct minion_instance *inst);
/* destroy() if init'ed, then free everything. Accepts NULL. */
void instance_free(struct minion_instance *inst);

/* Print the plugin's summary and settings table. */
void instance_print_help(const struct loaded_plugin *lp, int markdown);

#endif
