/* SPDX-License-Identifier: MIT */
/* adapters/tls.so: TLS clients on libevent's OpenSSL bufferevents, for the
 * adapters that tls.h describes. The only object of minionize that links
 * OpenSSL; it exports one symbol, the table at the end. Each client gets
 * an SSL_CTX of its own (the SSL holds the only reference), so nothing
 * here outlives the connections it made. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "errbuf.h"
#include "tls.h"

/* OpenSSL's reason for its most recent error, for a line of ours. */
static const char *last_reason(void)
{
    const char *r = ERR_reason_error_string(ERR_peek_last_error());

    return r ? r : "unknown error";
}

/* An SSL for a client of @host: the system's CAs, and the name (or
 * address) checked against the certificate, unless @insecure. */
static SSL *new_ssl(const char *host, int insecure, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    unsigned char addr[sizeof(struct in6_addr)];
    int is_ip;
    SSL *ssl;

    if (!ctx) {
        errbuf_set(err, errlen, -ENOMEM, "TLS: cannot set up a client: %s",
                   last_reason());
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* Servers that hang up without close_notify: an EOF, not an error. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    if (!insecure) {
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            errbuf_set(err, errlen, -EIO,
                       "TLS: cannot read the system's CA certificates: %s",
                       last_reason());
            SSL_CTX_free(ctx);
            return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL keeps its own reference */
    if (!ssl) {
        errbuf_set(err, errlen, -ENOMEM, "TLS: cannot set up a client: %s",
                   last_reason());
        return NULL;
    }
    is_ip = inet_pton(AF_INET, host, addr) == 1 ||
            inet_pton(AF_INET6, host, addr) == 1;
    /* SNI carries names only (RFC 6066). */
    if ((!is_ip && !SSL_set_tlsext_host_name(ssl, host)) ||
        (!insecure &&
         !(is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
                 : SSL_set1_host(ssl, host)))) {
        errbuf_set(err, errlen, -EINVAL, "TLS: cannot check the host %s: %s",
                   host, last_reason());
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

static struct bufferevent *tls_client(struct event_base *base, const char *host,
                                      int insecure, int options, char *err,
                                      size_t errlen)
{
    struct bufferevent *bev;
    SSL *ssl;

    /* Leftovers of another caller must not pass for our errors. */
    ERR_clear_error();
    ssl = new_ssl(host, insecure, err, errlen);
    if (!ssl) {
        return NULL;
    }
    bev = bufferevent_openssl_socket_new(base, -1, ssl,
                                         BUFFEREVENT_SSL_CONNECTING, options);
    if (!bev) {
        SSL_free(ssl);
        errbuf_set(err, errlen, -ENOMEM, "out of memory");
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

static enum tls_failure tls_failure(struct bufferevent *bev, char *why,
                                    size_t len)
{
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    unsigned long first = 0, e;
    long verify;

    if (!ssl) {
        return TLS_OK;
    }
    while ((e = bufferevent_get_openssl_error(bev))) {
        if (!first) {
            first = e;
        }
    }
    /* The check's own words say more than OpenSSL's "verify failed"; a
     * failed check ends the handshake only when checking was asked for. */
    verify = SSL_get_verify_result(ssl);
    if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) && verify != X509_V_OK) {
        snprintf(why, len, "%s", X509_verify_cert_error_string(verify));
        return TLS_CERTIFICATE;
    }
    if (first) {
        const char *r = ERR_reason_error_string(first);

        snprintf(why, len, "%s", r ? r : "error");
        return TLS_ERROR;
    }
    return TLS_OK;
}

const struct tls_module minion_tls_module = {
    .version = TLS_MODULE_VERSION,
    .client = tls_client,
    .failure = tls_failure,
};
