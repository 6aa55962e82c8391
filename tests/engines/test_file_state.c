/* SPDX-License-Identifier: MIT */
/* The file engine's state directory (engines/file/state.c): claims, the
 * cursor, journals, replay, adoption of dead minions, dead letters. Two
 * minions in one process exclude each other because the locks belong to
 * open file descriptions; a minion "dies" when fstate_free runs while it
 * still owns lines (its lock goes, its journal stays). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "state.h"

struct fx {
    char dir[256];
    char input[300];
    char state[300];
    int fd;
};

static const struct lines_shard all = {0, 1};

static void write_file(const char *path, const char *text, int append)
{
    int fd =
        open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* The whole of @path, NUL-terminated; "" when missing. Caller frees. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 1 << 20);
    size_t n = 0;

    assert_non_null(buf);
    if (f) {
        n = fread(buf, 1, (1 << 20) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

static int exists(const char *dir, const char *name)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    snprintf(fx->dir, sizeof(fx->dir), "%s/test_file_state.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(fx->dir)) {
        return -1;
    }
    snprintf(fx->input, sizeof(fx->input), "%s/input", fx->dir);
    snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
    write_file(fx->input, "", 0);
    fx->fd = open(fx->input, O_RDONLY);
    *state = fx;
    return fx->fd < 0 ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    return remove(path);
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    close(fx->fd);
    nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

static struct fstate *mk(struct fx *fx, const char *id)
{
    char err[600];
    struct fstate *st =
        fstate_new(fx->state, id, fx->fd, &all, 3, err, sizeof(err));
    if (!st) {
        fail_msg("fstate_new: %s", err);
    }
    return st;
}

/* Claim under the lock; returns what fstate_claim returns. */
static int claim(struct fstate *st, unsigned max, struct fline **out)
{
    int n;

    assert_int_equal(fstate_lock(st), 0);
    n = fstate_claim(st, max, out);
    fstate_unlock(st);
    return n;
}

static int adopt(struct fstate *st)
{
    int n;

    assert_int_equal(fstate_lock(st), 0);
    n = fstate_adopt(st);
    fstate_unlock(st);
    return n;
}

/* What the report hook saw last, and how often. */
static int n_reported;
static struct {
    uint64_t line;
    unsigned failed;
    char data[64];
    char error[128];
} last_reported;

static void count_dead(void *arg, const struct fline *fl)
{
    n_reported++;
    last_reported.line = fl->line;
    last_reported.failed = fl->failed;
    snprintf(last_reported.data, sizeof(last_reported.data), "%.*s",
             (int)fl->len, fl->data);
    snprintf(last_reported.error, sizeof(last_reported.error), "%s",
             fl->error ? fl->error : "");
}

static void expect_line(const struct fline *fl, uint64_t line, const char *data,
                        unsigned attempt)
{
    assert_non_null(fl);
    assert_int_equal(fl->line, line);
    assert_int_equal(fl->len, strlen(data));
    assert_memory_equal(fl->data, data, fl->len);
    assert_int_equal(fl->attempt, attempt);
}

static void test_claim_and_cursor(void **state)
{
    struct fx *fx = *state;
    struct fline *out[8];
    struct fstate *a, *b;
    char path[600], *cursor;

    write_file(fx->input, "a\nb\n\nc\r\n", 0);
    a = mk(fx, "a");
    assert_int_equal(claim(a, 8, out), 3);
    expect_line(out[0], 1, "a", 1);
    expect_line(out[1], 2, "b", 1);
    expect_line(out[2], 4, "c", 1);
    assert_int_equal(claim(a, 8, out + 3), 0);
    snprintf(path, sizeof(path), "%s/cursor", fx->state);
    cursor = read_file(path);
    assert_string_equal(cursor,
                        "00000000000000000008 00000000000000000005 0\n");
    free(cursor);
    assert_int_equal(fstate_owned(a), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fstate_ack(a, out[i]), 0);
    }
    assert_int_equal(fstate_owned(a), 0);
    fstate_free(a);
    /* All settled: nothing left for anyone to adopt. */
    assert_false(exists(fx->state, "journal/a.journal"));
    assert_false(exists(fx->state, "journal/a.lock"));

    b = mk(fx, "b");
    assert_int_equal(claim(b, 8, out), 0);
    assert_int_equal(adopt(b), 0);
    fstate_free(b);
}

