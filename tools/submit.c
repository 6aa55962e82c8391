/* SPDX-License-Identifier: MIT */
/* minion-submit: put params into an engine (a file, a Redis stream, or a
 * Pulsar topic: submit_pulsar.c), and with --wait gather their results in
 * submission order, like a parallel map. A CLI may block, so this uses
 * plain blocking I/O and hiredis' sync API: there is no loop to keep
 * responsive. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <hiredis.h>
#include <minionize/plugin.h>

#include "decoder.h"
#include "settings.h"
#include "redis_sync.h"
#include "redis_url.h"
#include "streams.h"
#include "submit.h"
#include "sweep.h"
#include "tools.h"

#define FILE_BATCH_BYTES (64 * 1024) /* one write(2) per batch */
#define REDIS_BATCH 1000             /* XADDs per pipelined round trip */
#define CONNECT_TIMEOUT_S 5
#define COMMAND_TIMEOUT_S 30
#define BLOCK_MS 1000 /* XREAD BLOCK: how often --timeout is checked */
/* --wait's progress line is redrawn at most this often (seconds). */
#define PROGRESS_EVERY_S 0.25

struct opts {
    int json, wait, quiet;
    double timeout; /* seconds; 0: wait forever */
    const char *sweep;
    const char *env_file;
};

/* One submitted param, as --wait tracks it. */
struct pending {
    uint64_t ms, seq; /* its entry id */
    int final;        /* an ok or dead result arrived */
    int dead;         /* that result was dead */
    char *output;     /* the final result's output */
    size_t output_len;
    char *error; /* the last error seen */
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROGRAM " [OPTIONS] [--] [PARAM...]\n"
            "Put params into a minionize engine: the PARAM arguments, or one "
            "param per\n"
            "line of standard input when there are none (blank lines "
            "skipped).\n"
            "\n"
            "  -e, --engine NAME     file, redis or pulsar (MINION_ENGINE; "
            "default file)\n"
            "  -f, --file PATH       file engine: append to PATH "
            "(MINION_FILE)\n"
            "      --redis-url URL   redis engine: server (REDIS_URL;\n"
            "                        default redis://localhost:6379)\n"
            "      --stream NAME     redis engine: stream (REDIS_STREAM; "
            "default minionize)\n"
            "      --pulsar-url URL  pulsar engine: broker's HTTP service "
            "(PULSAR_URL;\n"
            "                        default http://localhost:8080; "
            "PULSAR_TOKEN: bearer)\n"
            "      --topic NAME      pulsar engine: topic (PULSAR_TOPIC)\n"
            "      --json            every param must be JSON; a bad one "
            "submits nothing\n"
            "      --sweep JSON      submit the cartesian product of an "
            "object's arrays:\n"
            "                        '{\"x\":[1,2],\"y\":[\"a\",\"b\"]}' "
            "gives 4 params\n"
            "      --wait            redis: print each result's output in "
            "submission order;\n"
            "                        exit 1 if any param ended dead. On a "
            "terminal, stderr\n"
            "                        shows how many results are back and "
            "since when\n"
            "      --timeout SECONDS with --wait: give up after this long "
            "(exit 1); without\n"
            "                        it --wait waits for every result, "
            "however long, even\n"
            "                        when no minion runs\n"
            "      --env-file PATH   read settings from PATH instead of "
            "./.env\n"
            "  -q, --quiet           do not print the number submitted\n"
            "  -h, --help            show this help\n"
            "  -V, --version         show the version\n"
            "\n"
            "Settings: flag > environment > .env. --wait reads REDIS_RESULTS "
            "(default\n"
            "<stream>:results) as results come. With REDIS_RESULTS_MAXLEN=N "
            "the minions\n"
            "keep about N results: a --wait that falls N results behind "
            "misses some,\n"
            "says so, and then waits for ids that may never come (use "
            "--timeout).\n"
            "Exit status: 0 done, 1 failed (or a param "
            "dead, or timed\n"
            "out with --wait), 2 usage or configuration error (nothing "
            "submitted).\n");
}

/* ---- params ---------------------------------------------------------- */

static int params_add(struct params *ps, const char *data, size_t len,
                      size_t where)
{
    struct param *p;

    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 256;

        p = realloc(ps->v, cap * sizeof(*p));
        if (p == NULL) {
            return -ENOMEM;
        }
        ps->v = p;
        ps->cap = cap;
    }
    p = &ps->v[ps->n];
    p->data = malloc(len + 1);
    if (p->data == NULL) {
        return -ENOMEM;
    }
    memcpy(p->data, data, len);
    p->data[len] = '\0';
    p->len = len;
    p->where = where;
    ps->n++;
    return 0;
}

