/* SPDX-License-Identifier: MIT */
/* plugins/adapters/curl_event.c against a small HTTP/1.1 server of our own,
 * listening on a Unix socket in a mkdtemp folder and running on the same
 * event base as the client, so one thread drives both ends. Every wait is
 * bounded by a deadline on the loop; a wait that times out fails the test.
 *
 * The server's routes, after /v1.41/:
 *   hello          200, a short body
 *   bytes/N        200, N bytes of pattern(N, k)
 *   status/N       status N, a JSON body
 *   post           200, "LENGTH SUM" of the request body
 *   stream/N       200, chunked: N pieces, each sent only once the client
 *                  has everything sent before it (lockstep), then the end
 *   hang           reads the request and never answers
 *   cut            Content-Length: 100, 10 bytes, then closes
 *   cutchunk       chunked, one piece, then closes
 *   drop           closes without a word */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "loop_until.h"
#include "curl_event.h"
#include "dlist.h"

#define LIMIT_S 10  /* no wait in a test lasts longer */
#define QUIET_MS 50 /* how long "nothing else happens" is watched */
#define N_REQS 24   /* requests one test may make */
#define N_CONCURRENT 20
#define N_PIECES 5
#define HEAD_MAX 4096
#define API "http://localhost/v1.41/"

/* ------------------------------------------------------------------------ */
/* The server                                                                */

struct conn {
    struct conn *prev, *next;
    struct server *srv;
    struct bufferevent *bev;
    struct event *tick; /* paces a stream */
    int pieces, sent;   /* of a stream */
    size_t sent_bytes;  /* payload of the pieces sent */
    int busy;           /* streaming or hanging: input is ignored */
};

struct server {
    struct event_base *base;
    struct evconnlistener *lev;
    struct conn *conns;
    int n_accepted;
    int n_requests;
    int n_hung;   /* requests to hang, read */
    int n_closed; /* connections the client closed */
    /* What the client holds of the stream being sent: the next piece goes
     * out only once it has them all. */
    const size_t *stream_seen;
};

static char pattern(size_t n, size_t k)
{
    return (char)('a' + (k * 7 + n) % 26);
}

static void conn_free(struct conn *c)
{
    DLIST_UNLINK(c->srv->conns, c);
    if (c->tick) {
        event_free(c->tick);
    }
    bufferevent_free(c->bev);
    free(c);
}

static void reply(struct conn *c, int status, const char *body, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    evbuffer_add_printf(out,
                        "HTTP/1.1 %d Test\r\n"
                        "Content-Type: text/plain\r\n"
                        "Content-Length: %zu\r\n\r\n",
                        status, len);
    evbuffer_add(out, body, len);
}

static void on_flushed_close(struct bufferevent *bev, void *arg)
{
    conn_free(arg);
}

/* Stop reading; close once what was written has gone out. */
static void close_after_flush(struct conn *c)
{
    c->busy = 1;
    bufferevent_setcb(c->bev, NULL, on_flushed_close, NULL, c);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    static const struct timeval pace = {0, 2000};
    struct conn *c = arg;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    char piece[32];
    int n;

    if (*c->srv->stream_seen < c->sent_bytes) {
        evtimer_add(c->tick, &pace);
        return;
    }
    if (c->sent == c->pieces) {
        evbuffer_add_printf(out, "0\r\n\r\n");
        c->busy = 0;
        return;
    }
    n = snprintf(piece, sizeof(piece), "piece %d\n", c->sent);
    evbuffer_add_printf(out, "%x\r\n%s\r\n", n, piece);
    c->sent++;
    c->sent_bytes += (size_t)n;
    evtimer_add(c->tick, &pace);
}

static void start_stream(struct conn *c, int pieces)
{
    static const struct timeval now = {0, 0};

    evbuffer_add_printf(bufferevent_get_output(c->bev),
                        "HTTP/1.1 200 OK\r\n"
                        "Content-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n");
    c->busy = 1;
    c->pieces = pieces;
    c->sent = 0;
    c->sent_bytes = 0;
    if (!c->tick) {
        c->tick = evtimer_new(c->srv->base, on_tick, c);
        assert_non_null(c->tick);
    }
    evtimer_add(c->tick, &now);
}