static void test_claim_respects_max(void **state)
{
    struct fx *fx = *state;
    struct fline *out[4];
    struct fstate *a;

    write_file(fx->input, "1\n2\n3\n4\n5\n", 0);
    a = mk(fx, "a");
    assert_int_equal(claim(a, 2, out), 2);
    expect_line(out[0], 1, "1", 1);
    expect_line(out[1], 2, "2", 1);
    assert_int_equal(claim(a, 2, out), 2);
    expect_line(out[0], 3, "3", 1);
    assert_int_equal(claim(a, 2, out), 1);
    expect_line(out[0], 5, "5", 1);
    assert_int_equal(claim(a, 2, out), 0);
    fstate_free(a);
}

static void test_two_minions_split(void **state)
{
    struct fx *fx = *state;
    char *text = malloc(1000 * 8);
    static int seen[1001];
    struct fstate *m[2];
    size_t len = 0;
    int done[2] = {0, 0}, got[2] = {0, 0};

    memset(seen, 0, sizeof(seen));
    for (int i = 1; i <= 1000; i++) {
        len += (size_t)sprintf(text + len, "%d\n", i);
    }
    write_file(fx->input, text, 0);
    free(text);
    m[0] = mk(fx, "one");
    m[1] = mk(fx, "two");
    for (int turn = 0; !(done[0] && done[1]); turn ^= 1) {
        struct fline *out[7];
        int n = claim(m[turn], 7, out);
        assert_true(n >= 0);
        if (n == 0) {
            done[turn] = 1;
        }
        for (int i = 0; i < n; i++) {
            seen[out[i]->line]++;
            assert_int_equal(atoi(out[i]->data), (int)out[i]->line);
            assert_int_equal(fstate_ack(m[turn], out[i]), 0);
            got[turn]++;
        }
    }
    for (int i = 1; i <= 1000; i++) {
        assert_int_equal(seen[i], 1);
    }
    assert_true(got[0] > 0 && got[1] > 0);
    fstate_free(m[0]);
    fstate_free(m[1]);
}

static void test_lock_excludes(void **state)
{
    struct fx *fx = *state;
    struct fstate *a = mk(fx, "a"), *b = mk(fx, "b");

    assert_int_equal(fstate_lock(a), 0);
    assert_int_equal(fstate_lock(b), -EAGAIN);
    fstate_unlock(a);
    assert_int_equal(fstate_lock(b), 0);
    assert_int_equal(fstate_lock(a), -EAGAIN);
    fstate_unlock(b);
    fstate_free(a);
    fstate_free(b);
}

static void test_same_id_in_use(void **state)
{
    struct fx *fx = *state;
    struct fstate *a = mk(fx, "same");
    char err[600];
    struct fstate *b =
        fstate_new(fx->state, "same", fx->fd, &all, 3, err, sizeof(err));

    assert_null(b);
    assert_non_null(strstr(err, "in use"));
    /* The failed start must not remove the live minion's files. */
    assert_true(exists(fx->state, "journal/same.lock"));
    assert_true(exists(fx->state, "journal/same.journal"));
    fstate_free(a);
}

/* A dies with lines in every state; B adopts: done lines stay done, failed
 * ones keep their attempt count and error, dead ones get their letter, and
 * the runs A never finished count as attempts. */