static void params_fini(struct params *ps)
{
    size_t i;

    for (i = 0; i < ps->n; i++) {
        free(ps->v[i].data);
    }
    free(ps->v);
    memset(ps, 0, sizeof(*ps));
}

static const char *where_word(const struct params *ps)
{
    return ps->from_args ? "argument" : "line";
}

static int is_blank(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t') {
            return 0;
        }
    }
    return 1;
}

static int read_stdin(struct params *ps)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int rc = 0;

    while ((n = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)n;

        lineno++;
        if (len > 0 && line[len - 1] == '\n') {
            len--;
        }
        if (len > 0 && line[len - 1] == '\r') {
            len--;
        }
        if (is_blank(line, len)) {
            continue;
        }
        rc = params_add(ps, line, len, lineno);
        if (rc < 0) {
            break;
        }
    }
    if (rc == 0 && ferror(stdin)) {
        tools_error("reading standard input: %s", strerror(errno));
        rc = -EIO;
    } else if (rc < 0) {
        tools_error("out of memory");
    }
    free(line);
    return rc;
}

static int read_sweep(struct params *ps, const char *spec)
{
    struct sweep sw;
    const char *s;
    char err[256];
    size_t len;
    int rc;

    rc = sweep_init(&sw, spec, err, sizeof(err));
    if (rc < 0) {
        tools_error("%s", err);
        return rc == -ENOMEM ? rc : -EINVAL;
    }
    if (sw.empty_key != NULL) {
        tools_warn("--sweep: \"%s\" has no values: nothing to submit",
                   sw.empty_key);
    }
    while ((s = sweep_next(&sw, &len)) != NULL) {
        rc = params_add(ps, s, len, ps->n + 1);
        if (rc < 0) {
            break;
        }
    }
    if (sw.done < sw.count) {
        rc = -ENOMEM;
    }
    if (rc < 0) {
        tools_error("out of memory");
    }
    sweep_fini(&sw);
    return rc;
}

/* All or nothing: validate every param before anything is written. */
static int check_json(const struct params *ps)
{
    size_t i;

    for (i = 0; i < ps->n; i++) {
        const struct param *p = &ps->v[i];
        char why[128];

        /* The minion's own check (MINION_DECODER=json): what it would
         * refuse is refused here, with the same reason. */
        if (decoder_check(MINION_DECODER_JSON, p->data, p->len, why,
                          sizeof(why)) < 0) {
            tools_error("%s %zu: %s: %.60s%s", where_word(ps), p->where, why,
                        p->data, p->len > 60 ? "..." : "");
            return -EINVAL;
        }
    }
    return 0;
}

/* ---- file engine ----------------------------------------------------- */