/* Answer one request. Returns 1 when @c is gone or closing. */
static int respond(struct conn *c, const char *head, const char *body,
                   size_t len)
{
    char method[16], path[512], text[128];
    const char *route;
    unsigned long sum = 0;

    if (sscanf(head, "%15s %511s", method, path) != 2 ||
        strncmp(path, "/v1.41/", 7) != 0) {
        reply(c, 400, "bad request\n", 12);
        return 0;
    }
    route = path + 7;
    if (strcmp(route, "hello") == 0) {
        reply(c, 200, "hello, minion\n", 14);
    } else if (strncmp(route, "bytes/", 6) == 0) {
        size_t n = strtoul(route + 6, NULL, 10);
        char *b = malloc(n + 1);

        assert_non_null(b);
        for (size_t k = 0; k < n; k++) {
            b[k] = pattern(n, k);
        }
        reply(c, 200, b, n);
        free(b);
    } else if (strncmp(route, "status/", 7) == 0) {
        int status = atoi(route + 7);

        snprintf(text, sizeof(text), "{\"message\":\"status %d\"}", status);
        reply(c, status, text, strlen(text));
    } else if (strcmp(route, "post") == 0) {
        for (size_t k = 0; k < len; k++) {
            sum += (unsigned char)body[k];
        }
        snprintf(text, sizeof(text), "%zu %lu", len, sum);
        reply(c, 200, text, strlen(text));
    } else if (strncmp(route, "stream/", 7) == 0) {
        start_stream(c, atoi(route + 7));
    } else if (strcmp(route, "hang") == 0) {
        c->busy = 1;
        c->srv->n_hung++;
    } else if (strcmp(route, "cut") == 0) {
        evbuffer_add_printf(bufferevent_get_output(c->bev),
                            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                            "0123456789");
        close_after_flush(c);
        return 1;
    } else if (strcmp(route, "cutchunk") == 0) {
        evbuffer_add_printf(bufferevent_get_output(c->bev),
                            "HTTP/1.1 200 OK\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"
                            "a\r\n0123456789\r\n");
        close_after_flush(c);
        return 1;
    } else if (strcmp(route, "drop") == 0) {
        conn_free(c);
        return 1;
    } else {
        reply(c, 404, "not found\n", 10);
    }
    return 0;
}

static size_t content_length(const char *head)
{
    const char *h = strcasestr(head, "\r\nContent-Length:");

    return h ? strtoul(h + 17, NULL, 10) : 0;
}

