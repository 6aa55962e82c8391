/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "curl_event.h"

/* A collected body larger than this is an error: replies we read whole
 * (create, inspect, version, lists) are small. */
#define BODY_MAX (1024 * 1024)
/* Start-up requests: the daemon answers these at once or not at all. */
#define SYNC_TIMEOUT_S 10L

struct api_request {
    struct api_client *c;
    CURL *easy;
    api_data_fn *on_data;
    api_done_fn *done;
    void *arg;
    char *req_body;
    char *body; /* collected response, NUL-terminated */
    size_t len, cap;
    int too_big;
    CURLcode result;
    long status;
    char error[512];
};

int api_client_init(struct api_client *c, const char *docker_host, char *err,
                    size_t errlen)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->where, sizeof(c->where), "%s", docker_host);
    if (strncmp(docker_host, "unix://", 7) == 0 && docker_host[7] == '/') {
        if (strlen(docker_host + 7) > 107) {
            snprintf(err, errlen, "DOCKER_HOST: socket path over 107 bytes");
            return -EINVAL;
        }
        c->socket_path = strdup(docker_host + 7);
        c->base_url = strdup("http://localhost/v" API_VERSION);
    } else if (strncmp(docker_host, "tcp://", 6) == 0 && docker_host[6]) {
        size_t n = strlen(docker_host + 6);
        const char *hostport = docker_host + 6;

        if (hostport[n - 1] == '/') {
            n--;
        }
        c->base_url = malloc(n + 32);
        if (c->base_url) {
            snprintf(c->base_url, n + 32, "http://%.*s/v" API_VERSION, (int)n,
                     hostport);
        }
    } else {
        snprintf(err, errlen,
                 "DOCKER_HOST: expected unix:///path/docker.sock or "
                 "tcp://host:port, not '%s'",
                 docker_host);
        return -EINVAL;
    }
    c->json_headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (c->json_headers) {
        /* No 100-continue round trip on larger bodies. */
        struct curl_slist *l = curl_slist_append(c->json_headers, "Expect:");
        if (l) {
            c->json_headers = l;
        }
    }
    if (!c->base_url || !c->json_headers ||
        (strncmp(docker_host, "unix://", 7) == 0 && !c->socket_path)) {
        snprintf(err, errlen, "out of memory");
        api_client_fini(c);
        return -ENOMEM;
    }
    return 0;
}

int api_client_attach(struct api_client *c, struct event_base *base)
{
    c->ce = curl_event_attach(base);
    return c->ce ? 0 : -ENOMEM;
}

void api_client_fini(struct api_client *c)
{
    curl_event_detach(c->ce);
    c->ce = NULL;
    curl_slist_free_all(c->json_headers);
    free(c->socket_path);
    free(c->base_url);
    memset(c, 0, sizeof(*c));
}

static size_t on_write(char *buf, size_t size, size_t n, void *arg)
{
    struct api_request *rq = arg;
    size_t len = size * n;

    if (rq->on_data) {
        return rq->on_data(rq, buf, len, rq->arg) < 0 ? 0 : len;
    }
    if (rq->len + len > BODY_MAX) {
        rq->too_big = 1;
        return 0;
    }
    if (rq->len + len + 1 > rq->cap) {
        size_t cap = rq->cap ? rq->cap : 512;
        char *grown;

        while (cap < rq->len + len + 1) {
            cap *= 2;
        }
        grown = realloc(rq->body, cap);
        if (!grown) {
            return 0;
        }
        rq->body = grown;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->len, buf, len);
    rq->len += len;
    rq->body[rq->len] = '\0';
    return len;
}

/* Set up @easy for @method @path; the body is the request's own copy. */
static int prepare(CURL *easy, struct api_client *c, const char *method,
                   const char *path, const char *body)
{
    size_t n = strlen(c->base_url) + strlen(path) + 1;
    char *url = malloc(n);
    int rc = 0;

    if (!url) {
        return -ENOMEM;
    }
    snprintf(url, n, "%s%s", c->base_url, path);
    if (curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK) {
        rc = -ENOMEM;
    }
    free(url); /* libcurl keeps its own copy */
    if (c->socket_path) {
        curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
    }
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE,
                         (long)(body ? strlen(body) : 0));
        if (body) {
            curl_easy_setopt(easy, CURLOPT_HTTPHEADER, c->json_headers);
        }
    } else {
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    }
    return rc;
}

static void request_free(struct api_request *rq)
{
    if (!rq) {
        return;
    }
    if (rq->easy) {
        curl_easy_cleanup(rq->easy);
    }
    free(rq->req_body);
    free(rq->body);
    free(rq);
}

static void on_done(CURL *easy, CURLcode result, void *arg)
{
    struct api_request *rq = arg;

    rq->result = result;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &rq->status);
    rq->done(rq, rq->arg);
    request_free(rq);
}

