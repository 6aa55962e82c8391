/* SPDX-License-Identifier: MIT */
/* The redis engine's pure helpers, on reply trees built by hand in the
 * shapes Redis 7.0 sends (RESP2, as hiredis 0.14 parses them). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "entry.h"

/* ------------------------------------------------------------------------ */
/* Building replies                                                          */

static redisReply *node(int type)
{
    redisReply *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->type = type;
    return r;
}

static redisReply *str_n(const char *s, size_t len)
{
    redisReply *r = node(REDIS_REPLY_STRING);

    r->str = malloc(len + 1);
    assert_non_null(r->str);
    memcpy(r->str, s, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static redisReply *str(const char *s)
{
    return str_n(s, strlen(s));
}

static redisReply *integer(long long v)
{
    redisReply *r = node(REDIS_REPLY_INTEGER);

    r->integer = v;
    return r;
}

static redisReply *nil(void)
{
    return node(REDIS_REPLY_NIL);
}

/* arr(n, a, b, ...): an array of the n replies given. */
static redisReply *arr(size_t n, ...)
{
    redisReply *r = node(REDIS_REPLY_ARRAY);
    va_list ap;

    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof(*r->element));
    assert_non_null(r->element);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        r->element[i] = va_arg(ap, redisReply *);
    }
    va_end(ap);
    return r;
}

static void drop(redisReply *r)
{
    if (!r) {
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        drop(r->element[i]);
    }
    free(r->element);
    free(r->str);
    free(r);
}

/* ------------------------------------------------------------------------ */

static void test_rid_valid(void **state)
{
    assert_true(rid_valid("0-0", 3));
    assert_true(rid_valid("1526919030474-55", 16));
    assert_true(rid_valid("18446744073709551615-18446744073709551615", 41));
    assert_false(rid_valid("", 0));
    assert_false(rid_valid("12", 2));
    assert_false(rid_valid("-1", 2));
    assert_false(rid_valid("1-", 2));
    assert_false(rid_valid("1-2-3", 5));
    assert_false(rid_valid("1-x", 3));
    assert_false(rid_valid("184467440737095516150-1", 23));
    assert_false(rid_valid(NULL, 0));
}

static void test_param_field(void **state)
{
    redisReply *f =
        arr(4, str("other"), str("x"), str("param"), str_n("a\0b", 3));
    const char *data;
    size_t len;
    char *owned;

    assert_int_equal(entry_param(f, &data, &len, &owned), 0);
    assert_null(owned); /* points into the reply: no copy */
    assert_int_equal(len, 3);
    assert_memory_equal(data, "a\0b", 3);
    drop(f);
}

static void test_param_json_of_fields(void **state)
{
    redisReply *f = arr(6, str("x"), str("1"), str("name"), str("a \"q\""),
                        str("x"), str("2"));
    const char *data;
    size_t len;
    char *owned;

    assert_int_equal(entry_param(f, &data, &len, &owned), 0);
    assert_non_null(owned);
    assert_ptr_equal(data, owned);
    /* Values stay strings; a repeated field keeps its last value. */
    assert_string_equal(owned, "{\"x\":\"2\",\"name\":\"a \\\"q\\\"\"}");
    assert_int_equal(len, strlen(owned));
    free(owned);
    drop(f);
}

static void test_param_bad_fields(void **state)
{
    const char *data;
    size_t len;
    char *owned;
    redisReply *odd = arr(1, str("x"));
    redisReply *empty = arr(0);
    redisReply *notstr = arr(2, str("x"), integer(1));

    assert_int_equal(entry_param(odd, &data, &len, &owned), -EINVAL);
    assert_int_equal(entry_param(empty, &data, &len, &owned), -EINVAL);
    assert_int_equal(entry_param(notstr, &data, &len, &owned), -EINVAL);
    assert_int_equal(entry_param(NULL, &data, &len, &owned), -EINVAL);
    drop(odd);
    drop(empty);
    drop(notstr);
}

static void test_read_entries(void **state)
{
    const redisReply *entries;
    const redisReply *fields;
    const char *id;
    redisReply *timeout = nil();
    redisReply *empty = arr(1, arr(2, str("s"), arr(0)));
    redisReply *two =
        arr(1, arr(2, str("s"),
                   arr(2, arr(2, str("1-0"), arr(2, str("param"), str("p"))),
                       arr(2, str("2-0"), nil()))));
    redisReply *bad = arr(1, arr(1, str("s")));

    assert_int_equal(read_entries(timeout, &entries), 0);
    assert_null(entries);
    assert_int_equal(read_entries(empty, &entries), 0);
    assert_null(entries);
    assert_int_equal(read_entries(bad, &entries), -EPROTO);

    assert_int_equal(read_entries(two, &entries), 0);
    assert_non_null(entries);
    assert_int_equal(entries->elements, 2);
    assert_int_equal(entry_split(entries->element[0], &id, &fields), 0);
    assert_string_equal(id, "1-0");
    assert_non_null(fields);
    /* A history read of an entry deleted while pending: nil fields. */
    assert_int_equal(entry_split(entries->element[1], &id, &fields), 0);
    assert_string_equal(id, "2-0");
    assert_null(fields);
    drop(timeout);
    drop(empty);
    drop(two);
    drop(bad);
}