/* Requests one after the other, as HTTP/1.1 keep-alive sends them. */
static void on_conn_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char head[HEAD_MAX];

    for (;;) {
        struct evbuffer_ptr end;
        size_t hlen, len;
        char *body;
        int gone;

        if (c->busy) {
            evbuffer_drain(in, evbuffer_get_length(in));
            return;
        }
        end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (end.pos < 0) {
            return;
        }
        hlen = (size_t)end.pos + 4;
        assert_true(hlen < sizeof(head));
        evbuffer_copyout(in, head, hlen);
        head[hlen] = '\0';
        len = content_length(head);
        if (evbuffer_get_length(in) < hlen + len) {
            return;
        }
        evbuffer_drain(in, hlen);
        body = malloc(len + 1);
        assert_non_null(body);
        evbuffer_remove(in, body, len);
        c->srv->n_requests++;
        gone = respond(c, head, body, len);
        free(body);
        if (gone) {
            return;
        }
    }
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;

    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        c->srv->n_closed++;
        conn_free(c);
    }
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd,
                      struct sockaddr *sa, int salen, void *arg)
{
    struct server *srv = arg;
    struct conn *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    c->srv = srv;
    c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    assert_non_null(c->bev);
    bufferevent_setcb(c->bev, on_conn_read, NULL, on_conn_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    DLIST_PUSH(srv->conns, c);
    srv->n_accepted++;
}

/* A Unix socket bound at @path; listening when @listening. */
static int unix_socket(const char *path, int listening)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_true(strlen(path) < sizeof(sun.sun_path));
    strcpy(sun.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    if (listening) {
        assert_int_equal(evutil_make_socket_nonblocking(fd), 0);
    }
    return fd;
}

static void server_start(struct server *srv, struct event_base *base,
                         const char *path)
{
    int fd = unix_socket(path, 1);

    memset(srv, 0, sizeof(*srv));
    srv->base = base;
    srv->lev =
        evconnlistener_new(base, on_accept, srv, LEV_OPT_CLOSE_ON_FREE, 64, fd);
    assert_non_null(srv->lev);
}

static void server_stop(struct server *srv)
{
    while (srv->conns) {
        conn_free(srv->conns);
    }
    if (srv->lev) {
        evconnlistener_free(srv->lev);
        srv->lev = NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* The client side                                                           */

struct fx;

struct req {
    struct fx *fx;
    CURL *easy;
    char *body;
    size_t len, cap;
    int n_writes;
    int n_done;
    CURLcode result;
    long status;
    size_t len_at_done;
    int done_in_cancel; /* done ran inside curl_event_cancel() */
    /* What the test does from the done callback, from the write function
     * once the body has its first bytes, and from the header function once
     * the headers are all in. */
    void (*then)(struct req *r);
    void (*on_first_bytes)(struct req *r);
    void (*on_headers)(struct req *r);
    int step; /* for chains */
};

struct fx {
    char dir[64];
    char sock[128];
    struct event_base *base;
    struct server srv;
    struct curl_event *ce;
    int n_done;
    int cancelling; /* curl_event_cancel() is on the stack */
    int adding;     /* curl_event_add() is on the stack */
    int timed_out;
    struct req reqs[N_REQS];
};

static size_t on_write(char *buf, size_t size, size_t n, void *arg)
{
    struct req *r = arg;
    size_t len = size * n;

    if (r->len + len + 1 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        char *grown;

        while (cap < r->len + len + 1) {
            cap *= 2;
        }
        grown = realloc(r->body, cap);
        assert_non_null(grown);
        r->body = grown;
        r->cap = cap;
    }
    memcpy(r->body + r->len, buf, len);
    r->len += len;
    r->body[r->len] = '\0';
    r->n_writes++;
    if (r->n_writes == 1 && r->on_first_bytes) {
        r->on_first_bytes(r);
    }
    return len;
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
    struct req *r = arg;
    size_t len = size * n;

    if (len == 2 && memcmp(buf, "\r\n", 2) == 0 && r->on_headers) {
        r->on_headers(r);
    }
    return len;
}

static void on_done(CURL *easy, CURLcode result, void *arg)
{
    struct req *r = arg;
    void *priv = NULL;

    assert_ptr_equal(easy, r->easy);
    assert_int_equal(r->fx->adding, 0);
    /* CURLOPT_PRIVATE is the owner's, untouched by the adapter. */
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    assert_ptr_equal(priv, r);
    r->n_done++;
    r->result = result;
    r->status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->status);
    r->len_at_done = r->len;
    r->done_in_cancel = r->fx->cancelling;
    r->fx->n_done++;
    if (r->then) {
        r->then(r);
    }
}

/* Start GET (or, with @post, POST @post_len bytes) of API @route on @sock
 * (the test server's when NULL). The handle is reused when there is one. */
static int start_on(struct req *r, const char *sock, const char *route,
                    const char *post, size_t post_len)
{
    struct fx *fx = r->fx;
    char url[256];
    int rc;

    if (!r->easy) {
        r->easy = curl_easy_init();
        assert_non_null(r->easy);
    }
    r->len = 0;
    snprintf(url, sizeof(url), API "%s", route);
    curl_easy_setopt(r->easy, CURLOPT_URL, url);
    curl_easy_setopt(r->easy, CURLOPT_UNIX_SOCKET_PATH, sock ? sock : fx->sock);
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    if (post) {
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, post);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)post_len);
    }
    fx->adding++;
    rc = curl_event_add(fx->ce, r->easy, on_done, r);
    fx->adding--;
    return rc;
}

static void start(struct req *r, const char *route)
{
    assert_int_equal(start_on(r, NULL, route, NULL, 0), 0);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct fx *fx = arg;

    fx->timed_out = 1;
}

/* Run the loop until *@counter reaches @target, for LIMIT_S at most. */
static void run_until(struct fx *fx, const int *counter, int target,
                      const char *what)
{
    loop_until(fx->base, counter, target, LIMIT_S, what);
}

/* Let the loop run QUIET_MS, to see that nothing more happens. */
static void run_quiet(struct fx *fx)
{
    static const struct timeval quiet = {0, QUIET_MS * 1000};

    event_base_loopexit(fx->base, &quiet);
    event_base_dispatch(fx->base);
}

/* How many times the loop wakes up in QUIET_MS: an adapter that waits on
 * nothing but sockets with nothing to say wakes up once, for the end. */
