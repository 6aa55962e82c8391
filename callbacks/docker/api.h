/* SPDX-License-Identifier: MIT */
/* The Docker Engine API (v1.41) over HTTP with libcurl: the daemon's
 * address from DOCKER_HOST, asynchronous requests on the loop through
 * plugins/adapters/curl_event.c, and blocking ones for start-up checks. */
#ifndef DOCKER_API_H
#define DOCKER_API_H

#include <stddef.h>

#include <curl/curl.h>

struct event_base;
struct curl_event;

/* The API version in every path: Docker 20.10 (Debian bookworm) and up. */
#define API_VERSION "1.41"

struct api_client {
    char *socket_path; /* unix:// ; NULL for tcp:// */
    char *base_url;    /* "http://localhost/v1.41" */
    char where[256];   /* DOCKER_HOST as given, for messages */
    struct curl_slist *json_headers;
    struct curl_event *ce; /* NULL until api_client_attach */
};

/* Parse @docker_host: unix:///path/docker.sock or tcp://host:port.
 * Returns 0, or -EINVAL with one line in @err. */
int api_client_init(struct api_client *c, const char *docker_host, char *err,
                    size_t errlen);
/* Start asynchronous requests on @base. Returns 0 or -ENOMEM. */
int api_client_attach(struct api_client *c, struct event_base *base);
/* Every request still running ends (done, as cancelled); then free. */
void api_client_fini(struct api_client *c);

struct api_request;

/* Each piece of a streamed response body (wait, logs). Return 0 to go on,
 * < 0 to abort the transfer. */
typedef int api_data_fn(struct api_request *rq, const char *buf, size_t len,
                        void *arg);
/* The request ended: exactly once, on the loop. The request is freed when
 * this returns. */
typedef void api_done_fn(struct api_request *rq, void *arg);

/* A request the daemon answers at once gets this many seconds: one that
 * hangs ends as an error, never holds a task forever. */
#define API_QUICK 60L

/* Send @method @path (after the version: "/containers/create") with a JSON
 * @body or NULL, ended after @timeout_s seconds (0: never, for wait, logs
 * and exec streams, which last as long as the task). With @on_data the
 * body is streamed to it, else collected (up to 1 MiB). Borrows: path and
 * body, copied. Returns: the request, or NULL when it could not be made
 * (out of memory: @done is not called). */
struct api_request *api_send(struct api_client *c, const char *method,
                             const char *path, const char *body, long timeout_s,
                             api_data_fn *on_data, api_done_fn *done,
                             void *arg);
/* End @rq now: its done callback runs before this returns, as cancelled. */
void api_cancel(struct api_request *rq);

/* What a done callback reads. */
CURLcode api_result(const struct api_request *rq); /* CURLE_OK: see status */
long api_status(const struct api_request *rq);     /* HTTP status */
/* The collected body, NUL-terminated. Borrows: until done returns. */
const char *api_body(const struct api_request *rq, size_t *len);
/* The "Id" of a reply (create, exec create) into @out. Returns 0, or
 * -EPROTO when the reply has none that fits. */
int api_id(const struct api_request *rq, char *out, size_t cap);
/* One line on why @rq failed: the curl error, or the daemon's message
 * with the status. Borrows: valid until done returns. */
const char *api_error(struct api_request *rq);
/* The transfer never reached the daemon (no connection): the daemon is
 * down, not the task's fault. */
int api_unreachable(const struct api_request *rq);

/* Start-up only (it blocks): one request. Returns the HTTP status, or -1
 * with one line in @err. Returns: *@resp (NUL-terminated), caller frees. */
long api_sync(struct api_client *c, const char *method, const char *path,
              const char *body, char **resp, char *err, size_t errlen);

/* The "message" of an error body {"message": "..."}, else the body itself,
 * cut at the first line. Writes into @buf; returns @buf. */
const char *api_message(const char *body, char *buf, size_t cap);

/* @s escaped for a URL query. Returns: new string, free with curl_free();
 * NULL on ENOMEM. */
char *api_escape(const char *s);

#endif
