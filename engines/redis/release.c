/* SPDX-License-Identifier: MIT */
/* Runs given back unfinished. A stop that kills a task after the grace, or
 * a pause that drops params fetched but never handed to the core, leaves
 * their entries pending. The next minion's claim adds one to Redis's
 * delivery count, so on its own that count would make the run an attempt.
 * Instead each such run is counted in <stream>:released:<group> (entry id
 * -> released runs), which every script that reads a delivery count
 * subtracts (scripts.c), and the entry is made to look idle for
 * REDIS_CLAIM_IDLE_MS so that a live minion's next claim takes it at once.
 * A crash writes no count: that run stays an attempt. The count goes when
 * the entry is acked or dead-lettered. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* Ids per release script call: bounds the Lua stack and the command. */
#define RELEASE_CHUNK 256

/* @n ids, RID_MAX bytes apart. */
static void release_ids(struct redis_engine *r, const char *ids, size_t n)
{
    const char *head[SCRIPT_HEAD_ARGS + 1];
    size_t done;

    script_head(r, script_release, head);
    head[SCRIPT_HEAD_ARGS] = r->claim_idle;
    done = writer_push_ids(r, head, SCRIPT_HEAD_ARGS + 1, ids, n, RELEASE_CHUNK,
                           WRITE_RELEASE);
    if (done < n) {
        minion_log(r->inst, MINION_LOG_ERROR,
                   "out of memory: %zu released tasks stay pending; their "
                   "next run counts as an attempt",
                   n - done);
    }
}

void release_one(struct redis_engine *r, const char *id)
{
    char one[RID_MAX];

    if (r->ctx->dry_run) {
        return; /* a dry run holds nothing */
    }
    memset(one, 0, sizeof(one));
    strncpy(one, id, sizeof(one) - 1);
    release_ids(r, one, 1);
}

void release_ready(struct redis_engine *r)
{
    char *ids;
    size_t n = 0;

    if (r->ctx->dry_run || r->ready.n == 0) {
        return;
    }
    ids = calloc(r->ready.n, RID_MAX);
    if (!ids) {
        minion_log(r->inst, MINION_LOG_ERROR,
                   "out of memory: %zu fetched tasks stay pending; their "
                   "next run counts as an attempt",
                   r->ready.n);
        return;
    }
    for (const struct rtask *t = r->ready.head; t; t = t->next) {
        memcpy(ids + n++ * RID_MAX, t->id, RID_MAX);
    }
    minion_log(r->inst, MINION_LOG_DEBUG,
               "releasing %zu fetched task%s that never started", n,
               n == 1 ? "" : "s");
    release_ids(r, ids, n);
    free(ids);
}

void release_ack(struct redis_engine *r, const char *id)
{
    const char *argv[SCRIPT_HEAD_ARGS + 1];
    char *buf = NULL;
    int len;

    script_head(r, script_ack_released, argv);
    argv[SCRIPT_HEAD_ARGS] = id;
    len = redisFormatCommandArgv(&buf, SCRIPT_HEAD_ARGS + 1, argv, NULL);
    /* An ack: a failure is logged as one, and the param runs again. */
    writer_push(r, buf, len, WRITE_ACK);
}
