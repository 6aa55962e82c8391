/* SPDX-License-Identifier: MIT */
/* The reports folder source (tools/reports.c) on real files in a temporary
 * folder, refreshed as minion-status does, and the --json view of a fleet
 * (tools/fleet_view.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fleet.h"

struct fixture {
    char dir[256];
    struct fleet_source *src;
    struct fleet f;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    const char *tmp = getenv("TMPDIR");

    if (fx == NULL) {
        return -1;
    }
    snprintf(fx->dir, sizeof(fx->dir), "%s/test_reports.XXXXXX",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    fx->src = reports_source_new(fx->dir);
    fleet_init(&fx->f, "json", fx->dir);
    *state = fx;
    return fx->src != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char cmd[300];

    fleet_clear(&fx->f);
    fx->src->free(fx->src);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0) {
        return -1;
    }
    free(fx);
    return 0;
}

/* Write @text to @name in the folder; @mode "a" appends, "w" replaces. */
static void put(struct fixture *fx, const char *name, const char *mode,
                const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
    f = fopen(path, mode);
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static struct fleet *refresh(struct fixture *fx)
{
    if (fx->src->refresh(fx->src, &fx->f) != 0) {
        fail_msg("refresh: %s", fx->src->error);
    }
    return &fx->f;
}

static const struct fleet_minion *row(const struct fleet *f, size_t i)
{
    assert_true(i < f->n_minions);
    return &f->minions[i];
}

/* One v2 record of minion @m, run @uid, from @start to @end. */
static char *rec(char *buf, const char *m, const char *uid, int gen,
                 double start, double end, const char *status,
                 const char *error)
{
    snprintf(buf, 512,
             "{\"uid\":\"%s\",\"minion\":\"%s\",\"generation\":%d,"
             "\"start\":%.6f,\"end\":%.6f,\"duration\":%.6f,\"task_id\":"
             "\"t%d\",\"attempt\":1,\"status\":\"%s\",\"exit_code\":0,"
             "\"error\":%s%s%s,\"param\":\"p\",\"output\":\"\","
             "\"atomic_actions\":[],\"nodename\":\"node-1\"}\n",
             uid, m, gen, start, end, end - start, gen, status,
             error ? "\"" : "", error ? error : "null", error ? "\"" : "");
    return buf;
}

static void test_percentiles(void **state)
{
    struct fixture *fx = *state;
    const struct fleet_minion *m;
    struct fleet *f;
    char buf[512];
    int i;

    /* Durations 20, 19, ..., 1: nearest rank gives p50 10 and p95 19. */
    for (i = 0; i < 20; i++) {
        put(fx, "a.jsonl", "a",
            rec(buf, "a", "U", i + 1, 1000, 1000 + (20 - i), "ok", NULL));
    }
    f = refresh(fx);
    m = row(f, 0);
    assert_true(m->p50 == 10.0);
    assert_true(m->p95 == 19.0);
    assert_true(m->mean == 10.5);
    assert_true(f->p50 == 10.0 && f->p95 == 19.0 && f->mean == 10.5);
    /* One more, 0 s: 21 values 0..20 give p95 at rank ceil(19.95) = 20. */
    put(fx, "a.jsonl", "a", rec(buf, "a", "U", 21, 1020, 1020, "ok", NULL));
    f = refresh(fx);
    assert_true(row(f, 0)->p95 == 19.0);
    assert_true(row(f, 0)->p50 == 10.0);
    assert_true(f->ok == 21);
}

static void test_v1_and_v2_rows(void **state)
{
    struct fixture *fx = *state;
    struct fleet *f;
    char buf[512];

    /* v1: the uid is minion-generation, one per task: one row, no uid. */
    put(fx, "a.jsonl", "a", rec(buf, "a", "a-1", 1, 10, 11, "ok", NULL));
    put(fx, "a.jsonl", "a", rec(buf, "a", "a-2", 2, 11, 13, "failed", "e"));
    /* v2: a process run each; a restart of "a" is a row of its own. */
    put(fx, "a.jsonl", "a", rec(buf, "a", "zz-run", 1, 20, 21, "ok", NULL));
    put(fx, "a.jsonl", "a", rec(buf, "a", "zz-run", 2, 21, 22, "ok", NULL));
    put(fx, "a.jsonl", "a", rec(buf, "a", "bb-run", 1, 30, 31, "dead", "x"));
    /* A uid that merely looks v1 for another generation is v2. */
    put(fx, "b.jsonl", "a", rec(buf, "b", "b-7", 1, 5, 6, "ok", NULL));
    f = refresh(fx);
    assert_int_equal(f->n_minions, 4);
    assert_string_equal(row(f, 0)->id, "a");
    assert_null(row(f, 0)->uid);
    assert_true(row(f, 0)->ok == 1 && row(f, 0)->failed == 1);
    assert_string_equal(row(f, 1)->uid, "bb-run");
    assert_true(row(f, 1)->dead == 1);
    assert_string_equal(row(f, 2)->uid, "zz-run");
    assert_true(row(f, 2)->ok == 2);
    assert_true(row(f, 2)->started == 20 && row(f, 2)->last_seen == 22);
    assert_string_equal(row(f, 3)->id, "b");
    assert_string_equal(row(f, 3)->uid, "b-7");
    assert_string_equal(row(f, 3)->nodename, "node-1");
    assert_true(f->ok == 4 && f->failed == 1 && f->dead == 1);
}

static void test_released_and_fallback(void **state)
{
    struct fixture *fx = *state;
    const struct fleet_minion *m;
    struct fleet *f;
    char buf[512];

    put(fx, "host-b.jsonl", "a",
        rec(buf, "host-b", "R", 1, 100, 101, "ok", NULL));
    put(fx, "host-b.jsonl", "a",
        rec(buf, "host-b", "R", 2, 101, 150, "released", "stopped"));
    /* No minion field: the file name stands in. */
    put(fx, "host-b.jsonl", "a",
        "{\"uid\":\"R\",\"generation\":3,\"start\":90,\"end\":92,"
        "\"status\":\"ok\"}\n");
    f = refresh(fx);
    assert_int_equal(f->n_minions, 1);
    m = row(f, 0);
    assert_string_equal(m->id, "host-b");
    assert_true(m->ok == 2 && m->failed == 0 && m->dead == 0);
    assert_true(m->mean == 1.5);      /* 1 and 2: the released 49 s is no run */
    assert_true(m->last_seen == 150); /* but it was seen then */
    assert_true(m->started == 90);
    assert_int_equal(f->n_errors, 0); /* nor is its error one */
    assert_true(f->malformed == 0);
}

static void test_malformed(void **state)
{
    struct fixture *fx = *state;
    struct fleet *f;
    char buf[512];

    put(fx, "a.jsonl", "a", rec(buf, "a", "U", 1, 1, 2, "ok", NULL));
    put(fx, "a.jsonl", "a", "not json\n\n   \n");
    put(fx, "a.jsonl", "a", "{\"minion\":\"a\",\"status\":\"weird\"}\n");
    put(fx, "a.jsonl", "a", "{\"minion\":\"a\"}\n");
    put(fx, "a.jsonl", "a", "{\"uid\":\"U\",\"minion\":\"a\",\"sta");
    /* A hand-made file whose last report has no newline is fine. */
    put(fx, "b.jsonl", "a", "{\"status\":\"ok\",\"start\":1,\"end\":3}");
    put(fx, "notes.txt", "a", "not a report either\n");
    f = refresh(fx);
    assert_int_equal(f->malformed, 4); /* 3 lines and a cut tail */
    assert_true(f->ok == 2);
    assert_int_equal(f->n_minions, 2);
    assert_string_equal(row(f, 1)->id, "b");
    /* The cut line completed: a report after all. */
    put(fx, "a.jsonl", "a", "tus\":\"dead\",\"start\":2,\"end\":3}\n");
    f = refresh(fx);
    assert_int_equal(f->malformed, 3);
    assert_true(f->dead == 1 && f->ok == 2);
}

/* A minion that restarts after a crash drops its torn last line (the json
 * reporter truncates it away) and goes on appending. */
static void test_torn_tail_dropped(void **state)
{
    struct fixture *fx = *state;
    struct fleet *f;
    char buf[512], path[512];
    off_t whole;

    put(fx, "a.jsonl", "a", rec(buf, "a", "U", 1, 1, 2, "ok", NULL));
    whole = (off_t)strlen(buf);
    put(fx, "a.jsonl", "a", "{\"uid\":\"U\",\"minion\":\"a\",\"gen");
    f = refresh(fx);
    assert_true(f->ok == 1 && f->malformed == 1);
    snprintf(path, sizeof(path), "%s/a.jsonl", fx->dir);
    assert_int_equal(truncate(path, whole), 0);
    put(fx, "a.jsonl", "a", rec(buf, "a", "V", 1, 3, 5, "ok", NULL));
    f = refresh(fx);
    assert_true(f->ok == 2 && f->malformed == 0);
    assert_int_equal(f->n_minions, 2);
}

static void test_incremental(void **state)
{
    struct fixture *fx = *state;
    char buf[512], path[512];
    struct fleet *f;

    put(fx, "a.jsonl", "a", rec(buf, "a", "U", 1, 10, 11, "ok", NULL));
    put(fx, "a.jsonl", "a", rec(buf, "a", "U", 2, 11, 12, "ok", NULL));
    f = refresh(fx);
    assert_true(f->ok == 2);
    f = refresh(fx); /* nothing new: the same figures */
    assert_true(f->ok == 2 && f->n_minions == 1 && row(f, 0)->ok == 2);
    put(fx, "a.jsonl", "a", rec(buf, "a", "U", 3, 12, 14, "failed", "e1"));
    put(fx, "b.jsonl", "a", rec(buf, "b", "V", 1, 12, 13, "ok", NULL));
    f = refresh(fx);
    assert_true(f->ok == 3 && f->failed == 1);
    assert_true(row(f, 0)->ok == 2 && row(f, 0)->failed == 1);
    assert_true(row(f, 0)->p95 == 2.0);
    assert_int_equal(f->n_minions, 2);
    assert_int_equal(f->n_errors, 1);
    /* Truncated and rewritten: read again from the start. */
    put(fx, "a.jsonl", "w", rec(buf, "a", "W", 1, 20, 25, "ok", NULL));
    f = refresh(fx);
    assert_true(f->ok == 2 && f->failed == 0);
    assert_string_equal(row(f, 0)->uid, "W");
    assert_true(row(f, 0)->p50 == 5.0);
    assert_int_equal(f->n_errors, 0);
    /* Replaced by a longer file with other first bytes: read again. */
    snprintf(path, sizeof(path), "%s/a.jsonl", fx->dir);
    assert_int_equal(unlink(path), 0);
    put(fx, "a.jsonl", "w", rec(buf, "a", "X", 1, 30, 31, "ok", NULL));
    put(fx, "a.jsonl", "a", rec(buf, "a", "X", 2, 31, 32, "dead", "e2"));
    f = refresh(fx);
    assert_true(f->ok == 2 && f->dead == 1);
    assert_string_equal(row(f, 0)->uid, "X");
    /* A file removed takes its rows away. */
    snprintf(path, sizeof(path), "%s/b.jsonl", fx->dir);
    assert_int_equal(unlink(path), 0);
    f = refresh(fx);
    assert_int_equal(f->n_minions, 1);
    assert_true(f->ok == 1 && f->dead == 1);
}

/* Rows are found again refresh after refresh, whatever their order. */
static void test_rows_stay_rows(void **state)
{
    struct fixture *fx = *state;
    struct fleet *f;
    char buf[512];

    put(fx, "z.jsonl", "a", rec(buf, "z", "Z", 1, 1, 2, "ok", NULL));
    refresh(fx);
    put(fx, "a.jsonl", "a", rec(buf, "a", "A", 1, 1, 2, "ok", NULL));
    f = refresh(fx);
    assert_string_equal(row(f, 0)->id, "a");
    put(fx, "a.jsonl", "a", rec(buf, "a", "A", 2, 2, 3, "ok", NULL));
    put(fx, "z.jsonl", "a", rec(buf, "z", "Z", 2, 2, 3, "ok", NULL));
    f = refresh(fx);
    assert_int_equal(f->n_minions, 2);
    assert_true(row(f, 0)->ok == 2 && row(f, 1)->ok == 2);
}

static void test_errors_top(void **state)
{
    struct fixture *fx = *state;
    struct fleet *f;
    char buf[512], text[32];
    int i, gen = 1;

    /* e0 x3, e1 x3 later, e2..e11 once each: 12 texts, 10 kept. */
    for (i = 0; i < 3; i++) {
        put(fx, "a.jsonl", "a",
            rec(buf, "a", "U", gen, gen, gen + 1, "failed", "e0"));
        gen++;
    }
    for (i = 0; i < 3; i++) {
        put(fx, "a.jsonl", "a",
            rec(buf, "a", "U", gen, gen, gen + 1, "dead", "e1"));
        gen++;
    }
    for (i = 2; i < 12; i++) {
        snprintf(text, sizeof(text), "e%d", i);
        put(fx, "a.jsonl", "a",
            rec(buf, "a", "U", gen, gen, gen + 1, "failed", text));
        gen++;
    }
    put(fx, "a.jsonl", "a", rec(buf, "a", "U", gen, gen, gen + 1, "ok", NULL));
    f = refresh(fx);
    assert_int_equal(f->n_errors, 10);
    assert_string_equal(f->errors[0].text, "e1"); /* as frequent, later */
    assert_true(f->errors[0].count == 3 && f->errors[0].last == 7);
    assert_string_equal(f->errors[1].text, "e0");
    assert_string_equal(f->errors[2].text, "e11"); /* the latest single */
    assert_string_equal(f->errors[9].text, "e4");
}

static void test_rates_and_charts(void **state)
{
    struct fixture *fx = *state;
    struct fleet *f;
    char buf[512];
    int i;

    /* a: 100 runs of 1 s back to back from 1000 to 1100. */
    for (i = 0; i < 100; i++) {
        put(fx, "a.jsonl", "a",
            rec(buf, "a", "U", i + 1, 1000 + i, 1001 + i, "ok", NULL));
    }
    /* b: joins at 1090, 5 runs of 2 s, last ends at 1100. */
    for (i = 0; i < 5; i++) {
        put(fx, "b.jsonl", "a",
            rec(buf, "b", "V", i + 1, 1090 + 2 * i, 1092 + 2 * i, "ok", NULL));
    }
    f = refresh(fx);
    /* Last minute before the newest end (1100): a ended 60 runs in it. */
    assert_true(row(f, 0)->rate_1m == 1.0);
    assert_true(row(f, 0)->rate_all == 1.0);
    /* b's minute is its 10 s. */
    assert_true(row(f, 1)->rate_1m == 0.5);
    assert_true(f->rate_1m == 65.0 / 60);
    assert_true(f->rate_all == 105.0 / 100);
    assert_true(f->started == 1000);
    /* 100 s fits 1 s steps: 101 of them, the last ending at 1101. */
    assert_true(f->rate.step == 1 && f->rate.end == 1101);
    assert_int_equal(f->rate.n, 101);
    assert_true(f->rate.values[0] == 0);  /* [1000, 1001): none ended */
    assert_true(f->rate.values[1] == 1);  /* a's first */
    assert_true(f->rate.values[92] == 2); /* a's and b's first */
    assert_true(f->in_flight_series.step == 1);
    assert_int_equal(f->in_flight_series.n, 101);
    assert_true(f->in_flight_series.values[0] == 1);
    assert_true(f->in_flight_series.values[95] == 2);
    assert_true(f->in_flight_series.values[100] == 0);
    /* A run across 1200 s: 5 s steps (601 of 2 s would not fit). */
    put(fx, "c.jsonl", "a", rec(buf, "c", "W", 1, 1000.5, 2200.5, "ok", NULL));
    f = refresh(fx);
    assert_true(f->rate.step == 5);
    assert_true(f->in_flight_series.values[0] == (4.5 + 5) / 5);
    assert_true(f->rate.end == 2205);
}

static void test_missing_folder(void **state)
{
    struct fleet_source *src = reports_source_new("/nonexistent/rep");
    struct fleet f;

    (void)state;
    assert_non_null(src);
    fleet_init(&f, "json", NULL);
    assert_int_equal(src->refresh(src, &f), -1);
    assert_non_null(strstr(src->error, "no reports directory"));
    assert_null(strchr(src->error, '\n'));
    fleet_clear(&f);
    src->free(src);
}

static void test_json_view(void **state)
{
    struct fleet f;
    struct fleet_minion *m;
    cJSON *root;
    char *text;

    (void)state;
    fleet_init(&f, "redis", "redis://h:1/0");
    f.now = 1000;
    f.ok = 3;
    f.failed = 0;
    f.dead = 1;
    f.pending = 2;
    f.lag = 5;
    f.percent = 40;
    f.p50 = 0.25;
    f.malformed = 0;
    f.minions = calloc(1, sizeof(*f.minions));
    f.n_minions = 1;
    m = &f.minions[0];
    m->id = strdup("w1");
    m->ok = 3;
    m->failed = 0;
    m->dead = 1;
    m->pending = 2;
    m->in_flight = m->p50 = m->mean = m->p95 = m->rate_1m = m->rate_all =
        FLEET_UNKNOWN;
    m->started = FLEET_UNKNOWN;
    m->last_seen = 998.5;
    m->idle_ms = 1500;
    m->probably_dead = 1;
    f.errors = calloc(1, sizeof(*f.errors));
    f.n_errors = 1;
    f.errors[0].text = strdup("boom");
    f.errors[0].count = 1;
    f.errors[0].last = 999;
    f.rate.n = 2;
    f.rate.step = 2;
    f.rate.end = 1000;
    f.rate.values[0] = 0.5;
    f.rate.values[1] = 1.0 / 3;
    root = fleet_json(&f);
    assert_non_null(root);
    text = cJSON_PrintUnformatted(root);
    assert_string_equal(
        text,
        "{\"source\":\"redis\",\"where\":\"redis://h:1/0\",\"now\":1000,"
        "\"totals\":{\"ok\":3,\"failed\":0,\"dead\":1,\"pending\":2,"
        "\"lag\":5,\"in_flight\":null,\"stream_length\":null,\"added\":null,"
        "\"dead_letters\":null,\"percent\":40,\"eta_s\":null,\"p50_s\":0.25,"
        "\"mean_s\":null,\"p95_s\":null,\"rate_1m\":null,\"rate_all\":null,"
        "\"started\":null,\"malformed\":0},"
        "\"minions\":[{\"id\":\"w1\",\"uid\":null,\"nodename\":null,"
        "\"oar_job_id\":null,\"slurm_job_id\":null,"
        "\"slurm_array_task_id\":null,\"ok\":3,\"failed\":0,\"dead\":1,"
        "\"pending\":2,\"in_flight\":null,\"idle_ms\":1500,"
        "\"last_seen\":998.5,\"p50_s\":null,\"mean_s\":null,\"p95_s\":null,"
        "\"rate_1m\":null,\"rate_all\":null,\"started\":null,"
        "\"probably_dead\":true}],"
        "\"errors\":[{\"text\":\"boom\",\"count\":1,\"last\":999}],"
        "\"series\":{\"rate\":{\"step\":2,\"end\":1000,"
        "\"values\":[0.5,0.333333]},\"in_flight\":null}}");
    cJSON_free(text);
    cJSON_Delete(root);
    fleet_clear(&f);
    assert_null(f.minions);
    assert_int_equal(f.n_minions, 0);
    assert_true(f.ok == FLEET_UNKNOWN);
    assert_string_equal(f.source, "redis");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_percentiles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_and_v2_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_released_and_fallback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_dropped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_incremental, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_stay_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_top, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rates_and_charts, setup, teardown),
        cmocka_unit_test(test_missing_folder),
        cmocka_unit_test(test_json_view),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