static void test_adopt_dead_minion(void **state)
{
    struct fx *fx = *state;
    struct fline *out[8], *fl;
    struct fstate *a, *b;
    char path[600], *dead;
    int rc, seen[6] = {0};

    write_file(fx->input, "l1\nl2\nl3\nl4\nl5\nl6\n", 0);
    a = mk(fx, "a");
    assert_int_equal(claim(a, 5, out), 5);
    assert_int_equal(fstate_ack(a, out[0]), 0);
    assert_int_equal(fstate_fail(a, out[1], 1, "boom\n100%"), 0);
    assert_int_equal(fstate_dead(a, out[2], 2, "gave up"), 0);
    /* Lines 4 and 5 are in flight when A dies. */
    fstate_free(a);
    assert_true(exists(fx->state, "journal/a.journal"));

    b = mk(fx, "b");
    fstate_on_dead(b, count_dead, NULL);
    n_reported = 0;
    assert_int_equal(adopt(b), 4);
    assert_false(exists(fx->state, "journal/a.journal"));
    assert_false(exists(fx->state, "journal/a.lock"));
    assert_int_equal(fstate_ready(b), 3);
    assert_int_equal(fstate_dead_pending(b), 1);
    while ((fl = fstate_next(b, &rc))) {
        assert_true(fl->line >= 2 && fl->line <= 5 && fl->line != 3);
        seen[fl->line]++;
        if (fl->line == 2) {
            expect_line(fl, 2, "l2", 2);
            assert_string_equal(fl->error, "boom\n100%");
        } else {
            assert_int_equal(fl->attempt, 2);
        }
        assert_int_equal(fstate_ack(b, fl), 0);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(seen[2] + seen[4] + seen[5], 3);
    assert_int_equal(fstate_lock(b), 0);
    assert_int_equal(fstate_flush_dead(b), 0);
    /* A's core dead-lettered line 3 and reported it already. */
    assert_int_equal(n_reported, 0);
    /* Line 6 was never claimed: it is still at the cursor. */
    assert_int_equal(fstate_claim(b, 8, out), 1);
    expect_line(out[0], 6, "l6", 1);
    fstate_unlock(b);
    assert_int_equal(fstate_ack(b, out[0]), 0);
    assert_int_equal(fstate_owned(b), 0);
    fstate_free(b);

    snprintf(path, sizeof(path), "%s/dead.jsonl", fx->state);
    dead = read_file(path);
    assert_non_null(strstr(dead, "{\"line\":3,\"param\":\"l3\",\"error\":"
                                 "\"gave up\",\"attempts\":2,\"minion\":"
                                 "\"b\",\"time\":"));
    assert_int_equal(strchr(dead, '\n') - dead, strlen(dead) - 1);
    free(dead);
}

/* A restart with the same MINION_ID resumes its own journal. */
static void test_restart_same_id(void **state)
{
    struct fx *fx = *state;
    struct fline *out[4], *fl;
    struct fstate *a;
    int rc;

    write_file(fx->input, "x\ny\nz\n", 0);
    a = mk(fx, "w1");
    assert_int_equal(claim(a, 4, out), 3);
    assert_int_equal(fstate_ack(a, out[0]), 0);
    assert_int_equal(fstate_fail(a, out[1], 1, "e"), 0);
    fstate_free(a);

    a = mk(fx, "w1");
    assert_int_equal(fstate_ready(a), 2);
    assert_int_equal(fstate_owned(a), 2);
    /* y failed once; z was running when w1 died: both have one attempt
     * behind them. */
    for (int i = 0; i < 2; i++) {
        fl = fstate_next(a, &rc);
        assert_non_null(fl);
        expect_line(fl, fl->line, fl->line == 2 ? "y" : "z", 2);
        assert_int_equal(fstate_ack(a, fl), 0);
    }
    assert_null(fstate_next(a, &rc));
    assert_int_equal(claim(a, 4, out), 0);
    fstate_free(a);
    assert_false(exists(fx->state, "journal/w1.journal"));
}

static void ghost_journal(struct fx *fx, const char *text)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/journal/ghost.journal", fx->state);
    write_file(path, text, 0);
}

static void set_cursor(struct fx *fx, const char *text)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/cursor", fx->state);
    write_file(path, text, 0);
}

/* Killed between its journal write and its cursor write: the claim at the
 * cursor is not a claim, and the line is claimed once, from the cursor. */