static int write_all(int fd, const char *buf, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The protocol agreed with the file engine's readers: whole lines only,
 * appended under a write lock on the whole file, so a reader that takes a
 * read lock never sees half a batch. */
static int submit_file(const struct params *ps, const char *path, int quiet)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    char *buf = NULL;
    size_t len = 0, cap = 0, i, done = 0;
    struct stat st;
    int fd, rc = 0;
    char last;

    for (i = 0; i < ps->n; i++) {
        if (memchr(ps->v[i].data, '\n', ps->v[i].len) != NULL) {
            tools_error("%s %zu: a param holds a newline, which the file "
                        "engine would read as two params",
                        where_word(ps), ps->v[i].where);
            return 2;
        }
        if (is_blank(ps->v[i].data, ps->v[i].len)) {
            tools_error("%s %zu: a blank param, which the file engine would "
                        "skip",
                        where_word(ps), ps->v[i].where);
            return 2;
        }
    }
    if (ps->n == 0) {
        if (!quiet) {
            fprintf(stderr, PROGRAM ": submitted 0 params to %s\n", path);
        }
        return 0;
    }
    fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        tools_error("cannot open %s: %s", path, strerror(errno));
        return 2;
    }
    while (fcntl(fd, F_SETLKW, &fl) < 0) {
        if (errno != EINTR) {
            tools_error("cannot lock %s: %s", path, strerror(errno));
            close(fd);
            return 2;
        }
    }
    if (fstat(fd, &st) < 0) {
        tools_error("%s: %s", path, strerror(errno));
        close(fd);
        return 1;
    }
    /* A last line without its newline would be glued to our first one. */
    if (st.st_size > 0 &&
        (pread(fd, &last, 1, st.st_size - 1) != 1 || last != '\n')) {
        cap = FILE_BATCH_BYTES;
        buf = malloc(cap);
        if (buf == NULL) {
            goto nomem;
        }
        buf[len++] = '\n';
    }
    for (i = 0; i < ps->n; i++) {
        const struct param *p = &ps->v[i];

        if (len > 0 && len + p->len + 1 > FILE_BATCH_BYTES) {
            rc = write_all(fd, buf, len);
            if (rc < 0) {
                goto io;
            }
            done = i;
            len = 0;
        }
        if (len + p->len + 1 > cap) {
            size_t ncap =
                p->len + 1 > FILE_BATCH_BYTES ? p->len + 1 : FILE_BATCH_BYTES;
            char *nb = realloc(buf, len + ncap);

            if (nb == NULL) {
                goto nomem;
            }
            buf = nb;
            cap = len + ncap;
        }
        memcpy(buf + len, p->data, p->len);
        len += p->len;
        buf[len++] = '\n';
    }
    rc = write_all(fd, buf, len);
    if (rc < 0) {
        goto io;
    }
    free(buf);
    if (close(fd) < 0) {
        tools_error("%s: %s", path, strerror(errno));
        return 1;
    }
    if (!quiet) {
        fprintf(stderr, PROGRAM ": submitted %zu param%s to %s\n", ps->n,
                ps->n == 1 ? "" : "s", path);
    }
    return 0;
io:
    tools_error("writing %s: %s (%zu of %zu params were written before)", path,
                strerror(-rc), done, ps->n);
    free(buf);
    close(fd);
    return 1;
nomem:
    tools_error("out of memory");
    free(buf);
    close(fd);
    return 1;
}

/* ---- redis engine ---------------------------------------------------- */

static redisContext *redis_open(const char *url_text)
{
    struct redis_url u;
    redisContext *c;
    char err[1024];

    if (redis_url_parse(url_text, &u, err, sizeof(err)) < 0) {
        tools_error("REDIS_URL: %s", err);
        return NULL;
    }
    c = redis_sync_connect(&u, CONNECT_TIMEOUT_S, COMMAND_TIMEOUT_S, err,
                           sizeof(err));
    if (!c) {
        tools_error("redis: %s", err);
    }
    redis_url_fini(&u);
    return c;
}

static int parse_id(const char *s, uint64_t *ms, uint64_t *seq)
{
    char *end;

    errno = 0;
    *ms = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '-') {
        return -EINVAL;
    }
    s = end + 1;
    *seq = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return -EINVAL;
    }
    return 0;
}

/* Send every param as XADD STREAM * param BYTES, REDIS_BATCH per round
 * trip, and record each entry id in submission order. */
static int xadd_all(redisContext *c, const char *stream,
                    const struct params *ps, struct pending *out)
{
    const char *argv[5] = {"XADD", stream, "*", STREAMS_FIELD_PARAM, NULL};
    size_t lens[5] = {4, strlen(stream), 1, sizeof(STREAMS_FIELD_PARAM) - 1, 0};
    size_t i, j, end, added = 0;
    char first_error[512] = "";
    redisReply *r;
    void *rp;

    for (i = 0; i < ps->n; i = end) {
        end = i + REDIS_BATCH < ps->n ? i + REDIS_BATCH : ps->n;
        for (j = i; j < end; j++) {
            argv[4] = ps->v[j].data;
            lens[4] = ps->v[j].len;
            if (redisAppendCommandArgv(c, 5, argv, lens) != REDIS_OK) {
                tools_error("redis: XADD: %s", c->errstr);
                return -EIO;
            }
        }
        /* Read the whole batch even after an error reply: the connection
         * must stay in step. */
        for (j = i; j < end; j++) {
            if (redisGetReply(c, &rp) != REDIS_OK) {
                tools_error("redis: XADD: %s (%zu of %zu params submitted)",
                            c->errstr, added, ps->n);
                return -EIO;
            }
            r = rp;
            added += r->type == REDIS_REPLY_STRING;
            if (r->type == REDIS_REPLY_STRING) {
                if (parse_id(r->str, &out[j].ms, &out[j].seq) < 0 &&
                    first_error[0] == '\0') {
                    snprintf(first_error, sizeof(first_error),
                             "unexpected entry id '%.40s'", r->str);
                }
            } else if (first_error[0] == '\0') {
                snprintf(first_error, sizeof(first_error), "%s",
                         r->type == REDIS_REPLY_ERROR
                             ? r->str
                             : "unexpected reply to XADD");
            }
            freeReplyObject(r);
        }
        if (first_error[0] != '\0') {
            tools_error("redis: XADD: %s (%zu of %zu params submitted)",
                        first_error, added, ps->n);
            return -EIO;
        }
    }
    return 0;
}

