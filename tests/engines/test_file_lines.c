/* SPDX-License-Identifier: MIT */
/* The file engine's line splitter and shard filter (engines/file/lines.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lines.h"

static const struct lines_shard all = {0, 1};

/* Append @s to the window, growing it as needed. */
static void feed(struct lines *l, const char *s, size_t len)
{
    while (len > 0) {
        size_t room, n;
        char *p = lines_space(l, &room);
        assert_non_null(p);
        assert_true(room > 0);
        n = len < room ? len : room;
        memcpy(p, s, n);
        lines_added(l, n);
        s += n;
        len -= n;
    }
}

static void feeds(struct lines *l, const char *s)
{
    feed(l, s, strlen(s));
}

/* Expect the next param to be @want on physical line @line. */
static void expect(struct lines *l, const struct lines_shard *sh, int at_eof,
                   const char *want, uint64_t line)
{
    struct lines_param p;

    assert_int_equal(lines_next(l, sh, at_eof, &p), 1);
    assert_int_equal(p.len, strlen(want));
    assert_memory_equal(p.data, want, p.len);
    assert_int_equal(p.line, line);
}

static void test_shard_parse(void **state)
{
    struct lines_shard sh;
    static const char *bad[] = {
        "0/3",  "4/3",  "x",    "1/",   "/3",
        "1/0",  "-1/3", " 1/3", "1/3x", "1:3",
        "1/-3", "1//3", "1/ 3", "3",    "99999999999999999999/1"};

    assert_int_equal(lines_shard_parse(NULL, &sh), 0);
    assert_int_equal(sh.index, 0);
    assert_int_equal(sh.count, 1);
    assert_int_equal(lines_shard_parse("", &sh), 0);
    assert_int_equal(sh.count, 1);
    assert_int_equal(lines_shard_parse("1/3", &sh), 0);
    assert_int_equal(sh.index, 0);
    assert_int_equal(sh.count, 3);
    assert_int_equal(lines_shard_parse("3/3", &sh), 0);
    assert_int_equal(sh.index, 2);
    assert_int_equal(lines_shard_parse("1/1", &sh), 0);
    assert_int_equal(sh.count, 1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(lines_shard_parse(bad[i], &sh), -EINVAL);
    }
}

static void test_split(void **state)
{
    struct lines l;
    struct lines_param p;

    assert_int_equal(lines_init(&l, 64), 0);
    feeds(&l, "a\n\nb\r\n\r\nc");
    expect(&l, &all, 0, "a", 1);
    expect(&l, &all, 0, "b", 3);
    /* "c" has no newline yet: not a line until EOF. */
    assert_int_equal(lines_next(&l, &all, 0, &p), 0);
    expect(&l, &all, 1, "c", 5);
    assert_int_equal(lines_next(&l, &all, 1, &p), 0);
    lines_fini(&l);
}

static void test_inner_cr_kept(void **state)
{
    struct lines l;

    assert_int_equal(lines_init(&l, 64), 0);
    feeds(&l, "a\rb\r\r\n x \n");
    expect(&l, &all, 0, "a\rb\r", 1);
    expect(&l, &all, 0, " x ", 2);
    lines_fini(&l);
}

static void test_offsets(void **state)
{
    struct lines l;
    struct lines_param p;

    assert_int_equal(lines_init(&l, 64), 0);
    feeds(&l, "one\n\ntwo\r\nthree\n");
    assert_int_equal(lines_next(&l, &all, 0, &p), 1);
    assert_int_equal(p.offset, 0);
    assert_int_equal(lines_next(&l, &all, 0, &p), 1);
    assert_int_equal(p.offset, 5);
    assert_int_equal(p.len, 3);
    assert_int_equal(lines_next(&l, &all, 0, &p), 1);
    assert_int_equal(p.offset, 10);
    assert_int_equal(l.offset, 16);
    assert_int_equal(l.next, 5);
    lines_fini(&l);
}

