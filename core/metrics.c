/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <minionize/plugin.h>

#include "clock.h"
#include "metrics.h"
#include "runner.h"
#include "stats.h"

#define TEXT_FORMAT "text/plain; version=0.0.4; charset=utf-8"

struct metrics {
    struct evhttp *http;
    struct runner *runner;
    const struct minion_context *ctx;
};

/* What a scrape shows, read once per request. */
struct snapshot {
    const struct stats *stats;
    unsigned in_flight;
    struct minion_queue queue;
    unsigned long long count; /* runs with a duration: ok, failed, dead */
};

static void take_snapshot(const struct metrics *m, struct snapshot *s)
{
    struct minion_queue q = MINION_QUEUE_INIT;

    s->stats = runner_figures(m->runner, &s->in_flight);
    s->queue = q;
    runner_queue(m->runner, &s->queue);
    s->count = 0;
    for (size_t b = 0; b <= STATS_BUCKETS; b++) {
        s->count += s->stats->buckets[b];
    }
}

/* A label value: backslash, double quote and newline escaped. */
static void add_label_value(struct evbuffer *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') {
            evbuffer_add_printf(out, "\\%c", *v);
        } else if (*v == '\n') {
            evbuffer_add(out, "\\n", 2);
        } else {
            evbuffer_add(out, v, 1);
        }
    }
}

static void add_family(struct evbuffer *out, const char *name, const char *type,
                       const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                        type);
}

static void add_queue_gauge(struct evbuffer *out, const char *name,
                            const char *help, long long value)
{
    if (value < 0) {
        return; /* the engine cannot tell: no sample rather than a lie */
    }
    add_family(out, name, "gauge", help);
    evbuffer_add_printf(out, "%s %lld\n", name, value);
}

static void render_text(const struct metrics *m, const struct snapshot *s,
                        struct evbuffer *out)
{
    static const char *const names[] = {"ok", "failed", "dead", "released"};
    static const enum minion_status order[] = {
        MINION_STATUS_OK, MINION_STATUS_FAILED, MINION_STATUS_DEAD,
        MINION_STATUS_RELEASED};
    unsigned long long cumulative = 0;

    add_family(out, "minionize_tasks_total", "counter",
               "Finished runs of tasks by status (released: left unfinished "
               "by a stop).");
    for (size_t i = 0; i < 4; i++) {
        evbuffer_add_printf(out, "minionize_tasks_total{status=\"%s\"} %llu\n",
                            names[i], s->stats->by_status[order[i]]);
    }
    add_family(out, "minionize_task_duration_seconds", "histogram",
               "How long runs took, from start to settled.");
    for (size_t b = 0; b <= STATS_BUCKETS; b++) {
        cumulative += s->stats->buckets[b];
        if (b < STATS_BUCKETS) {
            evbuffer_add_printf(out,
                                "minionize_task_duration_seconds_bucket{le=\""
                                "%g\"} %llu\n",
                                stats_bucket_bounds[b], cumulative);
        } else {
            evbuffer_add_printf(out,
                                "minionize_task_duration_seconds_bucket{le=\""
                                "+Inf\"} %llu\n",
                                cumulative);
        }
    }
    evbuffer_add_printf(out,
                        "minionize_task_duration_seconds_sum %.6f\n"
                        "minionize_task_duration_seconds_count %llu\n",
                        s->stats->duration_sum, s->count);
    add_family(out, "minionize_tasks_in_flight", "gauge", "Tasks running now.");
    evbuffer_add_printf(out, "minionize_tasks_in_flight %u\n", s->in_flight);
    add_family(out, "minionize_concurrency", "gauge",
               "Tasks this minion runs at once at most (MINION_CONCURRENCY).");
    evbuffer_add_printf(out, "minionize_concurrency %u\n", m->ctx->concurrency);
    add_family(out, "minionize_start_time_seconds", "gauge",
               "When this minion started, epoch seconds.");
    evbuffer_add_printf(out, "minionize_start_time_seconds %.3f\n",
                        s->stats->started);
    add_family(out, "minionize_build_info", "gauge",
               "The minion's version, name and node, as labels.");
    evbuffer_add_printf(out, "minionize_build_info{version=\"%s\",minion=\"",
                        PACKAGE_VERSION);
    add_label_value(out, m->ctx->minion_id ? m->ctx->minion_id : "");
    evbuffer_add(out, "\",nodename=\"", 12);
    add_label_value(out, m->ctx->nodename ? m->ctx->nodename : "");
    evbuffer_add(out, "\"} 1\n", 5);
    add_queue_gauge(out, "minionize_queue_lag",
                    "Params in the queue not yet delivered to any minion.",
                    s->queue.lag);
    add_queue_gauge(out, "minionize_queue_pending",
                    "Params delivered to minions, not yet settled.",
                    s->queue.pending);
    add_queue_gauge(out, "minionize_queue_dead", "Dead-lettered params.",
                    s->queue.dead);
    add_queue_gauge(out, "minionize_queue_total",
                    "Params ever put in the queue.", s->queue.total);
    add_queue_gauge(out, "minionize_queue_done",
                    "Params settled for good by any minion.", s->queue.done);
}

