/* SPDX-License-Identifier: MIT */
/* The plugin unit tests' harness (harness.h). Only the first part touches
 * the core's internals; the rest uses the plugin API alone. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config.h"

#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "harness.h"
#include "instance.h"
#include "loader.h"
#include "runner.h"
#include "settings.h"
#include "task.h"

/* ------------------------------------------------------------------------ */
/* The core's internals                                                      */

/* Is @name set by one of @settings? */
static int is_set(const char *const *settings, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; settings && settings[i]; i++) {
        if (strncmp(settings[i], name, n) == 0 && settings[i][n] == '=') {
            return 1;
        }
    }
    return 0;
}

struct minion_instance *harness_new(const struct minion_plugin *p,
                                    const char *const *settings, char *err,
                                    size_t errlen)
{
    struct minion_instance *inst = instance_new(p->kind);
    struct settings *cfg = settings_new();

    if (!inst || !cfg) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (loader_adopt(&inst->lp, p, p->kind) < 0) {
        snprintf(err, errlen, "%s", inst->lp.error);
        goto fail;
    }
    for (size_t i = 0; settings && settings[i]; i++) {
        const char *eq = strchr(settings[i], '=');
        char key[128];
        int known = 0;

        if (!eq || (size_t)(eq - settings[i]) >= sizeof(key)) {
            snprintf(err, errlen, "not NAME=VALUE: %s", settings[i]);
            goto fail;
        }
        snprintf(key, sizeof(key), "%.*s", (int)(eq - settings[i]),
                 settings[i]);
        for (const struct minion_option *o = inst->lp.options; o && o->name;
             o++) {
            known |= strcmp(o->name, key) == 0;
        }
        if (!known) {
            snprintf(err, errlen, "%s: unknown setting %s", p->name, key);
            goto fail;
        }
        if (settings_set_flag(cfg, key, eq + 1) < 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    /* Only what the test says: nothing from the environment it runs in. */
    for (const struct minion_option *o = inst->lp.options; o && o->name; o++) {
        if (!is_set(settings, o->name)) {
            unsetenv(o->name);
        }
    }
    if (instance_configure(inst, cfg) < 0) {
        snprintf(err, errlen, "%s", instance_error(inst));
        goto fail;
    }
    settings_free(cfg);
    return inst;
fail:
    settings_free(cfg);
    harness_free(inst);
    return NULL;
}

int harness_init(struct minion_instance *inst, const struct minion_context *ctx,
                 char *err, size_t errlen)
{
    if (instance_init(inst, ctx) < 0) {
        snprintf(err, errlen, "%s", instance_error(inst));
        return -1;
    }
    return 0;
}

int harness_start(struct minion_instance *inst, struct event_base *base,
                  char *err, size_t errlen)
{
    if (instance_start(inst, base) < 0) {
        snprintf(err, errlen, "%s", instance_error(inst));
        return -1;
    }
    return 0;
}

int harness_stop(struct minion_instance *inst)
{
    return instance_stop(inst);
}

void harness_free(struct minion_instance *inst)
{
    instance_free(inst);
}

static int timed_out;

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    timed_out = 1;
    event_base_loopbreak(arg);
}

int harness_run(struct event_base *base, const struct minion_context *ctx,
                struct minion_instance *engine,
                struct minion_instance *callback,
                struct minion_instance **reporters, size_t n_reporters,
                double limit_s)
{
    struct timeval limit = {(time_t)limit_s,
                            (suseconds_t)((limit_s - (time_t)limit_s) * 1e6)};
    struct event *deadline = evtimer_new(base, on_deadline, base);
    struct runner *r;
    int rc;

    assert_non_null(deadline);
    task_set_loop_thread();
    r = runner_new(base, ctx, engine, callback, reporters, n_reporters);
    assert_non_null(r);
    timed_out = 0;
    evtimer_add(deadline, &limit);
    rc = runner_run(r);
    event_free(deadline);
    runner_free(r);
    /* The plugins are stopped; nothing may reach the runner any more. */
    engine->runner = NULL;
    callback->runner = NULL;
    for (size_t i = 0; i < n_reporters; i++) {
        reporters[i]->runner = NULL;
    }
    return timed_out ? HARNESS_TIMED_OUT : rc;
}

/* ------------------------------------------------------------------------ */
/* Helpers on the public API                                                 */

void harness_context(struct minion_context *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->minion_id = "test";
    ctx->nodename = "node";
    ctx->concurrency = 1;
    ctx->max_attempts = 3;
    ctx->grace = 0.05;
    ctx->result_bytes = 4096;
}

struct minion_instance *harness_up(const struct minion_plugin *p,
                                   const char *const *settings,
                                   const struct minion_context *ctx,
                                   struct event_base *base)
{
    char err[1024] = "";
    struct minion_instance *inst = harness_new(p, settings, err, sizeof(err));

    if (!inst) {
        fail_msg("%s", err);
    }
    if (harness_init(inst, ctx, err, sizeof(err)) < 0) {
        harness_free(inst);
        fail_msg("%s", err);
    }
    if (harness_start(inst, base, err, sizeof(err)) < 0) {
        harness_free(inst);
        fail_msg("%s", err);
    }
    return inst;
}

int harness_minion(const struct minion_plugin *real,
                   const char *const *settings,
                   const struct minion_context *ctx, double limit_s)
{
    struct event_base *base = event_base_new();
    int engine_is_real = real->kind == MINION_KIND_ENGINE;
    struct minion_instance *engine, *callback, *reporter;
    int rc;

    assert_non_null(base);
    reporter = harness_up(&harness_reporter, NULL, ctx, base);
    callback = harness_up(engine_is_real ? &harness_callback : real,
                          engine_is_real ? NULL : settings, ctx, base);
    engine = harness_up(engine_is_real ? real : &harness_engine,
                        engine_is_real ? settings : NULL, ctx, base);
    rc = harness_run(base, ctx, engine, callback, &reporter, 1, limit_s);
    harness_free(engine);
    harness_free(callback);
    harness_free(reporter);
    event_base_free(base);
    assert_int_not_equal(rc, HARNESS_TIMED_OUT);
    return rc;
}

struct harness_world harness_w;

void harness_reset(void)
{
    memset(&harness_w, 0, sizeof(harness_w));
}

/* Copy @len bytes of @s into @dst (@cap bytes), NUL-terminated. */
static void copy_text(char *dst, size_t cap, const char *s, size_t len)
{
    if (!s) {
        len = 0;
    }
    if (len >= cap) {
        len = cap - 1;
    }
    if (len) {
        memcpy(dst, s, len);
    }
    dst[len] = '\0';
}

static void record_report(struct harness_seen *s,
                          const struct minion_report *rep)
{
    memset(s, 0, sizeof(*s));
    copy_text(s->id, sizeof(s->id), rep->task_id,
              rep->task_id ? strlen(rep->task_id) : 0);
    copy_text(s->param, sizeof(s->param), rep->param, rep->param_len);
    s->attempt = rep->attempt;
    s->verdict = -1;
    s->status = (int)rep->status;
    s->exit_code = rep->exit_code;
    copy_text(s->error, sizeof(s->error), rep->error,
              rep->error ? strlen(rep->error) : 0);
    copy_text(s->output, sizeof(s->output), rep->output, rep->output_len);
    s->output_len = rep->output_len;
    s->n_actions = rep->n_actions;
    s->generation = rep->generation;
}

/* ---- the scripted engine */

static struct {
    int queue[HARNESS_MAX * 8]; /* indexes of params waiting */
    unsigned attempt[HARNESS_MAX];
    char ids[HARNESS_MAX][24];
    size_t head, tail;
    unsigned credit, outstanding;
    struct event *kick; /* a retry came back while credit was left */
} eng;

static void eng_check_drained(struct minion_instance *inst)
{
    if (eng.head == eng.tail && eng.outstanding == 0) {
        minion_engine_drained(inst);
    }
}

static void eng_pump(struct minion_instance *inst)
{
    while (eng.credit > 0 && eng.head < eng.tail) {
        int i = eng.queue[eng.head];
        struct minion_param p = MINION_PARAM_INIT;

        p.data = harness_w.params[i];
        p.len = strlen(harness_w.params[i]);
        p.id = eng.ids[i];
        p.attempt = eng.attempt[i] + 1;
        p.handle = (void *)(intptr_t)i;
        eng.outstanding++;
        if (minion_engine_deliver(inst, &p) < 0) {
            eng.outstanding--;
            eng.credit = 0;
            break;
        }
        eng.head++;
        eng.attempt[i]++;
        eng.credit--;
    }
    eng_check_drained(inst);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    eng_pump(arg);
}

static int eng_start(struct minion_instance *inst, struct event_base *base)
{
    memset(&eng, 0, sizeof(eng));
    for (size_t i = 0; i < harness_w.n_params; i++) {
        snprintf(eng.ids[i], sizeof(eng.ids[i]), "%zu", i + 1);
        eng.queue[eng.tail++] = (int)i;
    }
    eng.kick = event_new(base, -1, 0, on_kick, inst);
    return eng.kick ? 0 : -1;
}

static void eng_destroy(struct minion_instance *inst)
{
    if (eng.kick) {
        event_free(eng.kick);
        eng.kick = NULL;
    }
}

static void eng_request(struct minion_instance *inst, unsigned n)
{
    eng.credit += n;
    eng_pump(inst);
}

static void eng_finish(struct minion_instance *inst, void *handle,
                       enum minion_verdict verdict,
                       const struct minion_report *rep)
{
    int i = (int)(intptr_t)handle;

    assert_true(harness_w.n_settled < HARNESS_MAX);
    record_report(&harness_w.settled[harness_w.n_settled], rep);
    harness_w.settled[harness_w.n_settled++].verdict = (int)verdict;
    eng.outstanding--;
    if (verdict == MINION_VERDICT_RETRY) {
        eng.queue[eng.tail++] = i;
        /* Delivered on the next turn of the loop, not from inside the
         * runner's settling. */
        event_active(eng.kick, EV_TIMEOUT, 0);
    }
    eng_check_drained(inst);
}

static void eng_pause(struct minion_instance *inst)
{
    eng.credit = 0;
}

static const struct minion_engine_ops eng_ops = {
    MINION_OPS_HEADER(struct minion_engine_ops),
    .request = eng_request,
    .finish = eng_finish,
    .pause = eng_pause,
};

const struct minion_plugin harness_engine = {
    MINION_PLUGIN_HEADER(MINION_KIND_ENGINE),
    .name = "scripted",
    .start = eng_start,
    .destroy = eng_destroy,
    .engine = &eng_ops,
};

/* ---- the scripted callback */

/* Whether the @len bytes at @p begin with @prefix. */
static int starts_with(const char *p, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);

    return len >= n && memcmp(p, prefix, n) == 0;
}

