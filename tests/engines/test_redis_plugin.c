/* SPDX-License-Identifier: MIT */
/* The redis engine through its descriptor, minion_plugin_redis, on a real
 * event base against a real redis-server that this test starts on a free
 * loopback port (and kills by its pid). The core's runner grants the
 * engine credit through its engine ops and settles each entry it delivers
 * as the scripted callback's outcomes say (harness.h). The test adds
 * entries and reads the streams back with hiredis's synchronous API.
 * Without redis-server it exits 77 (SKIP), or 1 under CI=true. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "harness.h"

extern const struct minion_plugin minion_plugin_redis;

/* Every run ends well before this, in seconds. */
#define LIMIT_S 30.0
/* How long redis-server gets to answer PING. */
#define SERVER_UP_S 10.0

static struct {
    char dir[256];
    pid_t pid;
    int port;
    char url[64]; /* REDIS_URL=redis://127.0.0.1:PORT */
    redisContext *c;
} srv = {.pid = -1};

/* ------------------------------------------------------------------------ */
/* The server                                                                */

static int in_path(const char *name)
{
    const char *path = getenv("PATH");
    char file[4096];

    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(file, sizeof(file), "%.*s/%s", (int)n, n ? p : ".", name);
        if (access(file, X_OK) == 0) {
            return 1;
        }
        p += n + (p[n] == ':');
    }
    return 0;
}

/* A loopback port nobody listens on, below Linux's ephemeral range
 * (32768 and up) so no outgoing connection holds it. */
static int free_port(void)
{
    for (int tries = 0; tries < 200; tries++) {
        int port = 20000 + rand() % 12000;
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int refused;

        if (fd < 0) {
            return -1;
        }
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        refused = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
                  errno == ECONNREFUSED;
        close(fd);
        if (refused) {
            return port;
        }
    }
    return -1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static pid_t spawn_server(int port)
{
    char port_text[16], log[300];
    pid_t pid;

    snprintf(port_text, sizeof(port_text), "%d", port);
    snprintf(log, sizeof(log), "%s/redis.log", srv.dir);
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);

        /* Dies with the test, whatever ends it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
        }
        execlp("redis-server", "redis-server", "--port", port_text, "--bind",
               "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
               srv.dir, "--logfile", log, "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Wait for PONG from the server just spawned. Returns 1 when it answers,
 * 0 when it died (its port was taken since we looked), -1 on time out. */
static int wait_server(void)
{
    struct timeval tv = {1, 0};

    for (int i = 0; i < (int)(SERVER_UP_S * 20); i++) {
        int status;
        redisContext *c;

        if (waitpid(srv.pid, &status, WNOHANG) == srv.pid) {
            srv.pid = -1;
            return 0;
        }
        c = redisConnectWithTimeout("127.0.0.1", srv.port, tv);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int up = r && r->type == REDIS_REPLY_STATUS &&
                     strcmp(r->str, "PONG") == 0;
            if (r) {
                freeReplyObject(r);
            }
            if (up) {
                srv.c = c;
                return 1;
            }
        }
        if (c) {
            redisFree(c);
        }
        sleep_ms(50);
    }
    return -1;
}

static void stop_server(void)
{
    if (srv.c) {
        redisFree(srv.c);
        srv.c = NULL;
    }
    if (srv.pid > 0) {
        kill(srv.pid, SIGTERM);
        for (int i = 0; i < 100; i++) {
            if (waitpid(srv.pid, NULL, WNOHANG) == srv.pid) {
                srv.pid = -1;
                break;
            }
            sleep_ms(50);
        }
        if (srv.pid > 0) {
            kill(srv.pid, SIGKILL);
            waitpid(srv.pid, NULL, 0);
            srv.pid = -1;
        }
    }
    harness_rmtree(srv.dir);
}

static int group_setup(void **state)
{
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    harness_tmpdir(srv.dir, sizeof(srv.dir), "test_redis_plugin");
    for (int attempt = 0; attempt < 5; attempt++) {
        int up;

        srv.port = free_port();
        if (srv.port < 0) {
            break;
        }
        srv.pid = spawn_server(srv.port);
        if (srv.pid < 0) {
            break;
        }
        up = wait_server();
        if (up == 1) {
            snprintf(srv.url, sizeof(srv.url), "REDIS_URL=redis://127.0.0.1:%d",
                     srv.port);
            return 0;
        }
        if (up < 0) {
            break;
        }
    }
    fprintf(stderr, "redis-server did not start (see %s/redis.log)\n", srv.dir);
    stop_server();
    return -1;
}