/* A queue figure: the number, or null when the engine cannot tell. */
static void add_count(cJSON *o, const char *name, long long v)
{
    if (v < 0) {
        cJSON_AddNullToObject(o, name);
    } else {
        cJSON_AddNumberToObject(o, name, (double)v);
    }
}

static char *render_json(const struct metrics *m, const struct snapshot *s)
{
    cJSON *o = cJSON_CreateObject(), *q, *h, *buckets;
    unsigned long long cumulative = 0;
    char *text;

    if (!o) {
        return NULL;
    }
    cJSON_AddStringToObject(o, "minion", m->ctx->minion_id);
    cJSON_AddStringToObject(o, "nodename",
                            m->ctx->nodename ? m->ctx->nodename : "");
    cJSON_AddStringToObject(o, "version", PACKAGE_VERSION);
    cJSON_AddNumberToObject(o, "started", s->stats->started);
    cJSON_AddNumberToObject(o, "now", clock_now());
    cJSON_AddNumberToObject(o, "ok",
                            (double)s->stats->by_status[MINION_STATUS_OK]);
    cJSON_AddNumberToObject(o, "failed",
                            (double)s->stats->by_status[MINION_STATUS_FAILED]);
    cJSON_AddNumberToObject(o, "dead",
                            (double)s->stats->by_status[MINION_STATUS_DEAD]);
    cJSON_AddNumberToObject(
        o, "released", (double)s->stats->by_status[MINION_STATUS_RELEASED]);
    cJSON_AddNumberToObject(o, "in_flight", s->in_flight);
    cJSON_AddNumberToObject(o, "concurrency", m->ctx->concurrency);
    h = cJSON_AddObjectToObject(o, "duration_seconds");
    if (h) {
        cJSON_AddNumberToObject(h, "sum", s->stats->duration_sum);
        cJSON_AddNumberToObject(h, "count", (double)s->count);
        buckets = cJSON_AddArrayToObject(h, "buckets");
        for (size_t b = 0; buckets && b <= STATS_BUCKETS; b++) {
            cJSON *e = cJSON_CreateObject();
            cumulative += s->stats->buckets[b];
            if (!e) {
                break;
            }
            if (b < STATS_BUCKETS) {
                cJSON_AddNumberToObject(e, "le", stats_bucket_bounds[b]);
            } else {
                cJSON_AddStringToObject(e, "le", "+Inf");
            }
            cJSON_AddNumberToObject(e, "count", (double)cumulative);
            cJSON_AddItemToArray(buckets, e);
        }
    }
    q = cJSON_AddObjectToObject(o, "queue");
    if (q) {
        add_count(q, "lag", s->queue.lag);
        add_count(q, "pending", s->queue.pending);
        add_count(q, "dead", s->queue.dead);
        add_count(q, "total", s->queue.total);
        add_count(q, "done", s->queue.done);
    }
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static void reply_error(struct evhttp_request *req, int code, const char *why)
{
    struct evbuffer *body = evbuffer_new();

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    if (body) {
        evbuffer_add_printf(body, "%s\n", why);
    }
    evhttp_send_reply(req, code, why, body);
    if (body) {
        evbuffer_free(body);
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct metrics *m = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    struct evbuffer *body;
    struct snapshot s;

    if (!path ||
        (strcmp(path, "/metrics") != 0 && strcmp(path, "/stats") != 0)) {
        reply_error(req, HTTP_NOTFOUND, "Not Found");
        return;
    }
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(headers, "Allow", "GET, HEAD");
        reply_error(req, 405, "Method Not Allowed");
        return;
    }
    body = evbuffer_new();
    if (!body) {
        reply_error(req, HTTP_SERVUNAVAIL, "Out Of Memory");
        return;
    }
    take_snapshot(m, &s);
    if (strcmp(path, "/metrics") == 0) {
        render_text(m, &s, body);
        evhttp_add_header(headers, "Content-Type", TEXT_FORMAT);
    } else {
        char *text = render_json(m, &s);
        if (!text) {
            evbuffer_free(body);
            reply_error(req, HTTP_SERVUNAVAIL, "Out Of Memory");
            return;
        }
        evbuffer_add(body, text, strlen(text));
        evbuffer_add(body, "\n", 1);
        cJSON_free(text);
        evhttp_add_header(headers, "Content-Type", "application/json");
    }
    evhttp_send_reply(req, HTTP_OK, "OK", body);
    evbuffer_free(body);
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" into @host (empty: every address)
 * and @port. Returns 0 or -EINVAL. */
static int parse_addr(const char *addr, char *host, size_t hostlen,
                      unsigned short *port)
{
    const char *colon, *h = addr;
    size_t n;
    char *end;
    long p;

    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':') {
            return -EINVAL;
        }
        h = addr + 1;
        n = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon || memchr(addr, ':', (size_t)(colon - addr))) {
            return -EINVAL; /* no port, or an IPv6 address without [] */
        }
        n = (size_t)(colon - addr);
    }
    if (n >= hostlen) {
        return -EINVAL;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end || errno || p < 1 || p > 65535) {
        return -EINVAL;
    }
    *port = (unsigned short)p;
    return 0;
}