struct api_request *api_send(struct api_client *c, const char *method,
                             const char *path, const char *body, long timeout_s,
                             api_data_fn *on_data, api_done_fn *done, void *arg)
{
    struct api_request *rq = calloc(1, sizeof(*rq));

    if (!rq) {
        return NULL;
    }
    rq->c = c;
    rq->on_data = on_data;
    rq->done = done;
    rq->arg = arg;
    rq->easy = curl_easy_init();
    if (!rq->easy || (body && !(rq->req_body = strdup(body))) ||
        prepare(rq->easy, c, method, path, rq->req_body) < 0) {
        request_free(rq);
        return NULL;
    }
    curl_easy_setopt(rq->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(rq->easy, CURLOPT_WRITEDATA, rq);
    curl_easy_setopt(rq->easy, CURLOPT_TIMEOUT, timeout_s);
    if (curl_event_add(c->ce, rq->easy, on_done, rq) < 0) {
        request_free(rq);
        return NULL;
    }
    return rq;
}

void api_cancel(struct api_request *rq)
{
    curl_event_cancel(rq->c->ce, rq->easy);
}

CURLcode api_result(const struct api_request *rq)
{
    return rq->result;
}

long api_status(const struct api_request *rq)
{
    return rq->status;
}

const char *api_body(const struct api_request *rq, size_t *len)
{
    if (len) {
        *len = rq->len;
    }
    return rq->body ? rq->body : "";
}

int api_id(const struct api_request *rq, char *out, size_t cap)
{
    cJSON *j = cJSON_Parse(api_body(rq, NULL));
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "Id");
    int rc = -EPROTO;

    out[0] = '\0';
    if (cJSON_IsString(id) && id->valuestring[0] &&
        strlen(id->valuestring) < cap) {
        snprintf(out, cap, "%s", id->valuestring);
        rc = 0;
    }
    cJSON_Delete(j);
    return rc;
}

int api_unreachable(const struct api_request *rq)
{
    return rq->result == CURLE_COULDNT_CONNECT ||
           rq->result == CURLE_COULDNT_RESOLVE_HOST ||
           (rq->result != CURLE_OK && rq->status == 0 &&
            rq->result != CURLE_ABORTED_BY_CALLBACK &&
            rq->result != CURLE_WRITE_ERROR);
}

const char *api_error(struct api_request *rq)
{
    char msg[400];

    if (rq->result == CURLE_ABORTED_BY_CALLBACK) {
        snprintf(rq->error, sizeof(rq->error), "cancelled");
    } else if (rq->too_big) {
        snprintf(rq->error, sizeof(rq->error),
                 "docker daemon at %s: reply over %d bytes", rq->c->where,
                 BODY_MAX);
    } else if (rq->result != CURLE_OK) {
        snprintf(rq->error, sizeof(rq->error), "docker daemon at %s: %s",
                 rq->c->where, curl_easy_strerror(rq->result));
    } else {
        snprintf(rq->error, sizeof(rq->error), "docker: %s (HTTP %ld)",
                 api_message(api_body(rq, NULL), msg, sizeof(msg)), rq->status);
    }
    return rq->error;
}

long api_sync(struct api_client *c, const char *method, const char *path,
              const char *body, char **resp, char *err, size_t errlen)
{
    struct api_request rq = {.c = c};
    CURLcode result;
    long status = -1;

    *resp = NULL;
    rq.easy = curl_easy_init();
    if (!rq.easy || prepare(rq.easy, c, method, path, body) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    curl_easy_setopt(rq.easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(rq.easy, CURLOPT_WRITEDATA, &rq);
    curl_easy_setopt(rq.easy, CURLOPT_TIMEOUT, SYNC_TIMEOUT_S);
    result = curl_easy_perform(rq.easy);
    if (result != CURLE_OK) {
        snprintf(err, errlen, "cannot reach the docker daemon at %s: %s",
                 c->where, curl_easy_strerror(result));
        goto out;
    }
    curl_easy_getinfo(rq.easy, CURLINFO_RESPONSE_CODE, &status);
    *resp = rq.body ? rq.body : strdup("");
    rq.body = NULL;
    if (!*resp) {
        snprintf(err, errlen, "out of memory");
        status = -1;
    }
out:
    if (rq.easy) {
        curl_easy_cleanup(rq.easy);
    }
    free(rq.body);
    return status;
}

const char *api_message(const char *body, char *buf, size_t cap)
{
    cJSON *j = cJSON_Parse(body);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    size_t n;

    if (cJSON_IsString(m)) {
        snprintf(buf, cap, "%s", m->valuestring);
    } else {
        n = strcspn(body, "\r\n");
        snprintf(buf, cap, "%.*s", (int)n, n ? body : "no message");
    }
    cJSON_Delete(j);
    return buf;
}

char *api_escape(const char *s)
{
    return curl_easy_escape(NULL, s, 0);
}
