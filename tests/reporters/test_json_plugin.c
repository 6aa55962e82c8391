/* SPDX-License-Identifier: MIT */
/* The json reporter through its descriptor, minion_plugin_json, started on
 * a real event base: the exact line on_report() appends for a report, the
 * file it goes to, what start() does to a file a killed minion left, and
 * the lines of a real run (the core's runner between a scripted engine and
 * callback). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>
#include <cmocka.h>
#include <event2/event.h>

#include "harness.h"

extern const struct minion_plugin minion_plugin_json;

#define LIMIT_S 20.0

struct fx {
    char dir[256];
    char reports[300]; /* REPORTER_JSON_DIRECTORY, not made yet */
    char setting[340]; /* REPORTER_JSON_DIRECTORY=... */
    struct event_base *base;
    struct minion_context ctx;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (!fx) {
        return -1;
    }
    harness_tmpdir(fx->dir, sizeof(fx->dir), "test_json_plugin");
    /* Two levels that do not exist: start() makes them. */
    snprintf(fx->reports, sizeof(fx->reports), "%s/a/b", fx->dir);
    snprintf(fx->setting, sizeof(fx->setting), "REPORTER_JSON_DIRECTORY=%s",
             fx->reports);
    fx->base = event_base_new();
    harness_context(&fx->ctx);
    unsetenv("OAR_JOB_ID");
    *state = fx;
    return fx->base ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    unsetenv("OAR_JOB_ID");
    event_base_free(fx->base);
    harness_rmtree(fx->dir);
    free(fx);
    return 0;
}

/* The json reporter of @fx, started. */
static struct minion_instance *json_up(struct fx *fx)
{
    const char *settings[] = {fx->setting, NULL};

    return harness_up(&minion_plugin_json, settings, &fx->ctx, fx->base);
}

/* Report through the descriptor, as the core does. */
static void report(struct minion_instance *inst,
                   const struct minion_report *rep)
{
    minion_plugin_json.reporter->on_report(inst, rep);
}

/* The report file of minion @id in @fx, read whole. Caller frees. */
static char *report_file(const struct fx *fx, const char *id)
{
    char path[400];
    char *text;

    snprintf(path, sizeof(path), "%s/%s.jsonl", fx->reports, id);
    text = harness_read_file(path);
    if (!text) {
        fail_msg("no report file %s", path);
    }
    return text;
}

/* Every field of a report, as one line in <dir>/<minion id>.jsonl, with a
 * "/" of the minion id made "_" in the file name. A report with no run uid
 * (from a core older than ABI 2.2) gets v1's per-run name. */
static void on_report_writes_the_line(void **state)
{
    struct fx *fx = *state;
    static const char param[] = "say \"hi\"\n\tnow";
    static const char want[] =
        "{\"uid\":\"m/1-7\",\"minion\":\"m/1\",\"generation\":7,"
        "\"start\":1700000000.250000,\"end\":1700000001.750000,"
        "\"duration\":1.500000,\"task_id\":\"42\",\"attempt\":2,"
        "\"status\":\"failed\",\"exit_code\":3,"
        "\"error\":\"exit status 3\","
        "\"param\":\"say \\\"hi\\\"\\n\\tnow\",\"output\":\"out\\n\","
        "\"atomic_actions\":[{\"name\":\"process\","
        "\"start\":1700000000.250000,\"end\":1700000001.750000}],"
        "\"nodename\":\"node1\",\"signal\":null,\"maxrss_kb\":null,"
        "\"user_s\":null,\"sys_s\":null}\n";
    struct minion_action action = {"process", 1700000000.25, 1700000001.75};
    struct minion_report rep = MINION_REPORT_INIT;
    struct minion_instance *inst;
    char *text;

    fx->ctx.minion_id = "m/1";
    inst = json_up(fx);
    rep.minion_id = "m/1";
    rep.nodename = "node1";
    rep.task_id = "42";
    rep.param = param;
    rep.param_len = sizeof(param) - 1;
    rep.attempt = 2;
    rep.generation = 7;
    rep.status = MINION_STATUS_FAILED;
    rep.exit_code = 3;
    rep.error = "exit status 3";
    rep.output = "out\nNOT THIS";
    rep.output_len = 4;
    rep.start = 1700000000.25;
    rep.end = 1700000001.75;
    rep.actions = &action;
    rep.n_actions = 1;
    report(inst, &rep);
    /* Written by on_report itself (one write(2)), not later on the loop. */
    text = report_file(fx, "m_1");
    assert_string_equal(text, want);
    free(text);
    event_base_loop(fx->base, EVLOOP_NONBLOCK);
    assert_int_equal(harness_stop(inst), 0);
    harness_free(inst);
    text = report_file(fx, "m_1");
    assert_string_equal(text, want);
    free(text);
}

