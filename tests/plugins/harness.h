/* SPDX-License-Identifier: MIT */
/*
 * tests/plugins/harness.h: what the plugin unit tests need to drive a real
 * plugin through its descriptor, in one place, so that a change to the
 * core's internals is adapted here and nowhere else.
 *
 * - An instance of a plugin as the core makes one: the descriptor checked
 *   and its tables copied as the loader adopts them, the conf filled by the
 *   core's option parser from settings, then init / start / stop / free.
 * - A bounded run of the real runner with those instances.
 * - Scripted counterparts for the other side of the plugin under test
 *   (public API only): an engine delivering a list of params, a callback
 *   doing what its param says, a reporter recording every report. What
 *   each saw lands in `harness_w`.
 * - Temporary folders.
 */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <stddef.h>

#include <minionize/plugin.h>

struct event_base;

/* ------------------------------------------------------------------------ */
/* Instances                                                                 */

/* A context for tests: minion "test" on node "node", concurrency 1, 3
 * attempts, 50 ms of grace, a 4 KiB result tail; the rest 0. */
void harness_context(struct minion_context *ctx);

/* An instance of @p, taken through its descriptor as the loader does, with
 * its conf filled by the core's option parser from @settings ("NAME=VALUE"
 * strings, NULL-terminated; may be NULL). The plugin's options that
 * @settings leave out get their defaults: they are removed from this
 * process's environment first. Not init'ed. Returns: new instance, free
 * with harness_free(); NULL with one line in @err. */
struct minion_instance *harness_new(const struct minion_plugin *p,
                                    const char *const *settings, char *err,
                                    size_t errlen);

/* The plugin's init(), as the core calls it. Borrows: ctx, which must
 * outlive the instance. Returns 0, or -1 with one line in @err. */
int harness_init(struct minion_instance *inst, const struct minion_context *ctx,
                 char *err, size_t errlen);
/* The plugin's start() on @base. Returns 0, or -1 with one line in @err. */
int harness_start(struct minion_instance *inst, struct event_base *base,
                  char *err, size_t errlen);
/* The plugin's stop(). Returns 1 while it stops asynchronously, else 0. */
int harness_stop(struct minion_instance *inst);
/* destroy() when init'ed, then free everything. Accepts NULL. */
void harness_free(struct minion_instance *inst);

/* harness_new, harness_init and harness_start in one, failing the test
 * on any error. */
struct minion_instance *harness_up(const struct minion_plugin *p,
                                   const char *const *settings,
                                   const struct minion_context *ctx,
                                   struct event_base *base);

/* ------------------------------------------------------------------------ */
/* Running                                                                   */

/* harness_run() ran out of time. */
#define HARNESS_TIMED_OUT (-1)

/*
 * Run the minion made of these started instances on @base with the core's
 * runner until it ends (drained, MINION_MAX_TASKS, a stop), or at most
 * @limit_s seconds. Every plugin has been stopped when it returns, but none
 * is freed. Returns: the minion's exit status, or HARNESS_TIMED_OUT.
 */
int harness_run(struct event_base *base, const struct minion_context *ctx,
                struct minion_instance *engine,
                struct minion_instance *callback,
                struct minion_instance **reporters, size_t n_reporters,
                double limit_s);

/* One whole minion on a base of its own: @real (an engine or a callback,
 * with @settings) and the scripted plugins in the other places, under
 * @ctx, for at most @limit_s seconds; running out of time fails the test.
 * Returns: the minion's exit status. */
int harness_minion(const struct minion_plugin *real,
                   const char *const *settings,
                   const struct minion_context *ctx, double limit_s);

/* ------------------------------------------------------------------------ */
/* Scripted counterparts                                                     */

#define HARNESS_MAX 64

/* One param as a scripted plugin saw it. */
struct harness_seen {
    char id[64];
    char param[256];
    unsigned attempt;
    int verdict;   /* what the scripted engine was told; -1: none */
    int status;    /* enum minion_status (reports) */
    int exit_code; /* -1: none */
    char error[256];
    char output[1024];
    size_t output_len;
    size_t n_actions;
    unsigned long long generation;
};

struct harness_world {
    /* The scripted engine delivers these, ids "1", "2"...; a retry goes to
     * the back of the queue with one more attempt. */
    const char *params[HARNESS_MAX];
    size_t n_params;
    /* The scripted callback: a "stop" param ends at once (ok) when set;
     * otherwise it hangs and sends this process SIGTERM. */
    int stop_ok;

    struct harness_seen settled[HARNESS_MAX]; /* scripted engine: finish */
    size_t n_settled;
    struct harness_seen ran[HARNESS_MAX]; /* scripted callback: process */
    size_t n_ran;
    struct harness_seen reports[HARNESS_MAX]; /* scripted reporter */
    size_t n_reports;
    unsigned running, max_running, cancels;
    minion_task *held[HARNESS_MAX]; /* holding callback: tasks held now */
    size_t n_held;
};

extern struct harness_world harness_w;

/* Forget what the scripted plugins saw and were told. */
void harness_reset(void);

/* The scripted engine: delivers harness_w.params as it gets credit, and
 * records each verdict with its report in harness_w.settled. */
extern const struct minion_plugin harness_engine;

/*
 * The scripted callback: records each task in harness_w.ran, writes
 * "ran PARAM\n" to its output and ends as its param says: "fail..." with
 * MINION_RETRY (error "scripted failure"), "reject..." with MINION_REJECT,
 * "hang..." never (until cancelled: then MINION_RETRY), "stop..." see
 * harness_w.stop_ok; anything else with MINION_OK.
 */
extern const struct minion_plugin harness_callback;

/* The scripted reporter: every report goes to harness_w.reports. */
extern const struct minion_plugin harness_reporter;

/*
 * The holding callback, for looking at a queue while tasks are in flight:
 * keeps each task whose param starts with "hold" in harness_w.held until
 * harness_holder_release(), ends the "reject..." ones with MINION_REJECT
 * and the rest with MINION_OK at once. A stop cancels what it still holds
 * (MINION_RETRY).
 */
extern const struct minion_plugin harness_holder;

/* End every task the holding callback holds with MINION_OK. */
void harness_holder_release(void);

/* Queue figures as an engine's queue() fills them, for comparing with what
 * it gave. */
struct minion_queue harness_queue(long long total, long long done,
                                  long long lag, long long pending,
                                  long long dead);

/* The first record of @list (@n long) whose param is @param and whose
 * attempt is @attempt (0: any); NULL when none. */
const struct harness_seen *harness_find(const struct harness_seen *list,
                                        size_t n, const char *param,
                                        unsigned attempt);

/* The scripted callback ran @param with task id @id at @attempt: fails
 * the test otherwise. */
void harness_assert_ran(const char *param, const char *id, unsigned attempt);

/* How many records of @list (@n long) have @param. */
size_t harness_count(const struct harness_seen *list, size_t n,
                     const char *param);

/* ------------------------------------------------------------------------ */
/* Files                                                                     */

/* A new folder under $TMPDIR (else /tmp) named after @name, in @dir
 * (@cap bytes). Fails the test when it cannot be made. */
void harness_tmpdir(char *dir, size_t cap, const char *name);
/* Remove @dir and everything in it. */
void harness_rmtree(const char *dir);
/* Write @text to @path, replacing it. Fails the test on error. */
void harness_write_file(const char *path, const char *text);
/* The whole of @path, NUL-terminated; NULL when it cannot be read.
 * Returns: new string; caller frees. */
char *harness_read_file(const char *path);

#endif
