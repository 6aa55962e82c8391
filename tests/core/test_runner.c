/* SPDX-License-Identifier: MIT */
/* The task flow in-process: a scripted engine, callback and reporter on a
 * real event base drive the real runner. The param says what the callback
 * does: "ok" (or any JSON array) and "fail" and "reject" end at once
 * (inside process()), "later" ends on a timer, "hang" ends only when
 * cancelled, "defer" cannot start (MINION_DEFER) its first two times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "instance.h"
#include "runner.h"

#define MAX_PARAMS 64

static struct {
    const char *params[MAX_PARAMS];
    unsigned attempt[MAX_PARAMS];
    int queue[MAX_PARAMS * 8]; /* indexes waiting for delivery */
    size_t head, tail;
    unsigned credit, outstanding, delivered;
    int verdicts[MAX_PARAMS][8];
    unsigned n_verdicts[MAX_PARAMS];
    unsigned running, max_running, cancels, processed, reports, defers;
    char last_error[128];
    struct event_base *base;
} w;

/* ---- the engine: params from w.params, retries go back in the queue */

static void engine_pump(struct minion_instance *inst)
{
    while (w.credit > 0 && w.head < w.tail) {
        int i = w.queue[w.head++];
        struct minion_param p = {sizeof(p),           w.params[i],
                                 strlen(w.params[i]), "id",
                                 ++w.attempt[i],      (void *)(intptr_t)i};
        w.credit--;
        w.outstanding++;
        w.delivered++;
        assert_int_equal(minion_engine_deliver(inst, &p), 0);
    }
    if (w.head == w.tail && w.outstanding == 0) {
        minion_engine_drained(inst);
    }
}

static void engine_request(struct minion_instance *inst, unsigned n)
{
    w.credit += n;
    engine_pump(inst);
}

static void engine_finish(struct minion_instance *inst, void *handle,
                          enum minion_verdict verdict,
                          const struct minion_report *rep)
{
    int i = (int)(intptr_t)handle;

    w.verdicts[i][w.n_verdicts[i]++] = verdict;
    w.outstanding--;
    if (rep->error) {
        snprintf(w.last_error, sizeof(w.last_error), "%s", rep->error);
    }
    if (verdict == MINION_VERDICT_RETRY) {
        w.queue[w.tail++] = i;
    }
    if (w.head == w.tail && w.outstanding == 0) {
        minion_engine_drained(inst);
    }
}

static void engine_pause(struct minion_instance *inst)
{
    w.credit = 0;
}

static const struct minion_engine_ops test_engine_ops = {
    MINION_OPS_HEADER(struct minion_engine_ops),
    .request = engine_request,
    .finish = engine_finish,
    .pause = engine_pause,
};

static const struct minion_plugin test_engine = {
    MINION_PLUGIN_HEADER(MINION_KIND_ENGINE),
    .name = "scripted",
    .engine = &test_engine_ops,
};

/* ---- the callback */

static void end_task(minion_task *task, enum minion_outcome outcome)
{
    w.running--;
    minion_task_done(task, outcome);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
    end_task(arg, MINION_OK);
}

static void cb_process(struct minion_instance *inst, minion_task *task)
{
    const char *param = minion_task_param(task, NULL);
    struct timeval ms = {0, 1000};

    w.processed++;
    if (++w.running > w.max_running) {
        w.max_running = w.running;
    }
    if (strcmp(param, "ok") == 0 || param[0] == '[') {
        end_task(task, MINION_OK);
    } else if (strcmp(param, "fail") == 0) {
        minion_task_set_error(task, "scripted failure");
        end_task(task, MINION_RETRY);
    } else if (strcmp(param, "reject") == 0) {
        end_task(task, MINION_REJECT);
    } else if (strcmp(param, "defer") == 0) {
        if (w.defers++ < 2) {
            minion_task_set_error(task, "pipe: Too many open files");
            end_task(task, MINION_DEFER);
        } else {
            end_task(task, MINION_OK);
        }
    } else if (strcmp(param, "later") == 0) {
        event_base_once(w.base, -1, EV_TIMEOUT, on_later, task, &ms);
    }
    /* "hang": only cancel ends it */
}

