/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dotenv.h"

struct seen {
    char keys[16][64];
    char values[16][256];
    int n;
};

static int collect(const char *key, const char *value, void *arg)
{
    struct seen *s = arg;

    assert_true(s->n < 16);
    strncpy(s->keys[s->n], key, sizeof(s->keys[0]) - 1);
    strncpy(s->values[s->n], value, sizeof(s->values[0]) - 1);
    s->n++;
    return 0;
}

static struct seen parse_ok(const char *text)
{
    struct seen s;
    char err[128] = "";

    memset(&s, 0, sizeof(s));
    assert_int_equal(
        dotenv_parse(text, strlen(text), collect, &s, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    return s;
}

/* A UTF-8 byte-order mark before the first line is not part of a key. */
static void byte_order_mark(void **state)
{
    struct seen s = parse_ok("\xef\xbb\xbf"
                             "A=1\nB=2\n");

    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[0], "A");
    assert_string_equal(s.values[0], "1");
}

static void plain_pairs_and_comments(void **state)
{
    struct seen s = parse_ok("# a comment\n"
                             "\n"
                             "A=1\n"
                             "  B = two words  \n"
                             "C=value # trailing comment\n"
                             "D=no#comment\n"
                             "E=\n");

    assert_int_equal(s.n, 5);
    assert_string_equal(s.keys[0], "A");
    assert_string_equal(s.values[0], "1");
    assert_string_equal(s.keys[1], "B");
    assert_string_equal(s.values[1], "two words");
    assert_string_equal(s.values[2], "value");
    assert_string_equal(s.values[3], "no#comment");
    assert_string_equal(s.keys[4], "E");
    assert_string_equal(s.values[4], "");
}

static void export_and_quotes(void **state)
{
    struct seen s = parse_ok("export REDIS_URL=redis://h:1/2\n"
                             "S='single # not a comment $HOME \\n'\n"
                             "D=\"tab\\there \\\"q\\\" nl\\n\" # c\n"
                             "M=\"two\nlines\"\n"
                             "W=\"crlf\"\r\n");

    assert_int_equal(s.n, 5);
    assert_string_equal(s.keys[0], "REDIS_URL");
    assert_string_equal(s.values[0], "redis://h:1/2");
    assert_string_equal(s.values[1], "single # not a comment $HOME \\n");
    assert_string_equal(s.values[2], "tab\there \"q\" nl\n");
    assert_string_equal(s.values[3], "two\nlines");
    assert_string_equal(s.values[4], "crlf");
}

static void errors_name_the_line(void **state)
{
    struct seen s;
    char err[128];
    const char *bad[] = {"A=1\nnot an assignment\n", "A=1\n\nB=\"open\n",
                         "A=1\n=novalue\n", "A='x' trailing\n"};
    const char *where[] = {"line 2", "line 3", "line 2", "line 1"};

    for (size_t i = 0; i < 4; i++) {
        memset(&s, 0, sizeof(s));
        err[0] = '\0';
        assert_int_equal(
            dotenv_parse(bad[i], strlen(bad[i]), collect, &s, err, sizeof(err)),
            -1);
        assert_non_null(strstr(err, where[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_pairs_and_comments),
        cmocka_unit_test(byte_order_mark),
        cmocka_unit_test(export_and_quotes),
        cmocka_unit_test(errors_name_the_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
