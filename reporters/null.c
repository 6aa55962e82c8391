/* SPDX-License-Identifier: MIT */
/* reporters/null.c: the default reporter, which records nothing. It exists so
 * that MINION_REPORTER always names a plugin, and costs nothing per task. */
#include <minionize/plugin.h>

static void null_on_report(struct minion_instance *inst,
                           const struct minion_report *report)
{
}

static const struct minion_reporter_ops null_ops = {
    MINION_OPS_HEADER(struct minion_reporter_ops),
    .on_report = null_on_report,
};

const struct minion_plugin minion_plugin_null = {
    MINION_PLUGIN_HEADER(MINION_KIND_REPORTER),
    .name = "null",
    .summary = "Record nothing",
    .reporter = &null_ops,
};