static void test_claim_past_cursor_dropped(void **state)
{
    struct fx *fx = *state;
    struct fline *out[4];
    struct fstate *b;

    write_file(fx->input, "p\nq\n", 0);
    b = mk(fx, "b");
    set_cursor(fx, "00000000000000000002 00000000000000000002 0\n");
    ghost_journal(fx, "C 1 0 1 1\nC 2 2 1 1\n");
    assert_int_equal(adopt(b), 1);
    assert_int_equal(fstate_ready(b), 1);
    assert_int_equal(claim(b, 4, out), 1);
    expect_line(out[0], 2, "q", 1);
    fstate_free(b);
}

/* A torn last record and garbage lines are skipped. */
static void test_torn_journal(void **state)
{
    struct fx *fx = *state;
    struct fline *fl;
    struct fstate *b;
    int rc;

    write_file(fx->input, "p\nq\nr\n", 0);
    b = mk(fx, "b");
    set_cursor(fx, "00000000000000000006 00000000000000000004 0\n");
    ghost_journal(fx, "C 1 0 1 1\nnonsense\nQ 4\nC x\nD\nC 2 2 1 1\nC 3 4");
    assert_int_equal(adopt(b), 2);
    fl = fstate_next(b, &rc);
    assert_non_null(fl);
    assert_true(fl->line == 1 || fl->line == 2);
    fstate_free(b);
}

/* Out of attempts when adopted: dead-lettered without running again. */
static void test_exhausted_at_adoption(void **state)
{
    struct fx *fx = *state;
    struct fstate *b;
    char path[600], *dead;

    write_file(fx->input, "p\n", 0);
    b = mk(fx, "b");
    fstate_on_dead(b, count_dead, NULL);
    n_reported = 0;
    set_cursor(fx, "00000000000000000002 00000000000000000002 0\n");
    ghost_journal(fx, "C 1 0 1 1\nF 1 1 first\nC 1 0 1 2\nF 1 2 "
                      "e1\nF 1 3 last%20error%0Aline\n");
    assert_int_equal(adopt(b), 1);
    assert_int_equal(fstate_ready(b), 0);
    assert_int_equal(fstate_dead_pending(b), 1);
    assert_int_equal(fstate_lock(b), 0);
    assert_int_equal(fstate_flush_dead(b), 0);
    fstate_unlock(b);
    /* No core saw it die: the engine reports it, once its letter is out. */
    assert_int_equal(n_reported, 1);
    assert_int_equal(last_reported.line, 1);
    assert_int_equal(last_reported.failed, 3);
    assert_string_equal(last_reported.data, "p");
    assert_string_equal(last_reported.error, "last error\nline");
    assert_int_equal(fstate_owned(b), 0);
    fstate_free(b);
    snprintf(path, sizeof(path), "%s/dead.jsonl", fx->state);
    dead = read_file(path);
    assert_non_null(strstr(dead, "\"line\":1,\"param\":\"p\",\"error\":"
                                 "\"last error\\nline\",\"attempts\":3"));
    free(dead);
}

/* A writer holds the file: an unterminated last line waits for it (and
 * says so with -EAGAIN); once the writer is gone it still waits, for its
 * newline, and is found by fstate_tail. */
static void test_writer_lock(void **state)
{
    struct fx *fx = *state;
    struct fline *out[4];
    struct fstate *a;
    struct flock lk;
    uint64_t line = 0;
    int wfd;

    write_file(fx->input, "a\nb", 0);
    wfd = open(fx->input, O_RDWR);
    assert_true(wfd >= 0);
    memset(&lk, 0, sizeof(lk));
    lk.l_type = F_WRLCK;
    lk.l_whence = SEEK_SET;
    assert_int_equal(fcntl(wfd, F_OFD_SETLK, &lk), 0);

    a = mk(fx, "a");
    assert_int_equal(claim(a, 4, out), 1);
    expect_line(out[0], 1, "a", 1);
    assert_int_equal(claim(a, 4, out), -EAGAIN);
    lk.l_type = F_UNLCK;
    assert_int_equal(fcntl(wfd, F_OFD_SETLK, &lk), 0);
    assert_int_equal(claim(a, 4, out), 0);
    assert_int_equal(fstate_tail(a, &line), 1);
    assert_int_equal(line, 2);
    /* The writer's next batch starts with the "\n" the file lacked. */
    write_file(fx->input, "\nc\n\nd\n", 1);
    assert_int_equal(claim(a, 4, out), 3);
    expect_line(out[0], 2, "b", 1);
    expect_line(out[1], 3, "c", 1);
    expect_line(out[2], 5, "d", 1);
    assert_int_equal(claim(a, 4, out), 0);
    assert_int_equal(fstate_tail(a, &line), 0);
    close(wfd);
    fstate_free(a);
}

