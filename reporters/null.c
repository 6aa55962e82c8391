/* SPDX-License-Identifier: MIT */
/* reporters/null.c: the default reporter, which records nothing. It exists so
 * that MINION_REPORTER always names a plugin, and costs nothing per task. */
#include <minionize/plugin.h>

static void null_on_report(struct minion_instance *inst,
                           const struct minion_report *report)
{
}

const struct minion_plugin minion_plugin_null = {
    MINION_PLUGIN_HEADER(MINION_KIND_REPORTER),
    .name = "null",
    .summary = "Record nothing",
    .reporter = {.on_report = null_on_report},
};
