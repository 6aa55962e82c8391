/* SPDX-License-Identifier: MIT */
/* The file engine through its descriptor, minion_plugin_file, on a real
 * event base: the core's runner grants it credit through its engine ops
 * and settles each line it delivers (ACK, RETRY, DEAD, RELEASE) as the
 * scripted callback's outcomes say (harness.h: "fail...", "reject...",
 * "stop..."). Checked: what it delivers (param, id = line number,
 * attempt), and what each verdict does, in a plain file and with a state
 * directory shared by successive minions. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <cmocka.h>
#include <event2/event.h>

#include "harness.h"

extern const struct minion_plugin minion_plugin_file;

/* Every run ends well before this, in seconds. */
#define LIMIT_S 20.0

struct fx {
    char dir[256];
    char input[300];
    char state[300];
    char file_set[320];
    char state_set[320];
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (!fx) {
        return -1;
    }
    harness_tmpdir(fx->dir, sizeof(fx->dir), "test_file_plugin");
    snprintf(fx->input, sizeof(fx->input), "%s/input", fx->dir);
    snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
    snprintf(fx->file_set, sizeof(fx->file_set), "MINION_FILE=%s", fx->input);
    snprintf(fx->state_set, sizeof(fx->state_set), "MINION_FILE_STATE=%s",
             fx->state);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    harness_rmtree(fx->dir);
    free(fx);
    return 0;
}

/* One minion: the file engine with @settings, the scripted callback and
 * reporter, under @ctx. Returns its exit status. */
static int run_minion(const char *const *settings,
                      const struct minion_context *ctx)
{
    return harness_minion(&minion_plugin_file, settings, ctx, LIMIT_S);
}

/* The verdict the engine got for @param at @attempt. */
static int verdict_of(const char *param, unsigned attempt)
{
    const struct harness_seen *s =
        harness_find(harness_w.reports, harness_w.n_reports, param, attempt);

    assert_non_null(s);
    switch (s->status) {
    case MINION_STATUS_OK: return MINION_VERDICT_ACK;
    case MINION_STATUS_FAILED: return MINION_VERDICT_RETRY;
    case MINION_STATUS_DEAD: return MINION_VERDICT_DEAD;
    default: return MINION_VERDICT_RELEASE;
    }
}

/* Without a state directory: every line once, blank ones skipped, a last
 * line without its newline too; RETRY brings a line back with one more
 * attempt, DEAD and ACK never. */
static void plain_file_settles_every_verdict(void **state)
{
    struct fx *fx = *state;
    const char *settings[] = {fx->file_set, NULL};
    struct minion_context ctx;

    harness_write_file(fx->input, "ok a\nfail b\nreject c\n\nok d");
    harness_context(&ctx);
    ctx.concurrency = 2;
    ctx.max_attempts = 2;
    harness_reset();
    assert_int_equal(run_minion(settings, &ctx), 4); /* drained, dead */

    assert_int_equal(harness_w.n_ran, 5);
    harness_assert_ran("ok a", "1", 1);
    harness_assert_ran("fail b", "2", 1);
    harness_assert_ran("fail b", "2", 2);
    harness_assert_ran("reject c", "3", 1);
    harness_assert_ran("ok d", "5", 1);
    assert_true(harness_w.max_running <= 2);

    assert_int_equal(harness_w.n_reports, 5);
    assert_int_equal(verdict_of("ok a", 1), MINION_VERDICT_ACK);
    assert_int_equal(verdict_of("fail b", 1), MINION_VERDICT_RETRY);
    assert_int_equal(verdict_of("fail b", 2), MINION_VERDICT_DEAD);
    assert_int_equal(verdict_of("reject c", 1), MINION_VERDICT_DEAD);
    assert_int_equal(verdict_of("ok d", 1), MINION_VERDICT_ACK);
}

