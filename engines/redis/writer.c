/* SPDX-License-Identifier: MIT */
/* The write path: everything the engine tells Redis about finished tasks.
 * Results and dead letters are formatted at once into a queue; acks and
 * retries collect ids. The queue goes out as one pipelined batch, with one
 * XACK for every id acked meanwhile, at most FLUSH_WAIT_US after its first
 * write, or on the next loop iteration once FLUSH_BATCH are queued (see
 * poke()). A batch keeps
 * its commands until their replies came: when the connection drops, what was
 * not answered is sent again after the reconnect. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "dlist.h"
#include "grow.h"
#include "engine.h"

/* Ids per XACK and per take script: bounds the size of one command. */
#define ACK_CHUNK 4096
#define TAKE_CHUNK 256

struct write_batch {
    struct write_batch *prev, *next;
    struct redis_engine *r;
    size_t n, replied;
    struct write_cmd cmds[];
};

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    writer_flush(arg);
}

int writer_init(struct redis_engine *r)
{
    r->w.flush_ev = evtimer_new(r->base, on_flush, r);
    return r->w.flush_ev ? 0 : -ENOMEM;
}

/* Writes wait this long for company, unless FLUSH_BATCH are queued: a
 * minion whose tasks end one at a time (a few slots of short programs)
 * would otherwise wake Redis, and be woken by its reply, once per task,
 * and on a small machine those wake-ups cost more than the tasks' own
 * bookkeeping: on two cores, -j2 /bin/true ran 5% faster with 10 ms than
 * with 2. Ten milliseconds are nothing to an ack or a --wait, a stop
 * flushes at once, and a busy minion's batches go at once. */
#define FLUSH_WAIT_US 10000
#define FLUSH_BATCH 32

static void poke(struct redis_engine *r)
{
    struct timeval wait = {0, 0};
    size_t queued = r->w.nq + r->w.nacks + r->w.nretries;

    if (!r->w.flush_ev) {
        return;
    }
    if (queued < FLUSH_BATCH) {
        if (evtimer_pending(r->w.flush_ev, NULL)) {
            return;
        }
        wait.tv_usec = FLUSH_WAIT_US;
    }
    evtimer_add(r->w.flush_ev, &wait);
}

static void cmd_free(struct write_cmd *c)
{
    redisFreeCommand(c->buf);
    free(c->about);
}

void writer_push_about(struct redis_engine *r, char *buf, int len,
                       enum write_kind kind, const char *id)
{
    struct writer *w = &r->w;
    char *about = id ? strdup(id) : NULL;

    if (len < 0 || !buf || (id && !about) ||
        grow(&w->q, &w->capq, w->nq + 1, sizeof(*w->q), 16) < 0) {
        redisFreeCommand(buf);
        free(about);
        minion_log(r->inst, MINION_LOG_ERROR,
                   "out of memory queueing a write to Redis");
        return;
    }
    w->q[w->nq].buf = buf;
    w->q[w->nq].len = (size_t)len;
    w->q[w->nq].kind = (unsigned char)kind;
    w->q[w->nq].done = 0;
    w->q[w->nq].about = about;
    w->nq++;
    poke(r);
}

void writer_push(struct redis_engine *r, char *buf, int len,
                 enum write_kind kind)
{
    writer_push_about(r, buf, len, kind, NULL);
}

static int add_id(struct redis_engine *r, char **ids, size_t *n, size_t *cap,
                  const char *id)
{
    if (grow(ids, cap, *n + 1, RID_MAX, 16) < 0) {
        return -ENOMEM;
    }
    snprintf(*ids + *n * RID_MAX, RID_MAX, "%s", id);
    (*n)++;
    poke(r);
    return 0;
}

void writer_ack(struct redis_engine *r, const char *id)
{
    if (add_id(r, &r->w.acks, &r->w.nacks, &r->w.capacks, id) < 0) {
        minion_log(r->inst, MINION_LOG_ERROR,
                   "out of memory: task %s stays unacked and will run again",
                   id);
    }
}

void writer_retry(struct redis_engine *r, const char *id)
{
    if (add_id(r, &r->w.retries, &r->w.nretries, &r->w.capretries, id) < 0) {
        minion_log(r->inst, MINION_LOG_ERROR,
                   "out of memory: task %s is retried once claimed", id);
    }
}

