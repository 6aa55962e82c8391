/* SPDX-License-Identifier: MIT */
/*
 * shout.c: a custom reporter. It logs every run that did not succeed, and
 * at the end how many there were: the smallest useful reporter, to copy.
 *
 *   cc -shared -fPIC shout.c -o shout.so $(pkg-config --cflags --libs
 * minionize) seq 3 | minionize -r ./shout.so false
 *
 * To make it yours: rename the file and the descriptor together (a plugin
 * file NAME.so exports minion_plugin_NAME), add settings to the option
 * table (the name is also the environment variable), and do your work in
 * on_report(), which runs on the minion's event loop: never block there.
 */
#include <stddef.h>
#include <stdlib.h>

#include <minionize/plugin.h>

struct shout_conf {
    long long every; /* SHOUT_EVERY */
};

static const struct minion_option shout_options[] = {
    {"SHOUT_EVERY", MINION_OPT_INT, "1", offsetof(struct shout_conf, every), 0,
     "Log one failed run in this many (1: every one).", NULL},
    {NULL},
};

struct shout {
    const struct shout_conf *conf;
    unsigned long long failed;
};

/* Validate the settings and allocate; no I/O here. */
static int shout_init(struct minion_instance *inst, void *conf)
{
    struct shout *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        minion_set_error(inst, "out of memory");
        return -1;
    }
    s->conf = conf;
    if (s->conf->every < 1) {
        free(s);
        minion_set_error(inst, "SHOUT_EVERY must be 1 or more");
        return -1;
    }
    minion_instance_set_data(inst, s);
    return 0;
}

/* One finished run. Borrows: r, valid until this returns. */
static void shout_on_report(struct minion_instance *inst,
                            const struct minion_report *r)
{
    struct shout *s = minion_instance_data(inst);

    if (r->status == MINION_STATUS_OK) {
        return;
    }
    if (s->failed++ % (unsigned long long)s->conf->every == 0) {
        minion_log(inst, MINION_LOG_WARN, "task %s %s (attempt %u): %s",
                   r->task_id, minion_status_name(r->status), r->attempt,
                   r->error ? r->error : "no error given");
    }
}

/* Every task is settled: say the total. 0: stopped now. */
static int shout_stop(struct minion_instance *inst)
{
    struct shout *s = minion_instance_data(inst);

    minion_log(inst, MINION_LOG_INFO, "%llu run%s did not succeed", s->failed,
               s->failed == 1 ? "" : "s");
    return 0;
}

static void shout_destroy(struct minion_instance *inst)
{
    free(minion_instance_data(inst));
}

static const struct minion_reporter_ops shout_ops = {
    MINION_OPS_HEADER(struct minion_reporter_ops),
    .on_report = shout_on_report,
};

const struct minion_plugin minion_plugin_shout = {
    MINION_PLUGIN_HEADER(MINION_KIND_REPORTER),
    .name = "shout",
    .summary = "Log every run that did not succeed",
    .conf_size = sizeof(struct shout_conf),
    .options = shout_options,
    .init = shout_init,
    .stop = shout_stop,
    .destroy = shout_destroy,
    .reporter = &shout_ops,
};