static int group_teardown(void **state)
{
    stop_server();
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Talking to it                                                             */

/* One command on the test's own connection. Returns: the reply; caller
 * frees with freeReplyObject(). Fails the test on a connection error. */
static redisReply *command(const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = redisvCommand(srv.c, fmt, ap);
    va_end(ap);
    if (!r) {
        fail_msg("redis: %s", srv.c->errstr);
    }
    return r;
}

static int setup(void **state)
{
    redisReply *r = command("FLUSHALL");

    freeReplyObject(r);
    harness_reset();
    return 0;
}

/* XADD @stream * param @param. Returns the entry id in @id. */
static void add(const char *stream, const char *param, char *id, size_t cap)
{
    redisReply *r = command("XADD %s * param %s", stream, param);

    assert_int_equal(r->type, REDIS_REPLY_STRING);
    snprintf(id, cap, "%s", r->str);
    freeReplyObject(r);
}

/* The group's pending total (XPENDING summary). */
static long long pending(const char *stream)
{
    redisReply *r = command("XPENDING %s minions", stream);
    long long n;

    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_true(r->elements >= 1);
    assert_int_equal(r->element[0]->type, REDIS_REPLY_INTEGER);
    n = r->element[0]->integer;
    freeReplyObject(r);
    return n;
}

static long long length(const char *key)
{
    redisReply *r = command("XLEN %s", key);
    long long n;

    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    n = r->integer;
    freeReplyObject(r);
    return n;
}

/* Field @name of stream entry @e ([id, [k, v, ...]]); NULL when absent. */
static const char *field(const redisReply *e, const char *name)
{
    const redisReply *kv = e->element[1];

    for (size_t i = 0; i + 1 < kv->elements; i += 2) {
        if (strcmp(kv->element[i]->str, name) == 0) {
            return kv->element[i + 1]->str;
        }
    }
    return NULL;
}

/* One minion: the redis engine on @stream (plus @extra settings, may be
 * NULL), the scripted callback and reporter, under @ctx. Returns its exit
 * status. */
static int run_minion(const char *stream, const char *extra,
                      const struct minion_context *ctx)
{
    char stream_set[128];
    const char *settings[] = {srv.url, stream_set, extra, NULL};
    snprintf(stream_set, sizeof(stream_set), "REDIS_STREAM=%s", stream);
    return harness_minion(&minion_plugin_redis, settings, ctx, LIMIT_S);
}

/* ------------------------------------------------------------------------ */
/* The tests                                                                 */

/* Entries added before the minion started are delivered (id = entry id,
 * attempt 1; an entry without a param field as the JSON object of its
 * fields); each ACK leaves the group's pending list and adds an ok
 * result. */
static void entries_are_delivered_and_acked(void **state)
{
    char ids[3][64], obj_id[64];
    struct minion_context ctx;
    redisReply *r;

    add("s1", "ok 1", ids[0], sizeof(ids[0]));
    add("s1", "ok 2", ids[1], sizeof(ids[1]));
    add("s1", "ok 3", ids[2], sizeof(ids[2]));
    r = command("XADD s1 * x 1 y two");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    snprintf(obj_id, sizeof(obj_id), "%s", r->str);
    freeReplyObject(r);

    harness_context(&ctx);
    ctx.minion_id = "m1";
    ctx.concurrency = 2;
    ctx.exit_when_empty = 1;
    assert_int_equal(run_minion("s1", NULL, &ctx), 0);

    assert_int_equal(harness_w.n_ran, 4);
    harness_assert_ran("ok 1", ids[0], 1);
    harness_assert_ran("ok 2", ids[1], 1);
    harness_assert_ran("ok 3", ids[2], 1);
    harness_assert_ran("{\"x\":\"1\",\"y\":\"two\"}", obj_id, 1);
    assert_true(harness_w.max_running <= 2);
    assert_int_equal(harness_w.n_reports, 4);
    for (size_t i = 0; i < harness_w.n_reports; i++) {
        assert_int_equal(harness_w.reports[i].status, MINION_STATUS_OK);
    }
    assert_int_equal(pending("s1"), 0);

    r = command("XRANGE s1:results - +");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 4);
    for (size_t i = 0; i < r->elements; i++) {
        assert_string_equal(field(r->element[i], "status"), "ok");
        assert_string_equal(field(r->element[i], "minion"), "m1");
    }
    freeReplyObject(r);
    assert_int_equal(length("s1:dead"), 0);
}