/* What a report leaves out is null (or empty), and bytes that are not
 * UTF-8 still make valid JSON; a second report is a second line. */
static void absent_fields_are_null(void **state)
{
    struct fx *fx = *state;
    static const char first[] =
        "{\"uid\":\"r-u-n\",\"minion\":\"test\",\"generation\":1,"
        "\"start\":10.500000,\"end\":10.500000,\"duration\":0.000000,"
        "\"task_id\":null,\"attempt\":1,\"status\":\"ok\","
        "\"exit_code\":null,\"error\":null,\"param\":\"p\\uefff\","
        "\"output\":\"\",\"atomic_actions\":[],\"nodename\":null,"
        "\"signal\":9,\"maxrss_kb\":1234,\"user_s\":0.500000,"
        "\"sys_s\":0.250000}\n";
    static const char second[] =
        "{\"uid\":\"r-u-n\",\"minion\":\"test\",\"generation\":2,"
        "\"start\":11.000000,\"end\":12.000000,\"duration\":1.000000,"
        "\"task_id\":\"9\",\"attempt\":3,\"status\":\"dead\","
        "\"exit_code\":null,\"error\":\"rejected\",\"param\":\"\","
        "\"output\":\"\",\"atomic_actions\":[],\"nodename\":null,"
        "\"signal\":null,\"maxrss_kb\":0,\"user_s\":0.000000,"
        "\"sys_s\":0.000000}\n";
    struct minion_usage killed = {sizeof(killed), 9, 1234, 0.5, 0.25};
    struct minion_usage exited = {sizeof(exited), 0, 0, 0, 0};
    struct minion_report rep = MINION_REPORT_INIT;
    struct minion_instance *inst = json_up(fx);
    char *text;

    rep.minion_id = "test";
    rep.run_uid = "r-u-n";
    rep.usage = &killed;
    rep.param = "p\xff";
    rep.param_len = 2;
    rep.attempt = 1;
    rep.generation = 1;
    rep.status = MINION_STATUS_OK;
    rep.exit_code = -1;
    rep.start = rep.end = 10.5;
    report(inst, &rep);
    rep.task_id = "9";
    rep.param = NULL;
    rep.param_len = 0;
    rep.attempt = 3;
    rep.generation = 2;
    rep.status = MINION_STATUS_DEAD;
    rep.usage = &exited;
    rep.error = "rejected";
    rep.start = 11;
    rep.end = 12;
    report(inst, &rep);
    harness_stop(inst);
    harness_free(inst);

    text = report_file(fx, "test");
    assert_non_null(strstr(text, first));
    assert_string_equal(text + strlen(first), second);
    free(text);
}

/* With OAR_JOB_ID set at init, every line names the job. */
static void oar_job_id_is_added(void **state)
{
    struct fx *fx = *state;
    struct minion_report rep = MINION_REPORT_INIT;
    struct minion_instance *inst;
    char *text;

    setenv("OAR_JOB_ID", "1234", 1);
    inst = json_up(fx);
    unsetenv("OAR_JOB_ID");
    rep.minion_id = "test";
    rep.nodename = "n";
    rep.param = "x";
    rep.param_len = 1;
    rep.exit_code = 0;
    report(inst, &rep);
    harness_stop(inst);
    harness_free(inst);

    text = report_file(fx, "test");
    assert_non_null(strstr(text, ",\"exit_code\":0,"));
    assert_non_null(
        strstr(text, ",\"nodename\":\"n\",\"oar_job_id\":\"1234\","));
    free(text);
}

/* start() appends to what is there, and first cuts off a last line that a
 * killed minion left half written. */
static void start_appends_after_the_last_whole_line(void **state)
{
    struct fx *fx = *state;
    struct minion_report rep = MINION_REPORT_INIT;
    struct minion_instance *inst;
    char path[400];
    char *text;

    snprintf(path, sizeof(path), "%s/a", fx->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(mkdir(fx->reports, 0700), 0);
    snprintf(path, sizeof(path), "%s/test.jsonl", fx->reports);
    harness_write_file(path, "{\"whole\":1}\n{\"torn\":");
    inst = json_up(fx);
    text = report_file(fx, "test");
    assert_string_equal(text, "{\"whole\":1}\n");
    free(text);

    rep.minion_id = "test";
    rep.task_id = "1";
    rep.generation = 5;
    rep.exit_code = -1;
    report(inst, &rep);
    harness_stop(inst);
    harness_free(inst);
    text = report_file(fx, "test");
    assert_non_null(strstr(text, "{\"whole\":1}\n{\"uid\":\"test-5\","));
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);
}

