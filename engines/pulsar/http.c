/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "errbuf.h"
#include "http.h"
#include "tls.h"

struct phttp {
    struct phttp *prev, *next;
    struct phttp_target *t;
    struct evhttp_connection *conn;
    phttp_done_fn *done;
    void *arg;
    int error; /* enum evhttp_request_error + 1; 0: none */
    int sys;   /* the socket error seen with it */
};

static void unlink_req(struct phttp **head, struct phttp *p)
{
    if (p->prev) {
        p->prev->next = p->next;
    } else {
        *head = p->next;
    }
    if (p->next) {
        p->next->prev = p->prev;
    }
    p->prev = p->next = NULL;
}

static void push_req(struct phttp **head, struct phttp *p)
{
    p->prev = NULL;
    p->next = *head;
    if (*head) {
        (*head)->prev = p;
    }
    *head = p;
}

static void free_req(struct phttp *p)
{
    if (p->conn) {
        evhttp_connection_free(p->conn);
    }
    free(p);
}

/* Connections of ended requests: freed here, never from inside their own
 * callback, where libevent still uses them. */
static void bury(struct phttp_target *t)
{
    struct phttp *p;

    while ((p = t->done)) {
        unlink_req(&t->done, p);
        free_req(p);
    }
}

int phttp_target_init(struct phttp_target *t, const char *base_url,
                      const char *token, char *err, size_t errlen)
{
    const char *h, *end, *path;
    char *port_end;
    long port;

    memset(t, 0, sizeof(*t));
    t->token = token;
    t->tls = strncasecmp(base_url, "https://", 8) == 0;
    h = base_url + (t->tls ? 8 : 7);
    path = h + strcspn(h, "/");
    if (*h == '[') {
        end = strchr(h, ']');
        if (!end || end > path) {
            return errbuf_set(err, errlen, -EINVAL,
                              "PULSAR_URL %s: an unclosed [", base_url);
        }
        t->host = strndup(h + 1, (size_t)(end - h - 1));
        end++;
    } else {
        end = h + strcspn(h, ":/");
        t->host = strndup(h, (size_t)(end - h));
    }
    port = t->tls ? 443 : 80;
    if (*end == ':') {
        port = strtol(end + 1, &port_end, 10);
        if (port_end != path || port < 1 || port > 65535) {
            free(t->host);
            t->host = NULL;
            return errbuf_set(err, errlen, -EINVAL, "PULSAR_URL %s: a bad port",
                              base_url);
        }
    } else if (end != path) {
        free(t->host);
        t->host = NULL;
        return errbuf_set(err, errlen, -EINVAL, "PULSAR_URL %s: a bad host",
                          base_url);
    }
    t->port = (int)port;
    t->prefix = strdup(path);
    t->hostport = strndup(h, (size_t)(path - h));
    if (!t->host || !t->prefix || !t->hostport) {
        phttp_target_fini(t);
        return errbuf_set(err, errlen, -ENOMEM, "out of memory");
    }
    /* TLS is loaded here, at start-up, rather than found missing at the
     * first request. */
    if (t->tls && !tls_module(err, errlen)) {
        phttp_target_fini(t);
        return -ENOENT;
    }
    return 0;
}

void phttp_target_fini(struct phttp_target *t)
{
    struct phttp *p;

    while ((p = t->live)) {
        unlink_req(&t->live, p);
        free_req(p); /* frees its request without a callback */
    }
    bury(t);
    if (t->dns) {
        evdns_base_free(t->dns, 1);
    }
    free(t->host);
    free(t->prefix);
    free(t->hostport);
    memset(t, 0, sizeof(*t));
}

static const char *error_text(int error)
{
    switch (error - 1) {
    case EVREQ_HTTP_TIMEOUT: return "timed out";
    case EVREQ_HTTP_EOF: return "connection closed";
    case EVREQ_HTTP_INVALID_HEADER: return "not an HTTP reply";
    case EVREQ_HTTP_BUFFER_ERROR: return "connection failed";
    case EVREQ_HTTP_DATA_TOO_LONG: return "reply too long";
    default: return "request failed";
    }
}

static void on_error(enum evhttp_request_error error, void *arg)
{
    struct phttp *p = arg;

    p->error = (int)error + 1;
    p->sys = EVUTIL_SOCKET_ERROR();
}

