/* SPDX-License-Identifier: MIT */
/*
 * Test-only reporter: after the first report, it takes every free file
 * descriptor of the minion for FDHOG_MS milliseconds (default 500), then
 * gives them all back. Tasks that start meanwhile meet EMFILE, the way a
 * minion does when something else in it leaks or a limit is hit, and must
 * be held and started again, never failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>
#include <minionize/plugin.h>

#define MAX_HOGGED 65536

static int hogged[MAX_HOGGED];
static size_t n_hogged;
static int done_once;
static struct event *ev_free;

static void on_free(evutil_socket_t fd, short what, void *arg)
{
    while (n_hogged > 0) {
        close(hogged[--n_hogged]);
    }
    minion_log(arg, MINION_LOG_INFO, "descriptors given back");
}

static void on_report(struct minion_instance *inst,
                      const struct minion_report *report)
{
    const char *ms = getenv("FDHOG_MS");
    long wait = ms ? atol(ms) : 500;
    struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
    int fd;

    if (done_once++) {
        return;
    }
    while (n_hogged < MAX_HOGGED && (fd = open("/dev/null", O_RDONLY)) >= 0) {
        hogged[n_hogged++] = fd;
    }
    minion_log(inst, MINION_LOG_INFO, "took %zu descriptors", n_hogged);
    ev_free = evtimer_new(minion_instance_base(inst), on_free, inst);
    evtimer_add(ev_free, &tv);
}

static void fdhog_destroy(struct minion_instance *inst)
{
    on_free(-1, 0, inst);
    if (ev_free) {
        event_free(ev_free);
    }
}

static const struct minion_reporter_ops fdhog_ops = {
    MINION_OPS_HEADER(struct minion_reporter_ops),
    .on_report = on_report,
};

const struct minion_plugin minion_plugin_fdhog = {
    MINION_PLUGIN_HEADER(MINION_KIND_REPORTER),
    .name = "fdhog",
    .summary = "Test only: takes every free descriptor for a moment",
    .destroy = fdhog_destroy,
    .reporter = &fdhog_ops,
};