/* MINION_SHARD=2/3 keeps the lines whose 0-based index modulo 3 is 1. */
static void shard_keeps_its_lines(void **state)
{
    struct fx *fx = *state;
    const char *settings[] = {fx->file_set, "MINION_SHARD=2/3", NULL};
    struct minion_context ctx;

    harness_write_file(fx->input, "p1\np2\np3\np4\np5\np6\np7\n");
    harness_context(&ctx);
    harness_reset();
    assert_int_equal(run_minion(settings, &ctx), 0);
    assert_int_equal(harness_w.n_ran, 2);
    harness_assert_ran("p2", "2", 1);
    harness_assert_ran("p5", "5", 1);
}

/* Bad settings are refused by init() or start(), with the reason. */
static void bad_settings_are_refused(void **state)
{
    struct fx *fx = *state;
    const char *shard[] = {fx->file_set, "MINION_SHARD=4/3", NULL};
    const char *stdin_state[] = {"MINION_FILE=-", fx->state_set, NULL};
    const char *missing[] = {"MINION_FILE=/nonexistent/input", NULL};
    struct event_base *base = event_base_new();
    struct minion_context ctx;
    struct minion_instance *inst;
    char err[1024];

    harness_context(&ctx);
    inst = harness_new(&minion_plugin_file, shard, err, sizeof(err));
    assert_non_null(inst);
    assert_int_equal(harness_init(inst, &ctx, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "MINION_SHARD '4/3'"));
    harness_free(inst);

    inst = harness_new(&minion_plugin_file, stdin_state, err, sizeof(err));
    assert_non_null(inst);
    assert_int_equal(harness_init(inst, &ctx, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "MINION_FILE_STATE needs MINION_FILE"));
    harness_free(inst);

    inst = harness_new(&minion_plugin_file, missing, err, sizeof(err));
    assert_non_null(inst);
    assert_int_equal(harness_init(inst, &ctx, err, sizeof(err)), 0);
    assert_int_equal(harness_start(inst, base, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/input"));
    harness_free(inst);
    event_base_free(base);
}

/* With a state directory, acked lines are done for every later minion:
 * the first one stops after two (MINION_MAX_TASKS), the second takes the
 * rest, the third finds nothing. */
static void state_acked_lines_are_not_delivered_again(void **state)
{
    struct fx *fx = *state;
    const char *settings[] = {fx->file_set, fx->state_set, NULL};
    struct minion_context ctx;

    harness_write_file(fx->input, "ok 1\nok 2\nok 3\nok 4\nok 5\n");
    harness_context(&ctx);
    ctx.minion_id = "first";
    ctx.max_tasks = 2;
    harness_reset();
    assert_int_equal(run_minion(settings, &ctx), 0);
    assert_int_equal(harness_w.n_ran, 2);
    harness_assert_ran("ok 1", "1", 1);
    harness_assert_ran("ok 2", "2", 1);

    ctx.minion_id = "second";
    ctx.max_tasks = 0;
    ctx.concurrency = 2;
    harness_reset();
    assert_int_equal(run_minion(settings, &ctx), 0);
    assert_int_equal(harness_w.n_ran, 3);
    harness_assert_ran("ok 3", "3", 1);
    harness_assert_ran("ok 4", "4", 1);
    harness_assert_ran("ok 5", "5", 1);

    ctx.minion_id = "third";
    harness_reset();
    assert_int_equal(run_minion(settings, &ctx), 0);
    assert_int_equal(harness_w.n_ran, 0);
}

/* With a state directory, RETRY runs a line again with one more attempt,
 * and DEAD (out of attempts, or rejected) writes its letter to
 * DIR/dead.jsonl; neither runs in a later minion. */
static void state_dead_lines_get_letters(void **state)
{
    struct fx *fx = *state;
    const char *settings[] = {fx->file_set, fx->state_set, NULL};
    struct minion_context ctx;
    char path[400];
    char *text, *line, *save = NULL;
    size_t n = 0;

    harness_write_file(fx->input, "fail x\nreject y\nok z\n");
    harness_context(&ctx);
    ctx.minion_id = "m";
    ctx.max_attempts = 2;
    harness_reset();
    assert_int_equal(run_minion(settings, &ctx), 4);
    assert_int_equal(harness_w.n_ran, 4);
    harness_assert_ran("fail x", "1", 1);
    harness_assert_ran("fail x", "1", 2);
    harness_assert_ran("reject y", "2", 1);
    harness_assert_ran("ok z", "3", 1);
    assert_int_equal(verdict_of("fail x", 1), MINION_VERDICT_RETRY);
    assert_int_equal(verdict_of("fail x", 2), MINION_VERDICT_DEAD);
    assert_int_equal(verdict_of("reject y", 1), MINION_VERDICT_DEAD);

    snprintf(path, sizeof(path), "%s/dead.jsonl", fx->state);
    text = harness_read_file(path);
    assert_non_null(text);
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(line);
        cJSON *param, *error, *attempts, *minion, *num;

        assert_non_null(o);
        param = cJSON_GetObjectItem(o, "param");
        error = cJSON_GetObjectItem(o, "error");
        attempts = cJSON_GetObjectItem(o, "attempts");
        minion = cJSON_GetObjectItem(o, "minion");
        num = cJSON_GetObjectItem(o, "line");
        assert_true(cJSON_IsString(param) && cJSON_IsString(error) &&
                    cJSON_IsNumber(attempts) && cJSON_IsString(minion) &&
                    cJSON_IsNumber(num));
        assert_string_equal(minion->valuestring, "m");
        if (strcmp(param->valuestring, "fail x") == 0) {
            assert_int_equal(num->valueint, 1);
            assert_int_equal(attempts->valueint, 2);
            assert_string_equal(error->valuestring, "scripted failure");
        } else {
            assert_string_equal(param->valuestring, "reject y");
            assert_int_equal(num->valueint, 2);
            assert_int_equal(attempts->valueint, 1);
            assert_string_equal(error->valuestring, "rejected");
        }
        cJSON_Delete(o);
        n++;
    }
    free(text);
    assert_int_equal(n, 2);

    ctx.minion_id = "later";
    harness_reset();
    assert_int_equal(run_minion(settings, &ctx), 0);
    assert_int_equal(harness_w.n_ran, 0);
}

/* With a state directory, RELEASE (a stop while the line runs) leaves it
 * claimed, not counted: the restarted minion runs it first, at the same
 * attempt, then the lines after it. */
static void state_released_line_waits_for_the_restart(void **state)
{
    struct fx *fx = *state;
    const char *settings[] = {fx->file_set, fx->state_set, NULL};
    struct minion_context ctx;
    const struct harness_seen *s;

    harness_write_file(fx->input, "stop s\nok t\n");
    harness_context(&ctx);
    ctx.minion_id = "r";
    harness_reset();
    /* Stopped with a task cut short: 1. */
    assert_int_equal(run_minion(settings, &ctx), 1);
    assert_int_equal(harness_w.n_ran, 1);
    harness_assert_ran("stop s", "1", 1);
    assert_int_equal(harness_w.cancels, 1);
    assert_int_equal(harness_w.n_reports, 1);
    assert_int_equal(harness_w.reports[0].status, MINION_STATUS_RELEASED);

    harness_reset();
    harness_w.stop_ok = 1;
    assert_int_equal(run_minion(settings, &ctx), 0);
    assert_int_equal(harness_w.n_ran, 2);
    s = &harness_w.ran[0];
    assert_string_equal(s->param, "stop s");
    assert_string_equal(s->id, "1");
    assert_int_equal(s->attempt, 1);
    harness_assert_ran("ok t", "2", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(plain_file_settles_every_verdict, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(shard_keeps_its_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_settings_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            state_acked_lines_are_not_delivered_again, setup, teardown),
        cmocka_unit_test_setup_teardown(state_dead_lines_get_letters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            state_released_line_waits_for_the_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