static void cb_cancel(struct minion_instance *inst, minion_task *task)
{
    w.cancels++;
    end_task(task, MINION_RETRY);
}

static const struct minion_callback_ops test_callback_ops = {
    MINION_OPS_HEADER(struct minion_callback_ops),
    .process = cb_process,
    .cancel = cb_cancel,
};

static const struct minion_plugin test_callback = {
    MINION_PLUGIN_HEADER(MINION_KIND_CALLBACK),
    .name = "scripted",
    .callback = &test_callback_ops,
};

/* ---- the reporter */

static void on_report(struct minion_instance *inst,
                      const struct minion_report *rep)
{
    w.reports++;
}

static const struct minion_reporter_ops test_reporter_ops = {
    MINION_OPS_HEADER(struct minion_reporter_ops),
    .on_report = on_report,
};

static const struct minion_plugin test_reporter = {
    MINION_PLUGIN_HEADER(MINION_KIND_REPORTER),
    .name = "capture",
    .reporter = &test_reporter_ops,
};

/* ---- running it */

static struct minion_instance *instance(const struct minion_plugin *p,
                                        const struct minion_context *ctx)
{
    struct minion_instance *inst = instance_new(p->kind);

    assert_non_null(inst);
    assert_int_equal(loader_adopt(&inst->lp, p, p->kind), 0);
    inst->plugin = p;
    inst->ctx = ctx;
    snprintf(inst->label, sizeof(inst->label), "test %s", p->name);
    return inst;
}

static int dead_exit = 4;

/* Run @n params through a minion with @ctx. Returns the exit status. */
static int run(struct minion_context *ctx, const char **params, size_t n)
{
    struct minion_instance *engine, *callback, *reporter;
    struct runner *r;
    int rc;

    memset(&w, 0, sizeof(w));
    for (size_t i = 0; i < n; i++) {
        w.params[i] = params[i];
        w.queue[w.tail++] = (int)i;
    }
    ctx->minion_id = "test";
    ctx->nodename = "node";
    ctx->result_bytes = 1024;
    w.base = event_base_new();
    engine = instance(&test_engine, ctx);
    callback = instance(&test_callback, ctx);
    reporter = instance(&test_reporter, ctx);
    r = runner_new(w.base, ctx, engine, callback, &reporter, 1);
    assert_non_null(r);
    runner_set_dead_exit(r, dead_exit);
    rc = runner_run(r);
    runner_free(r);
    for (size_t i = 0; i < 3; i++) {
        struct minion_instance *inst = i == 0   ? engine
                                       : i == 1 ? callback
                                                : reporter;
        free(inst->lp.options);
        free(inst);
    }
    event_base_free(w.base);
    return rc;
}

static void concurrency_is_a_ceiling(void **state)
{
    struct minion_context ctx = {.concurrency = 4, .max_attempts = 3};
    const char *p[40];

    for (size_t i = 0; i < 40; i++) {
        p[i] = "later";
    }
    assert_int_equal(run(&ctx, p, 40), 0);
    assert_int_equal(w.max_running, 4);
    assert_int_equal(w.reports, 40);
    for (size_t i = 0; i < 40; i++) {
        assert_int_equal(w.n_verdicts[i], 1);
        assert_int_equal(w.verdicts[i][0], MINION_VERDICT_ACK);
    }
}

static void tasks_ending_inside_process(void **state)
{
    struct minion_context ctx = {.concurrency = 1, .max_attempts = 3};
    const char *p[50];

    for (size_t i = 0; i < 50; i++) {
        p[i] = "ok";
    }
    assert_int_equal(run(&ctx, p, 50), 0);
    assert_int_equal(w.processed, 50);
    assert_int_equal(w.reports, 50);
}

