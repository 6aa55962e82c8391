/* SPDX-License-Identifier: MIT */
/*
 * MINION_DOCKER_NETWORK=none, the default: one network namespace with only
 * a loopback, shared by the minion's task containers, as a Kubernetes
 * pod's containers share one.
 *
 * Why: a container with a namespace of its own costs the daemon about as
 * much again as the rest of its start (Docker sets each new namespace up
 * through a hook, a run of the daemon's own binary), so per-task
 * containers ran at half the rate. Here one idle container (the user's
 * image running `sleep`, network none) holds the namespace and each task
 * container joins it ("container:<holder>"). Tasks still reach no network
 * beyond the loopback; what they share is that loopback.
 *
 * The holder is made at start-up. An image without `sleep`, or a holder
 * that cannot start, leaves each container a namespace of its own (Docker's
 * own "none"), as does MINION_DOCKER_NETWORK=isolated. A holder that dies
 * (killed, the daemon restarted) is noticed by the first task container
 * that cannot join it; that task is tried again uncharged, the next ones
 * get namespaces of their own, and a new holder is made in the background.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "docker.h"

/* A holder that could not be replaced is tried again this often. */
#define NETNS_RETRY_S 5

static int wants_holder(const struct docker *d)
{
    return !d->conf->reuse && strcmp(d->conf->network, "none") == 0;
}

const char *network_mode(const struct docker *d)
{
    if (d->netns_id[0]) {
        return d->netns_mode;
    }
    if (strcmp(d->conf->network, "isolated") == 0) {
        return "none";
    }
    return d->conf->network;
}

static void holder_ready(struct docker *d, const char *id)
{
    snprintf(d->netns_id, sizeof(d->netns_id), "%s", id);
    snprintf(d->netns_mode, sizeof(d->netns_mode), "container:%s", id);
}

static char *holder_body(struct docker *d)
{
    cJSON *root = idle_container(d, "minionize.role", "network"), *host;
    char *text = NULL;

    host = root ? cJSON_AddObjectToObject(root, "HostConfig") : NULL;
    if (host && cJSON_AddStringToObject(host, "NetworkMode", "none")) {
        text = cJSON_PrintUnformatted(root);
    }
    cJSON_Delete(root);
    return text;
}

static void sync_remove(struct docker *d, const char *id)
{
    char path[160], err[512], *resp = NULL;

    snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", id);
    api_sync(&d->api, "DELETE", path, NULL, &resp, err, sizeof(err));
    free(resp);
}