static int wakeups(struct fx *fx)
{
    static const struct timeval quiet = {0, QUIET_MS * 1000};
    struct event *deadline = evtimer_new(fx->base, on_deadline, fx);
    int n = 0;

    assert_non_null(deadline);
    fx->timed_out = 0;
    evtimer_add(deadline, &quiet);
    while (!fx->timed_out) {
        event_base_loop(fx->base, EVLOOP_ONCE);
        n++;
    }
    event_free(deadline);
    return n;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_curl_event.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->sock, sizeof(fx->sock), "%s/docker.sock", fx->dir);
    fx->base = event_base_new();
    assert_non_null(fx->base);
    server_start(&fx->srv, fx->base, fx->sock);
    fx->ce = curl_event_attach(fx->base);
    assert_non_null(fx->ce);
    for (int i = 0; i < N_REQS; i++) {
        fx->reqs[i].fx = fx;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    char path[200];

    curl_event_detach(fx->ce);
    for (int i = 0; i < N_REQS; i++) {
        if (fx->reqs[i].easy) {
            curl_easy_cleanup(fx->reqs[i].easy);
        }
        free(fx->reqs[i].body);
    }
    server_stop(&fx->srv);
    event_base_free(fx->base);
    unlink(fx->sock);
    snprintf(path, sizeof(path), "%s/refused.sock", fx->dir);
    unlink(path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void assert_ended(const struct req *r, CURLcode result)
{
    assert_int_equal(r->n_done, 1);
    if (r->result != result) {
        fail_msg("ended with %d (%s), not %d (%s)", r->result,
                 curl_easy_strerror(r->result), result,
                 curl_easy_strerror(result));
    }
}

/* ------------------------------------------------------------------------ */
/* (a) One request                                                           */

/* One GET: done once, CURLE_OK, 200, the body through the write function,
 * and the adapter idle afterwards. */
static void get_with_body(void **state)
{
    struct fx *fx = *state;
    struct req *r = &fx->reqs[0];

    start(r, "hello");
    assert_int_equal(curl_event_running(fx->ce), 1);
    assert_int_equal(r->n_done, 0);
    run_until(fx, &fx->n_done, 1, "the reply");
    assert_ended(r, CURLE_OK);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "hello, minion\n");
    assert_int_equal(curl_event_running(fx->ce), 0);
    run_quiet(fx);
    assert_int_equal(fx->n_done, 1);
}

/* An HTTP error is a transfer that went well: CURLE_OK, the status says. */
static void http_error_is_ok_with_status(void **state)
{
    struct fx *fx = *state;
    struct req *r = &fx->reqs[0];

    start(r, "status/404");
    run_until(fx, &fx->n_done, 1, "the reply");
    assert_ended(r, CURLE_OK);
    assert_int_equal(r->status, 404);
    assert_string_equal(r->body, "{\"message\":\"status 404\"}");
}

#define POST_LEN (4 << 20)

/* @len bytes of pattern; their sum in @sum. Returns: new buffer. */
static char *post_body(size_t len, unsigned long *sum)
{
    char *post = malloc(len);

    assert_non_null(post);
    *sum = 0;
    for (size_t k = 0; k < len; k++) {
        post[k] = pattern(len, k);
        *sum += (unsigned char)post[k];
    }
    return post;
}

/* A 4 MiB POST fills the socket buffer, so libcurl has to wait for the
 * socket to be writable, then readable for the reply: the socket's event
 * goes from EV_WRITE to EV_READ. */
static void large_post(void **state)
{
    struct fx *fx = *state;
    struct req *r = &fx->reqs[0];
    unsigned long sum;
    char *post = post_body(POST_LEN, &sum), want[64];
    struct curl_slist *no_expect = curl_slist_append(NULL, "Expect:");

    assert_non_null(no_expect);
    r->easy = curl_easy_init();
    assert_non_null(r->easy);
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, no_expect);
    assert_int_equal(start_on(r, NULL, "post", post, POST_LEN), 0);
    run_until(fx, &fx->n_done, 1, "the reply");
    assert_ended(r, CURLE_OK);
    assert_int_equal(r->status, 200);
    snprintf(want, sizeof(want), "%d %lu", POST_LEN, sum);
    assert_string_equal(r->body, want);
    free(post);
    curl_slist_free_all(no_expect);
}

/* The same POST, never answered: once it is sent, the loop sleeps. An
 * event left on EV_WRITE would wake it up over and over. */
static void sleeps_while_waiting(void **state)
{
    struct fx *fx = *state;
    struct req *r = &fx->reqs[0];
    unsigned long sum;
    char *post = post_body(POST_LEN, &sum);
    struct curl_slist *no_expect = curl_slist_append(NULL, "Expect:");
    int n;

    assert_non_null(no_expect);
    r->easy = curl_easy_init();
    assert_non_null(r->easy);
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, no_expect);
    assert_int_equal(start_on(r, NULL, "hang", post, POST_LEN), 0);
    run_until(fx, &fx->srv.n_hung, 1, "the request to reach the server");
    n = wakeups(fx);
    if (n > 5) {
        fail_msg("the loop woke up %d times in %d ms", n, QUIET_MS);
    }
    assert_int_equal(r->n_done, 0);
    curl_event_cancel(fx->ce, r->easy);
    assert_ended(r, CURLE_ABORTED_BY_CALLBACK);
    free(post);
    curl_slist_free_all(no_expect);
}

/* ------------------------------------------------------------------------ */
/* (b) Many at once                                                          */

