/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "halt.h"

static void parses_counts_and_shares(void **state)
{
    struct halt_policy p;

    assert_int_equal(halt_parse(NULL, &p), 0);
    assert_true(p.count == 0 && p.percent == 0);
    assert_int_equal(halt_parse("0", &p), 0);
    assert_true(p.count == 0 && p.percent == 0);
    assert_int_equal(halt_parse("5", &p), 0);
    assert_true(p.count == 5 && p.percent == 0);
    assert_int_equal(halt_parse("12.5%", &p), 0);
    assert_true(p.count == 0 && p.percent == 12.5);
    assert_int_equal(halt_parse("100%", &p), 0);
    for (const char *const *bad =
             (const char *const[]){"x", "5x", "-1", "+3", "101%", "%", "5%%",
                                   "% 5", "-1%", NULL};
         *bad; bad++) {
        assert_int_equal(halt_parse(*bad, &p), -1);
    }
}

static void a_count_halts_at_n(void **state)
{
    struct halt_policy p;

    halt_parse("3", &p);
    assert_false(halt_reached(&p, 2, 2));
    assert_true(halt_reached(&p, 3, 3));
    assert_true(halt_reached(&p, 3, 1000));
    halt_parse("0", &p);
    assert_false(halt_reached(&p, 1000000, 1000000));
}

/* A share is judged from HALT_MIN_FINISHED finished params on. */
static void a_share_waits_for_enough_params(void **state)
{
    struct halt_policy p;
    char line[160];

    halt_parse("20%", &p);
    assert_false(halt_reached(&p, 9, 9));
    assert_false(halt_reached(&p, 1, 10));
    assert_true(halt_reached(&p, 2, 10));
    assert_false(halt_reached(&p, 199, 1000));
    assert_true(halt_reached(&p, 200, 1000));
    halt_describe(&p, 2, 10, line, sizeof(line));
    assert_string_equal(line, "2 of 10 finished params ended dead, 20.0% "
                              "(MINION_HALT_DEAD=20%)");
    halt_parse("4", &p);
    halt_describe(&p, 4, 9, line, sizeof(line));
    assert_string_equal(line, "4 params ended dead (MINION_HALT_DEAD=4)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_counts_and_shares),
        cmocka_unit_test(a_count_halts_at_n),
        cmocka_unit_test(a_share_waits_for_enough_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
