/* SPDX-License-Identifier: MIT */
/*
 * Test-only: a callback as a plugin built against an older, smaller header
 * would be. Its hook table records a size that ends after process(): the
 * describe() and cancel() hooks it also fills lie past that size, so the
 * core must treat them as absent. A dry run then prints the param itself,
 * never "DESCRIBE CALLED".
 */
#include <stddef.h>

#include <minionize/plugin.h>

static void process(struct minion_instance *inst, minion_task *task)
{
    minion_output_printf(minion_task_output(task), "processed\n");
    minion_task_done(task, MINION_OK);
}

static void cancel(struct minion_instance *inst, minion_task *task)
{
    minion_log(inst, MINION_LOG_ERROR, "CANCEL CALLED");
}

static int describe(struct minion_instance *inst, minion_task *task,
                    minion_output *out)
{
    minion_output_printf(out, "DESCRIBE CALLED\n");
    return 0;
}

static const struct minion_callback_ops oldsize_ops = {
    .size = offsetof(struct minion_callback_ops, process) +
            sizeof(oldsize_ops.process),
    .process = process,
    .cancel = cancel,
    .describe = describe,
};

const struct minion_plugin minion_plugin_oldsize = {
    MINION_PLUGIN_HEADER(MINION_KIND_CALLBACK),
    .name = "oldsize",
    .summary = "Test only: a callback from an older header",
    .callback = &oldsize_ops,
};