/* 20 requests at once, bodies from 0 to 57 KB: each done exactly once,
 * each body its own. */
static void twenty_at_once(void **state)
{
    struct fx *fx = *state;
    char route[32];

    for (int i = 0; i < N_CONCURRENT; i++) {
        snprintf(route, sizeof(route), "bytes/%d", i * 3001);
        start(&fx->reqs[i], route);
    }
    assert_int_equal(curl_event_running(fx->ce), N_CONCURRENT);
    run_until(fx, &fx->n_done, N_CONCURRENT, "the replies");
    for (int i = 0; i < N_CONCURRENT; i++) {
        struct req *r = &fx->reqs[i];
        size_t n = (size_t)i * 3001;

        assert_ended(r, CURLE_OK);
        assert_int_equal(r->status, 200);
        assert_int_equal(r->len, n);
        for (size_t k = 0; k < n; k++) {
            if (r->body[k] != pattern(n, k)) {
                fail_msg("request %d: byte %zu is wrong", i, k);
            }
        }
    }
    assert_int_equal(fx->srv.n_requests, N_CONCURRENT);
    assert_int_equal(curl_event_running(fx->ce), 0);
    run_quiet(fx);
    assert_int_equal(fx->n_done, N_CONCURRENT);
}

/* ------------------------------------------------------------------------ */
/* (c) A stream                                                              */

/* A chunked reply sent piece by piece, as /wait or logs?follow=1: the
 * server sends a piece only once the client has every earlier one, so the
 * stream cannot finish unless pieces reach the write function as they
 * arrive. Done comes once, after the last piece. */
static void stream_arrives_piece_by_piece(void **state)
{
    struct fx *fx = *state;
    struct req *r = &fx->reqs[0];
    char route[32], want[128] = "";

    fx->srv.stream_seen = &r->len;
    snprintf(route, sizeof(route), "stream/%d", N_PIECES);
    start(r, route);
    run_until(fx, &fx->n_done, 1, "the end of the stream");
    for (int i = 0; i < N_PIECES; i++) {
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "piece %d\n",
                 i);
    }
    assert_ended(r, CURLE_OK);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, want);
    assert_int_equal(r->len_at_done, strlen(want));
    assert_true(r->n_writes >= N_PIECES);
}

/* ------------------------------------------------------------------------ */
/* (d) Cancel                                                                */

/* A request that is never answered, and the loop sleeps meanwhile. Cancel
 * ends it, once, as cancelled, before curl_event_cancel() returns; its
 * connection is closed. */
static void cancel_unanswered(void **state)
{
    struct fx *fx = *state;
    struct req *r = &fx->reqs[0];

    start(r, "hang");
    run_until(fx, &fx->srv.n_hung, 1, "the request to reach the server");
    assert_in_range(wakeups(fx), 1, 5);
    assert_int_equal(r->n_done, 0);
    fx->cancelling = 1;
    curl_event_cancel(fx->ce, r->easy);
    fx->cancelling = 0;
    assert_ended(r, CURLE_ABORTED_BY_CALLBACK);
    assert_int_equal(r->done_in_cancel, 1);
    assert_int_equal(curl_event_running(fx->ce), 0);
    /* Not running any more: nothing happens. */
    curl_event_cancel(fx->ce, r->easy);
    assert_int_equal(r->n_done, 1);
    run_until(fx, &fx->srv.n_closed, 1, "the connection to close");
    run_quiet(fx);
    assert_int_equal(fx->n_done, 1);
}

/* Cancelled before the loop ever ran it: the same. */
static void cancel_before_start(void **state)
{
    struct fx *fx = *state;
    struct req *r = &fx->reqs[0];

    start(r, "hang");
    fx->cancelling = 1;
    curl_event_cancel(fx->ce, r->easy);
    fx->cancelling = 0;
    assert_ended(r, CURLE_ABORTED_BY_CALLBACK);
    assert_int_equal(r->done_in_cancel, 1);
    run_quiet(fx);
    assert_int_equal(fx->n_done, 1);
    assert_int_equal(fx->srv.n_requests, 0);
}

/* ------------------------------------------------------------------------ */
/* (e) Detach                                                                */

/* A caller that retries what was cancelled: a detaching adapter refuses,
 * or detach would never end. */
static void then_retry(struct req *r)
{
    assert_int_equal(r->result, CURLE_ABORTED_BY_CALLBACK);
    assert_int_equal(start_on(r, NULL, "hello", NULL, 0), -EINVAL);
}

/* Three requests waiting on the server: detach ends each once, as
 * cancelled, and frees everything (the sanitizer build checks). */
