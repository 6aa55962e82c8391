/* SPDX-License-Identifier: MIT */
/*
 * A WebSocket client connection (RFC 6455) on a libevent loop: the HTTP
 * upgrade on a bufferevent (TLS through libevent's OpenSSL bufferevents
 * for wss://), framing by wslay, pings with a pong deadline, and the close
 * handshake. One connection, made once: reconnecting is the owner's job.
 * Loop thread only.
 *
 *   struct ws_conn *c = ws_connect(base, &opts, &ops, arg, err, sizeof err);
 *   ops.open(c, arg)                      101 checked: ws_send_text() works
 *   ops.message(c, data, len, 0, arg)     one whole message
 *   ws_close(c, 1000, "bye")              ... then ops.closed(...)
 *   ws_free(c)
 */
#ifndef MINION_WS_H
#define MINION_WS_H

#include <stddef.h>

struct event_base;
struct ws_conn;

struct ws_ops {
    /* The upgrade succeeded: messages may be sent. */
    void (*open)(struct ws_conn *c, void *arg);
    /* One whole message (fragments joined), text (@binary 0, valid UTF-8)
     * or binary. Borrows: data, until this returns. */
    void (*message)(struct ws_conn *c, const char *data, size_t len, int binary,
                    void *arg);
    /* The connection is over, exactly once per ws_connect() that returned
     * a connection, never from inside ws_connect() or ws_free(), and no
     * callback comes after it. @http_status: the status of a refused
     * upgrade (401, 404, 409...), else 0. @close_code: the peer's close
     * code, 1000 after our own ws_close() was answered, 1006 for a
     * connection lost without a close (refused, reset, timed out: no pong,
     * no handshake in time). @why: one line, naming the server; for a
     * refused upgrade it holds the status and the start of the body.
     * The owner may call ws_free(c) from here. */
    void (*closed)(struct ws_conn *c, int http_status, int close_code,
                   const char *why, void *arg);
};

struct ws_options {
    /* ws://host[:port]/path?query or wss://...; http:// and https:// are
     * taken as ws:// and wss://. Borrows: until ws_connect returns. */
    const char *url;
    /* Sent as "Authorization: Bearer <token>"; NULL: none. Borrows: as
     * url. */
    const char *bearer;
    double handshake_timeout_s; /* connect, TLS and the 101; 0: 10 s */
    double ping_every_s;        /* a ping after this long; 0: never */
    double pong_timeout_s;      /* no frame this long after a ping: lost */
    size_t max_message;         /* a longer incoming message: close 1009;
                                   0: 16 MiB */
    int insecure_tls;           /* wss:// without checking the certificate
                                   (tests only) */
};

/* Start connecting to o->url. Returns: the connection (its callbacks come
 * later, on the loop), or NULL with one line in @err (a URL that is not
 * ws/wss/http/https, out of memory). Borrows: base, ops and arg for the
 * connection's life.
 * For wss://, the first call loads adapters/tls.so (tls.h): NULL too when
 * it cannot be found or TLS cannot be set up. ws:// never loads OpenSSL. */
struct ws_conn *ws_connect(struct event_base *base, const struct ws_options *o,
                           const struct ws_ops *ops, void *arg, char *err,
                           size_t errlen);

/* Queue one text message (must be UTF-8). Returns 0, -ENOTCONN before
 * open() or once closing, -ENOMEM. Borrows: data (copied). */
int ws_send_text(struct ws_conn *c, const char *data, size_t len);

/* Bytes queued and not yet written to the socket: for back-pressure. */
size_t ws_pending(const struct ws_conn *c);

/* Start the close handshake (@code, @reason of at most 123 bytes); what
 * was queued before goes out first. closed() follows when the server
 * answers, or after a bounded wait. */
void ws_close(struct ws_conn *c, int code, const char *reason);

/* Drop the connection at once (no close frame) and free it; no callback
 * runs after this, not even closed(). Accepts NULL. */
void ws_free(struct ws_conn *c);

#endif