/* RETRY takes the entry back at once for another run (one more delivery,
 * one more attempt); DEAD copies it to the dead-letter stream and acks
 * it. */
static void failures_are_retried_then_dead_lettered(void **state)
{
    char fail_id[64], reject_id[64];
    struct minion_context ctx;
    redisReply *r;
    int seen_fail = 0, seen_reject = 0;

    add("s2", "fail a", fail_id, sizeof(fail_id));
    add("s2", "reject b", reject_id, sizeof(reject_id));
    harness_context(&ctx);
    ctx.minion_id = "m2";
    ctx.max_attempts = 2;
    ctx.exit_when_empty = 1;
    assert_int_equal(run_minion("s2", NULL, &ctx), 4); /* a dead param */

    assert_int_equal(harness_w.n_ran, 3);
    harness_assert_ran("fail a", fail_id, 1);
    harness_assert_ran("fail a", fail_id, 2);
    harness_assert_ran("reject b", reject_id, 1);
    assert_int_equal(pending("s2"), 0);

    r = command("XRANGE s2:dead - +");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        const char *task = field(e, "task");

        assert_non_null(task);
        if (strcmp(task, fail_id) == 0) {
            seen_fail = 1;
            assert_string_equal(field(e, "param"), "fail a");
            assert_string_equal(field(e, "error"), "scripted failure");
            assert_string_equal(field(e, "attempts"), "2");
        } else {
            seen_reject = 1;
            assert_string_equal(task, reject_id);
            assert_string_equal(field(e, "param"), "reject b");
            assert_string_equal(field(e, "error"), "rejected");
            assert_string_equal(field(e, "attempts"), "1");
        }
    }
    freeReplyObject(r);
    assert_true(seen_fail && seen_reject);
    /* failed, dead, dead */
    assert_int_equal(length("s2:results"), 3);
}

/* RELEASE (a stop while the entry runs) leaves it pending in this
 * consumer, neither acked nor dead, with one released run counted; a
 * restart with the same MINION_ID takes it back first (one more delivery)
 * and runs it at the same attempt: a released run is no attempt. */
static void released_entry_stays_pending(void **state)
{
    char id[64];
    struct minion_context ctx;
    redisReply *r;

    add("s3", "stop c", id, sizeof(id));
    harness_context(&ctx);
    ctx.minion_id = "r1";
    ctx.exit_when_empty = 1;
    assert_int_equal(run_minion("s3", NULL, &ctx), 1); /* cut short */
    assert_int_equal(harness_w.n_ran, 1);
    harness_assert_ran("stop c", id, 1);
    assert_int_equal(harness_w.cancels, 1);
    assert_int_equal(harness_w.n_reports, 1);
    assert_int_equal(harness_w.reports[0].status, MINION_STATUS_RELEASED);

    assert_int_equal(pending("s3"), 1);
    r = command("XPENDING s3 minions - + 10");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->element[0]->str, id);
    assert_string_equal(r->element[0]->element[1]->str, "r1");
    assert_int_equal(r->element[0]->element[3]->integer, 1);
    freeReplyObject(r);
    assert_int_equal(length("s3:dead"), 0);
    r = command("HGET s3:released:minions %s", id);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "1");
    freeReplyObject(r);

    harness_reset();
    harness_w.stop_ok = 1;
    assert_int_equal(run_minion("s3", NULL, &ctx), 0);
    assert_int_equal(harness_w.n_ran, 1);
    harness_assert_ran("stop c", id, 1);
    assert_int_equal(pending("s3"), 0);
    r = command("EXISTS s3:released:minions");
    assert_int_equal(r->integer, 0); /* the ack took the count along */
    freeReplyObject(r);
}

/* ------------------------------------------------------------------------ */
/* Queue figures                                                             */

static int same(const struct minion_queue *a, const struct minion_queue *b)
{
    return a->total == b->total && a->done == b->done && a->lag == b->lag &&
           a->pending == b->pending && a->dead == b->dead;
}

/* The engine's figures now, as the core asks for them. */
static struct minion_queue ask(struct minion_instance *engine)
{
    struct minion_queue q = MINION_QUEUE_INIT;