static void test_shards_cover_once(void **state)
{
    char text[4096];
    size_t len = 0;
    int seen[301] = {0};

    /* Lines 1..300, with every 7th one blank. */
    for (int i = 1; i <= 300; i++) {
        len += (size_t)(i % 7 == 0 ? sprintf(text + len, "\n")
                                   : sprintf(text + len, "%d\n", i));
    }
    for (uint64_t k = 1; k <= 3; k++) {
        struct lines_shard sh = {k - 1, 3};
        struct lines l;
        struct lines_param p;

        assert_int_equal(lines_init(&l, 16), 0);
        feed(&l, text, len);
        while (lines_next(&l, &sh, 1, &p)) {
            char want[16];
            assert_int_equal((p.line - 1) % 3, k - 1);
            snprintf(want, sizeof(want), "%d", (int)p.line);
            assert_int_equal(p.len, strlen(want));
            assert_memory_equal(p.data, want, p.len);
            seen[p.line]++;
        }
        lines_fini(&l);
    }
    for (int i = 1; i <= 300; i++) {
        assert_int_equal(seen[i], i % 7 == 0 ? 0 : 1);
    }
}

/* Byte by byte or all at once, the same lines come out. */
static void test_chunked_reads(void **state)
{
    const char *text = "alpha\nbeta\r\n\n\ngamma\ndelta";
    static const char *want[] = {"alpha", "beta", "gamma", "delta"};
    static const uint64_t nums[] = {1, 2, 5, 6};
    struct lines l;
    struct lines_param p;
    size_t got = 0;

    assert_int_equal(lines_init(&l, 4), 0);
    for (size_t i = 0; text[i]; i++) {
        feed(&l, text + i, 1);
        while (lines_next(&l, &all, 0, &p)) {
            assert_true(got < 3);
            assert_int_equal(p.line, nums[got]);
            assert_memory_equal(p.data, want[got], p.len);
            got++;
        }
    }
    assert_int_equal(got, 3);
    expect(&l, &all, 1, "delta", 6);
    lines_fini(&l);
}

static void test_long_line_grows(void **state)
{
    struct lines l;
    char *big = malloc(100001);

    assert_non_null(big);
    memset(big, 'x', 100000);
    big[100000] = '\0';
    assert_int_equal(lines_init(&l, 8), 0);
    feeds(&l, big);
    feeds(&l, "\nshort\n");
    expect(&l, &all, 0, big, 1);
    expect(&l, &all, 0, "short", 2);
    lines_fini(&l);
    free(big);
}

/* A last line taken unterminated at EOF: the "\n" a writer adds before
 * its next batch ends that line, and is not a blank line of its own. */
static void test_unterminated_then_appended(void **state)
{
    struct lines l;
    struct lines_param p;

    assert_int_equal(lines_init(&l, 64), 0);
    feeds(&l, "a\nb");
    expect(&l, &all, 0, "a", 1);
    expect(&l, &all, 1, "b", 2);
    assert_int_equal(l.skip_nl, 1);
    feeds(&l, "\nc\n");
    expect(&l, &all, 0, "c", 3);
    assert_int_equal(lines_next(&l, &all, 0, &p), 0);
    /* A writer that did not add the "\n": the next byte starts a line. */
    feeds(&l, "d");
    expect(&l, &all, 1, "d", 4);
    feeds(&l, "e\n");
    expect(&l, &all, 0, "e", 5);
    lines_fini(&l);
}

/* What is left once every whole line is taken: the unterminated last line,
 * when it is this shard's and not blank. */
