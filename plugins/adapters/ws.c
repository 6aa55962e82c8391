/* SPDX-License-Identifier: MIT */
/* A WebSocket client (RFC 6455) on the minion's libevent loop.
 *
 * The connection is one bufferevent, an OpenSSL one for wss:// (made by
 * adapters/tls.so, loaded on the first wss:// URL: tls.h), whose host is
 * resolved by an evdns_base of its own so that nothing blocks. Once
 * connected it sends the HTTP upgrade and reads the answer line by line. A
 * 101 that proves the server read our key hands the stream to wslay, which
 * does the framing only: its recv callback takes bytes out of the input
 * evbuffer, and its send callback appends to the output one, which takes
 * everything, so wslay never holds a frame back and the bufferevent does
 * all the waiting on the socket.
 *
 * Every way out (a refused upgrade, the close handshake, a lost peer, a
 * timer) goes through finish(): it drops the socket at once and reports
 * closed() from an event of its own, on a later turn of the loop, so the
 * owner never gets it from inside one of our functions, and gets it once.
 *
 * Re-entrancy: open() and message() may call anything, ws_free()
 * included. Frames that can run them count themselves in `depth`; ws_free()
 * then only marks the connection dead, and the outermost frame frees it.
 * While wslay_event_recv() runs (message() comes from inside it), sends and
 * closes are only queued: that frame flushes them once wslay returns. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <wslay/wslay.h>

#include "errbuf.h"
#include "sha1.h"
#include "tls.h"
#include "ws.h"
#include "timeval.h"

#define HANDSHAKE_S 10.0        /* handshake_timeout_s when 0 */
#define MAX_MESSAGE (16u << 20) /* max_message when 0 */
#define CLOSE_WAIT_S 5          /* for the server's answer to our close */
#define BODY_WAIT_S 2           /* for the body of a refused upgrade */
#define HEAD_MAX (16 * 1024)    /* the upgrade answer's status and headers */
#define BODY_MAX 200            /* of a refusal's body, quoted in `why` */
#define REASON_MAX 123          /* a close frame's reason */
#define WHY_MAX 400             /* closed()'s one line */
#define KEY_RAW 16              /* random bytes in Sec-WebSocket-Key */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum state {
    ST_CONNECTING, /* resolving, connecting, TLS */
    ST_HEAD,       /* upgrade sent, reading the answer's head */
    ST_BODY,       /* refused: reading the start of the body */
    ST_OPEN,       /* frames both ways */
    ST_CLOSING,    /* our close is queued: waiting for the server's */
    ST_DRAIN,      /* the session is over: flushing the last close frame */
    ST_DONE,       /* finished: closed() is on its way */
    ST_OVER        /* closed() has run */
};

struct ws_conn {
    struct event_base *base;
    const struct ws_ops *ops;
    void *arg;
    struct evdns_base *dns;
    struct bufferevent *bev;
    const struct tls_module *tls_mod; /* for wss:// */
    wslay_event_context_ptr ws;
    struct event *handshake; /* connect + TLS + 101; then a refusal's body */
    struct event *ping;      /* every ping_s, while open */
    struct event *pong;      /* armed by a ping, cleared by any byte */
    struct event *close;     /* bounds the close handshake */
    struct event *done;      /* runs closed() */
    enum state state;

    /* From the URL and the options. */
    int tls;
    int port;
    char *host;     /* brackets removed */
    char *hostport; /* "host:port", "[v6]:port": names the server */
    char *host_hdr; /* the Host header: no port when it is the default */
    char *target;   /* path and query */
    char *bearer;
    double handshake_s, ping_s, pong_s;

    /* The upgrade. */
    char key[SHA1_BASE64_SIZE(KEY_RAW)]; /* Sec-WebSocket-Key */
    size_t head_len;
    int status; /* 0 until the status line is read */
    char phrase[64];
    int has_upgrade, has_connection, accept_ok, has_extras;
    long long content_length; /* -1: not given */
    int chunked, chunk_seen;
    char body[BODY_MAX + 1];
    size_t body_len;

    /* The session. */
    uint64_t pings;
    int we_closed, our_code;
    int bad_frame; /* wslay met a frame it cannot parse */
    int peer_code; /* of the close received, 1005 when it had none */
    char peer_reason[REASON_MAX + 1];

    /* What closed() will say. */
    int out_status, out_code;
    char why[WHY_MAX];