    minion_plugin_redis.engine->queue(engine, &q);
    return q;
}

static void fail_figures(const char *when, const struct minion_queue *got,
                         const struct minion_queue *want)
{
    fail_msg("%s: total %lld done %lld lag %lld pending %lld dead %lld; want "
             "%lld %lld %lld %lld %lld",
             when, got->total, got->done, got->lag, got->pending, got->dead,
             want->total, want->done, want->lag, want->pending, want->dead);
}

/* Ask @engine for its figures, running @base in between, until they are
 * @want; failing the test after LIMIT_S seconds. */
static void await_figures(struct event_base *base,
                          struct minion_instance *engine,
                          struct minion_queue want)
{
    const struct timeval tick = {0, 20000};
    double end = minion_now() + LIMIT_S;
    struct minion_queue q;

    for (;;) {
        q = ask(engine);
        if (same(&q, &want)) {
            return;
        }
        if (minion_now() > end) {
            fail_figures("figures never came", &q, &want);
        }
        event_base_loopexit(base, &tick);
        event_base_dispatch(base);
    }
}

/* What the watch of a running minion waits for, phase by phase. */
struct watch {
    struct minion_instance *engine;
    struct minion_queue want[2];
    int phase; /* 2: both seen */
    struct minion_queue last;
};

/* Ask as the core's progress line does. The first figures wanted seen, let
 * the held tasks go; the second, stop the minion. */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
    struct watch *w = arg;

    w->last = ask(w->engine);
    if (w->phase < 2 && same(&w->last, &w->want[w->phase])) {
        if (w->phase++ == 0) {
            harness_holder_release();
        } else {
            raise(SIGTERM);
        }
    }
}

/* A minion's queue() gives the group's figures as the minion works: none
 * before the first fetch, then total (entries-added), done (read by the
 * group and settled: acked or dead-lettered), lag, pending (held by the
 * minion, running) and the dead letters, refreshed in the background. */
static void queue_figures_follow_the_group(void **state)
{
    static const char *params[] = {"ok 1",   "reject 2", "ok 3", "hold 4",
                                   "hold 5", "ok 6",     "ok 7"};
    const char *settings[] = {srv.url, "REDIS_STREAM=s5", NULL};
    const struct timeval every = {0, 20000};
    struct event_base *base = event_base_new();
    struct minion_instance *engine, *callback, *reporter;
    struct minion_context ctx;
    struct minion_queue none = MINION_QUEUE_INIT, q;
    struct watch w = {0};
    struct event *tick;
    char id[64];
    int rc;

    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        add("s5", params[i], id, sizeof(id));
    }
    harness_context(&ctx);
    ctx.minion_id = "q1";
    ctx.concurrency = 2;
    reporter = harness_up(&harness_reporter, NULL, &ctx, base);
    callback = harness_up(&harness_holder, NULL, &ctx, base);
    engine = harness_up(&minion_plugin_redis, settings, &ctx, base);
    q = ask(engine);
    assert_true(same(&q, &none));

    /* Two slots: 1 ok, 2 dead, 3 ok, then 4 and 5 hold them both. The
     * tasks before were short, so 6 and 7 were read ahead (README.md,
     * Read-ahead): pending with 4 and 5, none left as lag. */
    w.engine = engine;
    w.want[0] = harness_queue(7, 3, 0, 4, 1);
    w.want[1] = harness_queue(7, 7, 0, 0, 1);
    tick = event_new(base, -1, EV_PERSIST, on_watch, &w);
    assert_non_null(tick);
    evtimer_add(tick, &every);
    rc = harness_run(base, &ctx, engine, callback, &reporter, 1, LIMIT_S);
    event_free(tick);
    if (w.phase < 2) {
        fail_figures(w.phase ? "after the release" : "while held", &w.last,
                     &w.want[w.phase]);
    }
    assert_int_not_equal(rc, HARNESS_TIMED_OUT);
    /* Stopped: the last figures stay, and nothing is fetched any more. */
    q = ask(engine);
    assert_true(same(&q, &w.want[1]));
    harness_free(engine);
    harness_free(callback);
    harness_free(reporter);
    event_base_free(base);
    assert_int_equal(pending("s5"), 0);
    assert_int_equal(length("s5:dead"), 1);
}