/* A line written in two write(2)s (stdio flushing at 4 KiB does that) is
 * one param, claimed once its newline is there, with its own number; the
 * same across a restart, and for a last line an appender ends later. */
static void test_half_written_line(void **state)
{
    struct fx *fx = *state;
    struct fline *out[4];
    struct fstate *a;
    uint64_t line = 0;

    write_file(fx->input, "a\nhal", 0);
    a = mk(fx, "a");
    assert_int_equal(claim(a, 4, out), 1);
    expect_line(out[0], 1, "a", 1);
    assert_int_equal(fstate_ack(a, out[0]), 0);
    assert_int_equal(claim(a, 4, out), 0);
    assert_int_equal(fstate_tail(a, &line), 3);
    assert_int_equal(line, 2);
    write_file(fx->input, "f\nth", 1);
    assert_int_equal(claim(a, 4, out), 1);
    expect_line(out[0], 2, "half", 1);
    assert_int_equal(fstate_ack(a, out[0]), 0);
    assert_int_equal(claim(a, 4, out), 0);
    assert_int_equal(fstate_tail(a, &line), 2);
    assert_int_equal(line, 3);
    fstate_free(a);

    /* Another minion finds the cursor at the unterminated line. */
    write_file(fx->input, "ree\r\nfour\n", 1);
    a = mk(fx, "b");
    assert_int_equal(claim(a, 4, out), 2);
    expect_line(out[0], 3, "three", 1);
    expect_line(out[1], 4, "four", 1);
    assert_int_equal(fstate_ack(a, out[0]), 0);
    assert_int_equal(fstate_ack(a, out[1]), 0);
    assert_int_equal(claim(a, 4, out), 0);
    assert_int_equal(fstate_tail(a, &line), 0);
    fstate_free(a);
}

/* fstate_tail names only a line this shard would take, and not a blank
 * one. */
static void test_tail_of_shard(void **state)
{
    struct fx *fx = *state;
    struct lines_shard sh = {0, 2};
    struct fline *out[4];
    struct fstate *a;
    uint64_t line;
    char err[600];

    write_file(fx->input, "1\n2", 0);
    a = fstate_new(fx->state, "a", fx->fd, &sh, 3, err, sizeof(err));
    assert_non_null(a);
    assert_int_equal(claim(a, 4, out), 1);
    expect_line(out[0], 1, "1", 1);
    assert_int_equal(claim(a, 4, out), 0);
    assert_int_equal(fstate_tail(a, &line), 0);
    write_file(fx->input, "\n\r", 1);
    assert_int_equal(claim(a, 4, out), 0);
    assert_int_equal(fstate_tail(a, &line), 0);
    write_file(fx->input, "\n4\n5", 1);
    assert_int_equal(claim(a, 4, out), 0);
    assert_int_equal(fstate_tail(a, &line), 1);
    assert_int_equal(line, 5);
    fstate_free(a);
}

/* A cursor from an older minionize that took "b" unterminated (PARTIAL 1):
 * the "\n" the writer then added ends that line, it is not a blank one. */
static void test_partial_cursor_honoured(void **state)
{
    struct fx *fx = *state;
    struct fline *out[4];
    struct fstate *a;

    write_file(fx->input, "a\nb\nc\n", 0);
    a = mk(fx, "a");
    fstate_free(a);
    set_cursor(fx, "00000000000000000003 00000000000000000003 1\n");
    a = mk(fx, "a2");
    assert_int_equal(claim(a, 4, out), 1);
    expect_line(out[0], 3, "c", 1);
    assert_int_equal(fstate_ack(a, out[0]), 0);
    fstate_free(a);
}