static void cb_end(minion_task *task, enum minion_outcome outcome)
{
    harness_w.running--;
    minion_task_done(task, outcome);
}

static void cb_process(struct minion_instance *inst, minion_task *task)
{
    size_t len;
    const char *param = minion_task_param(task, &len);
    struct harness_seen *s;

    assert_true(harness_w.n_ran < HARNESS_MAX);
    s = &harness_w.ran[harness_w.n_ran++];
    memset(s, 0, sizeof(*s));
    copy_text(s->id, sizeof(s->id), minion_task_id(task),
              strlen(minion_task_id(task)));
    copy_text(s->param, sizeof(s->param), param, len);
    s->attempt = minion_task_attempt(task);
    s->verdict = -1;
    if (++harness_w.running > harness_w.max_running) {
        harness_w.max_running = harness_w.running;
    }
    minion_output_printf(minion_task_output(task), "ran %s\n", s->param);
    if (starts_with(param, len, "fail")) {
        minion_task_set_error(task, "scripted failure");
        cb_end(task, MINION_RETRY);
    } else if (starts_with(param, len, "reject")) {
        cb_end(task, MINION_REJECT);
    } else if (starts_with(param, len, "hang")) {
        return; /* until cancelled */
    } else if (starts_with(param, len, "stop") && !harness_w.stop_ok) {
        /* A shutdown while it runs: the runner's own SIGTERM handler
         * takes it, and cancels the task after the grace period. */
        raise(SIGTERM);
    } else {
        cb_end(task, MINION_OK);
    }
}