    unsigned depth; /* frames on the stack that may run owner callbacks */
    int in_recv;    /* inside wslay_event_recv */
    int dead;       /* ws_free()d: the outermost frame frees it */
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

/* Keys and masks need no more than the kernel's random bytes; getrandom()
 * waits only at boot, until the pool is ready, and a signal restarts it. */
static int fill_random(void *buf, size_t len)
{
    unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Copy what a server sent into one printable line: up to the first line
 * break, control characters as spaces, at most @cap - 1 bytes. */
static void one_line(char *dst, size_t cap, const char *src, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len && n + 1 < cap; i++) {
        unsigned char ch = (unsigned char)src[i];

        if (ch == '\r' || ch == '\n') {
            break;
        }
        dst[n++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    while (n > 0 && dst[n - 1] == ' ') {
        n--;
    }
    dst[n] = '\0';
}

static char *dup_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *dup_printf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) {
        s = NULL;
    }
    va_end(ap);
    return s;
}

/* ------------------------------------------------------------------------ */
/* The URL                                                                   */

/* A target goes on the request line as it is: no spaces, no controls. */
static int printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch <= 0x20 || ch == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* ws[s]://host[:port][/path][?query][#fragment], http[s] taken as ws[s]. */
static int parse_url(struct ws_conn *c, const char *url, char *err,
                     size_t errlen)
{
    static const struct {
        const char *prefix;
        int tls;
    } schemes[] = {
        {"ws://", 0}, {"wss://", 1}, {"http://", 0}, {"https://", 1}};
    const char *p = NULL, *auth, *end, *host, *host_end, *port = NULL;
    size_t target_len;
    int v6 = 0;

    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i].prefix);

        if (strncasecmp(url, schemes[i].prefix, n) == 0) {
            p = url + n;
            c->tls = schemes[i].tls;
            break;
        }
    }
    if (!p) {
        return errbuf_set(err, errlen, -EINVAL,
                          "URL: the scheme must be ws, wss, http or https");
    }
    auth = p;
    end = auth + strcspn(auth, "/?#");
    if (memchr(auth, '@', (size_t)(end - auth))) {
        return errbuf_set(err, errlen, -EINVAL,
                          "URL: user info is not supported (use a bearer)");
    }
    if (*auth == '[') {
        host = auth + 1;
        host_end = memchr(host, ']', (size_t)(end - host));
        if (!host_end) {
            return errbuf_set(err, errlen, -EINVAL, "URL: unclosed '['");
        }
        if (host_end + 1 < end) {
            if (host_end[1] != ':') {
                return errbuf_set(err, errlen, -EINVAL,
                                  "URL: junk after the IPv6 address");
            }
            port = host_end + 2;
        }
        v6 = 1;
    } else {
        host = auth;
        host_end = memchr(host, ':', (size_t)(end - host));
        if (host_end) {
            port = host_end + 1;
        } else {
            host_end = end;
        }
    }
    if (host_end == host) {
        return errbuf_set(err, errlen, -EINVAL, "URL: no host");
    }
    if (!printable(host, (size_t)(host_end - host))) {
        return errbuf_set(err, errlen, -EINVAL, "URL: bad host");
    }
    c->port = c->tls ? 443 : 80;
    if (port && port < end) {
        long n = 0;

        for (const char *d = port; d < end; d++) {
            if (*d < '0' || *d > '9' || n > 65535) {
                return errbuf_set(err, errlen, -EINVAL, "URL: bad port");
            }
            n = n * 10 + (*d - '0');
        }
        if (n < 1 || n > 65535) {
            return errbuf_set(err, errlen, -EINVAL, "URL: bad port");
        }
        c->port = (int)n;
    }
    c->host = strndup(host, (size_t)(host_end - host));
    if (!c->host) {
        return errbuf_set(err, errlen, -ENOMEM, "out of memory");
    }
    if (v6) {
        struct in6_addr a;

        if (inet_pton(AF_INET6, c->host, &a) != 1) {
            return errbuf_set(err, errlen, -EINVAL, "URL: bad IPv6 address");
        }
    }
    target_len = strcspn(end, "#");
    if (!printable(end, target_len)) {
        return errbuf_set(err, errlen, -EINVAL,
                          "URL: spaces or controls in the path");
    }
    /* An empty path is "/", also before a query. */
    c->target =
        dup_printf("%s%.*s", *end == '/' ? "" : "/", (int)target_len, end);
    c->hostport = dup_printf(v6 ? "[%s]:%d" : "%s:%d", c->host, c->port);
    if (c->port == (c->tls ? 443 : 80)) {
        c->host_hdr = dup_printf(v6 ? "[%s]" : "%s", c->host);
    } else {
        c->host_hdr = strdup(c->hostport);
    }
    if (!c->target || !c->hostport || !c->host_hdr) {
        return errbuf_set(err, errlen, -ENOMEM, "out of memory");
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Life and death                                                            */

static int live(const struct ws_conn *c)
{
    return !c->dead && c->state < ST_DONE;
}

/* The socket and the resolver go as soon as the connection is over, even
 * if the owner keeps the handle. A lookup still running holds the
 * bufferevent (libevent 2.1 does not cancel it on free), so the resolver is
 * freed failing its requests: that answer, on a later turn, lets go of it.
 * Freeing them quietly would leak both. */
static void release_io(struct ws_conn *c)
{
    struct event *timers[] = {c->handshake, c->ping, c->pong, c->close};

    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    if (c->dns) {
        evdns_base_free(c->dns, 1);
        c->dns = NULL;
    }
    for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
        if (timers[i]) {
            evtimer_del(timers[i]);
        }
    }
}

