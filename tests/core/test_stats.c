/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "stats.h"

static void counts_and_buckets(void **state)
{
    struct stats s;
    struct minion_stats out = MINION_STATS_INIT;

    stats_init(&s);
    stats_record(&s, MINION_STATUS_OK, 0.0005);   /* first bucket */
    stats_record(&s, MINION_STATUS_OK, 0.2);      /* (0.1, 0.5] */
    stats_record(&s, MINION_STATUS_FAILED, 7200); /* past the last: +Inf */
    stats_record(&s, MINION_STATUS_DEAD, -1);     /* clock steps: 0 */
    assert_int_equal(s.buckets[0], 2);
    assert_int_equal(s.buckets[5], 1);
    assert_int_equal(s.buckets[STATS_BUCKETS], 1);
    stats_fill(&s, 3, &out);
    assert_int_equal(out.ok, 2);
    assert_int_equal(out.failed, 1);
    assert_int_equal(out.dead, 1);
    assert_int_equal(out.released, 0);
    assert_int_equal(out.in_flight, 3);
    assert_true(out.started > 0);
}

/* A plugin built when the struct was smaller gets no more than its size. */
static void fills_no_more_than_size(void **state)
{
    struct stats s;
    struct minion_stats out;

    stats_init(&s);
    stats_record(&s, MINION_STATUS_OK, 1);
    memset(&out, 0x5a, sizeof(out));
    out.size = offsetof(struct minion_stats, failed);
    stats_fill(&s, 0, &out);
    assert_int_equal(out.ok, 1);
    assert_int_equal(out.size, offsetof(struct minion_stats, failed));
    assert_int_equal(out.failed, 0x5a5a5a5a5a5a5a5aULL); /* untouched */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_and_buckets),
        cmocka_unit_test(fills_no_more_than_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