/* Why TLS failed, if it did: the certificate check, else OpenSSL's first
 * error. Returns 1 when it wrote something into @why. */
static int tls_why(struct phttp *p, char *why, size_t len)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(p->conn);
    const struct tls_module *tls = tls_module(NULL, 0);
    char buf[200];

    switch (bev && tls ? tls->failure(bev, buf, sizeof(buf)) : TLS_OK) {
    case TLS_CERTIFICATE:
        snprintf(why, len, "TLS: certificate refused: %s", buf);
        return 1;
    case TLS_ERROR: snprintf(why, len, "TLS: %s", buf); return 1;
    default: return 0;
    }
}

static void on_reply(struct evhttp_request *req, void *arg)
{
    struct phttp *p = arg;
    struct phttp_target *t = p->t;
    int status = req ? evhttp_request_get_response_code(req) : 0;
    struct evbuffer *in = req ? evhttp_request_get_input_buffer(req) : NULL;
    size_t len = in ? evbuffer_get_length(in) : 0;
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    char why[320] = "";

    if (status == 0 && t->tls && tls_why(p, why, sizeof(why))) {
        /* Said why: a certificate refused, a handshake failed. */
    } else if (status == 0) {
        /* A refused or reset connection shows as EOF: its errno says more. */
        if (p->sys && (p->error == 0 || p->error - 1 == EVREQ_HTTP_EOF ||
                       p->error - 1 == EVREQ_HTTP_BUFFER_ERROR)) {
            snprintf(why, sizeof(why), "%s",
                     evutil_socket_error_to_string(p->sys));
        } else {
            snprintf(why, sizeof(why), "%s", error_text(p->error));
        }
    }
    /* In neither list while its callback runs: a request started from
     * there cannot bury this one's connection under libevent's feet. */
    unlink_req(&t->live, p);
    p->done(status, body ? body : "", body ? len : 0, why, p->arg);
    push_req(&t->done, p);
}