static void cb_cancel(struct minion_instance *inst, minion_task *task)
{
    harness_w.cancels++;
    minion_task_set_error(task, "cancelled");
    cb_end(task, MINION_RETRY);
}

static const struct minion_callback_ops cb_ops = {
    MINION_OPS_HEADER(struct minion_callback_ops),
    .process = cb_process,
    .cancel = cb_cancel,
};

const struct minion_plugin harness_callback = {
    MINION_PLUGIN_HEADER(MINION_KIND_CALLBACK),
    .name = "scripted",
    .callback = &cb_ops,
};

/* ---- the scripted reporter */

static void rep_on_report(struct minion_instance *inst,
                          const struct minion_report *rep)
{
    assert_true(harness_w.n_reports < HARNESS_MAX);
    record_report(&harness_w.reports[harness_w.n_reports++], rep);
}

static const struct minion_reporter_ops rep_ops = {
    MINION_OPS_HEADER(struct minion_reporter_ops),
    .on_report = rep_on_report,
};

const struct minion_plugin harness_reporter = {
    MINION_PLUGIN_HEADER(MINION_KIND_REPORTER),
    .name = "capture",
    .reporter = &rep_ops,
};

/* ---- the holding callback */

static void hold_process(struct minion_instance *inst, minion_task *task)
{
    size_t len;
    const char *param = minion_task_param(task, &len);

    if (starts_with(param, len, "hold")) {
        assert_true(harness_w.n_held < HARNESS_MAX);
        harness_w.held[harness_w.n_held++] = task;
    } else if (starts_with(param, len, "reject")) {
        minion_task_done(task, MINION_REJECT);
    } else {
        minion_task_done(task, MINION_OK);
    }
}

