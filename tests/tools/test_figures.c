/* SPDX-License-Identifier: MIT */
/* The figures both minion-status sources compute (tools/figures.c):
 * percentiles through the incremental sort, rates, and the charts' steps. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "figures.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void test_percentiles(void **state)
{
    struct figures_values d = {0};
    int i;

    (void)state;
    figures_sort(&d);
    assert_true(figures_percentile(&d, 50) == FLEET_UNKNOWN);
    assert_true(figures_mean(&d) == FLEET_UNKNOWN);
    /* 20, 19, ..., 1: nearest rank gives the 10th and the 19th. */
    for (i = 20; i > 0; i--) {
        assert_int_equal(figures_add(&d, i), 0);
    }
    figures_sort(&d);
    assert_true(figures_percentile(&d, 50) == 10);
    assert_true(figures_percentile(&d, 95) == 19);
    assert_true(figures_percentile(&d, 100) == 20);
    assert_true(figures_percentile(&d, 0) == 1);
    assert_true(figures_mean(&d) == 10.5);
    /* 0 added: 21 values, p95 at rank ceil(19.95) = 20, the value 19. */
    assert_int_equal(figures_add(&d, 0), 0);
    figures_sort(&d);
    assert_true(figures_percentile(&d, 95) == 19);
    assert_true(figures_percentile(&d, 50) == 10);
    figures_values_fini(&d);
    assert_int_equal(d.n, 0);
    assert_null(d.v);
}

/* Batches of every size, sorted as they come, end as one sort of them all
 * would: below the radix sort's threshold and above it, a batch wholly
 * above the rest (no merge), repeated values, big and tiny ones. */
static void test_incremental_sort(void **state)
{
    static const size_t batches[] = {1, 5, 63, 64, 65, 1000, 3, 20000, 7};
    struct figures_values d = {0};
    double *all, sum = 0;
    size_t b, i, n = 0, total = 0;
    unsigned seed = 12345;

    (void)state;
    for (b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
        total += batches[b];
    }
    total += 100;
    all = malloc(total * sizeof(*all));
    assert_non_null(all);
    for (b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
        for (i = 0; i < batches[b]; i++) {
            double v;

            seed = seed * 1103515245u + 12345u;
            v = (double)(seed >> 8) / 1000.0;
            if (i % 7 == 0) {
                v = 1.5; /* the same value many times */
            } else if (i % 11 == 0) {
                v = v * 1e9;
            } else if (i % 13 == 0) {
                v = v * 1e-9;
            }
            all[n++] = v;
            sum += v;
            assert_int_equal(figures_add(&d, v), 0);
        }
        figures_sort(&d);
        assert_int_equal(d.sorted, d.n);
    }
    /* Above everything so far: appended as it is. */
    for (i = 0; i < 100; i++) {
        all[n++] = 1e30 + (double)i * 1e16;
        sum += all[n - 1];
        assert_int_equal(figures_add(&d, all[n - 1]), 0);
    }
    figures_sort(&d);
    qsort(all, n, sizeof(*all), cmp_double);
    assert_int_equal(d.n, n);
    assert_memory_equal(d.v, all, n * sizeof(*all));
    assert_true(d.sum == sum);
    assert_true(figures_percentile(&d, 95) == all[(n * 95 + 99) / 100 - 1]);
    free(all);
    figures_values_fini(&d);
}

/* Whole milliseconds, as Redis results give them: the percentiles in
 * seconds are the values divided by 1000, nothing lost on the way. */
static void test_milliseconds(void **state)
{
    struct figures_values d = {0};
    int i;

    (void)state;
    for (i = 0; i < 1000; i++) {
        assert_int_equal(figures_add(&d, (double)((i * 7919) % 1000) + 1), 0);
    }
    figures_sort(&d);
    assert_true(figures_percentile(&d, 50) / 1000.0 == 0.5);
    assert_true(figures_percentile(&d, 95) / 1000.0 == 0.95);
    assert_true(figures_mean(&d) / 1000.0 == 0.5005);
    figures_values_fini(&d);
}

static void test_rate(void **state)
{
    (void)state;
    assert_true(figures_rate(105, 1000, 1100) == 1.05);
    assert_true(figures_rate(3, 1000, 1000) == FLEET_UNKNOWN);
    assert_true(figures_rate(3, 1000, 999) == FLEET_UNKNOWN);
    assert_true(figures_rate(3, NAN, 1000) == FLEET_UNKNOWN);
    assert_true(figures_rate(0, 0, 0) == FLEET_UNKNOWN);
}

