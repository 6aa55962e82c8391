/* SPDX-License-Identifier: MIT */
/* plugins/adapters/ws.c against a small WebSocket server of our own on
 * 127.0.0.1 (and [::1] when there is one), running on the same event base
 * as the client, so one thread drives both ends. The server is driven by
 * hand: each test says how it answers the upgrade and what it does with
 * the client's frames, and reads back what the client sent. For wss:// it
 * serves TLS with a throwaway self-signed certificate made in memory; the
 * client's side of TLS is the build tree's adapters/tls.so, loaded by
 * ws.c as in the engine (this test links OpenSSL for its server only).
 * Every wait is bounded by a deadline on the loop; a wait that times out
 * fails the test. */
#include "config.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "loop_until.h"
#include "tls.h"
#include "ws.h"

#define LIMIT_S 10  /* no wait in a test lasts longer */
#define QUIET_MS 80 /* how long "nothing else happens" is watched */
#define MAX_FRAMES 64
#define MAX_MSGS 16
#define HEAD_MAX 4096
#define GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ------------------------------------------------------------------------ */
/* The server                                                                */

enum answer {
    ANSWER_101, /* a correct upgrade, then `with_101` in the same write */
    ANSWER_BAD_ACCEPT, /* 101 with a Sec-WebSocket-Accept for another key */
    ANSWER_RAW,        /* `raw` as it is, then hang up if `hang_up_after` */
    ANSWER_NOTHING,    /* read the request, never answer */
};

struct frame {
    int fin, opcode, masked;
    size_t len;
    unsigned char *data; /* unmasked, NUL-terminated */
};

struct srv {
    struct event_base *base;
    struct evconnlistener *lev;
    SSL_CTX *tls; /* serve wss when set */
    int port;
    struct bufferevent *bev; /* the one connection, until it ends */
    int n_accepted;
    int upgraded;
    char request[HEAD_MAX]; /* the upgrade request's head */
    int got_request;
    /* How it answers the upgrade. */
    enum answer answer;
    const char *with_101;
    size_t with_101_len;
    const char *raw;
    int hang_up_after; /* once the answer has gone out */
    /* What it does with frames. */
    int echo_text;    /* send text frames back */
    int answer_pings; /* pong each ping */
    int answer_close; /* echo a close, then hang up */
    struct frame frames[MAX_FRAMES];
    int n_frames;
    int n_pings;
    int n_hung_up; /* connections the client closed */
};

static void frame_out(struct evbuffer *out, int fin, int opcode,
                      const void *data, size_t len)
{
    unsigned char h[10];
    size_t n = 2;

    h[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        h[1] = (unsigned char)len;
    } else if (len < 65536) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        n = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++) {
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        }
        n = 10;
    }
    evbuffer_add(out, h, n);
    evbuffer_add(out, data, len);
}

static void srv_send(struct srv *s, int fin, int opcode, const void *data,
                     size_t len)
{
    assert_non_null(s->bev);
    frame_out(bufferevent_get_output(s->bev), fin, opcode, data, len);
}

/* base64(SHA-1(key + GUID)), written here apart from the adapter's. */
static void accept_for(const char *key, char *out)
{
    char in[128];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    snprintf(in, sizeof(in), "%s%s", key, GUID);
    assert_true(EVP_Digest(in, strlen(in), md, &n, EVP_sha1(), NULL));
    EVP_EncodeBlock((unsigned char *)out, md, (int)n);
}

/* The value of header @name in the request, or NULL. */
static const char *req_header(struct srv *s, const char *name, char *buf,
                              size_t len)
{
    const char *p = strstr(s->request, "\r\n");

    while (p && p[2] != '\r') {
        const char *line = p + 2, *end = strstr(line, "\r\n");
        size_t n = strlen(name);

        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1 + strspn(line + n + 1, " ");

            snprintf(buf, len, "%.*s", (int)(end - v), v);
            return buf;
        }
        p = end;
    }
    return NULL;
}

static void srv_drop(struct srv *s)
{
    if (s->bev) {
        bufferevent_free(s->bev);
        s->bev = NULL;
    }
}

static void on_srv_flushed(struct bufferevent *bev, void *arg)
{
    srv_drop(arg);
}

/* Hang up once what was written has gone out. */
static void srv_drop_after_flush(struct srv *s)
{
    bufferevent_setcb(s->bev, NULL, on_srv_flushed, NULL, s);
    if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
        srv_drop(s);
    }
}

static void answer_upgrade(struct srv *s)
{
    struct evbuffer *out = bufferevent_get_output(s->bev);
    char key[64], accept[64];

    switch (s->answer) {
    case ANSWER_101:
    case ANSWER_BAD_ACCEPT:
        assert_non_null(req_header(s, "Sec-WebSocket-Key", key, sizeof(key)));
        accept_for(s->answer == ANSWER_101 ? key : "AAAAAAAAAAAAAAAAAAAAAA==",
                   accept);
        evbuffer_add_printf(out,
                            "HTTP/1.1 101 Switching Protocols\r\n"
                            "Upgrade: websocket\r\n"
                            "Connection: Upgrade\r\n"
                            "Sec-WebSocket-Accept: %s\r\n\r\n",
                            accept);
        if (s->with_101) {
            evbuffer_add(out, s->with_101, s->with_101_len);
        }
        s->upgraded = 1;
        if (s->hang_up_after) {
            srv_drop_after_flush(s);
        }
        break;
    case ANSWER_RAW:
        evbuffer_add(out, s->raw, strlen(s->raw));
        if (s->hang_up_after) {
            srv_drop_after_flush(s);
        }
        break;
    case ANSWER_NOTHING: break;
    }
}

