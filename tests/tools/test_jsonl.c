/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonl.h"

static void add(struct jsonl_stats *st, const char *line, int want)
{
    assert_int_equal(jsonl_stats_add(st, line, strlen(line), "file-id"), want);
}

static void test_p95_nearest_rank(void **state)
{
    double v[100];
    double three[] = {3, 1, 2};
    double one[] = {7.5};
    size_t i;

    for (i = 0; i < 20; i++) {
        v[i] = (double)(20 - i); /* unsorted on purpose */
    }
    assert_true(jsonl_p95(v, 20) == 19.0);
    assert_true(v[0] == 1.0); /* sorted in place */
    for (i = 0; i < 100; i++) {
        v[i] = (double)(i + 1);
    }
    assert_true(jsonl_p95(v, 100) == 95.0);
    assert_true(jsonl_p95(three, 3) == 3.0);
    assert_true(jsonl_p95(one, 1) == 7.5);
    assert_true(jsonl_p95(NULL, 0) == 0.0);
    for (i = 0; i < 21; i++) {
        v[i] = (double)i; /* 0..20: rank ceil(19.95) = 20 -> 19 */
    }
    assert_true(jsonl_p95(v, 21) == 19.0);
}

static void test_mean(void **state)
{
    double v[] = {1, 2, 3, 4};

    assert_true(jsonl_mean(v, 4) == 2.5);
    assert_true(jsonl_mean(v, 1) == 1.0);
    assert_true(jsonl_mean(NULL, 0) == 0.0);
}

static void test_aggregate(void **state)
{
    struct jsonl_stats st = {0};
    const struct jsonl_minion *m;

    add(&st,
        "{\"minion\":\"b\",\"status\":\"ok\",\"start\":100,\"end\":101,"
        "\"duration\":1}",
        0);
    add(&st, "{\"minion\":\"b\",\"status\":\"failed\",\"start\":90,\"end\":93}",
        0);
    add(&st,
        "{\"minion\":\"a\",\"status\":\"dead\",\"start\":200,\"end\":200.5,"
        "\"duration\":0.5}",
        0);
    /* No minion field: the file's name stands in. */
    add(&st, "{\"status\":\"ok\",\"duration\":2,\"end\":50}", 0);
    /* Released: counted, but its time is no task duration. */
    add(&st,
        "{\"minion\":\"b\",\"status\":\"released\",\"start\":102,"
        "\"end\":130,\"duration\":28}",
        0);
    add(&st, "{\"minion\":\"b\",\"status\":\"ok\",\"sta", 1); /* cut */
    add(&st, "[1,2]", 1);
    add(&st, "{\"minion\":\"b\"}", 1);
    add(&st, "{\"minion\":\"b\",\"status\":\"weird\"}", 1);
    add(&st, "", 1);
    assert_int_equal(st.malformed, 5);
    assert_int_equal(st.nminions, 3);

    jsonl_stats_sort(&st);
    m = &st.minions[0];
    assert_string_equal(m->id, "a");
    assert_int_equal(m->dead, 1);
    assert_int_equal(m->ndurations, 1);
    m = &st.minions[1];
    assert_string_equal(m->id, "b");
    assert_int_equal(m->ok, 1);
    assert_int_equal(m->failed, 1);
    assert_int_equal(m->dead, 0);
    assert_int_equal(m->released, 1);
    assert_int_equal(m->ndurations, 2); /* 1 given, 3 from end - start */
    assert_true(jsonl_mean(m->durations, m->ndurations) == 2.0);
    assert_true(m->last_seen == 130.0);
    m = &st.minions[2];
    assert_string_equal(m->id, "file-id");
    assert_int_equal(m->ok, 1);
    jsonl_stats_fini(&st);
    jsonl_stats_fini(&st);
}

static void test_json_shape(void **state)
{
    struct jsonl_stats st = {0};
    cJSON *root;
    char *text;

    add(&st,
        "{\"minion\":\"m1\",\"status\":\"ok\",\"start\":1000,\"end\":1001.5,"
        "\"duration\":1.5}",
        0);
    add(&st,
        "{\"minion\":\"m1\",\"status\":\"failed\",\"start\":1002,\"end\":1004,"
        "\"duration\":2}",
        0);
    add(&st, "{\"minion\":\"m0\",\"status\":\"released\",\"start\":999}", 0);
    add(&st, "not json", 1);
    jsonl_stats_sort(&st);
    root = jsonl_stats_json(&st, 1010.0);
    assert_non_null(root);
    text = cJSON_PrintUnformatted(root);
    assert_string_equal(
        text, "{\"source\":\"json\",\"totals\":{\"ok\":1,\"failed\":1,"
              "\"dead\":0,\"pending\":null,\"lag\":null,\"released\":1,"
              "\"mean_s\":1.750000,\"p95_s\":2.000000,\"malformed\":1},"
              "\"minions\":[{\"id\":\"m0\",\"ok\":0,\"failed\":0,\"dead\":0,"
              "\"pending\":null,\"idle_ms\":11000,\"last_seen\":999.000,"
              "\"released\":1,\"mean_s\":null,\"p95_s\":null},"
              "{\"id\":\"m1\",\"ok\":1,\"failed\":1,\"dead\":0,"
              "\"pending\":null,\"idle_ms\":6000,\"last_seen\":1004.000,"
              "\"released\":0,\"mean_s\":1.750000,\"p95_s\":2.000000}]}");
    cJSON_free(text);
    cJSON_Delete(root);
    jsonl_stats_fini(&st);
}

static void test_json_empty(void **state)
{
    struct jsonl_stats st = {0};
    cJSON *root = jsonl_stats_json(&st, 0);
    char *text;

    assert_non_null(root);
    text = cJSON_PrintUnformatted(root);
    assert_string_equal(
        text, "{\"source\":\"json\",\"totals\":{\"ok\":0,\"failed\":0,"
              "\"dead\":0,\"pending\":null,\"lag\":null,\"released\":0,"
              "\"mean_s\":null,\"p95_s\":null,\"malformed\":0},"
              "\"minions\":[]}");
    cJSON_free(text);
    cJSON_Delete(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p95_nearest_rank),
        cmocka_unit_test(test_mean),
        cmocka_unit_test(test_aggregate),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_json_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
