/* SPDX-License-Identifier: MIT */
/* Test-only: an engine built for a future ABI, which the loader refuses. */
#include <minionize/plugin.h>

static void request(struct minion_instance *inst, unsigned n)
{
}

static void finish(struct minion_instance *inst, void *handle,
                   enum minion_verdict verdict,
                   const struct minion_report *report)
{
}

static const struct minion_engine_ops badabi_ops = {
    MINION_OPS_HEADER(struct minion_engine_ops),
    .request = request,
    .finish = finish,
};

const struct minion_plugin minion_plugin_badabi = {
    .abi = MINION_ABI_MAJOR + 98,
    .size = sizeof(struct minion_plugin),
    .kind = MINION_KIND_ENGINE,
    .name = "badabi",
    .summary = "An engine from the future",
    .engine = &badabi_ops,
};
