/* SPDX-License-Identifier: MIT */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streams.h"

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);

    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

char *streams_minion_key(const char *stream, const char *minion_id)
{
    char *prefix = join(stream, STREAMS_SUFFIX_MINION), *key;

    if (!prefix) {
        return NULL;
    }
    key = join(prefix, minion_id);
    free(prefix);
    return key;
}

/* The keys the engine writes must not feed it, nor each other: a result or
 * a dead letter in the params stream is a param again (a loop that never
 * ends), dead letters in the results stream are trimmed away with old
 * results, and the heartbeat hash is no stream. */
static int check(const struct streams_keys *k, char *err, size_t errlen)
{
    if (k->results && strcmp(k->results, k->stream) == 0) {
        snprintf(err, errlen,
                 "REDIS_RESULTS must not be the params stream "
                 "(REDIS_STREAM=%s): every result would run as a new param",
                 k->stream);
        return -EINVAL;
    }
    if (strcmp(k->dead, k->stream) == 0) {
        snprintf(err, errlen,
                 "REDIS_DEAD must not be the params stream (REDIS_STREAM=%s): "
                 "every dead letter would run again",
                 k->stream);
        return -EINVAL;
    }
    if (k->results && strcmp(k->results, k->dead) == 0) {
        snprintf(err, errlen,
                 "REDIS_RESULTS and REDIS_DEAD must differ (both are %s): the "
                 "results stream is trimmed, dead letters must not be",
                 k->dead);
        return -EINVAL;
    }
    if (strcmp(k->dead, k->trim) == 0 ||
        (k->results && strcmp(k->results, k->trim) == 0)) {
        snprintf(err, errlen,
                 "%s must not be %s: that key holds the minions' trim token",
                 strcmp(k->dead, k->trim) == 0 ? "REDIS_DEAD" : "REDIS_RESULTS",
                 k->trim);
        return -EINVAL;
    }
    if (strcmp(k->dead, k->minions) == 0 ||
        (k->results && strcmp(k->results, k->minions) == 0)) {
        snprintf(err, errlen,
                 "%s must not be %s: that key holds the minions' heartbeats",
                 strcmp(k->dead, k->minions) == 0 ? "REDIS_DEAD"
                                                  : "REDIS_RESULTS",
                 k->minions);
        return -EINVAL;
    }
    return 0;
}

int streams_keys_init(struct streams_keys *k, const char *stream,
                      const char *results, const char *dead, char *err,
                      size_t errlen)
{
    int rc;

    memset(k, 0, sizeof(*k));
    if (!stream || !stream[0]) {
        snprintf(err, errlen, "REDIS_STREAM must not be empty");
        return -EINVAL;
    }
    if (dead && !dead[0]) {
        snprintf(err, errlen,
                 "REDIS_DEAD must not be empty: dead letters "
                 "have to go somewhere");
        return -EINVAL;
    }
    k->stream = strdup(stream);
    k->dead = dead ? strdup(dead) : join(stream, STREAMS_SUFFIX_DEAD);
    k->minions = join(stream, STREAMS_SUFFIX_MINIONS);
    k->trim = join(stream, STREAMS_SUFFIX_TRIM);
    if (!results) {
        k->results = join(stream, STREAMS_SUFFIX_RESULTS);
    } else if (results[0]) {
        k->results = strdup(results);
    }
    if (!k->stream || !k->dead || !k->minions || !k->trim ||
        (!k->results && (!results || results[0]))) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto fail;
    }
    rc = check(k, err, errlen);
    if (rc < 0) {
        goto fail;
    }
    return 0;
fail:
    streams_keys_fini(k);
    return rc;
}

void streams_keys_fini(struct streams_keys *k)
{
    free(k->stream);
    free(k->results);
    free(k->dead);
    free(k->minions);
    free(k->trim);
    memset(k, 0, sizeof(*k));
}
