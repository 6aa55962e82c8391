/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "redis_url.h"

static char err[256];

static struct redis_url ok(const char *text)
{
    struct redis_url u;
    int rc = redis_url_parse(text, &u, err, sizeof(err));

    if (rc != 0) {
        fail_msg("%s: %s", text, err);
    }
    assert_string_equal(err, "");
    return u;
}

/* Parse must fail, leave nothing allocated, and say @why. */
static void bad(const char *text, const char *why)
{
    struct redis_url u;

    assert_true(redis_url_parse(text, &u, err, sizeof(err)) < 0);
    assert_null(u.host);
    assert_null(u.unix_path);
    assert_null(u.user);
    assert_null(u.password);
    if (strstr(err, why) == NULL) {
        fail_msg("%s: got \"%s\", want \"%s\"", text, err, why);
    }
}

static void test_host_defaults(void **state)
{
    struct redis_url u = ok("redis://example.org");

    assert_string_equal(u.host, "example.org");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_null(u.unix_path);
    assert_null(u.user);
    assert_null(u.password);
    redis_url_fini(&u);
    assert_null(u.host);
    redis_url_fini(&u); /* twice is harmless */
    redis_url_fini(NULL);

    u = ok("redis://");
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    redis_url_fini(&u);

    u = ok("REDIS://127.0.0.1:6380/");
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 0);
    redis_url_fini(&u);
}

static void test_port_db(void **state)
{
    struct redis_url u = ok("redis://localhost:6379/15");

    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 15);
    redis_url_fini(&u);

    u = ok("redis://h/3");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 3);
    redis_url_fini(&u);

    u = ok("redis://h:1?db=7");
    assert_int_equal(u.port, 1);
    assert_int_equal(u.db, 7);
    redis_url_fini(&u);

    u = ok("redis://h:65535");
    assert_int_equal(u.port, 65535);
    redis_url_fini(&u);
}

static void test_userinfo(void **state)
{
    struct redis_url u = ok("redis://alice:s3cret@db.local:7000/2");

    assert_string_equal(u.user, "alice");
    assert_string_equal(u.password, "s3cret");
    assert_string_equal(u.host, "db.local");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 2);
    redis_url_fini(&u);

    /* ":password@" alone: password only, no user. */
    u = ok("redis://:pw@h");
    assert_null(u.user);
    assert_string_equal(u.password, "pw");
    assert_string_equal(u.host, "h");
    redis_url_fini(&u);

    /* A lone word is the password, as redis-cli reads it. */
    u = ok("redis://pw@h");
    assert_null(u.user);
    assert_string_equal(u.password, "pw");
    redis_url_fini(&u);

    /* An empty password is no password. */
    u = ok("redis://:@h");
    assert_null(u.user);
    assert_null(u.password);
    redis_url_fini(&u);
}

static void test_percent_decoding(void **state)
{
    struct redis_url u = ok("redis://b%40b:p%3Aa%2Fs%25s%3f@h");

    assert_string_equal(u.user, "b@b");
    assert_string_equal(u.password, "p:a/s%s?");
    redis_url_fini(&u);

    /* The last '@' ends the userinfo: a raw '@' in a password works. */
    u = ok("redis://:p@ss@h:1");
    assert_string_equal(u.password, "p@ss");
    assert_string_equal(u.host, "h");
    assert_int_equal(u.port, 1);
    redis_url_fini(&u);

    u = ok("redis://h?password=a%26b");
    assert_string_equal(u.password, "a&b");
    redis_url_fini(&u);
}

static void test_ipv6(void **state)
{
    struct redis_url u = ok("redis://[::1]:6380/1");

    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 1);
    redis_url_fini(&u);

    u = ok("redis://:pw@[fe80::1%25eth0]");
    assert_string_equal(u.host, "fe80::1%eth0");
    assert_int_equal(u.port, 6379);
    assert_string_equal(u.password, "pw");
    redis_url_fini(&u);
}