struct metrics *metrics_new(struct event_base *base, const char *addr,
                            struct runner *r, const struct minion_context *ctx,
                            char *err, size_t errlen)
{
    struct metrics *m;
    char host[256];
    unsigned short port;

    if (parse_addr(addr, host, sizeof(host), &port) < 0) {
        snprintf(err, errlen,
                 "MINION_STATS_ADDR: expected HOST:PORT (e.g. "
                 "127.0.0.1:9464), not '%s'",
                 addr);
        return NULL;
    }
    m = calloc(1, sizeof(*m));
    if (!m || !(m->http = evhttp_new(base))) {
        snprintf(err, errlen, "out of memory");
        free(m);
        return NULL;
    }
    m->runner = r;
    m->ctx = ctx;
    evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE);
    /* A scraper is one small request: nothing larger is read. */
    evhttp_set_max_headers_size(m->http, 16 * 1024);
    evhttp_set_max_body_size(m->http, 0);
    evhttp_set_timeout(m->http, 10);
    evhttp_set_gencb(m->http, on_request, m);
    if (evhttp_bind_socket(m->http, host[0] ? host : "0.0.0.0", port) < 0) {
        snprintf(err, errlen, "MINION_STATS_ADDR %s: cannot listen: %s", addr,
                 strerror(errno ? errno : EADDRINUSE));
        metrics_free(m);
        return NULL;
    }
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m) {
        return;
    }
    if (m->http) {
        evhttp_free(m->http);
    }
    free(m);
}