/* One whole frame from the client, or 0 when it is not all there yet. */
static int read_frame(struct srv *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    size_t avail = evbuffer_get_length(in), hl;
    unsigned char h[14];
    uint64_t len;
    struct frame *f;

    if (avail < 2) {
        return 0;
    }
    evbuffer_copyout(in, h, 2);
    len = h[1] & 0x7f;
    hl = 2 + (len == 126 ? 2 : len == 127 ? 8 : 0) + ((h[1] & 0x80) ? 4 : 0);
    if (avail < hl) {
        return 0;
    }
    evbuffer_copyout(in, h, hl);
    if (len == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++) {
            len = len << 8 | h[2 + i];
        }
    }
    if (avail < hl + len) {
        return 0;
    }
    assert_true(s->n_frames < MAX_FRAMES);
    f = &s->frames[s->n_frames++];
    f->fin = h[0] >> 7;
    f->opcode = h[0] & 0x0f;
    f->masked = h[1] >> 7;
    f->len = (size_t)len;
    f->data = malloc(f->len + 1);
    assert_non_null(f->data);
    evbuffer_drain(in, hl);
    evbuffer_remove(in, f->data, f->len);
    f->data[f->len] = '\0';
    for (size_t i = 0; f->masked && i < f->len; i++) {
        f->data[i] ^= h[hl - 4 + i % 4];
    }
    return 1;
}

static void handle_frame(struct srv *s, const struct frame *f)
{
    if (f->opcode == 0x9) {
        s->n_pings++;
        if (s->answer_pings) {
            srv_send(s, 1, 0xa, f->data, f->len);
        }
    } else if (f->opcode == 0x1 && s->echo_text) {
        srv_send(s, 1, 0x1, f->data, f->len);
    } else if (f->opcode == 0x8 && s->answer_close) {
        srv_send(s, 1, 0x8, f->data, f->len);
        srv_drop_after_flush(s);
    }
}

static void on_srv_read(struct bufferevent *bev, void *arg)
{
    struct srv *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    if (!s->got_request) {
        struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        size_t n;

        if (end.pos < 0) {
            return;
        }
        n = (size_t)end.pos + 4;
        assert_true(n < sizeof(s->request));
        evbuffer_remove(in, s->request, n);
        s->request[n] = '\0';
        s->got_request = 1;
        answer_upgrade(s);
        if (!s->bev || !s->upgraded) {
            return;
        }
    }
    while (s->bev && s->upgraded && read_frame(s)) {
        handle_frame(s, &s->frames[s->n_frames - 1]);
    }
}

static void on_srv_event(struct bufferevent *bev, short what, void *arg)
{
    struct srv *s = arg;

    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        s->n_hung_up++;
        srv_drop(s);
    }
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd,
                      struct sockaddr *sa, int salen, void *arg)
{
    struct srv *s = arg;

    /* One connection per test: a second would be a bug of the client. */
    assert_null(s->bev);
    if (s->tls) {
        SSL *ssl = SSL_new(s->tls);

        assert_non_null(ssl);
        s->bev = bufferevent_openssl_socket_new(
            s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
        bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
    } else {
        s->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    assert_non_null(s->bev);
    bufferevent_setcb(s->bev, on_srv_read, NULL, on_srv_event, s);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    s->n_accepted++;
}

/* Listen on @addr (an IPv4 or IPv6 loopback) port 0. Returns 0, or -1 when
 * the address cannot be bound (no IPv6). */
static int srv_start(struct srv *s, struct event_base *base, const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int v6 = strchr(addr, ':') != NULL;

    memset(&ss, 0, sizeof(ss));
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, addr, &a->sin6_addr), 1);
        sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, addr, &a->sin_addr), 1);
        sl = sizeof(*a);
    }
    s->base = base;
    s->lev = evconnlistener_new_bind(base, on_accept, s, LEV_OPT_CLOSE_ON_FREE,
                                     16, (struct sockaddr *)&ss, (int)sl);
    if (!s->lev) {
        return -1;
    }
    sl = sizeof(ss);
    assert_int_equal(
        getsockname(evconnlistener_get_fd(s->lev), (struct sockaddr *)&ss, &sl),
        0);
    s->port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                       : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

static void srv_stop(struct srv *s)
{
    srv_drop(s);
    if (s->lev) {
        evconnlistener_free(s->lev);
        s->lev = NULL;
    }
    for (int i = 0; i < s->n_frames; i++) {
        free(s->frames[i].data);
    }
    s->n_frames = 0;
    if (s->tls) {
        SSL_CTX_free(s->tls);
        s->tls = NULL;
    }
}

/* A TLS server context with a self-signed certificate for "localhost",
 * made in memory for this run; with @alt_name ("IP:127.0.0.1"), that
 * subjectAltName too. With @pem, the certificate is also written there,
 * for the client to trust through $SSL_CERT_FILE. */
static SSL_CTX *self_signed_as(const char *alt_name, const char *pem)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    X509_NAME *name;

    assert_non_null(key);
    assert_non_null(x);
    assert_non_null(ctx);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (alt_name) {
        X509_EXTENSION *ext =
            X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, alt_name);

        assert_non_null(ext);
        assert_int_equal(X509_add_ext(x, ext, -1), 1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
    if (pem) {
        FILE *f = fopen(pem, "w");

        assert_non_null(f);
        assert_int_equal(PEM_write_X509(f, x), 1);
        assert_int_equal(fclose(f), 0);
    }
    X509_free(x);
    EVP_PKEY_free(key);
    return ctx;
}

