/* SPDX-License-Identifier: MIT */
/* Test-only: a reporter built against a newer minor ABI than the core's,
 * which the loader refuses by name. */
#include <minionize/plugin.h>

static void on_report(struct minion_instance *inst,
                      const struct minion_report *report)
{
}

static const struct minion_reporter_ops newminor_ops = {
    MINION_OPS_HEADER(struct minion_reporter_ops),
    .on_report = on_report,
};

const struct minion_plugin minion_plugin_newminor = {
    .abi = MINION_ABI_MAJOR,
    .abi_minor = MINION_ABI_MINOR + 1,
    .size = sizeof(struct minion_plugin),
    .option_size = sizeof(struct minion_option),
    .kind = MINION_KIND_REPORTER,
    .name = "newminor",
    .summary = "Test only: needs a newer core",
    .reporter = &newminor_ops,
};