static void retries_then_dead(void **state)
{
    struct minion_context ctx = {.concurrency = 2, .max_attempts = 3};
    const char *p[] = {"fail", "reject", "ok"};

    /* Drained with dead params: 4, like xargs' 123; MINION_DEAD_EXIT. */
    dead_exit = 0;
    assert_int_equal(run(&ctx, p, 3), 0);
    dead_exit = 4;
    assert_int_equal(run(&ctx, p, 3), 4);
    assert_int_equal(w.n_verdicts[0], 3);
    assert_int_equal(w.verdicts[0][0], MINION_VERDICT_RETRY);
    assert_int_equal(w.verdicts[0][1], MINION_VERDICT_RETRY);
    assert_int_equal(w.verdicts[0][2], MINION_VERDICT_DEAD);
    assert_int_equal(w.attempt[0], 3);
    assert_int_equal(w.n_verdicts[1], 1);
    assert_int_equal(w.verdicts[1][0], MINION_VERDICT_DEAD);
    assert_int_equal(w.verdicts[2][0], MINION_VERDICT_ACK);
    assert_int_equal(w.reports, 5);
}

static void timeout_cancels_and_fails(void **state)
{
    struct minion_context ctx = {
        .concurrency = 1, .max_attempts = 1, .timeout = 0.02};
    const char *p[] = {"hang", "ok"};

    assert_int_equal(run(&ctx, p, 2), 4);
    assert_int_equal(w.cancels, 1);
    assert_int_equal(w.verdicts[0][0], MINION_VERDICT_DEAD);
    assert_string_equal(w.last_error, "timed out after 0.02s");
    assert_int_equal(w.verdicts[1][0], MINION_VERDICT_ACK);
}

static void max_tasks_stops_delivery(void **state)
{
    struct minion_context ctx = {
        .concurrency = 3, .max_attempts = 3, .max_tasks = 5};
    const char *p[20];

    for (size_t i = 0; i < 20; i++) {
        p[i] = "later";
    }
    assert_int_equal(run(&ctx, p, 20), 0);
    assert_int_equal(w.delivered, 5);
    assert_int_equal(w.reports, 5);
}

static void json_decoder_dead_letters_without_running(void **state)
{
    struct minion_context ctx = {
        .concurrency = 1, .max_attempts = 3, .decoder = MINION_DECODER_JSON};
    const char *p[] = {"not json", "[1]"};

    assert_int_equal(run(&ctx, p, 2), 4);
    assert_int_equal(w.processed, 1); /* only the array reached process() */
    assert_int_equal(w.verdicts[0][0], MINION_VERDICT_DEAD);
    assert_non_null(strstr(w.last_error, "not valid JSON"));
}

/* A dry run settles nothing for good: every param stays for real
 * minions. */
static void dry_run_releases_without_running(void **state)
{
    struct minion_context ctx = {
        .concurrency = 2, .max_attempts = 3, .dry_run = 1};
    const char *p[] = {"fail", "hang"};

    assert_int_equal(run(&ctx, p, 2), 0);
    assert_int_equal(w.processed, 0);
    assert_int_equal(w.verdicts[0][0], MINION_VERDICT_RELEASE);
    assert_int_equal(w.verdicts[1][0], MINION_VERDICT_RELEASE);
}

/* A task that cannot start for the minion's own reasons is held and
 * started again: no verdict, no attempt, and it holds its slot. */
static void deferred_task_is_not_an_attempt(void **state)
{
    struct minion_context ctx = {.concurrency = 1, .max_attempts = 1};
    const char *p[] = {"defer", "ok"};

    assert_int_equal(run(&ctx, p, 2), 0);
    assert_int_equal(w.processed, 4); /* defer three times, then ok */
    assert_int_equal(w.n_verdicts[0], 1);
    assert_int_equal(w.verdicts[0][0], MINION_VERDICT_ACK);
    assert_int_equal(w.attempt[0], 1);
    assert_int_equal(w.reports, 2);
    assert_int_equal(w.max_running, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrency_is_a_ceiling),
        cmocka_unit_test(tasks_ending_inside_process),
        cmocka_unit_test(retries_then_dead),
        cmocka_unit_test(timeout_cancels_and_fails),
        cmocka_unit_test(max_tasks_stops_delivery),
        cmocka_unit_test(json_decoder_dead_letters_without_running),
        cmocka_unit_test(dry_run_releases_without_running),
        cmocka_unit_test(deferred_task_is_not_an_attempt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