/* The newest id of @key, or "0-0": results after it are ours to read. */
static char *last_result_id(redisContext *c, const char *key)
{
    redisReply *r = redisCommand(c, "XREVRANGE %s + - COUNT 1", key);
    char *id = NULL;

    if (r == NULL) {
        tools_error("redis: XREVRANGE %s: %s", key, c->errstr);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        tools_error("redis: XREVRANGE %s: %s", key, r->str);
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
               r->element[0]->type == REDIS_REPLY_ARRAY &&
               r->element[0]->elements > 0 &&
               r->element[0]->element[0]->type == REDIS_REPLY_STRING) {
        id = strdup(r->element[0]->element[0]->str);
    } else {
        id = strdup("0-0");
    }
    freeReplyObject(r);
    return id;
}

static int cmp_pending(const void *a, const void *b)
{
    const struct pending *x = *(const struct pending *const *)a;
    const struct pending *y = *(const struct pending *const *)b;

    if (x->ms != y->ms) {
        return x->ms < y->ms ? -1 : 1;
    }
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static struct pending *lookup(struct pending **by_id, size_t n,
                              const char *task)
{
    struct pending key, *kp = &key, **hit;

    if (parse_id(task, &key.ms, &key.seq) < 0) {
        return NULL;
    }
    hit = bsearch(&kp, by_id, n, sizeof(*by_id), cmp_pending);
    return hit != NULL ? *hit : NULL;
}

static int set_string(char **dst, size_t *dlen, const redisReply *v)
{
    char *s = malloc(v->len + 1);

    if (s == NULL) {
        return -ENOMEM;
    }
    memcpy(s, v->str, v->len);
    s[v->len] = '\0';
    free(*dst);
    *dst = s;
    if (dlen != NULL) {
        *dlen = v->len;
    }
    return 0;
}

/* Apply one result entry [id, [field, value, ...]]. Returns 1 when it made
 * a param final, 0 when not, -ENOMEM. */
static int apply_result(const redisReply *entry, struct pending **by_id,
                        size_t n)
{
    const redisReply *f, *task = NULL, *status = NULL, *output = NULL,
                         *error = NULL;
    struct pending *p;
    size_t i;

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 ||
        entry->element[1]->type != REDIS_REPLY_ARRAY) {
        return 0;
    }
    f = entry->element[1];
    for (i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];

        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            continue;
        }
        if (strcmp(k->str, STREAMS_FIELD_TASK) == 0) {
            task = v;
        } else if (strcmp(k->str, STREAMS_FIELD_STATUS) == 0) {
            status = v;
        } else if (strcmp(k->str, STREAMS_FIELD_OUTPUT) == 0) {
            output = v;
        } else if (strcmp(k->str, STREAMS_FIELD_ERROR) == 0) {
            error = v;
        }
    }
    if (task == NULL || status == NULL) {
        return 0;
    }
    p = lookup(by_id, n, task->str);
    /* Someone else's param, or a late duplicate of a settled one. */
    if (p == NULL || p->final) {
        return 0;
    }
    if (error != NULL && error->len > 0 && set_string(&p->error, NULL, error)) {
        return -ENOMEM;
    }
    if (strcmp(status->str, "ok") != 0 && strcmp(status->str, "dead") != 0) {
        return 0; /* failed: it will be retried */
    }
    p->final = 1;
    p->dead = strcmp(status->str, "dead") == 0;
    if (output != NULL && set_string(&p->output, &p->output_len, output)) {
        return -ENOMEM;
    }
    return 1;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Print, in submission order, every final output not printed yet. */
static void flush_in_order(struct pending *pend, size_t n, size_t *next)
{
    while (*next < n && pend[*next].final) {
        struct pending *p = &pend[*next];

        if (p->output_len > 0) {
            fwrite(p->output, 1, p->output_len, stdout);
            if (p->output[p->output_len - 1] != '\n') {
                putchar('\n');
            }
        }
        free(p->output);
        p->output = NULL;
        (*next)++;
    }
    fflush(stdout);
}

