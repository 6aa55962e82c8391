/* SPDX-License-Identifier: MIT */
/* tests/lib/test_streams.c: the Redis keys, their defaults and the checks
 * that keep the engine from feeding itself (lib/streams.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "streams.h"

static char err[256];

static void test_defaults(void **state)
{
    struct streams_keys k;
    char *mk;

    (void)state;
    assert_int_equal(
        streams_keys_init(&k, "jobs", NULL, NULL, err, sizeof(err)), 0);
    assert_string_equal(k.stream, "jobs");
    assert_string_equal(k.results, "jobs:results");
    assert_string_equal(k.dead, "jobs:dead");
    assert_string_equal(k.minions, "jobs:minions");
    streams_keys_fini(&k);
    assert_null(k.stream);
    mk = streams_minion_key("jobs", "node1-42");
    assert_string_equal(mk, "jobs:minion:node1-42");
    free(mk);
}

static void test_given_and_off(void **state)
{
    struct streams_keys k;

    (void)state;
    assert_int_equal(
        streams_keys_init(&k, "jobs", "", "graveyard", err, sizeof(err)), 0);
    assert_null(k.results); /* results off */
    assert_string_equal(k.dead, "graveyard");
    streams_keys_fini(&k);
    assert_int_equal(
        streams_keys_init(&k, "jobs", "out", NULL, err, sizeof(err)), 0);
    assert_string_equal(k.results, "out");
    streams_keys_fini(&k);
}

/* Refused, with @why in the one line, and nothing left to free. */
static void bad(const char *stream, const char *results, const char *dead,
                const char *why)
{
    struct streams_keys k;

    assert_int_equal(
        streams_keys_init(&k, stream, results, dead, err, sizeof(err)),
        -EINVAL);
    assert_null(k.stream);
    assert_null(k.results);
    assert_null(k.dead);
    assert_null(k.minions);
    if (!strstr(err, why)) {
        fail_msg("got \"%s\", want \"%s\"", err, why);
    }
}

static void test_refused(void **state)
{
    (void)state;
    bad("", NULL, NULL, "REDIS_STREAM must not be empty");
    bad("jobs", NULL, "", "REDIS_DEAD must not be empty");
    bad("jobs", "jobs", NULL, "REDIS_RESULTS must not be the params stream");
    bad("jobs", NULL, "jobs", "REDIS_DEAD must not be the params stream");
    bad("jobs", "x", "x", "REDIS_RESULTS and REDIS_DEAD must differ");
    bad("jobs", "jobs:dead", NULL, "REDIS_RESULTS and REDIS_DEAD must differ");
    bad("jobs", NULL, "jobs:results",
        "REDIS_RESULTS and REDIS_DEAD must differ");
    bad("jobs", NULL, "jobs:minions", "REDIS_DEAD must not be jobs:minions");
    bad("jobs", "jobs:minions", NULL, "REDIS_RESULTS must not be jobs:minions");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_given_and_off),
        cmocka_unit_test(test_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