static void destroy(struct ws_conn *c)
{
    struct event *events[] = {c->handshake, c->ping, c->pong, c->close,
                              c->done};

    release_io(c);
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        if (events[i]) {
            event_free(events[i]);
        }
    }
    if (c->ws) {
        wslay_event_context_free(c->ws);
    }
    free(c->host);
    free(c->hostport);
    free(c->host_hdr);
    free(c->target);
    if (c->bearer) {
        explicit_bzero(c->bearer, strlen(c->bearer));
        free(c->bearer);
    }
    free(c);
}

static void enter(struct ws_conn *c)
{
    c->depth++;
}

/* Leave a frame; the outermost one of a dead connection frees it. */
static void leave(struct ws_conn *c)
{
    if (--c->depth == 0 && c->dead) {
        destroy(c);
    }
}

/* The connection is over with the outcome in `out_*` and `why`: drop the
 * socket now, tell the owner from the loop. */
static void finish_stored(struct ws_conn *c)
{
    if (!live(c)) {
        return;
    }
    c->state = ST_DONE;
    release_io(c);
    event_active(c->done, EV_TIMEOUT, 1);
}

static void finish(struct ws_conn *c, int status, int code, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

static void finish(struct ws_conn *c, int status, int code, const char *fmt,
                   ...)
{
    va_list ap;

    if (!live(c)) {
        return;
    }
    c->out_status = status;
    c->out_code = code;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    finish_stored(c);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    struct ws_conn *c = arg;

    if (c->dead || c->state != ST_DONE) {
        return;
    }
    c->state = ST_OVER;
    enter(c);
    if (c->ops->closed) {
        c->ops->closed(c, c->out_status, c->out_code, c->why, c->arg);
    }
    leave(c);
}

/* Why the bufferevent gave up: the resolver, TLS (the certificate check
 * first: its own message says more than OpenSSL's "verify failed"), or
 * the socket, which @doing names ("connect to"). */
static void io_error(struct ws_conn *c, short what, const char *doing,
                     char *buf, size_t len)
{
    int dns = bufferevent_socket_get_dns_error(c->bev);
    char why[200];
    enum tls_failure tls =
        c->tls_mod ? c->tls_mod->failure(c->bev, why, sizeof(why)) : TLS_OK;

    if (dns) {
        snprintf(buf, len, "resolve %s: %s", c->host, evutil_gai_strerror(dns));
    } else if (tls == TLS_CERTIFICATE) {
        snprintf(buf, len, "TLS with %s: certificate: %s", c->hostport, why);
    } else if (tls == TLS_ERROR) {
        snprintf(buf, len, "TLS with %s: %s", c->hostport, why);
    } else if (what & BEV_EVENT_EOF) {
        snprintf(buf, len, "%s hung up", c->hostport);
    } else {
        snprintf(buf, len, "%s %s: %s", doing, c->hostport,
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
}

/* ------------------------------------------------------------------------ */
/* wslay on the bufferevent                                                  */

static ssize_t on_ws_recv(wslay_event_context_ptr ws, uint8_t *buf, size_t len,
                          int flags, void *arg)
{
    struct ws_conn *c = arg;
    int n = 0;

    /* Once dead or over, nothing more is read: wslay stops at would-block
     * (EOF is the bufferevent's to tell, not ours). */
    if (live(c) && c->bev) {
        n = evbuffer_remove(bufferevent_get_input(c->bev), buf, len);
    }
    if (n <= 0) {
        wslay_event_set_error(ws, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    return n;
}

/* The output evbuffer takes everything: back-pressure is the owner's, from
 * ws_pending(). */
static ssize_t on_ws_send(wslay_event_context_ptr ws, const uint8_t *data,
                          size_t len, int flags, void *arg)
{
    struct ws_conn *c = arg;

    if (!c->bev || evbuffer_add(bufferevent_get_output(c->bev), data, len)) {
        wslay_event_set_error(ws, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static int on_ws_genmask(wslay_event_context_ptr ws, uint8_t *buf, size_t len,
                         void *arg)
{
    return fill_random(buf, len);
}

static void on_ws_msg(wslay_event_context_ptr ws,
                      const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
    struct ws_conn *c = arg;

    if (!live(c)) {
        return;
    }
    if (m->opcode == WSLAY_TEXT_FRAME || m->opcode == WSLAY_BINARY_FRAME) {
        /* Also after our close: the server may send until it answers. */
        if (c->ops->message) {
            c->ops->message(c, m->msg ? (const char *)m->msg : "",
                            m->msg_length, m->opcode == WSLAY_BINARY_FRAME,
                            c->arg);
        }
    } else if (m->opcode == WSLAY_CONNECTION_CLOSE) {
        /* wslay has queued the answer already. */
        c->peer_code = m->status_code ? m->status_code : 1005;
        if (m->msg_length > 2) {
            one_line(c->peer_reason, sizeof(c->peer_reason),
                     (const char *)m->msg + 2, m->msg_length - 2);
        }
    }
}

/* What closed() says once wslay wants neither to read nor to write. */
static void session_outcome(struct ws_conn *c)
{
    int sent = wslay_event_get_status_code_sent(c->ws);

    c->out_status = 0;
    if (wslay_event_get_close_received(c->ws)) {
        c->out_code = c->peer_code ? c->peer_code : 1005;
        if (c->we_closed) {
            if (c->out_code == 1005) {
                c->out_code = c->our_code;
            }
            snprintf(c->why, sizeof(c->why), "closed, answered by %s (%d%s%s)",
                     c->hostport, c->out_code, c->peer_reason[0] ? " " : "",
                     c->peer_reason);
        } else {
            snprintf(c->why, sizeof(c->why), "closed by %s (%d%s%s)",
                     c->hostport, c->out_code, c->peer_reason[0] ? " " : "",
                     c->peer_reason);
        }
    } else if (c->bad_frame) {
        c->out_code = 1002;
        snprintf(c->why, sizeof(c->why), "bad frame from %s", c->hostport);
    } else {
        /* wslay closed on its own: a rule of RFC 6455 was broken. */
        c->out_code = sent;
        snprintf(c->why, sizeof(c->why), "%s from %s: closed with %d",
                 sent == 1009   ? "message too big"
                 : sent == 1007 ? "invalid UTF-8"
                                : "protocol error",
                 c->hostport, sent);
    }
}

/* The session ends when wslay wants neither to read nor to write: the
 * closes crossed, or one was answered. The last close frame may still sit
 * in the output buffer; closed() waits for it to leave (the close timer
 * bounds that), so a ws_free() from closed() cannot cut it. */
static void check_end(struct ws_conn *c)
{
    if (!live(c) || c->state < ST_OPEN || c->state == ST_DRAIN) {
        return;
    }
    if (wslay_event_want_read(c->ws) || wslay_event_want_write(c->ws)) {
        return;
    }
    session_outcome(c);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        finish_stored(c);
        return;
    }
    c->state = ST_DRAIN;
    evtimer_del(c->ping);
    evtimer_del(c->pong);
    if (!evtimer_pending(c->close, NULL)) {
        struct timeval tv = {CLOSE_WAIT_S, 0};

        evtimer_add(c->close, &tv);
    }
}

/* Hand what wslay queued (our messages, its pongs and closes) to the
 * output buffer. */
static void flush(struct ws_conn *c)
{
    if (!live(c) || c->state < ST_OPEN || c->in_recv) {
        return;
    }
    if (wslay_event_send(c->ws) != 0) {
        finish(c, 0, 1006, "%s: cannot queue a frame (out of memory)",
               c->hostport);
        return;
    }
    check_end(c);
}

/* Let wslay read what arrived, run the owner's message callbacks, then
 * send what that queued. */
static void pump(struct ws_conn *c)
{
    int r;

    if (!live(c) || !c->bev) {
        return;
    }
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
        /* Any byte proves the peer alive, not only a pong. */
        evtimer_del(c->pong);
    }
    c->in_recv = 1;
    r = wslay_event_recv(c->ws);
    c->in_recv = 0;
    if (!live(c)) {
        return;
    }
    if (r == WSLAY_ERR_NOMEM) {
        finish(c, 0, 1006, "%s: out of memory for a message", c->hostport);
        return;
    }
    if (r != 0) {
        /* A frame wslay could not parse: it has queued a close already. */
        c->bad_frame = 1;
    }
    flush(c);
}

/* ------------------------------------------------------------------------ */
/* The upgrade                                                               */

static int send_request(struct ws_conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    unsigned char raw[KEY_RAW];

    if (fill_random(raw, sizeof(raw)) < 0) {
        return -1;
    }
    sha1_base64(raw, sizeof(raw), c->key);
    /* No Sec-WebSocket-Extensions: wslay has no permessage-deflate. */
    if (evbuffer_add_printf(out,
                            "GET %s HTTP/1.1\r\n"
                            "Host: %s\r\n"
                            "Upgrade: websocket\r\n"
                            "Connection: Upgrade\r\n"
                            "Sec-WebSocket-Key: %s\r\n"
                            "Sec-WebSocket-Version: 13\r\n",
                            c->target, c->host_hdr, c->key) < 0) {
        return -1;
    }
    if (c->bearer && evbuffer_add_printf(out, "Authorization: Bearer %s\r\n",
                                         c->bearer) < 0) {
        return -1;
    }
    return evbuffer_add(out, "\r\n", 2);
}

/* Does @accept prove the server read our key? base64(SHA-1(key + GUID)). */
static int accept_matches(const struct ws_conn *c, const char *accept)
{
    char in[sizeof(c->key) + sizeof(WS_GUID)];
    unsigned char md[SHA1_LEN];
    char want[SHA1_BASE64_SIZE(SHA1_LEN)];
    int n = snprintf(in, sizeof(in), "%s%s", c->key, WS_GUID);

    sha1_digest(in, (size_t)n, md);
    sha1_base64(md, sizeof(md), want);
    return strcmp(want, accept) == 0;
}

/* Is @token one of the comma-separated items of @list? */
static int has_token(const char *list, const char *token)
{
    size_t tlen = strlen(token);

    while (*list) {
        size_t n;

        list += strspn(list, " \t,");
        n = strcspn(list, ",");
        while (n > 0 && (list[n - 1] == ' ' || list[n - 1] == '\t')) {
            n--;
        }
        if (n == tlen && strncasecmp(list, token, n) == 0) {
            return 1;
        }
        list += strcspn(list, ",");
    }
    return 0;
}

static void header(struct ws_conn *c, char *line)
{
    char *colon = strchr(line, ':'), *value, *end;

    if (!colon) {
        return;
    }
    *colon = '\0';
    value = colon + 1 + strspn(colon + 1, " \t");
    end = value + strlen(value);
    while (end > value && (end[-1] == ' ' || end[-1] == '\t')) {
        *--end = '\0';
    }
    if (strcasecmp(line, "Upgrade") == 0) {
        c->has_upgrade = has_token(value, "websocket");
    } else if (strcasecmp(line, "Connection") == 0) {
        c->has_connection |= has_token(value, "upgrade");
    } else if (strcasecmp(line, "Sec-WebSocket-Accept") == 0) {
        c->accept_ok = accept_matches(c, value);
    } else if (strcasecmp(line, "Sec-WebSocket-Extensions") == 0 ||
               strcasecmp(line, "Sec-WebSocket-Protocol") == 0) {
        c->has_extras = 1;
    } else if (strcasecmp(line, "Content-Length") == 0) {
        c->content_length = strtoll(value, NULL, 10);
    } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
        c->chunked = has_token(value, "chunked");
    }
}

/* "HTTP/1.1 101 Switching Protocols": 0, or -1 when it is not HTTP. */
static int status_line(struct ws_conn *c, const char *line)
{
    const char *sp = strchr(line, ' ');
    int status = 0;

    if (strncmp(line, "HTTP/1.", 7) != 0 || !sp) {
        return -1;
    }
    for (int i = 1; i <= 3; i++) {
        if (sp[i] < '0' || sp[i] > '9') {
            return -1;
        }
        status = status * 10 + (sp[i] - '0');
    }
    if (sp[4] != '\0' && sp[4] != ' ') {
        return -1;
    }
    c->status = status;
    if (sp[4] == ' ') {
        one_line(c->phrase, sizeof(c->phrase), sp + 5, strlen(sp + 5));
    }
    return 0;
}

static void open_session(struct ws_conn *c)
{
    evtimer_del(c->handshake);
    c->state = ST_OPEN;
    if (c->ping_s > 0) {
        struct timeval tv = timeval_of_seconds(c->ping_s);

        evtimer_add(c->ping, &tv);
    }
    if (c->ops->open) {
        c->ops->open(c, c->arg);
    }
    /* The server may have sent its first frames with the 101. */
    if (live(c) && c->state >= ST_OPEN &&
        evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
        pump(c);
    }
}

static void refused(struct ws_conn *c)
{
    const char *say = c->body_len    ? c->body
                      : c->phrase[0] ? c->phrase
                                     : "(no body)";

    finish(c, c->status, 1006, "HTTP %d from %s: %s", c->status, c->hostport,
           say);
}

/* Read the start of a refusal's body: until its first line break, BODY_MAX
 * bytes, its end, or (bounded by the body timer) the end of the stream. */
static void read_body(struct ws_conn *c, int eof)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t want = BODY_MAX;
    int n;

    if (c->chunked && !c->chunk_seen) {
        char *size = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF);

        if (!size) {
            if (eof) {
                refused(c);
            }
            return;
        }
        c->content_length = strtoll(size, NULL, 16);
        c->chunk_seen = 1;
        free(size);
    }
    if (c->content_length >= 0 &&
        (unsigned long long)c->content_length < want) {
        want = (size_t)c->content_length;
    }
    n = evbuffer_remove(in, c->body + c->body_len, want - c->body_len);
    if (n > 0) {
        c->body_len += (size_t)n;
    }
    c->body[c->body_len] = '\0';
    if (eof || c->body_len == want || memchr(c->body, '\n', c->body_len)) {
        one_line(c->body, sizeof(c->body), c->body, c->body_len);
        c->body_len = strlen(c->body);
        refused(c);
    }
}

/* The answer's head is in: a good 101 opens the session. */
static void head_done(struct ws_conn *c)
{
    const char *bad = NULL;

    if (c->status != 101) {
        struct timeval tv = {BODY_WAIT_S, 0};

        c->state = ST_BODY;
        evtimer_add(c->handshake, &tv);
        read_body(c, 0);
        return;
    }
    if (!c->has_upgrade) {
        bad = "no \"Upgrade: websocket\"";
    } else if (!c->has_connection) {
        bad = "no \"Connection: upgrade\"";
    } else if (!c->accept_ok) {
        bad = "Sec-WebSocket-Accept does not match our key";
    } else if (c->has_extras) {
        bad = "an extension or subprotocol we did not ask for";
    }
    if (bad) {
        finish(c, 0, 1006, "bad upgrade from %s: %s", c->hostport, bad);
        return;
    }
    open_session(c);
}

static void read_head(struct ws_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    char *line;

    while (live(c) && c->state == ST_HEAD &&
           (line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF))) {
        size_t len = strlen(line);

        c->head_len += len + 2;
        if (c->head_len > HEAD_MAX) {
            free(line);
            break;
        }
        if (c->status == 0) {
            if (status_line(c, line) < 0) {
                char first[64];

                one_line(first, sizeof(first), line, len);
                free(line);
                finish(c, 0, 1006, "%s does not speak HTTP: \"%s\"",
                       c->hostport, first);
                return;
            }
        } else if (len == 0) {
            free(line);
            head_done(c);
            return;
        } else {
            header(c, line);
        }
        free(line);
    }
    if (live(c) && c->state == ST_HEAD &&
        c->head_len + evbuffer_get_length(in) > HEAD_MAX) {
        finish(c, 0, 1006, "%s: upgrade answer over %d bytes", c->hostport,
               HEAD_MAX);
    }
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

static void on_read(struct bufferevent *bev, void *arg)
{
    struct ws_conn *c = arg;

    enter(c);
    switch (c->state) {
    case ST_HEAD: read_head(c); break;
    case ST_BODY: read_body(c, 0); break;
    case ST_OPEN:
    case ST_CLOSING: pump(c); break;
    default:
        /* After the session: nothing more is read. */
        evbuffer_drain(bufferevent_get_input(bev),
                       evbuffer_get_length(bufferevent_get_input(bev)));
        break;
    }
    leave(c);
}

/* The output buffer is empty: the last close frame has left. */
static void on_write(struct bufferevent *bev, void *arg)
{
    struct ws_conn *c = arg;

    if (c->state == ST_DRAIN) {
        finish_stored(c);
    }
}

static void connected(struct ws_conn *c)
{
    if (c->state != ST_CONNECTING) {
        return;
    }
    c->state = ST_HEAD;
    if (send_request(c) < 0) {
        finish(c, 0, 1006, "%s: cannot write the upgrade request", c->hostport);
    }
}

static void hung_up(struct ws_conn *c, short what)
{
    char err[WHY_MAX - 64];

    if (c->state == ST_CONNECTING) {
        io_error(c, what, "connect to", err, sizeof(err));
        finish(c, 0, 1006, "%s", err);
        return;
    }
    /* What came with the hang-up counts: the rest of the head (even a 101
     * and frames after it), a body, a close frame. */
    if (c->state == ST_HEAD) {
        read_head(c);
    }
    if (!live(c)) {
        return;
    }
    switch (c->state) {
    case ST_HEAD:
        io_error(c, what, "connection to", err, sizeof(err));
        finish(c, 0, 1006, "no upgrade answer: %s", err);
        break;
    case ST_BODY: read_body(c, 1); break;
    case ST_OPEN:
    case ST_CLOSING:
        pump(c);
        if (!live(c)) {
            break;
        }
        if (c->state == ST_DRAIN) {
            finish_stored(c);
        } else if (c->state == ST_CLOSING) {
            finish(c, 0, 1006, "%s hung up without answering our close",
                   c->hostport);
        } else if (what & BEV_EVENT_EOF) {
            finish(c, 0, 1006, "%s hung up without a close frame", c->hostport);
        } else {
            io_error(c, what, "connection to", err, sizeof(err));
            finish(c, 0, 1006, "lost: %s", err);
        }
        break;
    case ST_DRAIN: finish_stored(c); break;
    default: break;
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct ws_conn *c = arg;

    enter(c);
    if (what & BEV_EVENT_CONNECTED) {
        connected(c);
    } else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        hung_up(c, what);
    }
    leave(c);
}

static void on_handshake_timer(evutil_socket_t fd, short what, void *arg)
{
    struct ws_conn *c = arg;

    if (c->state == ST_BODY) {
        /* A refusal whose body never ends: quote what came. */
        one_line(c->body, sizeof(c->body), c->body, c->body_len);
        c->body_len = strlen(c->body);
        refused(c);
        return;
    }
    finish(c, 0, 1006, "no upgrade from %s within %g s", c->hostport,
           c->handshake_s);
}

static void on_ping_timer(evutil_socket_t fd, short what, void *arg)
{
    struct ws_conn *c = arg;
    unsigned char payload[8];
    struct wslay_event_msg msg = {WSLAY_PING, payload, sizeof(payload)};
    struct timeval tv = timeval_of_seconds(c->ping_s);

    if (c->state != ST_OPEN) {
        return;
    }
    evtimer_add(c->ping, &tv);
    c->pings++;
    for (int i = 0; i < 8; i++) {
        payload[i] = (unsigned char)(c->pings >> (56 - 8 * i));
    }
    if (wslay_event_queue_msg(c->ws, &msg) != 0) {
        return;
    }
    /* The deadline runs from the first ping that goes unanswered. */
    if (c->pong_s > 0 && !evtimer_pending(c->pong, NULL)) {
        struct timeval dl = timeval_of_seconds(c->pong_s);

        evtimer_add(c->pong, &dl);
    }
    flush(c);
}

static void on_pong_timer(evutil_socket_t fd, short what, void *arg)
{
    struct ws_conn *c = arg;

    finish(c, 0, 1006, "no pong from %s within %g s", c->hostport, c->pong_s);
}

static void on_close_timer(evutil_socket_t fd, short what, void *arg)
{
    struct ws_conn *c = arg;

    if (c->state == ST_DRAIN) {
        /* The closes were exchanged; only the socket was slow. */
        finish_stored(c);
        return;
    }
    finish(c, 0, 1006, "no close answer from %s within %d s", c->hostport,
           CLOSE_WAIT_S);
}

/* ------------------------------------------------------------------------ */
/* Setting up                                                                */

static int make_events(struct ws_conn *c)
{
    c->handshake = evtimer_new(c->base, on_handshake_timer, c);
    c->ping = evtimer_new(c->base, on_ping_timer, c);
    c->pong = evtimer_new(c->base, on_pong_timer, c);
    c->close = evtimer_new(c->base, on_close_timer, c);
    c->done = event_new(c->base, -1, 0, on_done, c);
    return c->handshake && c->ping && c->pong && c->close && c->done ? 0 : -1;
}

static int make_wslay(struct ws_conn *c, size_t max_message)
{
    static const struct wslay_event_callbacks cbs = {
        .recv_callback = on_ws_recv,
        .send_callback = on_ws_send,
        .genmask_callback = on_ws_genmask,
        .on_msg_recv_callback = on_ws_msg,
    };

    if (wslay_event_context_client_init(&c->ws, &cbs, c) != 0) {
        c->ws = NULL;
        return -1;
    }
    wslay_event_config_set_max_recv_msg_length(
        c->ws, max_message ? max_message : MAX_MESSAGE);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The API                                                                   */

struct ws_conn *ws_connect(struct event_base *base, const struct ws_options *o,
                           const struct ws_ops *ops, void *arg, char *err,
                           size_t errlen)
{
    struct ws_conn *c;
    struct timeval tv;

    if (!base || !o || !o->url || !ops) {
        errbuf_set(err, errlen, -EINVAL,
                   "ws_connect: no base, options, URL or callbacks");
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        errbuf_set(err, errlen, -ENOMEM, "out of memory");
        return NULL;
    }
    c->base = base;
    c->ops = ops;
    c->arg = arg;
    c->content_length = -1;
    c->handshake_s =
        o->handshake_timeout_s > 0 ? o->handshake_timeout_s : HANDSHAKE_S;
    c->ping_s = o->ping_every_s;
    c->pong_s = o->pong_timeout_s;
    if (make_events(c) < 0) {
        errbuf_set(err, errlen, -ENOMEM, "out of memory");
        goto fail;
    }
    if (parse_url(c, o->url, err, errlen) < 0) {
        goto fail;
    }
    if (o->bearer) {
        if (!printable(o->bearer, strlen(o->bearer)) || !*o->bearer) {
            errbuf_set(err, errlen, -EINVAL,
                       "bearer token: empty, or spaces or controls in it");
            goto fail;
        }
        c->bearer = strdup(o->bearer);
        if (!c->bearer) {
            errbuf_set(err, errlen, -ENOMEM, "out of memory");
            goto fail;
        }
    }
    if (make_wslay(c, o->max_message) < 0) {
        errbuf_set(err, errlen, -ENOMEM, "out of memory");
        goto fail;
    }
    c->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                      EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (!c->dns) {
        errbuf_set(err, errlen, -EIO, "resolver: cannot read resolv.conf");
        goto fail;
    }
    /* Deferred callbacks: none of them runs inside ws_connect, even when
     * the address is known at once. */
    if (c->tls) {
        c->tls_mod = tls_module(err, errlen);
        if (!c->tls_mod) {
            goto fail;
        }
        c->bev = c->tls_mod->client(
            base, c->host, o->insecure_tls,
            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, err, errlen);
        if (!c->bev) {
            goto fail;
        }
    } else {
        c->bev = bufferevent_socket_new(
            base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!c->bev) {
            errbuf_set(err, errlen, -ENOMEM, "out of memory");
            goto fail;
        }
    }
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    tv = timeval_of_seconds(c->handshake_s);
    evtimer_add(c->handshake, &tv);
    c->state = ST_CONNECTING;
    if (bufferevent_socket_connect_hostname(c->bev, c->dns, AF_UNSPEC, c->host,
                                            c->port) < 0) {
        finish(c, 0, 1006, "connect to %s: cannot start", c->hostport);
    }
    return c;
fail:
    destroy(c);
    return NULL;
}

int ws_send_text(struct ws_conn *c, const char *data, size_t len)
{
    struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, (const uint8_t *)data, len};
    int r;

    if (!c || !live(c) || c->state != ST_OPEN) {
        return -ENOTCONN;
    }
    r = wslay_event_queue_msg(c->ws, &msg);
    if (r == WSLAY_ERR_NOMEM) {
        return -ENOMEM;
    }
    if (r != 0) {
        return -ENOTCONN; /* wslay is closing on its own */
    }
    flush(c);
    return 0;
}

size_t ws_pending(const struct ws_conn *c)
{
    size_t n;

    if (!c || !c->bev) {
        return 0;
    }
    n = evbuffer_get_length(bufferevent_get_output(c->bev));
    if (c->ws) {
        n += wslay_event_get_queued_msg_length(c->ws);
    }
    return n;
}

/* Codes a close frame may carry (RFC 6455 7.4): others go as no code. */
static int sendable_code(int code)
{
    if (code >= 3000 && code <= 4999) {
        return 1;
    }
    return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 &&
           code != 1006;
}

void ws_close(struct ws_conn *c, int code, const char *reason)
{
    size_t len = reason ? strlen(reason) : 0;
    struct timeval tv = {CLOSE_WAIT_S, 0};

    if (!c || !live(c) || c->state >= ST_CLOSING) {
        return;
    }
    if (c->state < ST_OPEN) {
        finish(c, 0, 1006, "closed before the upgrade with %s", c->hostport);
        return;
    }
    if (len > REASON_MAX) {
        /* Not in the middle of a UTF-8 sequence. */
        len = REASON_MAX;
        while (len > 0 && ((unsigned char)reason[len] & 0xc0) == 0x80) {
            len--;
        }
    }
    c->we_closed = 1;
    c->our_code = sendable_code(code) ? code : 1000;
    /* Refused when wslay is closing already: that close stands. */
    wslay_event_queue_close(c->ws, sendable_code(code) ? (uint16_t)code : 0,
                            (const uint8_t *)reason, len);
    c->state = ST_CLOSING;
    evtimer_del(c->ping);
    evtimer_del(c->pong);
    evtimer_add(c->close, &tv);
    flush(c);
}

void ws_free(struct ws_conn *c)
{
    if (!c || c->dead) {
        return;
    }
    if (c->depth > 0) {
        /* Inside one of our callbacks: silence it all now, free on the way
         * out. */
        c->dead = 1;
        release_io(c);
        event_del(c->done);
        return;
    }
    destroy(c);
}