/* Zeros for a stream that does not exist; before the group does, the
 * whole stream is lag. A dry run fetches them too (read-only commands),
 * a caller with an older, smaller struct gets only what it holds, and an
 * engine destroyed with a fetch out is left by its callbacks alone. */
static void queue_figures_of_a_missing_stream_and_group(void **state)
{
    const char *settings[] = {srv.url, "REDIS_STREAM=s6", NULL};
    struct event_base *base = event_base_new();
    struct minion_instance *engine;
    struct minion_context ctx;
    struct minion_queue q;
    char ids[3][64];
    redisReply *r;

    harness_context(&ctx);
    ctx.minion_id = "q2";
    ctx.dry_run = 1;
    engine = harness_up(&minion_plugin_redis, settings, &ctx, base);
    await_figures(base, engine, harness_queue(0, 0, 0, 0, 0));

    add("s6", "a", ids[0], sizeof(ids[0]));
    add("s6", "b", ids[1], sizeof(ids[1]));
    add("s6", "c", ids[2], sizeof(ids[2]));
    await_figures(base, engine, harness_queue(3, 0, 3, 0, 0));

    /* Another consumer reads two and acks one; one dead letter. */
    freeReplyObject(command("XGROUP CREATE s6 minions 0"));
    r = command("XREADGROUP GROUP minions x COUNT 2 STREAMS s6 >");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    r = command("XACK s6 minions %s", ids[0]);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    add("s6:dead", "z", ids[0], sizeof(ids[0]));
    await_figures(base, engine, harness_queue(3, 1, 1, 1, 1));
    /* A dry run changed nothing. */
    assert_int_equal(length("s6"), 3);
    assert_int_equal(pending("s6"), 1);

    /* A caller built before lag was added: lag and what follows are not
     * written. */
    q = harness_queue(-7, -7, -7, -7, -7);
    q.size = (unsigned)offsetof(struct minion_queue, lag);
    minion_plugin_redis.engine->queue(engine, &q);
    assert_int_equal(q.size, offsetof(struct minion_queue, lag));
    assert_int_equal(q.total, 3);
    assert_int_equal(q.done, 1);
    assert_int_equal(q.lag, -7);
    assert_int_equal(q.pending, -7);
    assert_int_equal(q.dead, -7);

    /* Stale figures: this ask sends a fetch, and destroy() comes before
     * its replies (ASan watches what their callbacks touch). */
    sleep_ms(1100);
    ask(engine);
    harness_free(engine);
    event_base_free(base);
}

/* init() refuses settings that cannot work; start() a server that is not
 * there. */
static void bad_setups_are_refused(void **state)
{
    const char *loop[] = {srv.url, "REDIS_STREAM=s4", "REDIS_RESULTS=s4", NULL};
    char url[64];
    const char *nobody[] = {url, NULL};
    struct event_base *base = event_base_new();
    struct minion_context ctx;
    struct minion_instance *inst;
    char err[1024];

    harness_context(&ctx);
    inst = harness_new(&minion_plugin_redis, loop, err, sizeof(err));
    assert_non_null(inst);
    assert_int_equal(harness_init(inst, &ctx, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "REDIS_RESULTS"));
    harness_free(inst);

    snprintf(url, sizeof(url), "REDIS_URL=redis://127.0.0.1:%d", free_port());
    inst = harness_new(&minion_plugin_redis, nobody, err, sizeof(err));
    assert_non_null(inst);
    assert_int_equal(harness_init(inst, &ctx, err, sizeof(err)), 0);
    assert_int_equal(harness_start(inst, base, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "127.0.0.1"));
    harness_free(inst);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(entries_are_delivered_and_acked, setup),
        cmocka_unit_test_setup(failures_are_retried_then_dead_lettered, setup),
        cmocka_unit_test_setup(released_entry_stays_pending, setup),
        cmocka_unit_test_setup(queue_figures_follow_the_group, setup),
        cmocka_unit_test_setup(queue_figures_of_a_missing_stream_and_group,
                               setup),
        cmocka_unit_test_setup(bad_setups_are_refused, setup),
    };
    const char *ci = getenv("CI");

    if (!in_path("redis-server")) {
        if (ci && strcmp(ci, "true") == 0) {
            fprintf(stderr, "FAIL (CI forbids skipping): redis-server not "
                            "installed\n");
            return 1;
        }
        fprintf(stderr, "SKIP: redis-server not installed\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