void writer_result(struct redis_engine *r, const struct minion_report *rep,
                   const char *status)
{
    struct result_fields f = {0};
    char *buf;
    int len;

    if (!r->keys.results) {
        return;
    }
    f.task = rep->task_id;
    f.status = status;
    f.attempt = rep->attempt;
    f.minion = r->me;
    f.duration_ms = (long long)((rep->end - rep->start) * 1000.0 + 0.5);
    f.exit_code = rep->exit_code;
    f.output = rep->output;
    f.output_len = rep->output_len;
    f.error = rep->error;
    f.has_usage = rep->usage != NULL;
    if (rep->usage) {
        f.signal = rep->usage->signal;
        f.maxrss_kb = rep->usage->maxrss_kb;
        f.user_s = rep->usage->user_s;
        f.sys_s = rep->usage->sys_s;
    }
    len = format_result(r->keys.results, r->conf->results_maxlen, &f, &buf);
    writer_push(r, buf, len, WRITE_RESULT);
}

/* Where the param sits in writer_dead()'s argument list. */
#define DEAD_PARAM_ARG 9

void writer_dead(struct redis_engine *r, const char *id, const char *param,
                 size_t len, const char *error, unsigned attempts, int force)
{
    char n[16];
    const char *argv[] = {"EVAL",
                          script_dead,
                          "4",
                          r->keys.stream,
                          r->keys.dead,
                          r->released_key,
                          r->delayed_key,
                          r->group,
                          id,
                          param ? param : "",
                          error ? error : "",
                          n,
                          force ? "1" : "0"};
    size_t lens[sizeof(argv) / sizeof(argv[0])];
    const int argc = (int)(sizeof(argv) / sizeof(argv[0]));
    char *buf = NULL;
    int blen;

    snprintf(n, sizeof(n), "%u", attempts);
    for (int i = 0; i < argc; i++) {
        /* The param is binary-safe and not NUL-terminated. */
        lens[i] = i == DEAD_PARAM_ARG ? (param ? len : 0) : strlen(argv[i]);
    }
    blen = redisFormatCommandArgv(&buf, argc, argv, lens);
    writer_push(r, buf, blen, WRITE_DEAD);
}

size_t writer_push_ids(struct redis_engine *r, const char *const *head,
                       size_t nhead, const char *ids, size_t n, size_t chunk,
                       enum write_kind kind)
{
    size_t done = 0;

    while (done < n) {
        size_t k = n - done < chunk ? n - done : chunk;
        char *buf;
        int len = format_with_ids(head, nhead, ids + done * RID_MAX, k, &buf);
        if (len < 0) {
            break;
        }
        writer_push(r, buf, len, kind);
        done += k;
    }
    return done;
}

/* Move the collected ids into the queue as XACK / take commands, and keep
 * what could not be formatted for the next flush. */
static void format_ids(struct redis_engine *r, char *ids, size_t *n,
                       size_t chunk, const char *const *head, size_t nhead,
                       enum write_kind kind)
{
    size_t done = writer_push_ids(r, head, nhead, ids, *n, chunk, kind);

    memmove(ids, ids + done * RID_MAX, (*n - done) * RID_MAX);
    *n -= done;
}

static void log_error_reply(struct redis_engine *r, const struct write_cmd *c,
                            const redisReply *reply)
{
    switch (c->kind) {
    case WRITE_RESULT:
        /* A broken results stream fails every write: say so now and then. */
        if (r->w.result_errors++ % 10000 == 0) {
            minion_log(r->inst, MINION_LOG_WARN,
                       "results stream %s: %s (%llu results lost so far)",
                       r->keys.results, reply->str, r->w.result_errors);
        }
        break;
    case WRITE_DEAD:
        minion_log(r->inst, MINION_LOG_ERROR,
                   "dead-lettering to %s failed: %s; the param stays pending",
                   r->keys.dead, reply->str);
        break;
    case WRITE_ACK:
        minion_log(r->inst, MINION_LOG_ERROR,
                   "XACK failed: %s; those params will run again", reply->str);
        break;
    case WRITE_RETRY:
        minion_log(r->inst, MINION_LOG_WARN,
                   "taking failed params back failed: %s; they are retried "
                   "once idle for REDIS_CLAIM_IDLE_MS",
                   reply->str);
        break;
    case WRITE_RELEASE:
        minion_log(r->inst, MINION_LOG_WARN,
                   "releasing unfinished params failed: %s; their next run "
                   "counts as an attempt",
                   reply->str);
        break;
    default:
        minion_log(r->inst, MINION_LOG_DEBUG, "heartbeat: %s", reply->str);
        break;
    }
}

static void handle_take(struct redis_engine *r, const redisReply *reply)
{
    struct take_row row;

    if (reply->type != REDIS_REPLY_ARRAY) {
        return;
    }
    for (size_t i = 0; i < reply->elements; i++) {
        if (take_row_parse(reply->element[i], &row) < 0) {
            minion_log(r->inst, MINION_LOG_WARN,
                       "unexpected reply from the take script; ignored");
            continue;
        }
        engine_admit(r, &row);
    }
}