static void detach_with_three_in_flight(void **state)
{
    struct fx *fx = *state;

    for (int i = 0; i < 3; i++) {
        fx->reqs[i].then = then_retry;
        start(&fx->reqs[i], "hang");
    }
    run_until(fx, &fx->srv.n_hung, 3, "the requests to reach the server");
    curl_event_detach(fx->ce);
    fx->ce = NULL;
    assert_int_equal(fx->n_done, 3);
    for (int i = 0; i < 3; i++) {
        assert_ended(&fx->reqs[i], CURLE_ABORTED_BY_CALLBACK);
    }
    run_until(fx, &fx->srv.n_closed, 3, "the connections to close");
    run_quiet(fx);
    assert_int_equal(fx->n_done, 3);
}

/* Detach right after adding, before any of it reached a socket. */
static void detach_before_start(void **state)
{
    struct fx *fx = *state;

    for (int i = 0; i < 3; i++) {
        start(&fx->reqs[i], "hello");
    }
    curl_event_detach(fx->ce);
    fx->ce = NULL;
    assert_int_equal(fx->n_done, 3);
    for (int i = 0; i < 3; i++) {
        assert_ended(&fx->reqs[i], CURLE_ABORTED_BY_CALLBACK);
    }
    run_quiet(fx);
    assert_int_equal(fx->n_done, 3);
}

/* ------------------------------------------------------------------------ */
/* (f) Done callbacks that add, cancel, detach                               */

/* Step 0 and 1 add the same handle again (it is out of the multi already);
 * step 2 starts another handle. */
static void chain_next(struct req *r)
{
    struct fx *fx = r->fx;

    assert_int_equal(r->result, CURLE_OK);
    if (r->step == 0) {
        r->step = 1;
        start(r, "bytes/20");
    } else if (r->step == 1) {
        r->step = 2;
        fx->reqs[1].step = 3;
        start(&fx->reqs[1], "bytes/30");
    }
}

static void chained_requests(void **state)
{
    struct fx *fx = *state;
    struct req *a = &fx->reqs[0], *b = &fx->reqs[1];

    a->then = chain_next;
    start(a, "bytes/10");
    run_until(fx, &fx->n_done, 3, "the chain");
    assert_int_equal(a->n_done, 2);
    assert_int_equal(a->step, 2);
    assert_int_equal(a->len, 20);
    assert_ended(b, CURLE_OK);
    assert_int_equal(b->len, 30);
    /* The handle left the multi before its done callback: its connection
     * stayed cached, and every request of the chain used it. */
    assert_int_equal(fx->srv.n_requests, 3);
    assert_int_equal(fx->srv.n_accepted, 1);
    run_quiet(fx);
    assert_int_equal(fx->n_done, 3);
}

static void then_detach(struct req *r)
{
    curl_event_detach(r->fx->ce);
    r->fx->ce = NULL;
}

/* A done callback detaches while two other requests still wait: they end
 * as cancelled, and the adapter is freed once the loop's handler is out. */
static void detach_from_done(void **state)
{
    struct fx *fx = *state;

    start(&fx->reqs[1], "hang");
    start(&fx->reqs[2], "hang");
    run_until(fx, &fx->srv.n_hung, 2, "the requests to reach the server");
    fx->reqs[0].then = then_detach;
    start(&fx->reqs[0], "hello");
    run_until(fx, &fx->n_done, 3, "every done callback");
    assert_ended(&fx->reqs[0], CURLE_OK);
    assert_ended(&fx->reqs[1], CURLE_ABORTED_BY_CALLBACK);
    assert_ended(&fx->reqs[2], CURLE_ABORTED_BY_CALLBACK);
    assert_null(fx->ce);
    run_quiet(fx);
    assert_int_equal(fx->n_done, 3);
}

static void then_cancel_next(struct req *r)
{
    struct req *next = r + 1;

    curl_event_cancel(r->fx->ce, next->easy);
    assert_int_equal(next->n_done, 1);
}

/* A done callback cancels another request: it ends there and then. */
static void cancel_from_done(void **state)
{
    struct fx *fx = *state;

    start(&fx->reqs[1], "hang");
    run_until(fx, &fx->srv.n_hung, 1, "the request to reach the server");
    fx->reqs[0].then = then_cancel_next;
    start(&fx->reqs[0], "hello");
    run_until(fx, &fx->n_done, 2, "both done callbacks");
    assert_ended(&fx->reqs[0], CURLE_OK);
    assert_ended(&fx->reqs[1], CURLE_ABORTED_BY_CALLBACK);
    assert_int_equal(curl_event_running(fx->ce), 0);
    run_quiet(fx);
    assert_int_equal(fx->n_done, 2);
}

