/* SPDX-License-Identifier: MIT */
/* Find a plugin by name or path, dlopen it, and check its descriptor. */
#ifndef CORE_LOADER_H
#define CORE_LOADER_H

#include <stddef.h>

#include <minionize/plugin.h>

struct loaded_plugin {
    void *dl;
    const struct minion_plugin *plugin;
    char *path; /* the file it came from */
};

/* Where plugins given by name are searched: @user_path (MINION_PLUGIN_PATH,
 * colon list, may be NULL), the installed plugin dir, then the build tree
 * when this binary runs from it. Returns: new string; caller frees. */
char *loader_search_path(const char *user_path);

/* Open the @kind plugin @spec: a name ("redis") looked up in @search_path,
 * or a path to a .so. Returns 0, or -1 with one line in @err. */
int loader_open(const char *spec, enum minion_kind kind,
                const char *search_path, struct loaded_plugin *out, char *err,
                size_t errlen);
void loader_close(struct loaded_plugin *lp);

/* The names of the @kind plugins found in @search_path, comma separated.
 * Returns: new string; caller frees. */
char *loader_list(enum minion_kind kind, const char *search_path);

const char *loader_kind_name(enum minion_kind kind);

#endif