/* init() and start() refuse what cannot work, saying why. */
static void bad_directories_are_refused(void **state)
{
    struct fx *fx = *state;
    const char *empty[] = {"REPORTER_JSON_DIRECTORY=", NULL};
    const char *under_file[] = {NULL, NULL};
    char setting[400], file[300];
    struct minion_instance *inst;
    char err[1024];

    inst = harness_new(&minion_plugin_json, empty, err, sizeof(err));
    assert_non_null(inst);
    assert_int_equal(harness_init(inst, &fx->ctx, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "REPORTER_JSON_DIRECTORY is empty"));
    harness_free(inst);

    snprintf(file, sizeof(file), "%s/plain", fx->dir);
    harness_write_file(file, "");
    snprintf(setting, sizeof(setting), "REPORTER_JSON_DIRECTORY=%s/sub", file);
    under_file[0] = setting;
    inst = harness_new(&minion_plugin_json, under_file, err, sizeof(err));
    assert_non_null(inst);
    assert_int_equal(harness_init(inst, &fx->ctx, err, sizeof(err)), 0);
    assert_int_equal(harness_start(inst, fx->base, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Not a directory"));
    harness_free(inst);
}

/* A real run: one line per finished run, in order, as the runner reports
 * them: generation 1, 2, 3; the failed run and its dead retry. */
static void a_run_writes_a_line_per_run(void **state)
{
    struct fx *fx = *state;
    struct minion_instance *engine, *callback, *json;
    static const char *const want_status[] = {"ok", "failed", "dead"};
    static const char *const want_task[] = {"1", "2", "2"};
    static const int want_attempt[] = {1, 1, 2};
    char *text, *line, *save = NULL;
    int rc, n = 0;

    fx->ctx.minion_id = "run";
    fx->ctx.max_attempts = 2;
    harness_reset();
    harness_w.params[0] = "ok 1";
    harness_w.params[1] = "fail 2";
    harness_w.n_params = 2;
    json = json_up(fx);
    callback = harness_up(&harness_callback, NULL, &fx->ctx, fx->base);
    engine = harness_up(&harness_engine, NULL, &fx->ctx, fx->base);
    rc = harness_run(fx->base, &fx->ctx, engine, callback, &json, 1, LIMIT_S);
    harness_free(engine);
    harness_free(callback);
    harness_free(json);
    assert_int_equal(rc, 4); /* drained with a dead param */

    text = report_file(fx, "run");
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save), n++) {
        cJSON *o = cJSON_Parse(line);
        static char uid[40];

        assert_non_null(o);
        assert_true(n < 3);
        /* One run of the minion: one uid in every line. */
        if (n == 0) {
            snprintf(uid, sizeof(uid), "%s",
                     cJSON_GetObjectItem(o, "uid")->valuestring);
            assert_int_equal(strlen(uid), 36);
        }
        assert_string_equal(cJSON_GetObjectItem(o, "uid")->valuestring, uid);
        assert_int_equal(cJSON_GetObjectItem(o, "generation")->valueint, n + 1);
        assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring,
                            want_status[n]);
        assert_string_equal(cJSON_GetObjectItem(o, "task_id")->valuestring,
                            want_task[n]);
        assert_int_equal(cJSON_GetObjectItem(o, "attempt")->valueint,
                         want_attempt[n]);
        assert_string_equal(cJSON_GetObjectItem(o, "nodename")->valuestring,
                            "node");
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "exit_code")));
        assert_true(cJSON_GetObjectItem(o, "end")->valuedouble >=
                    cJSON_GetObjectItem(o, "start")->valuedouble);
        /* Waiting for the param, then the run: the harness callback adds
         * no step of its own. */
        assert_int_equal(
            cJSON_GetArraySize(cJSON_GetObjectItem(o, "atomic_actions")), 2);
        assert_string_equal(
            cJSON_GetObjectItem(
                cJSON_GetArrayItem(cJSON_GetObjectItem(o, "atomic_actions"), 0),
                "name")
                ->valuestring,
            "next");
        assert_string_equal(
            cJSON_GetObjectItem(
                cJSON_GetArrayItem(cJSON_GetObjectItem(o, "atomic_actions"), 1),
                "name")
                ->valuestring,
            "process");
        if (n == 0) {
            assert_string_equal(cJSON_GetObjectItem(o, "param")->valuestring,
                                "ok 1");
            assert_string_equal(cJSON_GetObjectItem(o, "output")->valuestring,
                                "ran ok 1\n");
            assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "error")));
        } else {
            assert_string_equal(cJSON_GetObjectItem(o, "param")->valuestring,
                                "fail 2");
            assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring,
                                "scripted failure");
        }
        cJSON_Delete(o);
    }
    free(text);
    assert_int_equal(n, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(on_report_writes_the_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(absent_fields_are_null, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(oar_job_id_is_added, setup, teardown),
        cmocka_unit_test_setup_teardown(start_appends_after_the_last_whole_line,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(bad_directories_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_run_writes_a_line_per_run, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