static struct phttp *start(struct event_base *base, struct evdns_base *dns,
                           struct phttp_target *t, const char *method,
                           const char *path, const char *body, double timeout_s,
                           phttp_done_fn *done, void *arg)
{
    enum evhttp_cmd_type cmd = strcmp(method, "GET") == 0   ? EVHTTP_REQ_GET
                               : strcmp(method, "PUT") == 0 ? EVHTTP_REQ_PUT
                                                            : EVHTTP_REQ_POST;
    struct evhttp_request *req;
    struct evkeyvalq *h;
    struct phttp *p;
    char *uri = NULL, *auth = NULL;
    int secs = timeout_s < 1 ? 1 : (int)(timeout_s + 0.5);

    bury(t);
    p = calloc(1, sizeof(*p));
    if (!p) {
        return NULL;
    }
    p->t = t;
    p->done = done;
    p->arg = arg;
    if (t->tls) {
        /* Loaded by phttp_target_init(). */
        const struct tls_module *tls = tls_module(NULL, 0);
        struct bufferevent *bev =
            tls ? tls->client(base, t->host, 0,
                              BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS,
                              NULL, 0)
                : NULL;
        if (!bev) {
            free(p);
            return NULL;
        }
        p->conn = evhttp_connection_base_bufferevent_new(base, dns, bev,
                                                         t->host, t->port);
        if (!p->conn) {
            bufferevent_free(bev);
        }
    } else {
        p->conn = evhttp_connection_base_new(base, dns, t->host, t->port);
    }
    req = p->conn ? evhttp_request_new(on_reply, p) : NULL;
    uri = malloc(strlen(t->prefix) + strlen(path) + 1);
    if (t->token) {
        auth = malloc(strlen(t->token) + 8);
    }
    if (!req || !uri || (t->token && !auth)) {
        if (req) {
            evhttp_request_free(req);
        }
        free(uri);
        free(auth);
        free_req(p);
        return NULL;
    }
    evhttp_connection_set_timeout(p->conn, secs);
    evhttp_request_set_error_cb(req, on_error);
    h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", t->hostport);
    evhttp_add_header(h, "Connection", "close");
    if (t->token) {
        sprintf(auth, "Bearer %s", t->token);
        evhttp_add_header(h, "Authorization", auth);
    }
    if (body) {
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    sprintf(uri, "%s%s", t->prefix, path);
    push_req(&t->live, p);
    /* On failure libevent frees the request, and calls nothing. */
    if (evhttp_make_request(p->conn, req, cmd, uri) < 0) {
        unlink_req(&t->live, p);
        free_req(p);
        p = NULL;
    }
    free(uri);
    free(auth);
    return p;
}

static int is_ip_literal(const char *host)
{
    unsigned char addr[16];

    return inet_pton(AF_INET, host, addr) == 1 ||
           inet_pton(AF_INET6, host, addr) == 1;
}

struct phttp *phttp_start(struct event_base *base, struct phttp_target *t,
                          const char *method, const char *path,
                          const char *body, double timeout_s,
                          phttp_done_fn *done, void *arg)
{
    /* A name is looked up without blocking the loop, again every time: a
     * broker may come back elsewhere. */
    if (!t->dns && !is_ip_literal(t->host)) {
        t->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                          EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (!t->dns) {
            return NULL;
        }
    }
    return start(base, t->dns, t, method, path, body, timeout_s, done, arg);
}

/* libevent's HTTP client says little of why a connection failed (it
 * keeps no errno): at start-up, where the line is what the user reads, ask
 * the system: look the name up and connect, blocking, bounded. Writes the
 * cause into @why when it finds one. */
static void diagnose(const struct phttp_target *t, char *why, size_t whylen)
{
    struct addrinfo hints = {0}, *res = NULL;
    struct pollfd pfd;
    char port[16];
    socklen_t elen = sizeof(int);
    int fd, rc, err = 0;

    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", t->port);
    rc = getaddrinfo(t->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(why, whylen, "cannot resolve %s: %s", t->host,
                 gai_strerror(rc));
        return;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0) {
        if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
            err = errno;
            if (err == EINPROGRESS) {
                pfd.fd = fd;
                pfd.events = POLLOUT;
                err = poll(&pfd, 1, 3000) == 1 &&
                              getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
                                         &elen) == 0
                          ? err
                          : ETIMEDOUT;
            }
        }
        close(fd);
    }
    freeaddrinfo(res);
    if (err) {
        snprintf(why, whylen, "%s", strerror(err));
    }
}

/* phttp_run()'s outcome. */
struct run_result {
    struct event_base *base;
    int status;
    char *reply;
    char *why;
    size_t whylen;
};

static void on_run_done(int status, const char *body, size_t len,
                        const char *why, void *arg)
{
    struct run_result *r = arg;

    r->status = status;
    r->reply = malloc(len + 1);
    if (r->reply) {
        memcpy(r->reply, body, len);
        r->reply[len] = '\0';
    }
    snprintf(r->why, r->whylen, "%s", why);
    event_base_loopbreak(r->base);
}

int phttp_run(struct phttp_target *t, const char *method, const char *path,
              const char *body, double timeout_s, char **reply, char *why,
              size_t whylen)
{
    struct run_result r = {0};
    struct evdns_base *dns = NULL;
    struct phttp_target own = *t;

    *reply = NULL;
    snprintf(why, whylen, "out of memory");
    /* A loop of its own: the minion's does not run yet, and nothing else
     * may happen on it meanwhile. */
    r.base = event_base_new();
    if (!r.base) {
        return 0;
    }
    if (!is_ip_literal(t->host)) {
        dns = evdns_base_new(r.base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    }
    own.live = own.done = NULL;
    own.dns = NULL;
    r.why = why;
    r.whylen = whylen;
    r.status = -1;
    if ((dns || is_ip_literal(t->host)) &&
        start(r.base, dns, &own, method, path, body, timeout_s, on_run_done,
              &r)) {
        event_base_dispatch(r.base);
    }
    bury(&own);
    while (own.live) {
        struct phttp *p = own.live;
        unlink_req(&own.live, p);
        free_req(p);
    }
    if (dns) {
        evdns_base_free(dns, 0);
    }
    event_base_free(r.base);
    *reply = r.reply;
    if (r.status == 0) {
        diagnose(t, why, whylen);
    }
    return r.status < 0 ? 0 : r.status;
}