/* --wait's progress on a terminal: one line on stderr, redrawn in place, so
 * that a wait with no minion running is not silent. */
struct progress {
    int on;        /* stderr is a terminal */
    int clear_out; /* stdout is one too: clear the line before outputs */
    size_t shown;  /* length of the line on screen (no newline yet); 0: none */
    double start, last, timeout;
    char since[16]; /* wall clock of the start, HH:MM:SS */
};

static void progress_init(struct progress *pg, double timeout)
{
    time_t t = time(NULL);
    struct tm tm;

    memset(pg, 0, sizeof(*pg));
    pg->on = isatty(STDERR_FILENO);
    pg->clear_out = pg->on && isatty(STDOUT_FILENO);
    pg->start = now_s();
    pg->timeout = timeout;
    if (localtime_r(&t, &tm) == NULL ||
        strftime(pg->since, sizeof(pg->since), "%H:%M:%S", &tm) == 0) {
        snprintf(pg->since, sizeof(pg->since), "the start");
    }
}

/* @secs as 42s, 3m07s or 2h05m. */
static void format_span(double secs, char *buf, size_t len)
{
    long s = secs > 0 ? (long)secs : 0;

    if (s < 60) {
        snprintf(buf, len, "%lds", s);
    } else if (s < 3600) {
        snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
    } else {
        snprintf(buf, len, "%ldh%02ldm", s / 3600, s % 3600 / 60);
    }
}

/* Draw the line: at most every PROGRESS_EVERY_S unless @force. */
static void progress_draw(struct progress *pg, size_t back, size_t n, int force)
{
    double now = now_s();
    char line[192], took[32], left[32];
    int len;

    if (!pg->on || (!force && pg->shown && now - pg->last < PROGRESS_EVERY_S)) {
        return;
    }
    format_span(now - pg->start, took, sizeof(took));
    len = snprintf(line, sizeof(line),
                   PROGRAM ": %zu of %zu result%s back, waiting since %s (%s",
                   back, n, n == 1 ? "" : "s", pg->since, took);
    if (pg->timeout > 0 && len > 0 && (size_t)len < sizeof(line)) {
        format_span(pg->timeout - (now - pg->start) + 0.999, left,
                    sizeof(left));
        len += snprintf(line + len, sizeof(line) - (size_t)len,
                        "; --timeout in %s", left);
    }
    if (len > 0 && (size_t)len < sizeof(line) - 1) {
        line[len++] = ')';
        line[len] = '\0';
    }
    if (len < 0 || (size_t)len >= sizeof(line)) {
        return;
    }
    /* Spaces cover what a longer line before left: no terminal escapes. */
    fprintf(stderr, "\r%s%*s", line,
            pg->shown > (size_t)len ? (int)(pg->shown - (size_t)len) : 0, "");
    fflush(stderr);
    pg->shown = (size_t)len;
    pg->last = now;
}

/* Before outputs go to the same terminal: take the line away. */
static void progress_clear(struct progress *pg)
{
    if (!pg->clear_out || !pg->shown) {
        return;
    }
    fprintf(stderr, "\r%*s\r", (int)pg->shown, "");
    fflush(stderr);
    pg->shown = 0;
}

/* The last state, and the newline that ends the line. */
static void progress_end(struct progress *pg, size_t back, size_t n)
{
    if (!pg->on) {
        return;
    }
    progress_draw(pg, back, n, 1);
    fputc('\n', stderr);
    fflush(stderr);
    pg->shown = 0;
    pg->on = 0; /* ended: messages may follow */
}

/* What --wait needs to notice results trimmed before it read them: how
 * many entries the results stream had ever been given when it started
 * (-1: unknown, Redis before 7.0), and how many it read since. */
struct trim_watch {
    long long added0;
    long long read;
    long long said; /* results found trimmed, as last said */
};

/* XINFO STREAM @key: its last generated id (into @last, @len bytes) and
 * entries-added (-1: not said). Returns 0, or -1 when the stream cannot be
 * looked at (missing: "0-0" and 0). */