static void cancel_self(struct req *r)
{
    curl_event_cancel(r->fx->ce, r->easy);
    /* libcurl cannot let go of the handle while it is calling us. */
    assert_int_equal(r->n_done, 0);
}

/* Cancel from the write function, inside libcurl: done comes as cancelled
 * once libcurl has returned, still once, and the stream stops. */
static void cancel_from_write(void **state)
{
    struct fx *fx = *state;
    struct req *r = &fx->reqs[0];
    char route[32];

    fx->srv.stream_seen = &r->len;
    r->on_first_bytes = cancel_self;
    snprintf(route, sizeof(route), "stream/%d", N_PIECES);
    start(r, route);
    run_until(fx, &fx->n_done, 1, "the cancelled stream");
    assert_ended(r, CURLE_ABORTED_BY_CALLBACK);
    assert_int_equal(curl_event_running(fx->ce), 0);
    run_until(fx, &fx->srv.n_closed, 1, "the connection to close");
    run_quiet(fx);
    assert_int_equal(fx->n_done, 1);
}

static void detach_self(struct req *r)
{
    curl_event_detach(r->fx->ce);
    r->fx->ce = NULL;
}

/* Detach from the write function: every transfer ends as cancelled once
 * libcurl has returned, and the adapter goes. */
static void detach_from_write(void **state)
{
    struct fx *fx = *state;
    struct req *r = &fx->reqs[0];
    char route[32];

    start(&fx->reqs[1], "hang");
    run_until(fx, &fx->srv.n_hung, 1, "the request to reach the server");
    fx->srv.stream_seen = &r->len;
    r->on_first_bytes = detach_self;
    snprintf(route, sizeof(route), "stream/%d", N_PIECES);
    start(r, route);
    run_until(fx, &fx->n_done, 2, "both done callbacks");
    assert_ended(r, CURLE_ABORTED_BY_CALLBACK);
    assert_ended(&fx->reqs[1], CURLE_ABORTED_BY_CALLBACK);
    assert_null(fx->ce);
    run_quiet(fx);
    assert_int_equal(fx->n_done, 2);
}

/* As docker's /wait: once the headers of a streaming reply are in, the
 * header function starts the next request. libcurl refuses new handles
 * while it calls us; the adapter adds it as soon as libcurl returns. */
static void start_second(struct req *r)
{
    struct req *next = r + 1;

    start(next, "hello");
    assert_int_equal(curl_event_running(r->fx->ce), 2);
}

static void add_from_header_function(void **state)
{
    struct fx *fx = *state;
    struct req *r = &fx->reqs[0];
    char route[32];

    fx->srv.stream_seen = &r->len;
    r->on_headers = start_second;
    snprintf(route, sizeof(route), "stream/%d", N_PIECES);
    start(r, route);
    run_until(fx, &fx->n_done, 2, "both replies");
    assert_ended(r, CURLE_OK);
    assert_ended(&fx->reqs[1], CURLE_OK);
    assert_int_equal(fx->reqs[1].status, 200);
    assert_string_equal(fx->reqs[1].body, "hello, minion\n");
    run_quiet(fx);
    assert_int_equal(fx->n_done, 2);
}

static void start_and_cancel_second(struct req *r)
{
    struct req *next = r + 1;

    start(next, "hello");
    curl_event_cancel(r->fx->ce, next->easy);
    assert_int_equal(next->n_done, 0);
}

static void start_second_and_detach(struct req *r)
{
    struct req *next = r + 1;

    start(next, "hello");
    curl_event_detach(r->fx->ce);
    r->fx->ce = NULL;
}

/* Added and cancelled inside libcurl, before libcurl ever had it: done as
 * cancelled, once, and it never reaches the server. Then the same with a
 * detach: both transfers end as cancelled. */
static void add_then_cancel_inside_libcurl(void **state)
{
    struct fx *fx = *state;
    struct req *r = &fx->reqs[0];

    r->on_headers = start_and_cancel_second;
    start(r, "hello");
    run_until(fx, &fx->n_done, 2, "both done callbacks");
    assert_ended(r, CURLE_OK);
    assert_ended(&fx->reqs[1], CURLE_ABORTED_BY_CALLBACK);
    run_quiet(fx);
    assert_int_equal(fx->n_done, 2);
    assert_int_equal(fx->srv.n_requests, 1);

    r = &fx->reqs[2];
    r->on_headers = start_second_and_detach;
    start(r, "hello");
    run_until(fx, &fx->n_done, 4, "both done callbacks");
    assert_ended(r, CURLE_ABORTED_BY_CALLBACK);
    assert_ended(&fx->reqs[3], CURLE_ABORTED_BY_CALLBACK);
    assert_null(fx->ce);
    run_quiet(fx);
    assert_int_equal(fx->n_done, 4);
    assert_int_equal(fx->srv.n_requests, 2);
}

