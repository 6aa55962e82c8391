/* SPDX-License-Identifier: MIT */
/* Find a plugin by name or path, dlopen it, and check its descriptor. */
#ifndef CORE_LOADER_H
#define CORE_LOADER_H

#include <stddef.h>
#include <string.h>

#include <minionize/plugin.h>

/* The end of @field in @type: a first released size. Fields are only ever
 * appended, so where a released field ends never changes. */
#define END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* What ABI 2.0 released. A plugin's struct may be larger (built against a
 * newer header: the core ignores what it does not know) or, for the op
 * tables, end after the hooks its kind requires (built against an older
 * one: the hooks it lacks are absent). */
#define PLUGIN_SIZE_2_0 END_OF(struct minion_plugin, reporter)
#define OPTION_SIZE_2_0 END_OF(struct minion_option, choices)
#define ENGINE_OPS_MIN END_OF(struct minion_engine_ops, finish)
#define CALLBACK_OPS_MIN END_OF(struct minion_callback_ops, process)
#define REPORTER_OPS_MIN END_OF(struct minion_reporter_ops, on_report)
#define PARAM_SIZE_2_0 END_OF(struct minion_param, handle)
#define REPORT_SIZE_2_0 END_OF(struct minion_report, n_actions)

struct loaded_plugin {
    void *dl;
    const struct minion_plugin *plugin;
    char *path; /* the file it came from */
    /* The plugin's tables as this core knows them: hooks past the size a
     * table recorded are NULL, option fields past the recorded row size
     * are 0. Only the table of the plugin's kind is filled. */
    struct minion_engine_ops engine;
    struct minion_callback_ops callback;
    struct minion_reporter_ops reporter;
    struct minion_option *options; /* owned; ends with a NULL name */
    char error[768]; /* why the last loader_ call on it failed, one line */
};

/* Check @p (ABI, sizes, required hooks) and fill @lp's tables from it, for
 * a plugin that did not come from a file (tests). Returns 0, or a negative
 * errno value with one line in lp->error. */
int loader_adopt(struct loaded_plugin *lp, const struct minion_plugin *p,
                 enum minion_kind kind);

/* Where plugins given by name are searched: @user_path (MINION_PLUGIN_PATH,
 * colon list, may be NULL), the installed plugin dir, then the build tree
 * when this binary runs from it. Returns: new string; caller frees. */
char *loader_search_path(const char *user_path);

/* Open the @kind plugin @spec into @out (zeroed by the caller): a name
 * ("redis") looked up in @search_path, or a path to a .so. Returns 0, or a
 * negative errno value with one line in out->error. */
int loader_open(struct loaded_plugin *out, const char *spec,
                enum minion_kind kind, const char *search_path);
void loader_close(struct loaded_plugin *lp);

/* The names of the @kind plugins found in @search_path, comma separated.
 * Returns: new string; caller frees. */
char *loader_list(enum minion_kind kind, const char *search_path);

const char *loader_kind_name(enum minion_kind kind);

#endif