static void hold_cancel(struct minion_instance *inst, minion_task *task)
{
    for (size_t i = 0; i < harness_w.n_held; i++) {
        if (harness_w.held[i] == task) {
            harness_w.held[i] = harness_w.held[--harness_w.n_held];
            break;
        }
    }
    minion_task_done(task, MINION_RETRY);
}

void harness_holder_release(void)
{
    minion_task *held[HARNESS_MAX];
    size_t n = harness_w.n_held;

    /* Ending one may start the next, which may be held in turn. */
    memcpy(held, harness_w.held, n * sizeof(*held));
    harness_w.n_held = 0;
    for (size_t i = 0; i < n; i++) {
        minion_task_done(held[i], MINION_OK);
    }
}

static const struct minion_callback_ops hold_ops = {
    MINION_OPS_HEADER(struct minion_callback_ops),
    .process = hold_process,
    .cancel = hold_cancel,
};

const struct minion_plugin harness_holder = {
    MINION_PLUGIN_HEADER(MINION_KIND_CALLBACK),
    .name = "holder",
    .callback = &hold_ops,
};

/* ---- queue figures */

struct minion_queue harness_queue(long long total, long long done,
                                  long long lag, long long pending,
                                  long long dead)
{
    struct minion_queue q = MINION_QUEUE_INIT;

    q.total = total;
    q.done = done;
    q.lag = lag;
    q.pending = pending;
    q.dead = dead;
    return q;
}

const struct harness_seen *harness_find(const struct harness_seen *list,
                                        size_t n, const char *param,
                                        unsigned attempt)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].param, param) == 0 &&
            (attempt == 0 || list[i].attempt == attempt)) {
            return &list[i];
        }
    }
    return NULL;
}

void harness_assert_ran(const char *param, const char *id, unsigned attempt)
{
    const struct harness_seen *s =
        harness_find(harness_w.ran, harness_w.n_ran, param, attempt);

    if (!s) {
        fail_msg("'%s' did not run at attempt %u", param, attempt);
    }
    assert_string_equal(s->id, id);
}

size_t harness_count(const struct harness_seen *list, size_t n,
                     const char *param)
{
    size_t count = 0;

    for (size_t i = 0; i < n; i++) {
        count += strcmp(list[i].param, param) == 0;
    }
    return count;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */

void harness_tmpdir(char *dir, size_t cap, const char *name)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, cap, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (!mkdtemp(dir)) {
        fail_msg("mkdtemp %s failed", dir);
    }
}

static int remove_one(const char *path, const struct stat *sb, int flag,
                      struct FTW *ftw)
{
    remove(path);
    return 0;
}

void harness_rmtree(const char *dir)
{
    if (dir && *dir) {
        nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    }
}

void harness_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (!f) {
        fail_msg("cannot write %s", path);
    }
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

char *harness_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (!f) {
        return NULL;
    }
    do {
        if (cap - len < 4096) {
            char *more = realloc(buf, cap + 65536);
            if (!more) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = more;
            cap += 65536;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = '\0';
    return buf;
}