static void test_unix(void **state)
{
    struct redis_url u = ok("unix:///run/redis/redis.sock");

    assert_null(u.host);
    assert_int_equal(u.port, 0);
    assert_string_equal(u.unix_path, "/run/redis/redis.sock");
    assert_int_equal(u.db, 0);
    assert_null(u.password);
    redis_url_fini(&u);

    u = ok("unix:///tmp/r.sock?db=4");
    assert_string_equal(u.unix_path, "/tmp/r.sock");
    assert_int_equal(u.db, 4);
    redis_url_fini(&u);

    u = ok("unix://:pass@/tmp/r.sock");
    assert_string_equal(u.unix_path, "/tmp/r.sock");
    assert_string_equal(u.password, "pass");
    assert_null(u.user);
    redis_url_fini(&u);

    u = ok("unix://bob:pass@/tmp/r.sock?db=2");
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.password, "pass");
    assert_int_equal(u.db, 2);
    redis_url_fini(&u);

    u = ok("unix:///tmp/r.sock?password=x%20y&db=1");
    assert_string_equal(u.password, "x y");
    assert_int_equal(u.db, 1);
    redis_url_fini(&u);
}

static void test_errors(void **state)
{
    bad(NULL, "empty Redis URL");
    bad("", "empty Redis URL");
    bad("localhost:6379", "not a Redis URL");
    bad("http://h", "unknown scheme 'http://'");
    bad("rediss://h", "TLS (rediss://) is not supported");
    bad("redis://h:", "missing port");
    bad("redis://h:0", "bad port '0'");
    bad("redis://h:65536", "bad port '65536'");
    bad("redis://h:63x", "bad port '63x'");
    bad("redis://h/x", "bad database number 'x'");
    bad("redis://h/-1", "bad database number '-1'");
    bad("redis://h/1/2", "bad database number '1/2'");
    bad("redis://h/99999999999", "bad database number");
    bad("redis://::1", "IPv6 addresses go in brackets");
    bad("redis://[::1", "missing ']'");
    bad("redis://[]:1", "empty IPv6 address");
    bad("redis://[::1]x", "expected ':port' after ']'");
    bad("redis://h o", "bad character ' ' in host");
    bad("redis://u:@h", "a user needs a password");
    /* A '/' or '?' in a password: an error that echoes none of it. */
    bad("redis://user:hunter2/xyz@127.0.0.1:6379", "must be percent-encoded");
    assert_null(strstr(err, "hunter2"));
    bad("redis://:123?secretword@h", "must be percent-encoded");
    assert_null(strstr(err, "secretword"));
    bad("redis://:p%zz@h", "bad percent-encoding in the password");
    bad("redis://:p%4@h", "bad percent-encoding in the password");
    bad("redis://:p%00x@h", "bad percent-encoding in the password");
    bad("redis://u%g1:p@h", "bad percent-encoding in the user");
    bad("redis://h?foo=1", "unknown URL parameter 'foo'");
    bad("redis://h?db=a", "bad database number 'a'");
    bad("redis://:a@h?password=b", "password given twice");
    bad("unix://", "needs an absolute socket path");
    bad("unix://tmp/r.sock", "needs an absolute socket path");
    bad("unix:///", "empty unix socket path");
    bad("unix:///tmp/r.sock?db=", "bad database number ''");
}

static void test_no_secret_in_errors(void **state)
{
    struct redis_url u;

    assert_true(redis_url_parse("hunter2", &u, err, sizeof(err)) < 0);
    assert_null(strstr(err, "hunter2"));
    assert_true(redis_url_parse("redis://:hunter2@h:x", &u, err, sizeof(err)) <
                0);
    assert_null(strstr(err, "hunter2"));
    /* A tiny buffer is truncated, never overrun; NULL is allowed. */
    assert_true(redis_url_parse("", &u, err, 4) < 0);
    assert_int_equal(strlen(err), 3);
    assert_true(redis_url_parse("", &u, NULL, 0) == -EINVAL);
}

/* The description names the server and never the password. */
static void test_describe(void **state)
{
    static const char *const cases[][2] = {
        {"redis://u:s3cret@db.example:6380/2", "redis://db.example:6380/2"},
        {"redis://[::1]:7000", "redis://[::1]:7000"},
        {"unix:///run/r.sock?db=3&password=s3cret", "unix:///run/r.sock?db=3"},
        {"redis://localhost", "redis://localhost:6379"},
    };
    char buf[128];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct redis_url u = ok(cases[i][0]);
        assert_string_equal(redis_url_describe(&u, buf, sizeof(buf)),
                            cases[i][1]);
        redis_url_fini(&u);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_defaults),
        cmocka_unit_test(test_port_db),
        cmocka_unit_test(test_userinfo),
        cmocka_unit_test(test_percent_decoding),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_unix),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_no_secret_in_errors),
        cmocka_unit_test(test_describe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