int netns_start(struct docker *d)
{
    char *body, *resp = NULL, err[512], msg[256], id[80], path[160];
    long status;
    cJSON *j;
    const cJSON *v;

    if (!wants_holder(d)) {
        return 0;
    }
    body = holder_body(d);
    if (!body) {
        minion_set_error(d->inst, "out of memory");
        return -ENOMEM;
    }
    status = api_sync(&d->api, "POST", "/containers/create", body, &resp, err,
                      sizeof(err));
    free(body);
    id[0] = '\0';
    if (status == 201) {
        j = cJSON_Parse(resp);
        v = cJSON_GetObjectItemCaseSensitive(j, "Id");
        if (cJSON_IsString(v) && strlen(v->valuestring) < sizeof(id)) {
            snprintf(id, sizeof(id), "%s", v->valuestring);
        }
        cJSON_Delete(j);
    }
    if (!id[0]) {
        goto isolated;
    }
    free(resp);
    resp = NULL;
    snprintf(path, sizeof(path), "/containers/%s/start", id);
    status = api_sync(&d->api, "POST", path, NULL, &resp, err, sizeof(err));
    if (status != 204) {
        sync_remove(d, id);
        goto isolated;
    }
    free(resp);
    holder_ready(d, id);
    return 0;

isolated:
    minion_log(d->inst, MINION_LOG_INFO,
               "MINION_DOCKER_NETWORK=none: no shared namespace (%s); each "
               "container gets one of its own, which is slower",
               status < 0 ? err
                          : api_message(resp ? resp : "", msg, sizeof(msg)));
    free(resp);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Replacing a holder that died                                              */

static void holder_make(struct docker *d);

/* The chain ended: with the minion stopping, the holder goes too. */
static int chain_end_at_stop(struct docker *d, const char *id)
{
    if (!d->stop_called) {
        return 0;
    }
    if (id && id[0]) {
        remove_at_stop(d, id);
    }
    if (--d->stopping == 0) {
        minion_instance_stopped(d->inst);
    }
    return 1;
}

static void retry_later(struct docker *d, const char *why)
{
    struct timeval later = {NETNS_RETRY_S, 0};

    if (!d->netns_failed_logged) {
        minion_log(d->inst, MINION_LOG_WARN,
                   "the shared network namespace could not be made again "
                   "(%s); containers get one each until it can",
                   why);
        d->netns_failed_logged = 1;
    }
    evtimer_add(d->netns_ev, &later);
}

static void on_holder_started(struct api_request *rq, void *arg)
{
    struct docker *d = arg;

    d->netns_rq = NULL;
    if (api_result(rq) == CURLE_ABORTED_BY_CALLBACK) {
        return;
    }
    if (chain_end_at_stop(d, d->netns_next)) {
        return;
    }
    if (api_result(rq) != CURLE_OK || api_status(rq) != 204) {
        grave_add(d, d->netns_next);
        retry_later(d, api_error(rq));
        return;
    }
    holder_ready(d, d->netns_next);
    d->netns_failed_logged = 0;
    minion_log(d->inst, MINION_LOG_INFO,
               "a new shared network namespace holder, %.12s", d->netns_id);
}

static void on_holder_created(struct api_request *rq, void *arg)
{
    struct docker *d = arg;
    char path[160];

    d->netns_rq = NULL;
    if (api_result(rq) == CURLE_ABORTED_BY_CALLBACK) {
        return;
    }
    d->netns_next[0] = '\0';
    if (api_result(rq) == CURLE_OK && api_status(rq) == 201) {
        api_id(rq, d->netns_next, sizeof(d->netns_next));
    }
    if (chain_end_at_stop(d, d->netns_next)) {
        return;
    }
    if (!d->netns_next[0]) {
        retry_later(d, api_error(rq));
        return;
    }
    snprintf(path, sizeof(path), "/containers/%s/start", d->netns_next);
    d->netns_rq = api_send(&d->api, "POST", path, NULL, API_QUICK, NULL,
                           on_holder_started, d);
    if (!d->netns_rq) {
        grave_add(d, d->netns_next);
        retry_later(d, "out of memory");
    }
}

static void holder_make(struct docker *d)
{
    char *body;

    if (d->netns_rq || d->stop_called) {
        return;
    }
    body = holder_body(d);
    d->netns_rq = body ? api_send(&d->api, "POST", "/containers/create", body,
                                  API_QUICK, NULL, on_holder_created, d)
                       : NULL;
    free(body);
    if (!d->netns_rq) {
        retry_later(d, "out of memory");
    }
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    holder_make(arg);
}

int netns_attach(struct docker *d, struct event_base *base)
{
    if (!wants_holder(d)) {
        return 0;
    }
    d->netns_ev = evtimer_new(base, on_retry, d);
    return d->netns_ev ? 0 : -ENOMEM;
}

void netns_lost(struct docker *d, const char *holder)
{
    /* Several tasks may tell of the same holder: the first one counts. */
    if (!d->netns_id[0] || strcmp(holder, d->netns_id) != 0) {
        return;
    }
    minion_log(d->inst, MINION_LOG_WARN,
               "the shared network namespace's holder %.12s is gone; making "
               "a new one",
               d->netns_id);
    grave_add(d, d->netns_id);
    d->netns_id[0] = '\0';
    holder_make(d);
}

void netns_stop(struct docker *d)
{
    if (d->netns_ev) {
        evtimer_del(d->netns_ev);
    }
    if (d->netns_id[0]) {
        remove_at_stop(d, d->netns_id);
        d->netns_id[0] = '\0';
    }
    if (d->netns_rq) {
        /* Its chain ends by removing what it made: wait for it. */
        d->stopping++;
    }
}

void netns_fini(struct docker *d)
{
    if (d->netns_ev) {
        event_free(d->netns_ev);
        d->netns_ev = NULL;
    }
}
