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
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* ------------------------------------------------------------------------ */
/* Queue figures                                                             */

/* Fails the test unless @got is @want. */
static void assert_figures(const char *when, const struct minion_queue *got,
                           const struct minion_queue *want)
{
    if (got->total != want->total || got->done != want->done ||
        got->lag != want->lag || got->pending != want->pending ||
        got->dead != want->dead) {
        fail_msg("%s: total %lld done %lld lag %lld pending %lld dead %lld; "
                 "want %lld %lld %lld %lld %lld",
                 when, got->total, got->done, got->lag, got->pending, got->dead,
                 want->total, want->done, want->lag, want->pending, want->dead);
    }
}

/* The engine's figures now, as the core asks for them. */
static struct minion_queue ask(struct minion_instance *engine)
{
    struct minion_queue q = MINION_QUEUE_INIT;

    minion_plugin_file.engine->queue(engine, &q);
    return q;
}

/* A running minion, watched as the core's progress line would: once every
 * held task is held (@holds of them), its figures are taken and the tasks
 * let go; and @writer, the write end of a FIFO input, is closed. */
struct watch {
    struct minion_instance *engine;
    size_t holds;
    int writer;
    int seen;
    struct minion_queue held; /* the figures then */
};

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
    struct watch *w = arg;
    struct minion_queue q = ask(w->engine);

    if (w->seen || harness_w.n_held < w->holds) {
        return;
    }
    w->seen = 1;
    w->held = q;
    if (w->writer >= 0) {
        close(w->writer);
        w->writer = -1;
    }
    harness_holder_release();
}

/* One minion: the file engine with @settings, the holder callback and the
 * scripted reporter, under @ctx, watched by @w. Fills @after with the
 * engine's figures once it stopped. Returns the minion's exit status. */
static int run_watched(const char *const *settings,
                       const struct minion_context *ctx, struct watch *w,
                       struct minion_queue *before, struct minion_queue *after)
{
    const struct timeval every = {0, 10000};
    struct event_base *base = event_base_new();
    struct minion_instance *engine, *callback, *reporter;
    struct event *tick;
    int rc;

    assert_non_null(base);
    harness_reset();
    reporter = harness_up(&harness_reporter, NULL, ctx, base);
    callback = harness_up(&harness_holder, NULL, ctx, base);
    engine = harness_up(&minion_plugin_file, settings, ctx, base);
    *before = ask(engine);
    w->engine = engine;
    tick = event_new(base, -1, EV_PERSIST, on_watch, w);
    assert_non_null(tick);
    evtimer_add(tick, &every);
    rc = harness_run(base, ctx, engine, callback, &reporter, 1, LIMIT_S);
    event_free(tick);
    *after = ask(engine);
    harness_free(engine);
    harness_free(callback);
    harness_free(reporter);
    event_base_free(base);
    assert_int_not_equal(rc, HARNESS_TIMED_OUT);
    return rc;
}

/* A plain file: total once the engine has its end in memory (a small file:
 * at its first read), done and dead as settled here, lag the lines not
 * taken yet, pending those running. */
static void plain_file_queue_figures(void **state)
{
    struct fx *fx = *state;
    const char *settings[] = {fx->file_set, NULL};
    struct minion_context ctx;
    struct watch w = {.holds = 2, .writer = -1};
    struct minion_queue before, after, want, q;

    /* Six params (a blank line is none, a last line without "\n" is one).
     * Two slots: a ok, b dead, then c and d hold them both. */
    harness_write_file(fx->input,
                       "ok a\nreject b\nhold c\n\nhold d\nok e\nok f");
    harness_context(&ctx);
    ctx.concurrency = 2;
    assert_int_equal(run_watched(settings, &ctx, &w, &before, &after), 4);
    want = harness_queue(-1, 0, -1, 0, 0); /* nothing read before a request */
    assert_figures("before", &before, &want);
    assert_true(w.seen);
    want = harness_queue(6, 2, 2, 2, 1);
    assert_figures("while held", &w.held, &want);
    want = harness_queue(6, 6, 0, 0, 1);
    assert_figures("at the end", &after, &want);

    /* A caller built before pending was added: pending and dead are not
     * written. */
    q = harness_queue(-7, -7, -7, -7, -7);
    q.size = (unsigned)offsetof(struct minion_queue, pending);
    harness_write_file(fx->input, "ok a\n");
    {
        struct event_base *base = event_base_new();
        struct minion_instance *engine =
            harness_up(&minion_plugin_file, settings, &ctx, base);

        minion_plugin_file.engine->queue(engine, &q);
        harness_free(engine);
        event_base_free(base);
    }
    assert_int_equal(q.size, offsetof(struct minion_queue, pending));
    assert_int_equal(q.total, -1);
    assert_int_equal(q.done, 0);
    assert_int_equal(q.lag, -1);
    assert_int_equal(q.pending, -7);
    assert_int_equal(q.dead, -7);
}

