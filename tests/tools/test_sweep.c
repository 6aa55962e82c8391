/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sweep.h"

static char err[256];

/* Expand @spec and compare with the NULL-terminated @want. */
static void expect(const char *spec, const char *const *want)
{
    struct sweep sw;
    const char *s;
    size_t n = 0, len;

    if (sweep_init(&sw, spec, err, sizeof(err)) != 0) {
        fail_msg("%s: %s", spec, err);
    }
    while ((s = sweep_next(&sw, &len)) != NULL) {
        assert_non_null(want[n]);
        assert_string_equal(s, want[n]);
        assert_int_equal(len, strlen(want[n]));
        n++;
    }
    assert_null(want[n]);
    assert_int_equal(sw.count, n);
    assert_int_equal(sw.done, n);
    assert_null(sweep_next(&sw, NULL)); /* stays at the end */
    sweep_fini(&sw);
}

static void bad(const char *spec, int rc, const char *why)
{
    struct sweep sw;

    assert_int_equal(sweep_init(&sw, spec, err, sizeof(err)), rc);
    assert_null(sw.keys);
    if (strstr(err, why) == NULL) {
        fail_msg("%s: got \"%s\", want \"%s\"", spec, err, why);
    }
}

static void test_order_last_key_fastest(void **state)
{
    static const char *const want[] = {"{\"b\":1,\"a\":\"x\"}",
                                       "{\"b\":1,\"a\":\"y\"}",
                                       "{\"b\":1,\"a\":\"z\"}",
                                       "{\"b\":2,\"a\":\"x\"}",
                                       "{\"b\":2,\"a\":\"y\"}",
                                       "{\"b\":2,\"a\":\"z\"}",
                                       NULL};

    /* Keys stay in the order given, even when not sorted. */
    expect("{\"b\":[1,2],\"a\":[\"x\",\"y\",\"z\"]}", want);
}

static void test_scalars_are_one_value(void **state)
{
    static const char *const want[] = {
        "{\"n\":10,\"mode\":\"fast\",\"s\":1,\"on\":true,\"z\":null}",
        "{\"n\":10,\"mode\":\"fast\",\"s\":2,\"on\":true,\"z\":null}", NULL};

    expect("{\"n\":10,\"mode\":\"fast\",\"s\":[1,2],\"on\":true,"
           "\"z\":null}",
           want);
}

static void test_nesting_kept_whole(void **state)
{
    static const char *const want[] = {"{\"opt\":{\"lr\":0.5},\"dims\":[1,2]}",
                                       "{\"opt\":{\"lr\":0.5},\"dims\":[]}",
                                       "{\"opt\":[\"x\"],\"dims\":[1,2]}",
                                       "{\"opt\":[\"x\"],\"dims\":[]}", NULL};

    /* Arrays and objects inside the value list are single values; an
     * object given directly is one value too. */
    expect("{ \"opt\" : [ {\"lr\": 0.5}, [\"x\"] ],\n"
           "  \"dims\": [[1, 2], []] }",
           want);
}

static void test_escaping(void **state)
{
    static const char *const want[] = {
        "{\"a \\\"q\\\"\":\"l1\\nl2\",\"\xc3\xa9\":\"\\t\"}", NULL};
    struct sweep sw;

    /* cJSON writes non-ASCII as UTF-8, which is valid JSON. */
    expect("{\"a \\\"q\\\"\":[\"l1\\nl2\"],\"\\u00e9\":\"\\t\"}", want);
    /* The output never holds a raw newline: one param per line. */
    assert_int_equal(sweep_init(&sw, "{\"k\":\"a\\nb\"}", err, sizeof(err)), 0);
    assert_null(strchr(sweep_next(&sw, NULL), '\n'));
    sweep_fini(&sw);
}

static void test_empty_array(void **state)
{
    static const char *const want[] = {NULL};
    struct sweep sw;

    expect("{\"a\":[1,2],\"b\":[],\"c\":[]}", want);
    assert_int_equal(
        sweep_init(&sw, "{\"a\":[1,2],\"b\":[],\"c\":[]}", err, sizeof(err)),
        0);
    assert_int_equal(sw.count, 0);
    assert_non_null(sw.empty_key);
    assert_string_equal(sw.empty_key, "b");
    sweep_fini(&sw);
}

static void test_counts(void **state)
{
    struct sweep sw;
    const char *s, *first = NULL;
    size_t n = 0;
    char last[64] = "";

    assert_int_equal(sweep_init(&sw,
                                "{\"a\":[0,1,2,3,4,5,6,7,8,9],"
                                "\"b\":[0,1,2,3,4,5,6,7,8,9],"
                                "\"c\":[0,1,2,3,4,5,6,7,8,9],\"d\":[1,2]}",
                                err, sizeof(err)),
                     0);
    assert_int_equal(sw.count, 2000);
    while ((s = sweep_next(&sw, NULL)) != NULL) {
        if (n++ == 0) {
            assert_string_equal(s, "{\"a\":0,\"b\":0,\"c\":0,\"d\":1}");
            first = s;
        }
        snprintf(last, sizeof(last), "%s", s);
    }
    assert_non_null(first);
    assert_int_equal(n, 2000);
    assert_string_equal(last, "{\"a\":9,\"b\":9,\"c\":9,\"d\":2}");
    sweep_fini(&sw);
}

static void test_errors(void **state)
{
    bad(NULL, -EINVAL, "not JSON");
    bad("", -EINVAL, "not JSON");
    bad("{\"a\":[1,2]", -EINVAL, "not JSON");
    bad("{\"a\":[1]} x", -EINVAL, "not JSON");
    bad("[1,2]", -EINVAL, "expected a JSON object");
    bad("42", -EINVAL, "expected a JSON object");
    bad("{}", -EINVAL, "no keys");
    bad("{\"a\":[1],\"a\":[2]}", -EINVAL, "key \"a\" twice");
}

static void test_too_large(void **state)
{
    char spec[4096];
    size_t off = 0;
    int k, v;

    /* 10^9 combinations: refused before anything is allocated per
     * combination. */
    off += (size_t)snprintf(spec + off, sizeof(spec) - off, "{");
    for (k = 0; k < 9; k++) {
        off += (size_t)snprintf(spec + off, sizeof(spec) - off, "%s\"k%d\":[",
                                k ? "," : "", k);
        for (v = 0; v < 10; v++) {
            off += (size_t)snprintf(spec + off, sizeof(spec) - off, "%s%d",
                                    v ? "," : "", v);
        }
        off += (size_t)snprintf(spec + off, sizeof(spec) - off, "]");
    }
    snprintf(spec + off, sizeof(spec) - off, "}");
    bad(spec, -E2BIG, "more than 100000000 combinations");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_last_key_fastest),
        cmocka_unit_test(test_scalars_are_one_value),
        cmocka_unit_test(test_nesting_kept_whole),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_empty_array),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_too_large),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