static void test_compact(void **state)
{
    struct fx *fx = *state;
    struct fline *out[100], *keep = NULL;
    struct fstate *a;
    char text[400], path[600];
    size_t len = 0;
    struct stat sb;
    int rc;

    for (int i = 1; i <= 100; i++) {
        len += (size_t)sprintf(text + len, "%c\n", 'A' + i % 26);
    }
    write_file(fx->input, text, 0);
    a = mk(fx, "a");
    assert_int_equal(claim(a, 100, out), 100);
    for (int i = 0; i < 100; i++) {
        if (out[i]->line == 42) {
            keep = out[i];
        } else {
            assert_int_equal(fstate_ack(a, out[i]), 0);
        }
    }
    assert_int_equal(fstate_fail(a, keep, 1, "x"), 0);
    assert_int_equal(fstate_compact(a, 1 << 20), 0);
    snprintf(path, sizeof(path), "%s/journal/a.journal", fx->state);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 1000);
    assert_int_equal(fstate_compact(a, 0), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size < 40);
    /* Records after a compaction go to the new journal. */
    assert_non_null(fstate_next(a, &rc));
    assert_int_equal(fstate_fail(a, keep, 2, "y"), 0);
    fstate_free(a);

    a = mk(fx, "a");
    assert_int_equal(fstate_ready(a), 1);
    keep = fstate_next(a, &rc);
    expect_line(keep, 42, "Q", 3);
    assert_string_equal(keep->error, "y");
    fstate_free(a);
}

static void test_cursor_past_end(void **state)
{
    struct fx *fx = *state;
    struct fstate *a;
    char err[600];

    write_file(fx->input, "a\n", 0);
    a = mk(fx, "a");
    fstate_free(a);
    set_cursor(fx, "00000000000000000099 00000000000000000009 0\n");
    assert_null(fstate_new(fx->state, "a", fx->fd, &all, 3, err, sizeof(err)));
    assert_non_null(strstr(err, "another file"));
    set_cursor(fx, "garbage\n");
    assert_null(fstate_new(fx->state, "a", fx->fd, &all, 3, err, sizeof(err)));
    assert_non_null(strstr(err, "corrupt"));
}

static void test_sharded_claims(void **state)
{
    struct fx *fx = *state;
    struct lines_shard sh = {1, 3};
    struct fline *out[16];
    struct fstate *a;
    char err[600];

    write_file(fx->input, "1\n2\n3\n4\n5\n6\n7\n", 0);
    a = fstate_new(fx->state, "a", fx->fd, &sh, 3, err, sizeof(err));
    assert_non_null(a);
    assert_int_equal(claim(a, 16, out), 2);
    expect_line(out[0], 2, "2", 1);
    expect_line(out[1], 5, "5", 1);
    assert_int_equal(claim(a, 16, out), 0);
    fstate_free(a);
}

/* A released run (a stop) is withdrawn: it does not count, in this
 * minion or in whoever adopts the line. */
static void test_release_keeps_attempt(void **state)
{
    struct fx *fx = *state;
    struct fline *out[2], *fl;
    struct fstate *a, *b;
    int rc;

    write_file(fx->input, "a\nb\n", 0);
    a = mk(fx, "a");
    assert_int_equal(claim(a, 2, out), 2);
    assert_int_equal(fstate_release(a, out[1]), 0);
    assert_int_equal(fstate_release(a, out[0]), 0);
    fl = fstate_next(a, &rc);
    expect_line(fl, 1, "a", 1);
    assert_int_equal(fstate_release(a, fl), 0);
    fstate_free(a);

    b = mk(fx, "b");
    assert_int_equal(adopt(b), 2);
    for (int i = 0; i < 2; i++) {
        fl = fstate_next(b, &rc);
        assert_non_null(fl);
        assert_int_equal(fl->attempt, 1);
        assert_int_equal(fstate_ack(b, fl), 0);
    }
    fstate_free(b);
}

/* MINION_RETRY_DELAY: a failure's W record holds the line back until its
 * time, here and in whoever replays or adopts the journal; once due it
 * comes back at the next attempt. */