static void batch_end(struct redis_engine *r, struct write_batch *b)
{
    struct writer *w = &r->w;
    size_t again = 0;

    DLIST_UNLINK(w->batches, b);
    for (size_t i = 0; i < b->n; i++) {
        again += !b->cmds[i].done;
    }
    if (again && grow(&w->q, &w->capq, w->nq + again, sizeof(*w->q), 16) < 0) {
        minion_log(r->inst, MINION_LOG_ERROR,
                   "out of memory: %zu writes to Redis are lost", again);
        again = 0;
    }
    if (again) {
        /* Unanswered commands go first, in their order. */
        size_t k = 0;
        memmove(w->q + again, w->q, w->nq * sizeof(*w->q));
        for (size_t i = 0; i < b->n; i++) {
            if (!b->cmds[i].done) {
                w->q[k++] = b->cmds[i];
            } else {
                cmd_free(&b->cmds[i]);
            }
        }
        w->nq += again;
    } else {
        for (size_t i = 0; i < b->n; i++) {
            cmd_free(&b->cmds[i]);
        }
    }
    free(b);
    if (r->dying) {
        return;
    }
    if (again) {
        poke(r);
    }
    if (r->stopping) {
        engine_maybe_stopped(r);
    }
}

static void on_reply(redisAsyncContext *ac, void *rep, void *priv)
{
    struct write_batch *b = priv;
    struct redis_engine *r = b->r;
    struct write_cmd *c = &b->cmds[b->replied++];
    const redisReply *reply = rep;

    if (rconn_reply_usable(ac, reply)) {
        c->done = 1;
        if (c->kind == WRITE_DELAY && !r->dying) {
            delay_replied(r, c->about, reply);
        } else if (reply->type == REDIS_REPLY_ERROR) {
            log_error_reply(r, c, reply);
        } else if (c->kind == WRITE_RETRY && !r->dying) {
            handle_take(r, reply);
        }
    }
    if (b->replied == b->n) {
        batch_end(r, b);
    }
}

void writer_flush(struct redis_engine *r)
{
    struct writer *w = &r->w;
    struct write_batch *b;
    size_t sent = 0;

    if (r->dying || !rconn_is_ready(r->writer_conn)) {
        return; /* kept until the connection is back */
    }
    if (w->nacks) {
        const char *head[] = {"XACK", r->keys.stream, r->group};
        format_ids(r, w->acks, &w->nacks, ACK_CHUNK, head, 3, WRITE_ACK);
    }
    if (w->nretries) {
        const char *head[SCRIPT_HEAD_ARGS + 1];
        script_head(r, script_take, head);
        head[SCRIPT_HEAD_ARGS] = "ids";
        format_ids(r, w->retries, &w->nretries, TAKE_CHUNK, head,
                   SCRIPT_HEAD_ARGS + 1, WRITE_RETRY);
    }
    if (w->nq == 0) {
        return;
    }
    b = malloc(sizeof(*b) + w->nq * sizeof(struct write_cmd));
    if (!b) {
        poke(r);
        return;
    }
    b->r = r;
    b->replied = 0;
    b->n = 0;
    b->prev = b->next = NULL; /* not listed until sent */
    for (; sent < w->nq; sent++) {
        struct write_cmd *c = &w->q[sent];
        /* The batch must hold the command before its reply can come. */
        b->cmds[b->n] = *c;
        if (rconn_send_formatted(r->writer_conn, on_reply, b, c->buf, c->len) <
            0) {
            break;
        }
        b->n++;
    }
    memmove(w->q, w->q + sent, (w->nq - sent) * sizeof(*w->q));
    w->nq -= sent;
    if (b->n == 0) {
        free(b);
        return;
    }
    DLIST_PUSH(w->batches, b);
}

int writer_idle(const struct redis_engine *r)
{
    const struct writer *w = &r->w;

    return w->nq == 0 && w->nacks == 0 && w->nretries == 0 && !w->batches;
}

void writer_fini(struct redis_engine *r)
{
    struct writer *w = &r->w;

    /* Batches still here lost their connection: rconn_free() already ran
     * their callbacks, so only the queue is left. */
    for (size_t i = 0; i < w->nq; i++) {
        cmd_free(&w->q[i]);
    }
    free(w->q);
    free(w->acks);
    free(w->retries);
    if (w->flush_ev) {
        event_free(w->flush_ev);
    }
    memset(w, 0, sizeof(*w));
}
