/* SPDX-License-Identifier: MIT */
/* minion-submit -e pulsar: params become messages of PULSAR_TOPIC through
 * Pulsar's REST producer (POST /topics/persistent/<t>/<ns>/<topic>), as
 * text (the broker's STRING schema), a batch per request, in order. Plain
 * blocking libcurl: a CLI has no loop to keep responsive. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "pulsar.h"
#include "submit.h"
#include "tools.h"

/* Messages per request, and the most body one request carries: well below
 * the broker's 5 MiB default for a message, and its request limits. */
#define BATCH_MESSAGES 1000
#define BATCH_BYTES (2 * 1024 * 1024)
#define REQUEST_TIMEOUT_S 30.0

/* How many params from @first go in one request. */
static size_t batch_size(const struct params *ps, size_t first)
{
    size_t n = 0, bytes = 0;

    while (first + n < ps->n && n < BATCH_MESSAGES) {
        /* JSON may escape a byte into six. */
        size_t cost = ps->v[first + n].len * 6 + 16;
        if (n > 0 && bytes + cost > BATCH_BYTES) {
            break;
        }
        bytes += cost;
        n++;
    }
    return n;
}

/* A reply body, kept whole (replies are small: results, a reason). */
struct reply {
    char *data;
    size_t len;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct reply *r = arg;
    size_t n = size * nmemb;
    char *p = realloc(r->data, r->len + n + 1);

    if (!p) {
        return 0; /* libcurl ends the transfer with an error */
    }
    memcpy(p + r->len, data, n);
    r->len += n;
    p[r->len] = '\0';
    r->data = p;
    return n;
}

/* POST @body to @url. Returns the CURLcode; the status in *@status. */
static CURLcode post(const char *url, const char *token, const char *body,
                     long *status, struct reply *r, char *err)
{
    struct curl_slist *h = NULL, *l;
    char *auth = NULL;
    CURL *easy = curl_easy_init();
    CURLcode rc = CURLE_OUT_OF_MEMORY;

    *status = 0;
    if (!easy) {
        return rc;
    }
    if (token) {
        auth = malloc(strlen(token) + 32);
        if (!auth) {
            goto out;
        }
        sprintf(auth, "Authorization: Bearer %s", token);
        if (!(l = curl_slist_append(h, auth))) {
            goto out;
        }
        h = l;
    }
    if (!(l = curl_slist_append(h, "Content-Type: application/json"))) {
        goto out;
    }
    h = l;
    /* No "Expect: 100-continue" round trip before a large body. */
    if (!(l = curl_slist_append(h, "Expect:"))) {
        goto out;
    }
    h = l;
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                     (long)(REQUEST_TIMEOUT_S * 1000));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    /* A broker that does not own the topic answers 307 to the one that
     * does: the POST goes there again, body and all. */
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(easy, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
    rc = curl_easy_perform(easy);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, status);
out:
    curl_slist_free_all(h);
    free(auth);
    curl_easy_cleanup(easy);
    return rc;
}

/* POST one batch. Returns 0, or the exit status, having said why. */
static int post_batch(const struct params *ps, size_t first, size_t n,
                      const char *url, const char *token, const char *where)
{
    struct pulsar_out *msgs = calloc(n, sizeof(*msgs));
    struct reply r = {NULL, 0};
    char why[512], err[CURL_ERROR_SIZE] = "";
    char *body;
    long bad, status;
    CURLcode rc;
    int refused, ret = 0;

    if (!msgs) {
        tools_error("out of memory");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        msgs[i].data = ps->v[first + i].data;
        msgs[i].len = ps->v[first + i].len;
    }
    body = pulsar_rest_body(PROGRAM, msgs, n, &bad);
    free(msgs);
    if (!body) {
        tools_error("out of memory");
        return 1;
    }
    rc = post(url, token, body, &status, &r, err);
    free(body);
    /* Nothing is published yet at the first batch: a refusal there is a
     * setting to fix (2); later, params are half in (1). */
    if (rc != CURLE_OK) {
        tools_error("cannot reach the Pulsar broker at %s: %s", where,
                    err[0] ? err : curl_easy_strerror(rc));
        ret = first == 0 ? 2 : 1;
    } else if (status < 200 || status > 299) {
        pulsar_http_why(status, r.data ? r.data : "", r.len, why, sizeof(why));
        if (status == 404) {
            tools_error("%s: topic not found: %s (the REST producer makes no "
                        "topics: create it first)",
                        where, why);
        } else {
            tools_error("%s: %s", where, why);
        }
        ret = first == 0 && status < 500 ? 2 : 1;
    } else {
        refused =
            pulsar_rest_reply(r.data ? r.data : "", r.len, n, why, sizeof(why));
        if (refused != 0) {
            tools_error("%s: %s", where, why);
            ret = 1;
        }
    }
    free(r.data);
    return ret;
}

int submit_pulsar(const struct params *ps, const struct settings *cfg,
                  int quiet)
{
    const char *url_text = tools_get(cfg, "PULSAR_URL", PULSAR_DEFAULT_URL);
    const char *topic_text = tools_get(cfg, "PULSAR_TOPIC", NULL);
    const char *token = tools_get(cfg, "PULSAR_TOKEN", NULL);
    struct pulsar_topic topic;
    char err[512], *base = NULL, *url = NULL;
    size_t done = 0;
    int rc;

    if (!topic_text) {
        return tools_usage("the pulsar engine needs a topic: --topic NAME or "
                           "PULSAR_TOPIC");
    }
    if (pulsar_url_base(url_text, &base, err, sizeof(err)) < 0 ||
        pulsar_topic_parse(topic_text, &topic, err, sizeof(err)) < 0) {
        tools_error("%s", err);
        free(base);
        return 2;
    }
    /* All or nothing: a param the REST producer cannot carry as text is
     * refused before anything is sent. */
    for (size_t i = 0; i < ps->n; i++) {
        if (!pulsar_text_ok(ps->v[i].data, ps->v[i].len)) {
            tools_error("%s %zu: not UTF-8 text (or holds a NUL byte), which "
                        "the REST producer cannot carry",
                        ps->from_args ? "argument" : "line", ps->v[i].where);
            rc = 2;
            goto out;
        }
    }
    url = pulsar_producer_url(base, &topic);
    if (!url || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        tools_error("out of memory");
        rc = 1;
        goto out;
    }
    rc = 0;
    while (done < ps->n && rc == 0) {
        size_t n = batch_size(ps, done);
        rc = post_batch(ps, done, n, url, token, base);
        if (rc == 0) {
            done += n;
        }
    }
    curl_global_cleanup();
    if (rc != 0 && done > 0) {
        tools_error("%zu of %zu params were published before the failure", done,
                    ps->n);
    }
    if (rc == 0 && !quiet) {
        fprintf(stderr, PROGRAM ": submitted %zu param%s to pulsar topic %s\n",
                ps->n, ps->n == 1 ? "" : "s", topic.full);
    }
out:
    free(url);
    free(base);
    pulsar_topic_fini(&topic);
    return rc;
}