static void test_retry_wait_survives(void **state)
{
    struct fx *fx = *state;
    struct fline *out[2], *fl;
    struct fstate *a, *b;
    double due;
    int rc;

    write_file(fx->input, "a\nb\n", 0);
    a = mk(fx, "a");
    assert_int_equal(claim(a, 2, out), 2);
    due = (double)time(NULL) + 3600;
    assert_int_equal(fstate_fail_until(a, out[0], 1, "boom", due), 0);
    assert_int_equal(fstate_waiting(a), 1);
    assert_int_equal(fstate_ready(a), 0);
    assert_true(fstate_next_due(a) >= due - 1 && fstate_next_due(a) <= due + 1);
    /* Not due: nothing ready, the other line goes on. */
    assert_null(fstate_next(a, &rc));
    assert_int_equal(rc, 0);
    assert_int_equal(fstate_ack(a, out[1]), 0);
    assert_int_equal(fstate_owned(a), 1);
    fstate_free(a); /* dies still owning the waiting line */

    /* An adopter waits too, until the same time. */
    b = mk(fx, "b");
    assert_int_equal(adopt(b), 1);
    assert_int_equal(fstate_waiting(b), 1);
    assert_null(fstate_next(b, &rc));
    assert_int_equal(rc, 0);
    assert_true(fstate_next_due(b) >= due - 1 && fstate_next_due(b) <= due + 1);
    fstate_free(b);

    /* A wait in the past: due at once, attempt 2. */
    write_file(fx->input, "c\n", 1);
    b = mk(fx, "c");
    assert_int_equal(claim(b, 1, out), 1);
    assert_int_equal(fstate_fail_until(b, out[0], 1, "boom", 1.0), 0);
    fl = fstate_next(b, &rc);
    assert_non_null(fl);
    assert_int_equal(fl->attempt, 2);
    assert_int_equal(fstate_ack(b, fl), 0);
    fstate_free(b);
}

/* A param that kills its minion every time it runs: each run that never
 * finished counts, whether the next minion adopts the journal or the same
 * MINION_ID replays it; after MINION_MAX_ATTEMPTS (3) deliveries the line
 * is dead-lettered with the redis engine's words, reported once, and the
 * line after it was never held up. */
static void test_crash_loop_dead(void **state)
{
    struct fx *fx = *state;
    static const char *ids[] = {"m1", "m2", "m2", "m3"};
    struct fline *out[2], *fl;
    struct fstate *st;
    char path[600], *dead;
    int rc;

    write_file(fx->input, "boom\nnext\n", 0);
    st = mk(fx, ids[0]);
    assert_int_equal(claim(st, 2, out), 2);
    expect_line(out[0], 1, "boom", 1);
    assert_int_equal(fstate_ack(st, out[1]), 0);
    fstate_free(st); /* killed while running "boom", attempt 1 */
    for (unsigned attempt = 2; attempt <= 3; attempt++) {
        st = mk(fx, ids[attempt - 1]);
        adopt(st);
        assert_int_equal(fstate_ready(st), 1);
        fl = fstate_next(st, &rc);
        expect_line(fl, 1, "boom", attempt);
        fstate_free(st); /* killed again */
    }
    st = mk(fx, ids[3]);
    fstate_on_dead(st, count_dead, NULL);
    n_reported = 0;
    adopt(st);
    assert_int_equal(fstate_ready(st), 0);
    assert_int_equal(fstate_dead_pending(st), 1);
    assert_int_equal(fstate_lock(st), 0);
    assert_int_equal(fstate_flush_dead(st), 0);
    fstate_unlock(st);
    assert_int_equal(n_reported, 1);
    assert_int_equal(last_reported.failed, 3);
    assert_string_equal(last_reported.data, "boom");
    assert_string_equal(last_reported.error,
                        "delivered 3 times without finishing");
    assert_int_equal(fstate_owned(st), 0);
    assert_int_equal(claim(st, 2, out), 0);
    fstate_free(st);
    snprintf(path, sizeof(path), "%s/dead.jsonl", fx->state);
    dead = read_file(path);
    assert_non_null(strstr(dead, "{\"line\":1,\"param\":\"boom\",\"error\":"
                                 "\"delivered 3 times without finishing\","
                                 "\"attempts\":3,\"minion\":\"m3\""));
    assert_int_equal(strchr(dead, '\n') - dead, strlen(dead) - 1);
    free(dead);
}

