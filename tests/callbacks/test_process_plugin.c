/* SPDX-License-Identifier: MIT */
/* The process callback through its descriptor, minion_plugin_process, on a
 * real event base: the core's runner hands it real tasks from the scripted
 * engine, and each ends with minion_task_done(); what the engine is told
 * (verdict, exit code, error, output) says which outcome it was. The
 * programs are /bin/echo, /bin/false, /bin/sh and /bin/sleep. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "harness.h"

extern const struct minion_plugin minion_plugin_process;

#define LIMIT_S 20.0

/* Run @params through PROGRAM ARGS... @argv (NULL-terminated) with the
 * process callback set by @settings. Returns the exit status. */
static int run_process(struct minion_context *ctx, char **argv,
                       const char *const *settings, const char **params,
                       size_t n)
{
    ctx->argv = argv;
    for (ctx->argc = 0; argv[ctx->argc]; ctx->argc++) {
    }
    harness_reset();
    for (size_t i = 0; i < n; i++) {
        harness_w.params[i] = params[i];
    }
    harness_w.n_params = n;
    return harness_minion(&minion_plugin_process, settings, ctx, LIMIT_S);
}

/* What the engine was told of @param at @attempt. */
static const struct harness_seen *settled(const char *param, unsigned attempt)
{
    const struct harness_seen *s =
        harness_find(harness_w.settled, harness_w.n_settled, param, attempt);

    if (!s) {
        fail_msg("'%s' was not settled at attempt %u", param, attempt);
    }
    return s;
}

/* Exit 0 is MINION_OK: acked, with what the program wrote as the result;
 * the param is appended as one argument. */
static void echo_ends_ok_with_its_output(void **state)
{
    char *argv[] = {"/bin/echo", "hello", NULL};
    const char *params[] = {"a b", "c"};
    struct minion_context ctx;
    const struct harness_seen *s;

    harness_context(&ctx);
    ctx.concurrency = 2;
    assert_int_equal(run_process(&ctx, argv, NULL, params, 2), 0);
    assert_int_equal(harness_w.n_settled, 2);
    s = settled("a b", 1);
    assert_int_equal(s->verdict, MINION_VERDICT_ACK);
    assert_int_equal(s->exit_code, 0);
    assert_string_equal(s->error, "");
    assert_string_equal(s->output, "hello a b\n");
    assert_true(s->n_actions >= 1);
    s = settled("c", 1);
    assert_int_equal(s->verdict, MINION_VERDICT_ACK);
    assert_string_equal(s->output, "hello c\n");
    assert_int_equal(harness_w.n_reports, 2);
}

/* {} is the param; the environment says which task and attempt it is. */
static void placeholders_and_environment(void **state)
{
    char *echo[] = {"/bin/echo", "id={}.txt", NULL};
    char *sh[] = {"/bin/sh", "-c",
                  "echo \"$MINION_TASK_ID/$MINION_ATTEMPT/$MINION_PARAM/"
                  "$MINION_ID\"",
                  NULL};
    const char *params[] = {"7"};
    const char *spaced[] = {"x y"};
    struct minion_context ctx;

    harness_context(&ctx);
    assert_int_equal(run_process(&ctx, echo, NULL, params, 1), 0);
    assert_string_equal(settled("7", 1)->output, "id=7.txt\n");

    ctx.minion_id = "env-test";
    assert_int_equal(run_process(&ctx, sh, NULL, spaced, 1), 0);
    assert_string_equal(settled("x y", 1)->output, "1/1/x y/env-test\n");
}

/* Exit N is MINION_RETRY with exit code N: retried while attempts are
 * left, then dead. */
static void false_fails_then_dies(void **state)
{
    char *argv[] = {"/bin/false", NULL};
    const char *params[] = {"x"};
    struct minion_context ctx;
    const struct harness_seen *s;

    harness_context(&ctx);
    ctx.max_attempts = 2;
    assert_int_equal(run_process(&ctx, argv, NULL, params, 1), 4);
    assert_int_equal(harness_w.n_settled, 2);
    s = settled("x", 1);
    assert_int_equal(s->verdict, MINION_VERDICT_RETRY);
    assert_int_equal(s->exit_code, 1);
    assert_string_equal(s->error, "exit status 1");
    s = settled("x", 2);
    assert_int_equal(s->verdict, MINION_VERDICT_DEAD);
    assert_int_equal(s->exit_code, 1);
    assert_int_equal(harness_w.reports[1].status, MINION_STATUS_DEAD);
}

/* Death by a signal is MINION_RETRY with 128 + the signal number. */
static void killed_program_fails(void **state)
{
    char *argv[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
    const char *params[] = {"k"};
    struct minion_context ctx;
    const struct harness_seen *s;

    harness_context(&ctx);
    ctx.max_attempts = 1;
    assert_int_equal(run_process(&ctx, argv, NULL, params, 1), 4);
    s = settled("k", 1);
    assert_int_equal(s->verdict, MINION_VERDICT_DEAD);
    assert_int_equal(s->exit_code, 137);
    assert_string_equal(s->error, "killed by signal SIGKILL");
}

/* MINION_TIMEOUT cancels the task: the callback sends SIGTERM to its
 * process group, and the run fails. */
static void timeout_cancels_the_program(void **state)
{
    char *argv[] = {"/bin/sleep", "{}", NULL};
    const char *settings[] = {"MINION_KILL_AFTER=2s", NULL};
    const char *params[] = {"30"};
    struct minion_context ctx;
    const struct harness_seen *s;
    double t0 = minion_now();

    harness_context(&ctx);
    ctx.max_attempts = 1;
    ctx.timeout = 0.2;
    assert_int_equal(run_process(&ctx, argv, settings, params, 1), 4);
    assert_true(minion_now() - t0 < 5);
    s = settled("30", 1);
    assert_int_equal(s->verdict, MINION_VERDICT_DEAD);
    assert_int_equal(s->exit_code, 128 + 15);
    assert_string_equal(s->error, "timed out after 0.2s");
}

/* start() refuses a program it cannot find; the option table, a
 * MINION_KILL_AFTER that is no duration. */
static void bad_setups_are_refused(void **state)
{
    char *missing[] = {"/nonexistent/program", NULL};
    const char *negative[] = {"MINION_KILL_AFTER=-1s", NULL};
    struct event_base *base = event_base_new();
    struct minion_context ctx;
    struct minion_instance *inst;
    char err[1024];

    harness_context(&ctx);
    ctx.argv = missing;
    ctx.argc = 1;
    inst = harness_new(&minion_plugin_process, NULL, err, sizeof(err));
    assert_non_null(inst);
    assert_int_equal(harness_init(inst, &ctx, err, sizeof(err)), 0);
    assert_int_equal(harness_start(inst, base, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "program not found: /nonexistent/program"));
    harness_free(inst);

    inst = harness_new(&minion_plugin_process, negative, err, sizeof(err));
    assert_null(inst);
    assert_non_null(strstr(err, "MINION_KILL_AFTER"));
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(echo_ends_ok_with_its_output),
        cmocka_unit_test(placeholders_and_environment),
        cmocka_unit_test(false_fails_then_dies),
        cmocka_unit_test(killed_program_fails),
        cmocka_unit_test(timeout_cancels_the_program),
        cmocka_unit_test(bad_setups_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