static SSL_CTX *self_signed(void)
{
    return self_signed_as(NULL, NULL);
}

/* ------------------------------------------------------------------------ */
/* The client side                                                           */

struct fx {
    struct event_base *base;
    struct srv srv;
    struct ws_conn *c;
    char url[256];
    int in_connect; /* ws_connect() is on the stack */
    int n_open;
    int n_closed;
    int closed_status, closed_code;
    char why[512];
    int n_msgs;
    char *msgs[MAX_MSGS];
    size_t lens[MAX_MSGS];
    int binary[MAX_MSGS];
    int opened_before_msg; /* open() had run when the first message came */
    /* What the test does from open(), message() and closed(). */
    void (*on_open)(struct fx *fx);
    void (*on_message)(struct fx *fx);
    int free_in_closed;
};

static void on_open(struct ws_conn *c, void *arg)
{
    struct fx *fx = arg;

    assert_ptr_equal(c, fx->c);
    assert_int_equal(fx->in_connect, 0);
    fx->n_open++;
    if (fx->on_open) {
        fx->on_open(fx);
    }
}

static void on_message(struct ws_conn *c, const char *data, size_t len,
                       int binary, void *arg)
{
    struct fx *fx = arg;
    int i = fx->n_msgs;

    assert_ptr_equal(c, fx->c);
    assert_true(i < MAX_MSGS);
    if (i == 0) {
        fx->opened_before_msg = fx->n_open;
    }
    fx->msgs[i] = malloc(len + 1);
    assert_non_null(fx->msgs[i]);
    memcpy(fx->msgs[i], data, len);
    fx->msgs[i][len] = '\0';
    fx->lens[i] = len;
    fx->binary[i] = binary;
    fx->n_msgs++;
    if (fx->on_message) {
        fx->on_message(fx);
    }
}

static void on_closed(struct ws_conn *c, int http_status, int close_code,
                      const char *why, void *arg)
{
    struct fx *fx = arg;

    assert_ptr_equal(c, fx->c);
    assert_int_equal(fx->in_connect, 0);
    assert_non_null(why);
    assert_null(strchr(why, '\n'));
    fx->n_closed++;
    fx->closed_status = http_status;
    fx->closed_code = close_code;
    snprintf(fx->why, sizeof(fx->why), "%s", why);
    if (fx->free_in_closed) {
        ws_free(c);
        fx->c = NULL;
    }
}

static const struct ws_ops ops = {
    .open = on_open,
    .message = on_message,
    .closed = on_closed,
};

/* Run the loop until *@counter reaches @target, for LIMIT_S at most. */
static void run_until(struct fx *fx, const int *counter, int target,
                      const char *what)
{
    loop_until(fx->base, counter, target, LIMIT_S, what);
}

/* Let the loop run @ms, to see what happens (or that nothing does). */
static void run_for(struct fx *fx, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    event_base_loopexit(fx->base, &tv);
    event_base_dispatch(fx->base);
}

