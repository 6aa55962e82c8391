/* SPDX-License-Identifier: MIT */
/* Plain HTTP requests to the broker's admin and REST producer APIs, with
 * libevent's own HTTP client (evhttp): already in the minion, so an idle
 * minion pays nothing for it (libcurl and its dozens of libraries would
 * triple its memory). One connection per request (requests are rare: a
 * stats fetch a second at most, a dead letter now and then), TLS through
 * an OpenSSL bufferevent for https://, from adapters/tls.so (tls.h): a
 * minion on http:// never loads OpenSSL. */
#ifndef PULSAR_HTTP_H
#define PULSAR_HTTP_H

#include <stddef.h>

struct event_base;
struct evdns_base;
struct phttp;

/* Where requests go, parsed once from PULSAR_URL. */
struct phttp_target {
    char *host; /* without brackets */
    int port;
    int tls;
    char *prefix;      /* the URL's path, without trailing slash ("" mostly) */
    char *hostport;    /* for the Host header */
    const char *token; /* NULL: none. Borrowed */
    struct evdns_base *dns; /* made on the first request by name */
    struct phttp *live;     /* requests out */
    struct phttp *done;     /* ended: their connections are freed later */
};

/* Parse @base_url (checked by pulsar_url_base); for https://, load the
 * TLS module. Returns 0, or -EINVAL / -ENOMEM / -ENOENT (no TLS module)
 * with one line in @err. */
int phttp_target_init(struct phttp_target *t, const char *base_url,
                      const char *token, char *err, size_t errlen);
/* Drop every request still out (their callbacks are not called), and free
 * what @t holds. */
void phttp_target_fini(struct phttp_target *t);

/* How a request ended: @status the HTTP status, or 0 when there was none
 * (then @why says why: "connection refused", "timed out"); the reply's
 * body. Borrows: body and why, until this returns. */
typedef void phttp_done_fn(int status, const char *body, size_t len,
                           const char *why, void *arg);

/* Start @method ("GET", "PUT", "POST") of @path (from the URL's root, with
 * its query) on @base, with a JSON @body (NULL: none). @done is called
 * exactly once, later, on the loop: never from inside this call, and not
 * at all once phttp_target_fini() ran. Returns: the request, or NULL (out of
 * memory, or TLS could not be set up; @done is then never called).
 * Borrows: t for the request's life; path and body are copied. */
struct phttp *phttp_start(struct event_base *base, struct phttp_target *t,
                          const char *method, const char *path,
                          const char *body, double timeout_s,
                          phttp_done_fn *done, void *arg);

/* Blocking (start-up only): the same request on a loop of its own, until
 * it ends. Returns the status (0: none, @why says why); the body in
 * @body (caller frees; may be NULL). */
int phttp_run(struct phttp_target *t, const char *method, const char *path,
              const char *body, double timeout_s, char **reply, char *why,
              size_t whylen);

#endif
