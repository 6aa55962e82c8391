/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonl.h"

/* A v2 record as reporters/json.c writes it, with every kind of value the
 * scanner has to step over. */
static const char *const v2 =
    "{\"uid\":\"6f1c-77\",\"minion\":\"host-a\",\"generation\":12,"
    "\"start\":1700000000.123456,\"end\":1700000001.5,\"duration\":1.376544,"
    "\"task_id\":\"1-0\",\"attempt\":1,\"status\":\"failed\","
    "\"exit_code\":-1,\"error\":\"exit status 1\",\"param\":\"a \\\"b\\\"\","
    "\"output\":\"line\\nline\\\\\",\"atomic_actions\":[{\"name\":\"next\","
    "\"start\":1.5e9,\"end\":1.5E+9},{\"name\":\"process\",\"start\":0,"
    "\"end\":-0.25}],\"nodename\":\"n1\",\"oar_job_id\":\"42\","
    "\"slurm_job_id\":\"7\",\"slurm_array_task_id\":\"3\",\"signal\":null,"
    "\"maxrss_kb\":1024,\"user_s\":0.5,\"sys_s\":null,\"extra\":{\"a\":[true,"
    "false,null,{}],\"b\":[]}}";

static void str_is(const struct jsonl_str *s, const char *want)
{
    char buf[256];

    assert_non_null(s->p);
    assert_true(s->len < sizeof(buf));
    jsonl_decode(s, buf);
    assert_string_equal(buf, want);
}

static void test_fields(void **state)
{
    struct jsonl_record r;

    assert_int_equal(jsonl_scan(v2, strlen(v2), &r), 0);
    str_is(&r.uid, "6f1c-77");
    str_is(&r.minion, "host-a");
    str_is(&r.status, "failed");
    str_is(&r.error, "exit status 1");
    str_is(&r.nodename, "n1");
    str_is(&r.oar_job_id, "42");
    str_is(&r.slurm_job_id, "7");
    str_is(&r.slurm_array_task_id, "3");
    assert_true(r.generation == 12.0);
    assert_true(r.start == 1700000000.123456);
    assert_true(r.end == 1700000001.5);
    assert_false(r.uid.escaped);
}

static void test_absent_and_null(void **state)
{
    const char *line = " { \"status\" : \"ok\" , \"error\" : null, "
                       "\"start\": \"soon\", \"minion\": 3 } ";
    struct jsonl_record r;

    assert_int_equal(jsonl_scan(line, strlen(line), &r), 0);
    str_is(&r.status, "ok");
    assert_null(r.error.p);  /* null */
    assert_null(r.minion.p); /* not a string */
    assert_null(r.uid.p);    /* absent */
    assert_true(isnan(r.start));
    assert_true(isnan(r.end));
    assert_true(isnan(r.generation));
    assert_int_equal(jsonl_scan("{}", 2, &r), 0);
    assert_null(r.status.p);
}

/* A crash cuts a line anywhere: every cut must be seen. */
static void test_every_prefix_is_malformed(void **state)
{
    struct jsonl_record r;
    size_t n = strlen(v2), i;

    for (i = 0; i < n; i++) {
        if (jsonl_scan(v2, i, &r) == 0) {
            fail_msg("a line cut at %zu bytes passed: %.*s", i, (int)i, v2);
        }
    }
}

static void test_not_reports(void **state)
{
    static const char *const bad[] = {
        "",
        "   ",
        "[1,2]",
        "\"status\"",
        "{\"status\":\"ok\"} trailing",
        "{\"status\":\"ok\",}",
        "{\"status\" \"ok\"}",
        "{\"status\":ok}",
        "{\"a\":tru}",
        "{\"a\":1.}",
        "{\"a\":-}",
        "{\"a\":[1 2]}",
        "{\"a\":{\"b\"}}",
        "{status:\"ok\"}",
        NULL,
    };
    struct jsonl_record r;
    char deep[200];
    size_t i;

    for (i = 0; bad[i] != NULL; i++) {
        if (jsonl_scan(bad[i], strlen(bad[i]), &r) == 0) {
            fail_msg("taken as a report: %s", bad[i]);
        }
    }
    /* Nesting is bounded, not recursed into without end. */
    memset(deep, '[', sizeof(deep));
    memcpy(deep, "{\"a\":", 5);
    assert_int_equal(jsonl_scan(deep, sizeof(deep), &r), -1);
}

/* The numbers must be strtod()'s, to the bit: p50 and friends are exact. */
static void test_numbers_exact(void **state)
{
    static const char *const nums[] = {
        "0",
        "-0.5",
        "1700000000.123456",
        "1700000001.999999",
        "0.1",
        "0.3",
        "123456789012345678901234567890",
        "9007199254740993",
        "1.7976931348623157e308",
        "4.9e-324",
        "2.5E-3",
        "0.000000000000000000000000000001",
        "1712345678.000001",
        NULL,
    };
    struct jsonl_record r;
    char line[200];
    size_t i;
    uint32_t x = 12345;
    int k;

    for (i = 0; nums[i] != NULL; i++) {
        snprintf(line, sizeof(line), "{\"start\":%s}", nums[i]);
        assert_int_equal(jsonl_scan(line, strlen(line), &r), 0);
        if (r.start != strtod(nums[i], NULL)) {
            fail_msg("%s read as %.17g", nums[i], r.start);
        }
    }
    /* Times as the reporter writes them, %.6f of a recent epoch. */
    for (k = 0; k < 100000; k++) {
        char num[64];

        x = x * 1103515245u + 12345u;
        snprintf(num, sizeof(num), "%u.%06u",
                 1600000000u + (x >> 4) % 200000000u, x % 1000000u);
        snprintf(line, sizeof(line), "{\"end\":%s}", num);
        assert_int_equal(jsonl_scan(line, strlen(line), &r), 0);
        if (r.end != strtod(num, NULL)) {
            fail_msg("%s read as %.17g", num, r.end);
        }
    }
}

static void test_decode(void **state)
{
    const char *line =
        "{\"minion\":\"a\\u0062\\/c\",\"error\":\"x\\n\\t\\\"\\\\y "
        "\\u00e9\\u20ac\\ud83d\\ude00\\ud800z\\uZZ\",\"uid\":\"u\\\"\"}";
    struct jsonl_record r;

    assert_int_equal(jsonl_scan(line, strlen(line), &r), 0);
    assert_true(r.minion.escaped);
    str_is(&r.minion, "ab/c");
    str_is(&r.error, "x\n\t\"\\y \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                     "\xef\xbf\xbdz\\uZZ");
    str_is(&r.uid, "u\"");
    assert_true(jsonl_equals(&r.minion, "ab/c"));
    assert_false(jsonl_equals(&r.minion, "ab/"));
    assert_false(jsonl_equals(&r.status, "ok")); /* absent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_absent_and_null),
        cmocka_unit_test(test_every_prefix_is_malformed),
        cmocka_unit_test(test_not_reports),
        cmocka_unit_test(test_numbers_exact),
        cmocka_unit_test(test_decode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
