/* SPDX-License-Identifier: MIT */
/*
 * TLS for the adapters' wss:// and https:// (ws.c, the pulsar engine's
 * HTTP client): OpenSSL through libevent's OpenSSL bufferevents, in a
 * module of its own, adapters/tls.so, loaded only when a TLS URL is used.
 * Merely linking libssl and libcrypto costs an idle minion megabytes of
 * resident memory, which a minion on plain ws:// and http:// (the common
 * case, behind a proxy or on a private network) should not pay.
 *
 * The module sits in an "adapters" folder next to the object that uses it
 * (pkglibdir/adapters/tls.so beside pkglibdir/pulsar.so), where the
 * plugin loader, which lists every *.so of its folders, never looks. Run
 * from the build tree, the build tree's module is used.
 *
 *   const struct tls_module *tls = tls_module(err, sizeof err);
 *   bev = tls->client(base, "broker.example", 0, BEV_OPT_CLOSE_ON_FREE,
 *                     err, sizeof err);
 *   bufferevent_socket_connect_hostname(bev, dns, AF_UNSPEC, host, 443);
 *   ... on BEV_EVENT_ERROR: tls->failure(bev, why, sizeof why)
 *   bufferevent_free(bev)          the SSL and its context go with it
 */
#ifndef MINION_TLS_H
#define MINION_TLS_H

#include <stddef.h>

struct bufferevent;
struct event_base;

/* The table's layout; a module built for another one is refused. */
#define TLS_MODULE_VERSION 1
/* The module's one exported symbol: a const struct tls_module. */
#define TLS_MODULE_SYMBOL "minion_tls_module"

/* What tls->failure() found. */
enum tls_failure {
    TLS_OK = 0,          /* TLS saw nothing wrong: ask the socket */
    TLS_CERTIFICATE = 1, /* the server's certificate was refused */
    TLS_ERROR = 2        /* another TLS error (handshake, protocol) */
};

struct tls_module {
    int version; /* TLS_MODULE_VERSION */
    /* A bufferevent that will speak TLS as a client of @host (a name or
     * an IP address literal, without brackets) once its socket connects
     * (bufferevent_socket_connect*). The certificate is checked against
     * the system's CAs ($SSL_CERT_FILE, $SSL_CERT_DIR) and the host name
     * or address, unless @insecure (tests only); SNI names the host; TLS
     * 1.2 at least; a peer that hangs up without close_notify is an EOF.
     * @options: BEV_OPT_*. Returns NULL with one line in @err. Free it
     * with bufferevent_free(): with BEV_OPT_CLOSE_ON_FREE, its SSL and
     * SSL_CTX go with it. */
    struct bufferevent *(*client)(struct event_base *base, const char *host,
                                  int insecure, int options, char *err,
                                  size_t errlen);
    /* After @bev (from client()) reported an error or EOF: why TLS
     * failed, one line in @why (the certificate check's own words, or
     * OpenSSL's first error), and which kind of failure it was. Takes the
     * bufferevent's OpenSSL errors. */
    enum tls_failure (*failure)(struct bufferevent *bev, char *why, size_t len);
};

/* The module, loaded on the first call (loop thread). Returns NULL with
 * one line in @err when it cannot be found or is not the right one:
 * "TLS support (adapters/tls.so) not found next to pulsar.so: ...". */
const struct tls_module *tls_module(char *err, size_t errlen);

#endif