/* ------------------------------------------------------------------------ */
/* (g) Nobody there                                                          */

/* No socket file at all, then a socket file nobody listens on: both fail
 * with CURLE_COULDNT_CONNECT, promptly. */
static void connection_refused(void **state)
{
    struct fx *fx = *state;
    char missing[160], refused[160];

    snprintf(missing, sizeof(missing), "%s/missing.sock", fx->dir);
    snprintf(refused, sizeof(refused), "%s/refused.sock", fx->dir);
    close(unix_socket(refused, 0));
    assert_int_equal(start_on(&fx->reqs[0], missing, "hello", NULL, 0), 0);
    assert_int_equal(start_on(&fx->reqs[1], refused, "hello", NULL, 0), 0);
    run_until(fx, &fx->n_done, 2, "both failures");
    assert_ended(&fx->reqs[0], CURLE_COULDNT_CONNECT);
    assert_ended(&fx->reqs[1], CURLE_COULDNT_CONNECT);
    assert_int_equal(fx->reqs[0].status, 0);
    assert_int_equal(curl_event_running(fx->ce), 0);
}

/* ------------------------------------------------------------------------ */
/* (h) The server goes away mid-reply                                        */

/* Closed after 10 of 100 bytes, after a piece of a chunked reply, and
 * before any reply: each is a curl error, not a hang and not CURLE_OK. */
static void server_closes_mid_reply(void **state)
{
    struct fx *fx = *state;

    start(&fx->reqs[0], "cut");
    start(&fx->reqs[1], "cutchunk");
    start(&fx->reqs[2], "drop");
    run_until(fx, &fx->n_done, 3, "the three failures");
    assert_ended(&fx->reqs[0], CURLE_PARTIAL_FILE);
    assert_int_equal(fx->reqs[0].status, 200);
    assert_string_equal(fx->reqs[0].body, "0123456789");
    assert_ended(&fx->reqs[1], CURLE_PARTIAL_FILE);
    assert_string_equal(fx->reqs[1].body, "0123456789");
    assert_ended(&fx->reqs[2], CURLE_GOT_NOTHING);
    run_quiet(fx);
    assert_int_equal(fx->n_done, 3);
}

/* ------------------------------------------------------------------------ */
/* Argument checks                                                           */

/* What curl_event_add refuses never gets a done callback; NULL is fine
 * where the header says so. */
static void bad_arguments(void **state)
{
    struct fx *fx = *state;
    struct req *r = &fx->reqs[0];

    r->easy = curl_easy_init();
    assert_non_null(r->easy);
    assert_int_equal(curl_event_add(NULL, r->easy, on_done, r), -EINVAL);
    assert_int_equal(curl_event_add(fx->ce, NULL, on_done, r), -EINVAL);
    assert_int_equal(curl_event_add(fx->ce, r->easy, NULL, r), -EINVAL);
    start(r, "hang");
    /* Twice the same running handle. */
    assert_int_equal(curl_event_add(fx->ce, r->easy, on_done, r), -EINVAL);
    assert_int_equal(curl_event_running(fx->ce), 1);
    curl_event_cancel(fx->ce, NULL);
    curl_event_cancel(NULL, r->easy);
    curl_event_detach(NULL);
    assert_int_equal(curl_event_running(NULL), 0);
    assert_int_equal(fx->n_done, 0);
    curl_event_detach(fx->ce);
    fx->ce = NULL;
    assert_ended(r, CURLE_ABORTED_BY_CALLBACK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(get_with_body),
        T(http_error_is_ok_with_status),
        T(large_post),
        T(sleeps_while_waiting),
        T(twenty_at_once),
        T(stream_arrives_piece_by_piece),
        T(cancel_unanswered),
        T(cancel_before_start),
        T(detach_with_three_in_flight),
        T(detach_before_start),
        T(chained_requests),
        T(detach_from_done),
        T(cancel_from_done),
        T(cancel_from_write),
        T(detach_from_write),
        T(add_from_header_function),
        T(add_then_cancel_inside_libcurl),
        T(connection_refused),
        T(server_closes_mid_reply),
        T(bad_arguments),
#undef T
    };
    int rc;

    /* A client that hangs up makes the server's next write raise SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return 99;
    }
    if (!(curl_version_info(CURLVERSION_NOW)->features &
          CURL_VERSION_UNIX_SOCKETS)) {
        fprintf(stderr, "libcurl without Unix sockets: skipped\n");
        curl_global_cleanup();
        return 77;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    libevent_global_shutdown();
    return rc;
}