static void test_entry_split_rejects(void **state)
{
    const redisReply *fields;
    const char *id;
    redisReply *badid = arr(2, str("nope"), arr(0));
    redisReply *short_ = arr(1, str("1-0"));
    redisReply *badfields = arr(2, str("1-0"), integer(3));

    assert_int_equal(entry_split(badid, &id, &fields), -EPROTO);
    assert_int_equal(entry_split(short_, &id, &fields), -EPROTO);
    assert_int_equal(entry_split(badfields, &id, &fields), -EPROTO);
    drop(badid);
    drop(short_);
    drop(badfields);
}

static void test_take_rows(void **state)
{
    struct take_row row;
    redisReply *ok = arr(4, str("5-1"), integer(3), integer(2),
                         arr(2, str("param"), str("p")));
    redisReply *other = arr(4, str("5-2"), integer(1), integer(1), str("m9"));
    redisReply *gone = arr(4, str("5-3"), integer(0), integer(0), str(""));
    redisReply *deleted = arr(4, str("5-4"), integer(2), integer(4), str(""));
    redisReply *badstatus = arr(4, str("5-5"), integer(7), integer(1), str(""));
    redisReply *okbad = arr(4, str("5-6"), integer(3), integer(1), str("x"));

    assert_int_equal(take_row_parse(ok, &row), 0);
    assert_string_equal(row.id, "5-1");
    assert_int_equal(row.status, TAKE_OK);
    assert_int_equal(row.count, 2);
    assert_non_null(row.fields);
    assert_int_equal(take_row_parse(other, &row), 0);
    assert_int_equal(row.status, TAKE_OTHER);
    assert_string_equal(row.owner, "m9");
    assert_int_equal(take_row_parse(gone, &row), 0);
    assert_int_equal(row.status, TAKE_GONE);
    assert_int_equal(take_row_parse(deleted, &row), 0);
    assert_int_equal(row.status, TAKE_DELETED);
    assert_int_equal(row.count, 4);
    assert_int_equal(take_row_parse(badstatus, &row), -EPROTO);
    assert_int_equal(take_row_parse(okbad, &row), -EPROTO);
    drop(ok);
    drop(other);
    drop(gone);
    drop(deleted);
    drop(badstatus);
    drop(okbad);
}

/* Rows with their released runs, and one still waiting out its delay. */
static void test_take_rows_released(void **state)
{
    struct take_row row;
    redisReply *ok = arr(5, str("5-1"), integer(TAKE_OK), integer(2),
                         arr(2, str("param"), str("p")), integer(1));
    redisReply *delayed = arr(5, str("5-2"), integer(TAKE_DELAYED), integer(1),
                              integer(750), integer(0));
    redisReply *delayedbad = arr(5, str("5-3"), integer(TAKE_DELAYED),
                                 integer(1), str(""), integer(0));
    redisReply *relbad =
        arr(5, str("5-4"), integer(TAKE_GONE), integer(0), str(""), str("1"));

    assert_int_equal(take_row_parse(ok, &row), 0);
    assert_int_equal(row.status, TAKE_OK);
    assert_int_equal(row.count, 2);
    assert_int_equal(row.released, 1);
    assert_int_equal(take_row_parse(delayed, &row), 0);
    assert_int_equal(row.status, TAKE_DELAYED);
    assert_int_equal(row.wait_ms, 750);
    assert_int_equal(row.released, 0);
    assert_int_equal(take_row_parse(delayedbad, &row), -EPROTO);
    assert_int_equal(take_row_parse(relbad, &row), -EPROTO);
    drop(ok);
    drop(delayed);
    drop(delayedbad);
    drop(relbad);
}

static void test_claim_reply(void **state)
{
    const redisReply *rows;
    const char *cursor;
    /* A claimed entry and one found deleted, delivered twice before. */
    redisReply *r = arr(
        2, str("7-0"),
        arr(2,
            arr(4, str("5-0"), integer(TAKE_OK), integer(2),
                arr(2, str("param"), str("x"))),
            arr(4, str("6-0"), integer(TAKE_DELETED), integer(2), str(""))));
    /* The old three-element shape, deleted ids apart: no more. */
    redisReply *three = arr(3, str("0-0"), arr(0), arr(1, str("3-0")));
    redisReply *badid = arr(2, str("x"), arr(0));
    struct take_row row;

    assert_int_equal(claim_reply_parse(r, &cursor, &rows), 0);
    assert_string_equal(cursor, "7-0");
    assert_int_equal(rows->elements, 2);
    assert_int_equal(take_row_parse(rows->element[1], &row), 0);
    assert_int_equal(row.status, TAKE_DELETED);
    assert_string_equal(row.id, "6-0");
    assert_int_equal(row.count, 2);
    assert_int_equal(claim_reply_parse(three, &cursor, &rows), -EPROTO);
    assert_int_equal(claim_reply_parse(badid, &cursor, &rows), -EPROTO);
    drop(r);
    drop(three);
    drop(badid);
}