static void test_minute(void **state)
{
    struct figures_minute m;
    int i;

    (void)state;
    memset(&m, 0, sizeof(m));
    assert_true(figures_minute_rate(&m, 1000) == 0);
    /* 2 runs a second from 900 to 999. */
    for (i = 900; i < 1000; i++) {
        figures_minute_add(&m, i);
        figures_minute_add(&m, i);
    }
    /* The minute up to 999.9: seconds 940 to 999, 120 runs. */
    assert_true(figures_minute_rate(&m, 999.9) == 2);
    /* Ten seconds later, ten of them have left it. */
    assert_true(figures_minute_rate(&m, 1009) == 100.0 / 60);
    /* A run older than what its slot holds is out of the minute. */
    figures_minute_add(&m, 999 - FIGURES_RING);
    assert_true(figures_minute_rate(&m, 999) == 2);
    assert_true(figures_minute_rate(&m, 2000) == 0);
}

static void test_chart_step(void **state)
{
    (void)state;
    /* 100 s fits 1 s steps: 101 of them. */
    assert_true(figures_chart_step(1000, 1100) == 1);
    /* 1200 s: 601 steps of 2 s would not fit, 241 of 5 s do. */
    assert_true(figures_chart_step(1000.5, 2200.5) == 5);
    /* Steps start at multiples: 511 s across 512 of them still fits. */
    assert_true(figures_chart_step(0, FLEET_SERIES_MAX - 1) == 1);
    assert_true(figures_chart_step(0.5, FLEET_SERIES_MAX) == 2);
    assert_true(figures_chart_step(0, 86400) == 300);
    /* Past a year a step, it doubles. */
    assert_true(figures_chart_step(0, 31536000.0 * 600) == 31536000.0 * 2);
}

static void test_chart_bin(void **state)
{
    (void)state;
    /* 10 steps of 5 s from 1000 (b0 200). */
    assert_int_equal(figures_chart_bin(1000, 5, 200, 10), 0);
    assert_int_equal(figures_chart_bin(1004.9, 5, 200, 10), 0);
    assert_int_equal(figures_chart_bin(1005, 5, 200, 10), 1);
    assert_int_equal(figures_chart_bin(1049, 5, 200, 10), 9);
    /* Outside: the nearest end. */
    assert_int_equal(figures_chart_bin(990, 5, 200, 10), 0);
    assert_int_equal(figures_chart_bin(2000, 5, 200, 10), 9);
}

static void test_chart_doubles(void **state)
{
    struct figures_chart c;
    struct fleet_series s;
    int i;

    (void)state;
    memset(&c, 0, sizeof(c));
    memset(&s, 0, sizeof(s));
    /* Nothing counted: the series is left alone. */
    figures_chart_series(&c, 5000, &s);
    assert_int_equal(s.n, 0);
    /* A run a second from 1000.5: 1 s steps from 1000. */
    for (i = 0; i < 300; i++) {
        figures_chart_add(&c, 1000.5 + i);
    }
    figures_chart_series(&c, 1299.5, &s);
    assert_true(s.step == 1);
    assert_int_equal(s.n, 300);
    assert_true(s.end == 1300);
    assert_true(s.values[0] == 1 && s.values[299] == 1);
    /* Up to "now" at least: a quiet while shows as such. */
    figures_chart_series(&c, 1309.5, &s);
    assert_int_equal(s.n, 310);
    assert_true(s.values[309] == 0);
    /* Past FLEET_SERIES_MAX seconds, pairs merge: 2 s steps, 1 run/s. */
    figures_chart_add(&c, 1000 + FLEET_SERIES_MAX + 0.5);
    figures_chart_series(&c, 1000 + FLEET_SERIES_MAX + 0.5, &s);
    assert_true(s.step == 2);
    assert_int_equal(s.n, FLEET_SERIES_MAX / 2 + 1);
    assert_true(s.values[0] == 1 && s.values[149] == 1);
    assert_true(s.values[150] == 0);
    assert_true(s.values[FLEET_SERIES_MAX / 2] == 0.5);
    assert_true(s.end == 1000 + 2.0 * (FLEET_SERIES_MAX / 2 + 1));
    /* A "now" far on merges too: the chart always ends at it. */
    figures_chart_series(&c, 1000 + 4.0 * FLEET_SERIES_MAX, &s);
    assert_true(s.step == 8);
    assert_true(s.end > 1000 + 4.0 * FLEET_SERIES_MAX);
    assert_true(s.values[0] == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_incremental_sort),
        cmocka_unit_test(test_milliseconds),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_minute),
        cmocka_unit_test(test_chart_step),
        cmocka_unit_test(test_chart_bin),
        cmocka_unit_test(test_chart_doubles),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