static int stream_marks(redisContext *c, const char *key, char *last,
                        size_t len, long long *added)
{
    redisReply *r = redisCommand(c, "XINFO STREAM %s", key);
    size_t i;

    snprintf(last, len, "0-0");
    *added = -1;
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR && strstr(r->str, "no such key")) {
        *added = 0;
    }
    for (i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];

        if (k->type != REDIS_REPLY_STRING) {
            continue;
        }
        if (strcmp(k->str, "last-generated-id") == 0 &&
            v->type == REDIS_REPLY_STRING) {
            snprintf(last, len, "%s", v->str);
        } else if (strcmp(k->str, "entries-added") == 0 &&
                   v->type == REDIS_REPLY_INTEGER) {
            *added = v->integer;
        }
    }
    freeReplyObject(r);
    return 0;
}

/* Caught up with the results stream (a read found nothing new): were
 * results trimmed (REDIS_RESULTS_MAXLEN) before this wait read them? Every
 * entry added since the start is either read or gone, once the stream's
 * last id is the last one read. Says so on stderr each time more are
 * found gone: the results still missing may never come. */
static void check_trimmed(redisContext *c, const char *results,
                          const char *last, struct trim_watch *tw,
                          size_t missing, struct progress *pg)
{
    char newest[64];
    long long added, gone;

    if (tw->added0 < 0 || missing == 0 ||
        stream_marks(c, results, newest, sizeof(newest), &added) < 0 ||
        added < 0 || strcmp(newest, last) != 0) {
        return;
    }
    gone = added - tw->added0 - tw->read;
    if (gone <= tw->said) {
        return;
    }
    tw->said = gone;
    progress_clear(pg);
    tools_error("%lld result%s were trimmed from %s before --wait read them "
                "(REDIS_RESULTS_MAXLEN is too small for this reader); the %zu "
                "still missing may never come",
                gone, gone == 1 ? "" : "s", results, missing);
}

/* Read the results stream from @last until every param is final or the
 * deadline passes. Returns the exit status. */
static int wait_results(redisContext *c, const char *results, char *last,
                        const struct trim_watch *watch, struct pending *pend,
                        size_t n, double timeout)
{
    struct trim_watch tw = *watch;
    struct pending **by_id = malloc((n ? n : 1) * sizeof(*by_id));
    double deadline = timeout > 0 ? now_s() + timeout : 0;
    size_t i, j, next = 0, left = n, dead = 0;
    struct progress pg;
    char block[32];
    redisReply *r;
    int rc = 0;

    progress_init(&pg, timeout);
    pg.on = pg.on && n > 0;
    if (by_id == NULL) {
        tools_error("out of memory");
        return 1;
    }
    for (i = 0; i < n; i++) {
        by_id[i] = &pend[i];
    }
    qsort(by_id, n, sizeof(*by_id), cmp_pending);
    while (left > 0) {
        long ms = BLOCK_MS;

        progress_draw(&pg, n - left, n, 0);
        if (deadline > 0) {
            double rem = deadline - now_s();

            if (rem <= 0) {
                break;
            }
            if (rem * 1000 < ms) {
                ms = (long)ceil(rem * 1000);
            }
        }
        snprintf(block, sizeof(block), "%ld", ms > 0 ? ms : 1);
        r = redisCommand(c, "XREAD COUNT 1000 BLOCK %s STREAMS %s %s", block,
                         results, last);
        if (r == NULL) {
            progress_end(&pg, n - left, n);
            tools_error("redis: XREAD %s: %s", results, c->errstr);
            rc = 1;
            break;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            progress_end(&pg, n - left, n);
            tools_error("redis: XREAD %s: %s", results, r->str);
            freeReplyObject(r);
            rc = 1;
            break;
        }
        /* [[key, [entry, ...]]], or nil when BLOCK timed out. */
        if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
            r->element[0]->type == REDIS_REPLY_ARRAY &&
            r->element[0]->elements > 1) {
            const redisReply *entries = r->element[0]->element[1];

            tw.read += (long long)entries->elements;

            for (j = 0; j < entries->elements; j++) {
                const redisReply *e = entries->element[j];
                int made;

                if (e->type == REDIS_REPLY_ARRAY && e->elements > 0 &&
                    e->element[0]->type == REDIS_REPLY_STRING) {
                    char *id = strdup(e->element[0]->str);

                    if (id == NULL) {
                        rc = -ENOMEM;
                        break;
                    }
                    free(last);
                    last = id;
                }
                made = apply_result(e, by_id, n);
                if (made < 0) {
                    rc = made;
                    break;
                }
                left -= (size_t)made;
            }
        }
        if (r->type == REDIS_REPLY_NIL && rc == 0) {
            check_trimmed(c, results, last, &tw, left, &pg);
        }
        freeReplyObject(r);
        if (rc < 0) {
            progress_end(&pg, n - left, n);
            tools_error("out of memory");
            rc = 1;
            break;
        }
        if (next < n && pend[next].final) {
            progress_clear(&pg);
        }
        flush_in_order(pend, n, &next);
    }
    progress_end(&pg, n - left, n);
    free(by_id);
    free(last);
    for (i = 0; i < n; i++) {
        dead += pend[i].final && pend[i].dead;
    }
    if (dead > 0) {
        for (i = 0; !(pend[i].final && pend[i].dead); i++) {
        }
        tools_error("%zu of %zu params dead; first (param %zu): %s", dead, n,
                    i + 1,
                    pend[i].error != NULL ? pend[i].error : "no error given");
    }
    /* The loop ends early only on an error (already said) or the deadline. */
    if (left > 0 && rc == 0) {
        tools_error("timed out: %zu of %zu results missing", left, n);
    }
    return rc != 0 || dead > 0 || left > 0 ? 1 : 0;
}

