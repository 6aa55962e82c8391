/* SPDX-License-Identifier: MIT */
/* tests/callbacks/test_docker_frames.c: the demultiplexer of the Docker
 * output stream (callbacks/docker/frames.c), fed whole and byte by byte. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "frames.h"

struct seen {
    char out[256], err[256], sys[64];
    size_t nout, nerr, nsys;
};

static int collect(enum frames_stream stream, const char *buf, size_t len,
                   void *arg)
{
    struct seen *s = arg;
    char *dst = stream == FRAMES_STDERR   ? s->err
                : stream == FRAMES_SYSTEM ? s->sys
                                          : s->out;
    size_t *n = stream == FRAMES_STDERR   ? &s->nerr
                : stream == FRAMES_SYSTEM ? &s->nsys
                                          : &s->nout;

    memcpy(dst + *n, buf, len);
    *n += len;
    return 0;
}

/* Append one frame to @buf at @at. Returns the new end. */
static size_t frame(char *buf, size_t at, int stream, const char *payload)
{
    size_t len = strlen(payload);

    buf[at] = (char)stream;
    buf[at + 1] = buf[at + 2] = buf[at + 3] = 0;
    buf[at + 4] = (char)(len >> 24);
    buf[at + 5] = (char)(len >> 16);
    buf[at + 6] = (char)(len >> 8);
    buf[at + 7] = (char)len;
    memcpy(buf + at + 8, payload, len);
    return at + 8 + len;
}

static size_t sample(char *buf)
{
    size_t n = 0;

    n = frame(buf, n, 1, "hello ");
    n = frame(buf, n, 2, "oops\n");
    n = frame(buf, n, 1, "world\n");
    n = frame(buf, n, 1, "");
    n = frame(buf, n, 3, "Error grabbing logs");
    return n;
}

static void check(const struct seen *s)
{
    assert_int_equal(s->nout, 12);
    assert_memory_equal(s->out, "hello world\n", 12);
    assert_int_equal(s->nerr, 5);
    assert_memory_equal(s->err, "oops\n", 5);
    assert_int_equal(s->nsys, 19);
}

static void whole(void **state)
{
    char buf[256];
    size_t n = sample(buf);
    struct frames f;
    struct seen s = {0};

    (void)state;
    frames_init(&f);
    assert_int_equal(frames_feed(&f, buf, n, collect, &s), 0);
    assert_true(frames_complete(&f));
    check(&s);
}

static void byte_by_byte(void **state)
{
    char buf[256];
    size_t n = sample(buf);
    struct frames f;
    struct seen s = {0};

    (void)state;
    frames_init(&f);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(frames_feed(&f, buf + i, 1, collect, &s), 0);
        if (i == 3 || i == 9) {
            assert_false(frames_complete(&f)); /* inside a header, a frame */
        }
    }
    assert_true(frames_complete(&f));
    check(&s);
}

static void not_multiplexed(void **state)
{
    struct frames f;
    struct seen s = {0};

    (void)state;
    frames_init(&f);
    assert_int_equal(frames_feed(&f, "plain text, a tty", 17, collect, &s),
                     -EPROTO);
}

static int stop_at_stderr(enum frames_stream stream, const char *buf,
                          size_t len, void *arg)
{
    (void)buf;
    (void)len;
    (void)arg;
    return stream == FRAMES_STDERR ? -EIO : 0;
}

static void callback_stops(void **state)
{
    char buf[256];
    size_t n = sample(buf);
    struct frames f;

    (void)state;
    frames_init(&f);
    assert_int_equal(frames_feed(&f, buf, n, stop_at_stderr, NULL), -EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole),
        cmocka_unit_test(byte_by_byte),
        cmocka_unit_test(not_multiplexed),
        cmocka_unit_test(callback_stops),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