/* A FIFO: the total is unknown until its writer closes it, then known. */
static void fifo_total_known_at_eof(void **state)
{
    struct fx *fx = *state;
    const char *settings[] = {fx->file_set, NULL};
    const char *text = "ok 1\nhold 2\nok 3\n";
    struct minion_context ctx;
    struct watch w = {.holds = 1, .writer = -1};
    struct minion_queue before, after, want;
    struct event_base *base;
    struct minion_instance *engine, *callback, *reporter;
    const struct timeval every = {0, 10000};
    struct event *tick;
    int rc;

    assert_int_equal(mkfifo(fx->input, 0600), 0);
    harness_context(&ctx);
    harness_reset();
    base = event_base_new();
    assert_non_null(base);
    reporter = harness_up(&harness_reporter, NULL, &ctx, base);
    callback = harness_up(&harness_holder, NULL, &ctx, base);
    engine = harness_up(&minion_plugin_file, settings, &ctx, base);
    /* The engine has the read end open: the writer does not wait. */
    w.writer = open(fx->input, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    assert_true(w.writer >= 0);
    assert_int_equal(write(w.writer, text, strlen(text)), strlen(text));
    before = ask(engine);
    w.engine = engine;
    tick = event_new(base, -1, EV_PERSIST, on_watch, &w);
    assert_non_null(tick);
    evtimer_add(tick, &every);
    rc = harness_run(base, &ctx, engine, callback, &reporter, 1, LIMIT_S);
    event_free(tick);
    after = ask(engine);
    harness_free(engine);
    harness_free(callback);
    harness_free(reporter);
    event_base_free(base);
    assert_int_equal(rc, 0);

    want = harness_queue(-1, 0, -1, 0, 0);
    assert_figures("before", &before, &want);
    assert_true(w.seen);
    want = harness_queue(-1, 1, -1, 1, 0);
    assert_figures("while held, writer open", &w.held, &want);
    want = harness_queue(3, 3, 0, 0, 0);
    assert_figures("at the end", &after, &want);
}

/* A dry run shows each line once and drops it: shown is done. */
static void dry_run_counts_shown_lines(void **state)
{
    struct fx *fx = *state;
    const char *settings[] = {fx->file_set, NULL};
    struct minion_context ctx;
    struct watch w = {.holds = HARNESS_MAX, .writer = -1};
    struct minion_queue before, after, want;

    harness_write_file(fx->input, "ok 1\nok 2\nok 3\n");
    harness_context(&ctx);
    ctx.dry_run = 1;
    assert_int_equal(run_watched(settings, &ctx, &w, &before, &after), 0);
    want = harness_queue(3, 3, 0, 0, 0);
    assert_figures("at the end", &after, &want);
}

/* With a state directory the figures are this minion's: the total stays
 * unknown (the file is shared and may grow), and the lag is known only
 * once a claim found the end of the file. */
static void state_queue_figures(void **state)
{
    struct fx *fx = *state;
    const char *settings[] = {fx->file_set, fx->state_set, NULL};
    struct minion_context ctx;
    struct watch w = {.holds = 2, .writer = -1};
    struct minion_queue before, after, want;

    harness_write_file(fx->input,
                       "ok 1\nreject 2\nhold 3\nhold 4\nok 5\nok 6\n");
    harness_context(&ctx);
    ctx.minion_id = "q";
    ctx.concurrency = 2;
    assert_int_equal(run_watched(settings, &ctx, &w, &before, &after), 4);
    want = harness_queue(-1, 0, -1, 0, 0);
    assert_figures("before", &before, &want);
    assert_true(w.seen);
    want = harness_queue(-1, 2, -1, 2, 1);
    assert_figures("while held", &w.held, &want);
    want = harness_queue(-1, 6, 0, 0, 1);
    assert_figures("at the end", &after, &want);
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
        cmocka_unit_test_setup_teardown(plain_file_queue_figures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(fifo_total_known_at_eof, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(dry_run_counts_shown_lines, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(state_queue_figures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