static int submit_redis(const struct params *ps, struct settings *cfg,
                        const struct opts *o)
{
    const char *url = tools_get(cfg, "REDIS_URL", STREAMS_DEFAULT_URL);
    const char *stream = tools_get(cfg, "REDIS_STREAM", STREAMS_DEFAULT_STREAM);
    const char *results_set = settings_get(cfg, "REDIS_RESULTS");
    struct streams_keys keys;
    struct trim_watch watch = {-1, 0, 0};
    char newest[64];
    struct pending *pend = NULL;
    char *last = NULL, err[512];
    redisContext *c = NULL;
    size_t i;
    int rc = 2;

    if (o->wait && results_set != NULL && *results_set == '\0') {
        tools_error("--wait needs a results stream, but REDIS_RESULTS is "
                    "empty (results disabled)");
        return 2;
    }
    /* The keys the minions will use, with the checks they make. */
    rc = streams_keys_init(&keys, stream, results_set,
                           settings_get(cfg, "REDIS_DEAD"), err, sizeof(err));
    if (rc < 0) {
        tools_error("%s", err);
        return rc == -ENOMEM ? 1 : 2;
    }
    rc = 2;
    c = redis_open(url);
    if (c == NULL) {
        goto out;
    }
    /* Noted before submitting, so no result of ours can slip past. */
    if (o->wait && (last = last_result_id(c, keys.results)) == NULL) {
        goto out;
    }
    /* Right after: a result added in between is read, never taken for
     * one trimmed. */
    if (o->wait && stream_marks(c, keys.results, newest, sizeof(newest),
                                &watch.added0) < 0) {
        watch.added0 = -1;
    }
    pend = calloc(ps->n ? ps->n : 1, sizeof(*pend));
    if (pend == NULL) {
        tools_error("out of memory");
        rc = 1;
        goto out;
    }
    if (xadd_all(c, stream, ps, pend) < 0) {
        rc = 1;
        goto out;
    }
    if (!o->quiet) {
        fprintf(stderr, PROGRAM ": submitted %zu param%s to redis stream %s\n",
                ps->n, ps->n == 1 ? "" : "s", stream);
    }
    rc = 0;
    if (o->wait) {
        rc = wait_results(c, keys.results, last, &watch, pend, ps->n,
                          o->timeout);
        last = NULL; /* wait_results took it */
    }
out:
    for (i = 0; pend != NULL && i < ps->n; i++) {
        free(pend[i].output);
        free(pend[i].error);
    }
    free(pend);
    free(last);
    streams_keys_fini(&keys);
    if (c != NULL) {
        redisFree(c);
    }
    return rc;
}

/* ---- main ------------------------------------------------------------ */

static int parse_seconds(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end != s && *end == 's') {
        end++;
    }
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0) {
        return -EINVAL;
    }
    *out = v;
    return 0;
}

enum {
    OPT_REDIS_URL = 256,
    OPT_STREAM,
    OPT_JSON,
    OPT_SWEEP,
    OPT_WAIT,
    OPT_TIMEOUT,
    OPT_ENV_FILE,
    OPT_PULSAR_URL,
    OPT_TOPIC,
};