/* Walk a RESP command: the @i-th argument (0-based) and its length. */
static const char *resp_arg(const char *cmd, int i, size_t *len)
{
    const char *p = strchr(cmd, '\n') + 1; /* past *N */

    for (;;) {
        size_t n = strtoul(p + 1, NULL, 10); /* $len */
        p = strchr(p, '\n') + 1;
        if (i-- == 0) {
            *len = n;
            return p;
        }
        p += n + 2;
    }
}

/* The @i-th argument of @cmd is exactly @want. */
static void assert_arg(const char *cmd, int i, const char *want)
{
    size_t len;
    const char *arg = resp_arg(cmd, i, &len);

    assert_int_equal(len, strlen(want));
    assert_memory_equal(arg, want, len);
}

static void test_format_result(void **state)
{
    struct result_fields f = {
        .task = "9-0",
        .status = "ok",
        .attempt = 2,
        .minion = "m1",
        .duration_ms = 1500,
        .exit_code = 0,
        .output = "line\n\0tail-not-included",
        .output_len = 6,
        .error = NULL,
    };
    /* Without usage (a function): no resource fields at all. */
    static const char *const want[] = {"XADD", "s:results", "*",  "task",
                                       "9-0",  "status",    "ok", "attempt",
                                       "2",    "minion",    "m1", "duration_ms",
                                       "1500", "exit_code", "0",  "output",
                                       NULL,   "error",     ""};
    const int argc = (int)(sizeof(want) / sizeof(want[0]));
    char head[16];
    char *cmd;
    size_t len;
    const char *arg;
    int n = format_result("s:results", 0, &f, &cmd);

    assert_true(n > 0);
    snprintf(head, sizeof(head), "*%d\r\n", argc);
    assert_memory_equal(cmd, head, strlen(head));
    for (int i = 0; i < argc; i++) {
        arg = resp_arg(cmd, i, &len);
        if (!want[i]) {
            /* Binary-safe, exactly output_len bytes. */
            assert_int_equal(len, 6);
            assert_memory_equal(arg, "line\n\0", 6);
            continue;
        }
        assert_arg(cmd, i, want[i]);
    }
    /* Nothing after the last argument. */
    assert_int_equal(arg + len + 2 - cmd, n);
    redisFreeCommand(cmd);

    /* A capped results stream, a process killed by a signal. */
    f.exit_code = -1;
    f.error = "exit status 3";
    f.output = NULL;
    f.has_usage = 1;
    f.signal = 9;
    f.maxrss_kb = 2048;
    f.user_s = 0.25;
    f.sys_s = 1.5;
    n = format_result("r", 1000, &f, &cmd);
    assert_true(n > 0);
    assert_memory_equal(cmd, "*30\r\n", 5);
    assert_arg(cmd, 2, "MAXLEN");
    assert_arg(cmd, 3, "~");
    assert_arg(cmd, 4, "1000");
    assert_arg(cmd, 17, "-1");
    assert_arg(cmd, 19, "");
    assert_arg(cmd, 21, "exit status 3");
    assert_arg(cmd, 22, "signal");
    assert_arg(cmd, 23, "9");
    assert_arg(cmd, 25, "2048");
    redisFreeCommand(cmd);

    /* It exited: no signal, the rest still there. */
    f.signal = 0;
    n = format_result("r", 0, &f, &cmd);
    assert_true(n > 0);
    assert_arg(cmd, 19, "signal");
    assert_arg(cmd, 20, "");
    assert_arg(cmd, 22, "2048");
    assert_arg(cmd, 24, "0.250000");
    assert_arg(cmd, 26, "1.500000");
    redisFreeCommand(cmd);
}

static void test_format_with_ids(void **state)
{
    char ids[3 * RID_MAX] = {0};
    const char *head[] = {"XACK", "s", "g"};
    char *cmd;
    int n;

    strcpy(ids, "1-0");
    strcpy(ids + RID_MAX, "2-5");
    strcpy(ids + 2 * RID_MAX, "18446744073709551615-18446744073709551615");
    n = format_with_ids(head, 3, ids, 3, &cmd);
    assert_true(n > 0);
    assert_string_equal(cmd, "*6\r\n$4\r\nXACK\r\n$1\r\ns\r\n$1\r\ng\r\n"
                             "$3\r\n1-0\r\n$3\r\n2-5\r\n"
                             "$41\r\n18446744073709551615-"
                             "18446744073709551615\r\n");
    assert_int_equal(n, strlen(cmd));
    redisFreeCommand(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rid_valid),
        cmocka_unit_test(test_param_field),
        cmocka_unit_test(test_param_json_of_fields),
        cmocka_unit_test(test_param_bad_fields),
        cmocka_unit_test(test_read_entries),
        cmocka_unit_test(test_entry_split_rejects),
        cmocka_unit_test(test_take_rows),
        cmocka_unit_test(test_take_rows_released),
        cmocka_unit_test(test_claim_reply),
        cmocka_unit_test(test_format_result),
        cmocka_unit_test(test_format_with_ids),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