static double now_s(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static struct ws_conn *connect_with(struct fx *fx, struct ws_options *o)
{
    char err[256] = "";

    fx->in_connect = 1;
    fx->c = ws_connect(fx->base, o, &ops, fx, err, sizeof(err));
    fx->in_connect = 0;
    if (!fx->c) {
        fail_msg("ws_connect: %s", err);
    }
    return fx->c;
}

/* Connect to @path on the test server. */
static struct ws_conn *connect_to(struct fx *fx, const char *path)
{
    struct ws_options o = {.url = fx->url, .handshake_timeout_s = 5};

    snprintf(fx->url, sizeof(fx->url), "ws://127.0.0.1:%d%s", fx->srv.port,
             path);
    return connect_with(fx, &o);
}

static void expect_closed(struct fx *fx, int status, int code,
                          const char *why_has)
{
    run_until(fx, &fx->n_closed, 1, "closed()");
    assert_int_equal(fx->n_closed, 1);
    assert_int_equal(fx->closed_status, status);
    assert_int_equal(fx->closed_code, code);
    if (why_has && !strstr(fx->why, why_has)) {
        fail_msg("why \"%s\" lacks \"%s\"", fx->why, why_has);
    }
}

/* The request's first line is @line. */
static void assert_request_line(struct fx *fx, const char *line)
{
    size_t n = strlen(line);

    assert_int_equal(fx->srv.got_request, 1);
    if (strncmp(fx->srv.request, line, n) != 0 ||
        strncmp(fx->srv.request + n, "\r\n", 2) != 0) {
        fail_msg("request \"%.*s\", not \"%s\"",
                 (int)strcspn(fx->srv.request, "\r"), fx->srv.request, line);
    }
}

/* The client's @i-th frame: masked, as RFC 6455 wants. */
static const struct frame *client_frame(struct fx *fx, int i, int opcode)
{
    const struct frame *f;

    run_until(fx, &fx->srv.n_frames, i + 1, "a frame from the client");
    f = &fx->srv.frames[i];
    assert_int_equal(f->opcode, opcode);
    assert_int_equal(f->masked, 1);
    assert_int_equal(f->fin, 1);
    return f;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->base = event_base_new();
    assert_non_null(fx->base);
    assert_int_equal(srv_start(&fx->srv, fx->base, "127.0.0.1"), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    ws_free(fx->c);
    srv_stop(&fx->srv);
    /* Let deferred work (a cancelled lookup) end before the base goes. */
    run_for(fx, 10);
    for (int i = 0; i < fx->n_msgs; i++) {
        free(fx->msgs[i]);
    }
    event_base_free(fx->base);
    free(fx);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */

static void accept_matches_rfc_example(void **state)
{
    char accept[64];

    /* RFC 6455 section 1.3: checks the test's own computation. */
    accept_for("dGhlIHNhbXBsZSBub25jZQ==", accept);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void upgrade_request_and_first_frame(void **state)
{
    struct fx *fx = *state;
    char hello[16], buf[256], want[64];
    size_t hello_len;
    struct evbuffer *frames = evbuffer_new();
    struct ws_options o = {.bearer = "tok.en-123"};

    /* The first frame comes in the same write as the 101. */
    frame_out(frames, 1, 0x1, "hello", 5);
    hello_len = evbuffer_remove(frames, hello, sizeof(hello));
    evbuffer_free(frames);
    fx->srv.with_101 = hello;
    fx->srv.with_101_len = hello_len;
    snprintf(fx->url, sizeof(fx->url),
             "ws://127.0.0.1:%d/ws/v2/consumer/persistent/public/default/t/"
             "sub?subscriptionType=Shared&receiverQueueSize=10#frag",
             fx->srv.port);
    o.url = fx->url;
    connect_with(fx, &o);
    assert_int_equal(fx->n_closed, 0);
    run_until(fx, &fx->n_msgs, 1, "the first message");
    assert_int_equal(fx->n_open, 1);
    assert_int_equal(fx->opened_before_msg, 1);
    assert_string_equal(fx->msgs[0], "hello");
    assert_int_equal(fx->binary[0], 0);

    assert_request_line(fx,
                        "GET /ws/v2/consumer/persistent/public/default/t/sub"
                        "?subscriptionType=Shared&receiverQueueSize=10 "
                        "HTTP/1.1");
    snprintf(want, sizeof(want), "127.0.0.1:%d", fx->srv.port);
    assert_string_equal(req_header(&fx->srv, "Host", buf, sizeof(buf)), want);
    assert_string_equal(req_header(&fx->srv, "Upgrade", buf, sizeof(buf)),
                        "websocket");
    assert_string_equal(req_header(&fx->srv, "Connection", buf, sizeof(buf)),
                        "Upgrade");
    assert_string_equal(
        req_header(&fx->srv, "Sec-WebSocket-Version", buf, sizeof(buf)), "13");
    assert_string_equal(req_header(&fx->srv, "Authorization", buf, sizeof(buf)),
                        "Bearer tok.en-123");
    assert_null(
        req_header(&fx->srv, "Sec-WebSocket-Extensions", buf, sizeof(buf)));
    /* 16 random bytes, base64: 24 characters ending in "==". */
    assert_non_null(
        req_header(&fx->srv, "Sec-WebSocket-Key", buf, sizeof(buf)));
    assert_int_equal(strlen(buf), 24);
    assert_string_equal(buf + 22, "==");
    assert_int_equal(
        EVP_DecodeBlock((unsigned char *)want, (const unsigned char *)buf, 24),
        18);

    fx->srv.answer_close = 1;
    ws_close(fx->c, 1000, "bye");
    expect_closed(fx, 0, 1000, "127.0.0.1");
}

static void default_path_and_http_scheme(void **state)
{
    struct fx *fx = *state;
    struct ws_options o = {0};

    snprintf(fx->url, sizeof(fx->url), "HTTP://127.0.0.1:%d?x=1", fx->srv.port);
    o.url = fx->url;
    connect_with(fx, &o);
    run_until(fx, &fx->n_open, 1, "open()");
    assert_request_line(fx, "GET /?x=1 HTTP/1.1");
    assert_null(strstr(fx->srv.request, "Authorization"));
}

static void send_hello(struct fx *fx)
{
    assert_int_equal(ws_send_text(fx->c, "h\xc3\xa9llo w\xc3\xb6rld", 13), 0);
}

static void text_round_trip_and_fragments(void **state)
{
    struct fx *fx = *state;
    static const unsigned char bin[] = {0, 1, 2, 255};
    const struct frame *f;
    char *big;
    int n_before;

    fx->srv.echo_text = 1;
    fx->on_open = send_hello;
    connect_to(fx, "/");
    /* Sent from open(), masked, echoed back. */
    f = client_frame(fx, 0, 0x1);
    assert_string_equal((const char *)f->data, "h\xc3\xa9llo w\xc3\xb6rld");
    run_until(fx, &fx->n_msgs, 1, "the echo");
    assert_string_equal(fx->msgs[0], "h\xc3\xa9llo w\xc3\xb6rld");

    /* Fragments with a ping between them, then a binary message. */
    srv_send(&fx->srv, 0, 0x1, "frag", 4);
    srv_send(&fx->srv, 1, 0x9, "abc", 3);
    srv_send(&fx->srv, 0, 0x0, "men", 3);
    srv_send(&fx->srv, 1, 0x0, "ted", 3);
    srv_send(&fx->srv, 1, 0x2, bin, sizeof(bin));
    run_until(fx, &fx->n_msgs, 3, "the joined and the binary message");
    assert_string_equal(fx->msgs[1], "fragmented");
    assert_int_equal(fx->binary[1], 0);
    assert_int_equal(fx->lens[2], 4);
    assert_memory_equal(fx->msgs[2], bin, 4);
    assert_int_equal(fx->binary[2], 1);
    f = client_frame(fx, 1, 0xa);
    assert_int_equal(f->len, 3);
    assert_memory_equal(f->data, "abc", 3);

    /* Lengths in 16 and 64 bits, both ways. */
    big = malloc(70000);
    assert_non_null(big);
    memset(big, 'x', 70000);
    srv_send(&fx->srv, 1, 0x1, big, 300);
    n_before = fx->srv.n_frames;
    assert_int_equal(ws_send_text(fx->c, big, 70000), 0);
    assert_true(ws_pending(fx->c) >= 70000);
    run_until(fx, &fx->srv.n_frames, n_before + 1, "the big frame");
    assert_int_equal(fx->srv.frames[n_before].len, 70000);
    assert_memory_equal(fx->srv.frames[n_before].data, big, 70000);
    run_until(fx, &fx->n_msgs, 5, "the messages of 300 and 70000 bytes");
    assert_int_equal(fx->lens[3], 300);
    assert_int_equal(fx->lens[4], 70000);
    assert_memory_equal(fx->msgs[4], big, 70000);
    free(big);
    assert_int_equal(ws_pending(fx->c), 0);
}

static void server_closes(void **state)
{
    struct fx *fx = *state;
    static const char close_frame[] = "\x03\xe9going away";
    const struct frame *f;

    connect_to(fx, "/");
    run_until(fx, &fx->n_open, 1, "open()");
    srv_send(&fx->srv, 1, 0x8, close_frame, sizeof(close_frame) - 1);
    /* The client answers with the same code, masked. */
    f = client_frame(fx, 0, 0x8);
    assert_true(f->len >= 2);
    assert_int_equal(f->data[0] << 8 | f->data[1], 1001);
    expect_closed(fx, 0, 1001, "going away");
    assert_int_equal(ws_send_text(fx->c, "late", 4), -ENOTCONN);
}

static void everything_in_one_write(void **state)
{
    struct fx *fx = *state;
    static const char frames[] = "\x81\x02hi"
                                 "\x88\x06\x03\xe8"
                                 "done";

    /* 101, a message, a close and the hang-up, all at once. */
    fx->srv.with_101 = frames;
    fx->srv.with_101_len = sizeof(frames) - 1;
    fx->srv.hang_up_after = 1;
    connect_to(fx, "/");
    expect_closed(fx, 0, 1000, "done");
    assert_int_equal(fx->n_open, 1);
    assert_int_equal(fx->n_msgs, 1);
    assert_string_equal(fx->msgs[0], "hi");
}

static void refused_with_body(void **state)
{
    struct fx *fx = *state;
    char want[64];

    fx->srv.answer = ANSWER_RAW;
    /* Content-Length given, connection kept open: no wait for the end. */
    fx->srv.raw = "HTTP/1.1 401 Unauthorized\r\n"
                  "Content-Type: application/json\r\n"
                  "Content-Length: 33\r\n\r\n"
                  "{\"reason\":\"bad token\"}\nsecond line";
    connect_to(fx, "/admin");
    expect_closed(fx, 401, 1006, "bad token");
    snprintf(want, sizeof(want), "HTTP 401 from 127.0.0.1:%d: ", fx->srv.port);
    assert_true(strncmp(fx->why, want, strlen(want)) == 0);
    assert_null(strstr(fx->why, "second"));
    assert_int_equal(fx->n_open, 0);
}

static void refused_until_hang_up(void **state)
{
    struct fx *fx = *state;

    fx->srv.answer = ANSWER_RAW;
    fx->srv.raw = "HTTP/1.1 500 Server Error\r\n\r\nboom";
    fx->srv.hang_up_after = 1;
    connect_to(fx, "/");
    expect_closed(fx, 500, 1006, ": boom");
}

static void refused_without_body(void **state)
{
    struct fx *fx = *state;

    fx->srv.answer = ANSWER_RAW;
    fx->srv.raw = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    connect_to(fx, "/");
    expect_closed(fx, 404, 1006, "Not Found");
}

static void refused_chunked(void **state)
{
    struct fx *fx = *state;

    fx->srv.answer = ANSWER_RAW;
    fx->srv.raw = "HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "e\r\nexclusive sub\n\r\n0\r\n\r\n";
    connect_to(fx, "/");
    expect_closed(fx, 409, 1006, ": exclusive sub");
}

static void wrong_accept(void **state)
{
    struct fx *fx = *state;

    fx->srv.answer = ANSWER_BAD_ACCEPT;
    connect_to(fx, "/");
    expect_closed(fx, 0, 1006, "Sec-WebSocket-Accept");
    assert_int_equal(fx->n_open, 0);
}

static void not_http(void **state)
{
    struct fx *fx = *state;

    fx->srv.answer = ANSWER_RAW;
    fx->srv.raw = "SSH-2.0-OpenSSH\r\n";
    connect_to(fx, "/");
    expect_closed(fx, 0, 1006, "does not speak HTTP");
}

static void server_drops(void **state)
{
    struct fx *fx = *state;

    connect_to(fx, "/");
    run_until(fx, &fx->n_open, 1, "open()");
    srv_drop(&fx->srv);
    expect_closed(fx, 0, 1006, "without a close frame");
}

static void no_pong(void **state)
{
    struct fx *fx = *state;
    struct ws_options o = {
        .ping_every_s = 0.05, .pong_timeout_s = 0.15, .url = fx->url};
    const struct frame *f;

    snprintf(fx->url, sizeof(fx->url), "ws://127.0.0.1:%d/", fx->srv.port);
    connect_with(fx, &o);
    expect_closed(fx, 0, 1006, "no pong");
    assert_true(fx->srv.n_pings >= 1);
    f = client_frame(fx, 0, 0x9);
    assert_int_equal(f->len, 8);
}

static void pongs_keep_it_alive(void **state)
{
    struct fx *fx = *state;
    struct ws_options o = {
        .ping_every_s = 0.05, .pong_timeout_s = 0.3, .url = fx->url};

    fx->srv.answer_pings = 1;
    snprintf(fx->url, sizeof(fx->url), "ws://127.0.0.1:%d/", fx->srv.port);
    connect_with(fx, &o);
    run_until(fx, &fx->n_open, 1, "open()");
    run_for(fx, 500);
    assert_int_equal(fx->n_closed, 0);
    assert_true(fx->srv.n_pings >= 4);
}

static void close_answered(void **state)
{
    struct fx *fx = *state;
    const struct frame *f;

    fx->srv.answer_close = 1;
    connect_to(fx, "/");
    run_until(fx, &fx->n_open, 1, "open()");
    ws_close(fx->c, 1000, "bye");
    assert_int_equal(ws_send_text(fx->c, "late", 4), -ENOTCONN);
    f = client_frame(fx, 0, 0x8);
    assert_int_equal(f->len, 5);
    assert_memory_equal(f->data,
                        "\x03\xe8"
                        "bye",
                        5);
    expect_closed(fx, 0, 1000, "answered");
    run_for(fx, QUIET_MS);
    assert_int_equal(fx->n_closed, 1);
}

static void close_unanswered(void **state)
{
    struct fx *fx = *state;
    double t0;

    connect_to(fx, "/");
    run_until(fx, &fx->n_open, 1, "open()");
    t0 = now_s();
    ws_close(fx->c, 1000, NULL);
    expect_closed(fx, 0, 1006, "no close answer");
    assert_true(now_s() - t0 >= 4.5);
    assert_int_equal(fx->srv.frames[0].opcode, 0x8);
}

static void close_before_open(void **state)
{
    struct fx *fx = *state;

    fx->srv.answer = ANSWER_NOTHING;
    connect_to(fx, "/");
    ws_close(fx->c, 1000, "never mind");
    /* Never from inside ws_close() either. */
    assert_int_equal(fx->n_closed, 0);
    expect_closed(fx, 0, 1006, NULL);
    assert_int_equal(fx->n_open, 0);
}

static void free_in_closed(void **state)
{
    struct fx *fx = *state;

    fx->free_in_closed = 1;
    connect_to(fx, "/");
    run_until(fx, &fx->n_open, 1, "open()");
    srv_drop(&fx->srv);
    run_until(fx, &fx->n_closed, 1, "closed()");
    assert_null(fx->c);
    run_for(fx, QUIET_MS);
    assert_int_equal(fx->n_closed, 1);
}

static void free_me(struct fx *fx)
{
    ws_free(fx->c);
    fx->c = NULL;
}

static void free_in_message(void **state)
{
    struct fx *fx = *state;

    fx->on_message = free_me;
    connect_to(fx, "/");
    run_until(fx, &fx->n_open, 1, "open()");
    /* Three messages in one read: the first frees the connection. */
    srv_send(&fx->srv, 1, 0x1, "one", 3);
    srv_send(&fx->srv, 1, 0x1, "two", 3);
    srv_send(&fx->srv, 1, 0x9, "", 0);
    srv_send(&fx->srv, 1, 0x1, "three", 5);
    run_until(fx, &fx->n_msgs, 1, "a message");
    run_for(fx, QUIET_MS);
    assert_int_equal(fx->n_msgs, 1);
    assert_int_equal(fx->n_closed, 0);
    assert_int_equal(fx->srv.n_hung_up, 1);
}

static void free_in_open(void **state)
{
    struct fx *fx = *state;
    static const char hello[] = "\x81\x05hello";

    fx->srv.with_101 = hello;
    fx->srv.with_101_len = sizeof(hello) - 1;
    fx->on_open = free_me;
    connect_to(fx, "/");
    run_until(fx, &fx->n_open, 1, "open()");
    run_for(fx, QUIET_MS);
    assert_int_equal(fx->n_msgs, 0);
    assert_int_equal(fx->n_closed, 0);
}

static void close_me(struct fx *fx)
{
    ws_close(fx->c, 4000, "enough");
}

static void close_in_message(void **state)
{
    struct fx *fx = *state;
    const struct frame *f;

    fx->on_message = close_me;
    fx->srv.answer_close = 1;
    connect_to(fx, "/");
    run_until(fx, &fx->n_open, 1, "open()");
    srv_send(&fx->srv, 1, 0x1, "one", 3);
    f = client_frame(fx, 0, 0x8);
    assert_int_equal(f->data[0] << 8 | f->data[1], 4000);
    expect_closed(fx, 0, 4000, "enough");
}

static void handshake_timeout(void **state)
{
    struct fx *fx = *state;
    struct ws_options o = {.handshake_timeout_s = 0.2, .url = fx->url};

    fx->srv.answer = ANSWER_NOTHING;
    snprintf(fx->url, sizeof(fx->url), "ws://127.0.0.1:%d/", fx->srv.port);
    connect_with(fx, &o);
    expect_closed(fx, 0, 1006, "no upgrade");
    assert_int_equal(fx->srv.got_request, 1);
}

static void connection_refused(void **state)
{
    struct fx *fx = *state;
    int port = fx->srv.port;

    /* The port was just ours: nobody listens on it now. */
    evconnlistener_free(fx->srv.lev);
    fx->srv.lev = NULL;
    snprintf(fx->url, sizeof(fx->url), "ws://127.0.0.1:%d/", port);
    connect_with(fx, &(struct ws_options){.url = fx->url});
    assert_int_equal(fx->n_closed, 0);
    expect_closed(fx, 0, 1006, "refused");
}

static void message_too_big(void **state)
{
    struct fx *fx = *state;
    struct ws_options o = {.max_message = 100, .url = fx->url};
    char big[200];
    const struct frame *f;

    memset(big, 'y', sizeof(big));
    fx->srv.answer_close = 1;
    snprintf(fx->url, sizeof(fx->url), "ws://127.0.0.1:%d/", fx->srv.port);
    connect_with(fx, &o);
    run_until(fx, &fx->n_open, 1, "open()");
    srv_send(&fx->srv, 1, 0x1, big, 100);
    srv_send(&fx->srv, 1, 0x1, big, sizeof(big));
    f = client_frame(fx, 0, 0x8);
    assert_int_equal(f->data[0] << 8 | f->data[1], 1009);
    expect_closed(fx, 0, 1009, NULL);
    assert_int_equal(fx->n_msgs, 1);
}

static void masked_server_frame(void **state)
{
    struct fx *fx = *state;
    static const char masked[] = "\x81\x83\x01\x02\x03\x04"
                                 "abc";
    const struct frame *f;

    fx->srv.answer_close = 1;
    connect_to(fx, "/");
    run_until(fx, &fx->n_open, 1, "open()");
    evbuffer_add(bufferevent_get_output(fx->srv.bev), masked,
                 sizeof(masked) - 1);
    f = client_frame(fx, 0, 0x8);
    assert_int_equal(f->data[0] << 8 | f->data[1], 1002);
    expect_closed(fx, 0, 1002, NULL);
    assert_int_equal(fx->n_msgs, 0);
}

static void oversized_ping(void **state)
{
    struct fx *fx = *state;
    char big[126];
    const struct frame *f;

    memset(big, 'p', sizeof(big));
    connect_to(fx, "/");
    run_until(fx, &fx->n_open, 1, "open()");
    /* Control frames carry at most 125 bytes: wslay cannot go on. */
    srv_send(&fx->srv, 1, 0x9, big, sizeof(big));
    f = client_frame(fx, 0, 0x8);
    assert_int_equal(f->len, 0);
    expect_closed(fx, 0, 1002, "bad frame");
    assert_int_equal(fx->srv.n_pings, 0);
}

static void send_before_open(void **state)
{
    struct fx *fx = *state;

    fx->srv.answer = ANSWER_NOTHING;
    connect_to(fx, "/");
    assert_int_equal(ws_send_text(fx->c, "early", 5), -ENOTCONN);
    assert_int_equal(ws_pending(fx->c), 0);
}

static void bad_arguments(void **state)
{
    struct fx *fx = *state;
    static const char *const bad[] = {
        "ftp://h/",     "ws://",      "ws:///path", "ws://[::1/",
        "ws://[::1]x/", "ws://h:0/",  "ws://h:x/",  "ws://h:70000/",
        "ws://u:p@h/",  "ws://h/a b", "h:80/",      "ws://[zz]/",
    };
    char err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ws_options o = {.url = bad[i]};

        err[0] = '\0';
        fx->c = ws_connect(fx->base, &o, &ops, fx, err, sizeof(err));
        if (fx->c) {
            fail_msg("accepted %s", bad[i]);
        }
        assert_true(strncmp(err, "URL: ", 5) == 0);
    }
    fx->c = ws_connect(
        fx->base, &(struct ws_options){.url = "ws://h/", .bearer = "a\r\nb"},
        &ops, fx, err, sizeof(err));
    assert_null(fx->c);
    assert_null(ws_connect(fx->base, NULL, &ops, fx, err, sizeof(err)));
    ws_free(NULL);
    ws_close(NULL, 1000, NULL);
    assert_int_equal(ws_send_text(NULL, "x", 1), -ENOTCONN);
    assert_int_equal(ws_pending(NULL), 0);
    run_for(fx, QUIET_MS);
    assert_int_equal(fx->n_closed, 0);
}

static void free_while_resolving(void **state)
{
    struct fx *fx = *state;
    struct ws_options o = {.url = "ws://minionize-test.invalid:9/"};

    /* A lookup that cannot be answered at once, dropped mid-way: nothing
     * may leak or call back (the sanitizer build checks the first). */
    connect_with(fx, &o);
    ws_free(fx->c);
    fx->c = NULL;
    run_for(fx, QUIET_MS);
    assert_int_equal(fx->n_closed, 0);
}

static void ipv6_literal(void **state)
{
    struct fx *fx = *state;
    char buf[128], want[64];

    srv_stop(&fx->srv);
    memset(&fx->srv, 0, sizeof(fx->srv));
    if (srv_start(&fx->srv, fx->base, "::1") < 0) {
        skip();
    }
    snprintf(fx->url, sizeof(fx->url), "ws://[::1]:%d/v6", fx->srv.port);
    connect_with(fx, &(struct ws_options){.url = fx->url});
    run_until(fx, &fx->n_open, 1, "open()");
    snprintf(want, sizeof(want), "[::1]:%d", fx->srv.port);
    assert_string_equal(req_header(&fx->srv, "Host", buf, sizeof(buf)), want);
}

static void wss_round_trip(void **state)
{
    struct fx *fx = *state;
    struct ws_options o = {.insecure_tls = 1, .url = fx->url};
    const struct frame *f;

    fx->srv.tls = self_signed();
    fx->srv.echo_text = 1;
    fx->srv.answer_close = 1;
    fx->on_open = send_hello;
    snprintf(fx->url, sizeof(fx->url), "wss://127.0.0.1:%d/secure",
             fx->srv.port);
    connect_with(fx, &o);
    f = client_frame(fx, 0, 0x1);
    assert_string_equal((const char *)f->data, "h\xc3\xa9llo w\xc3\xb6rld");
    run_until(fx, &fx->n_msgs, 1, "the echo");
    assert_string_equal(fx->msgs[0], "h\xc3\xa9llo w\xc3\xb6rld");
    assert_request_line(fx, "GET /secure HTTP/1.1");
    ws_close(fx->c, 1000, "bye");
    expect_closed(fx, 0, 1000, NULL);
}

static void wss_checks_certificate(void **state)
{
    struct fx *fx = *state;

    fx->srv.tls = self_signed();
    snprintf(fx->url, sizeof(fx->url), "wss://127.0.0.1:%d/", fx->srv.port);
    connect_with(fx, &(struct ws_options){.url = fx->url});
    expect_closed(fx, 0, 1006, "certificate");
    assert_int_equal(fx->n_open, 0);
    assert_int_equal(fx->srv.got_request, 0);
}

/* The server's certificate trusted through $SSL_CERT_FILE, as OpenSSL
 * reads it for the system's CAs: the check passes when it names our
 * address (@alt_name) and fails when it names another. */
static void wss_trusting(struct fx *fx, const char *alt_name)
{
    char pem[] = "/tmp/minionize-test-ws-XXXXXX";
    int fd = mkstemp(pem);

    assert_true(fd >= 0);
    close(fd);
    fx->srv.tls = self_signed_as(alt_name, pem);
    setenv("SSL_CERT_FILE", pem, 1);
    snprintf(fx->url, sizeof(fx->url), "wss://127.0.0.1:%d/", fx->srv.port);
    connect_with(fx, &(struct ws_options){.url = fx->url});
    /* The module read the file while ws_connect set up the client. */
    unsetenv("SSL_CERT_FILE");
    unlink(pem);
}

static void wss_trusted_certificate(void **state)
{
    struct fx *fx = *state;

    fx->srv.answer_close = 1;
    wss_trusting(fx, "IP:127.0.0.1");
    run_until(fx, &fx->n_open, 1, "open()");
    assert_request_line(fx, "GET / HTTP/1.1");
    ws_close(fx->c, 1000, "bye");
    expect_closed(fx, 0, 1000, NULL);
}

static void wss_checks_host(void **state)
{
    struct fx *fx = *state;

    /* Trusted, but for another address. */
    wss_trusting(fx, "IP:127.0.0.2");
    expect_closed(fx, 0, 1006, "certificate: IP address mismatch");
    assert_int_equal(fx->n_open, 0);
    assert_int_equal(fx->srv.got_request, 0);
}

/* The module this test loaded is the build tree's, and the one its own
 * table says. */
static void tls_module_from_build_tree(void **state)
{
    char err[256] = "";
    const struct tls_module *m = tls_module(err, sizeof(err));
    Dl_info info;

    if (!m) {
        fail_msg("%s", err);
    }
    assert_int_equal(m->version, TLS_MODULE_VERSION);
    assert_true(dladdr(m, &info) != 0);
    if (!strstr(info.dli_fname, "/plugins/adapters/")) {
        fail_msg("the module came from %s", info.dli_fname);
    }
    /* Once loaded, the same table. */
    assert_ptr_equal(tls_module(NULL, 0), m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        cmocka_unit_test(accept_matches_rfc_example),
        T(upgrade_request_and_first_frame),
        T(default_path_and_http_scheme),
        T(text_round_trip_and_fragments),
        T(server_closes),
        T(everything_in_one_write),
        T(refused_with_body),
        T(refused_until_hang_up),
        T(refused_without_body),
        T(refused_chunked),
        T(wrong_accept),
        T(not_http),
        T(server_drops),
        T(no_pong),
        T(pongs_keep_it_alive),
        T(close_answered),
        T(close_unanswered),
        T(close_before_open),
        T(free_in_closed),
        T(free_in_message),
        T(free_in_open),
        T(close_in_message),
        T(handshake_timeout),
        T(connection_refused),
        T(message_too_big),
        T(masked_server_frame),
        T(oversized_ping),
        T(send_before_open),
        T(bad_arguments),
        T(free_while_resolving),
        T(ipv6_literal),
        T(wss_round_trip),
        T(wss_checks_certificate),
        T(wss_trusted_certificate),
        T(wss_checks_host),
        cmocka_unit_test(tls_module_from_build_tree),
#undef T
    };
    int rc;

    /* A peer that hangs up makes the next write raise SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    libevent_global_shutdown();
    return rc;
}