static const struct option long_options[] = {
    {"engine", required_argument, NULL, 'e'},
    {"file", required_argument, NULL, 'f'},
    {"redis-url", required_argument, NULL, OPT_REDIS_URL},
    {"stream", required_argument, NULL, OPT_STREAM},
    {"pulsar-url", required_argument, NULL, OPT_PULSAR_URL},
    {"topic", required_argument, NULL, OPT_TOPIC},
    {"json", no_argument, NULL, OPT_JSON},
    {"sweep", required_argument, NULL, OPT_SWEEP},
    {"wait", no_argument, NULL, OPT_WAIT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"env-file", required_argument, NULL, OPT_ENV_FILE},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct settings *cfg,
                      struct opts *o)
{
    const char *key;
    int c, timeout_set = 0;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":e:f:qhV", long_options, NULL)) !=
           -1) {
        key = NULL;
        switch (c) {
        case 'e': key = "MINION_ENGINE"; break;
        case 'f': key = "MINION_FILE"; break;
        case OPT_REDIS_URL: key = "REDIS_URL"; break;
        case OPT_STREAM: key = "REDIS_STREAM"; break;
        case OPT_PULSAR_URL: key = "PULSAR_URL"; break;
        case OPT_TOPIC: key = "PULSAR_TOPIC"; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_SWEEP: o->sweep = optarg; break;
        case OPT_WAIT: o->wait = 1; break;
        case OPT_TIMEOUT:
            if (parse_seconds(optarg, &o->timeout) < 0) {
                return tools_usage("--timeout: '%s' is not a number of "
                                   "seconds > 0",
                                   optarg);
            }
            timeout_set = 1;
            break;
        case OPT_ENV_FILE: o->env_file = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf(PROGRAM " %s\n", PACKAGE_VERSION); return 0;
        default: return tools_option_error(c, argv);
        }
        if (key != NULL && settings_set_flag(cfg, key, optarg) < 0) {
            tools_error("out of memory");
            return 1;
        }
    }
    if (timeout_set && !o->wait) {
        return tools_usage("--timeout only makes sense with --wait");
    }
    if (o->sweep != NULL && optind < argc) {
        return tools_usage("--sweep takes no PARAM arguments");
    }
    return -1;
}

static int run(int argc, char **argv, struct settings *cfg)
{
    struct params ps = {0};
    struct opts o = {0};
    const char *engine, *file = NULL;
    int rc, i;

    rc = parse_args(argc, argv, cfg, &o);
    if (rc >= 0) {
        return rc;
    }
    rc = tools_load_env(cfg, o.env_file);
    if (rc != 0) {
        return rc;
    }
    engine = tools_get(cfg, "MINION_ENGINE", "file");
    if (strcmp(engine, "file") == 0) {
        file = tools_get(cfg, "MINION_FILE", NULL);
        if (file == NULL || strcmp(file, "-") == 0) {
            return tools_usage("the file engine needs a file to append to: "
                               "-f PATH or MINION_FILE");
        }
        if (o.wait) {
            return tools_usage("--wait needs the redis engine (-e redis)");
        }
    } else if (strcmp(engine, "pulsar") == 0) {
        if (o.wait) {
            tools_error("--wait is not supported with the pulsar engine: "
                        "its minions write no results topic");
            return 2;
        }
    } else if (strcmp(engine, "redis") != 0) {
        return tools_usage("engine '%s' cannot be submitted to (file, redis, "
                           "pulsar)",
                           engine);
    }

    if (o.sweep != NULL) {
        rc = read_sweep(&ps, o.sweep);
    } else if (optind < argc) {
        ps.from_args = 1;
        for (i = optind, rc = 0; i < argc && rc == 0; i++) {
            rc = params_add(&ps, argv[i], strlen(argv[i]),
                            (size_t)(i - optind + 1));
        }
        if (rc < 0) {
            tools_error("out of memory");
        }
    } else {
        rc = read_stdin(&ps);
    }
    if (rc == -EINVAL) {
        rc = 2;
    } else if (rc < 0) {
        rc = 1;
    } else if (o.json && check_json(&ps) < 0) {
        rc = 2;
    } else if (file != NULL) {
        rc = submit_file(&ps, file, o.quiet);
    } else if (strcmp(engine, "pulsar") == 0) {
        rc = submit_pulsar(&ps, cfg, o.quiet);
    } else {
        rc = submit_redis(&ps, cfg, &o);
    }
    params_fini(&ps);
    return rc;
}

int main(int argc, char **argv)
{
    return tools_main(PROGRAM, argc, argv, run);
}