/* A failure, then a run that never ends: both count; with 2 attempts the
 * line is dead when replayed. A compaction keeps the start of a run. */
static void test_crash_after_failure(void **state)
{
    struct fx *fx = *state;
    struct fline *out[2], *fl;
    struct fstate *st;
    char err[600];
    int rc;

    write_file(fx->input, "x\ny\n", 0);
    st = fstate_new(fx->state, "w", fx->fd, &all, 2, err, sizeof(err));
    assert_non_null(st);
    assert_int_equal(claim(st, 2, out), 2);
    assert_int_equal(fstate_fail(st, out[0], 1, "exit 1"), 0);
    fl = fstate_next(st, &rc);
    expect_line(fl, 1, "x", 2);
    assert_int_equal(fstate_ack(st, out[1]), 0);
    /* Down to what is owned: line 1, running its second attempt. */
    assert_int_equal(fstate_compact(st, 0), 0);
    fstate_free(st);

    st = fstate_new(fx->state, "w", fx->fd, &all, 2, err, sizeof(err));
    assert_non_null(st);
    fstate_on_dead(st, count_dead, NULL);
    n_reported = 0;
    assert_int_equal(fstate_ready(st), 0);
    assert_int_equal(fstate_dead_pending(st), 1);
    assert_int_equal(fstate_lock(st), 0);
    assert_int_equal(fstate_flush_dead(st), 0);
    fstate_unlock(st);
    assert_int_equal(n_reported, 1);
    assert_int_equal(last_reported.failed, 2);
    assert_string_equal(last_reported.error,
                        "delivered 2 times without finishing");
    fstate_free(st);

    /* With attempts left, the lost run only moves the count on. */
    write_file(fx->input, "z\n", 1);
    st = mk(fx, "v");
    assert_int_equal(claim(st, 2, out), 1);
    expect_line(out[0], 3, "z", 1);
    fstate_free(st);
    st = mk(fx, "v");
    fl = fstate_next(st, &rc);
    expect_line(fl, 3, "z", 2);
    assert_null(fl->error);
    assert_int_equal(fstate_ack(st, fl), 0);
    fstate_free(st);
}

static void test_encodings(void **state)
{
    const char *raw = "a%b\nc\r\x01 d";
    char enc[64], dec[64], json[128];
    size_t n;

    fstate_pct_encode(enc, raw);
    assert_string_equal(enc, "a%25b%0Ac%0D%01 d");
    fstate_pct_decode(dec, enc, strlen(enc));
    assert_string_equal(dec, raw);
    /* A stray "%" that is not an escape comes through as it is. */
    fstate_pct_decode(dec, "50%", 3);
    assert_string_equal(dec, "50%");
    fstate_pct_decode(dec, "%zz%4", 5);
    assert_string_equal(dec, "%zz%4");

    n = fstate_json_string(json, "q\"\\\n\t\x01\x7f", 7);
    json[n] = '\0';
    assert_string_equal(json, "\"q\\\"\\\\\\n\\t\\u0001\\u007f\"");
    n = fstate_json_string(json, "\xc3\xa9\xff\xe2\x82", 5);
    json[n] = '\0';
    assert_string_equal(json, "\"\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd"
                              "\xef\xbf\xbd\"");
    n = fstate_json_string(json, "a\0b", 3);
    json[n] = '\0';
    assert_string_equal(json, "\"a\\u0000b\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_claim_and_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_respects_max, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_two_minions_split, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lock_excludes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_id_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adopt_dead_minion, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restart_same_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_past_cursor_dropped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_torn_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exhausted_at_adoption, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_writer_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_written_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tail_of_shard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_cursor_honoured, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_compact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_past_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sharded_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_wait_survives, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_release_keeps_attempt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crash_loop_dead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_failure, setup,
                                        teardown),
        cmocka_unit_test(test_encodings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