static void test_tail(void **state)
{
    struct lines_shard odd = {0, 2}, even = {1, 2};
    struct lines l;
    struct lines_param p;

    assert_int_equal(lines_init(&l, 64), 0);
    assert_int_equal(lines_tail(&l, &all, &p), 0);
    feeds(&l, "a\nhal");
    expect(&l, &all, 0, "a", 1);
    assert_int_equal(lines_next(&l, &all, 0, &p), 0);
    assert_int_equal(lines_tail(&l, &all, &p), 1);
    assert_int_equal(p.line, 2);
    assert_int_equal(p.offset, 2);
    assert_int_equal(p.len, 3);
    assert_memory_equal(p.data, "hal", 3);
    /* Nothing was consumed: the rest of the line completes it. */
    feeds(&l, "f\r");
    assert_int_equal(lines_next(&l, &all, 0, &p), 0);
    assert_int_equal(lines_tail(&l, &all, &p), 1);
    assert_int_equal(p.len, 4);
    feeds(&l, "\n\r");
    expect(&l, &all, 0, "half", 2);
    assert_int_equal(lines_next(&l, &all, 0, &p), 0);
    assert_int_equal(lines_tail(&l, &all, &p), 0); /* blank so far */
    lines_fini(&l);

    assert_int_equal(lines_init(&l, 64), 0);
    feeds(&l, "1\n2");
    expect(&l, &odd, 0, "1", 1);
    assert_int_equal(lines_next(&l, &odd, 0, &p), 0);
    assert_int_equal(lines_tail(&l, &odd, &p), 0);
    assert_int_equal(lines_tail(&l, &even, &p), 1);
    assert_int_equal(p.line, 2);
    lines_fini(&l);
}

static void test_seek(void **state)
{
    struct lines_shard sh = {1, 2};
    struct lines l;

    assert_int_equal(lines_init(&l, 64), 0);
    feeds(&l, "1\n2\n3\n4\n5\n");
    /* Forward inside the window: bytes kept, numbering from the cursor. */
    assert_int_equal(lines_seek(&l, &sh, 4, 3, 0), 1);
    expect(&l, &sh, 0, "4", 4);
    /* Backward: the window cannot, so it empties at the new place. */
    assert_int_equal(lines_seek(&l, &sh, 0, 1, 0), 0);
    assert_int_equal(l.end - l.pos, 0);
    assert_int_equal(l.offset, 0);
    feeds(&l, "1\n2\n");
    expect(&l, &sh, 0, "2", 2);
    lines_fini(&l);
}

/* The params left, counted by lines_next()'s own rules (blank lines, other
 * shards, a skipped "\n", the last line at EOF only), consuming none. */
static void test_count(void **state)
{
    struct lines_shard even = {1, 2};
    struct lines l, before;

    assert_int_equal(lines_init(&l, 64), 0);
    assert_int_equal(lines_count(&l, &all, 1), 0);
    feeds(&l, "a\n\nb\r\n\r\nc\nd");
    expect(&l, &all, 0, "a", 1);
    before = l;
    assert_int_equal(lines_count(&l, &all, 0), 2); /* b c */
    assert_int_equal(lines_count(&l, &all, 1), 3); /* and d at EOF */
    assert_memory_equal(&l, &before, sizeof(l));
    expect(&l, &all, 0, "b", 3);
    expect(&l, &all, 0, "c", 5);
    expect(&l, &all, 1, "d", 6);
    /* d taken at EOF: a "\n" after it ends it, and is no line. */
    feeds(&l, "\ne\n");
    assert_int_equal(lines_count(&l, &all, 1), 1);
    lines_fini(&l);

    /* A shard's window: line 4 is blank, 6 waits for EOF. */
    assert_int_equal(lines_init(&l, 64), 0);
    feeds(&l, "1\n2\n3\n\n5\n6");
    assert_int_equal(lines_count(&l, &even, 0), 1);
    assert_int_equal(lines_count(&l, &even, 1), 2);
    expect(&l, &even, 0, "2", 2);
    assert_int_equal(lines_count(&l, &even, 1), 1);
    lines_fini(&l);
}

static void test_u64(void **state)
{
    char buf[24];

    assert_int_equal(lines_u64(buf, 0), 1);
    assert_string_equal(buf, "0");
    assert_int_equal(lines_u64(buf, 7), 1);
    assert_string_equal(buf, "7");
    assert_int_equal(lines_u64(buf, 1234567890), 10);
    assert_string_equal(buf, "1234567890");
    assert_int_equal(lines_u64(buf, UINT64_MAX), 20);
    assert_string_equal(buf, "18446744073709551615");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_parse),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_inner_cr_kept),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_shards_cover_once),
        cmocka_unit_test(test_chunked_reads),
        cmocka_unit_test(test_long_line_grows),
        cmocka_unit_test(test_unterminated_then_appended),
        cmocka_unit_test(test_tail),
        cmocka_unit_test(test_seek),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_u64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
