/* SPDX-License-Identifier: MIT */
/* Messages in, against permits. The consumer runs in pull mode: the broker
 * sends nothing until told how many, so this minion never holds more
 * messages than the core has free task slots (its credit). Permits belong
 * to one connection: after a reconnect the whole credit is asked again. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static void deliver(struct pulsar_engine *e, struct ptask *t)
{
    struct minion_param p = MINION_PARAM_INIT;

    p.data = t->param;
    p.len = t->len;
    p.id = t->task ? t->task : t->id;
    p.attempt = t->attempt;
    p.handle = t;
    if (minion_engine_deliver(e->inst, &p) < 0) {
        /* The core says it has no room after all: hold it for later. */
        e->credit = 0;
        plist_append(&e->held, t);
        return;
    }
    e->credit--;
    free(t->param); /* the core copied it */
    t->param = NULL;
    t->len = 0;
    plist_append(&e->running, t);
}

void reader_pump(struct pulsar_engine *e)
{
    unsigned want;
    char *frame;

    while (e->held.head && e->credit > 0 && !e->paused && !e->dying) {
        struct ptask *t = e->held.head;
        plist_remove(&e->held, t);
        deliver(e, t);
    }
    if (!e->open || e->paused || e->credit <= e->permits) {
        return;
    }
    want = e->credit - e->permits;
    frame = pframe_permit(want);
    if (frame && conn_send_now(e, frame) == 0) {
        e->permits += want;
    }
    free(frame);
}

void reader_on_open(struct pulsar_engine *e)
{
    e->permits = 0;
    reader_pump(e);
}

void reader_on_down(struct pulsar_engine *e)
{
    struct ptask *t;

    /* What was held but never started is the broker's again, and goes to
     * another consumer (or comes back here). */
    while ((t = e->held.head)) {
        plist_remove(&e->held, t);
        ptask_free(t);
    }
    delay_forget(e);
    /* Running tasks go on; the broker may give their messages to us again
     * on the next connection: spot those. */
    e->old_running = 0;
    for (t = e->running.head; t; t = t->next) {
        t->gen = 0;
        e->old_running++;
    }
}

/* A running task of an earlier connection with this id, or NULL. */
static struct ptask *running_again(struct pulsar_engine *e, const char *id)
{
    if (e->old_running == 0) {
        return NULL;
    }
    for (struct ptask *t = e->running.head; t; t = t->next) {
        if (t->gen == 0 && strcmp(t->id, id) == 0) {
            return t;
        }
    }
    return NULL;
}

void reader_on_message(struct pulsar_engine *e, const char *data, size_t len)
{
    struct pmsg m;
    struct ptask *t;
    void *tree;
    char err[256];
    int rc;

    if (e->dying) {
        return;
    }
    e->last_message = mono_now();
    rc = pmsg_parse(data, len, &m, &tree, err, sizeof(err));
    if (rc == 0) {
        return;
    }
    if (e->permits > 0) {
        e->permits--;
    }
    if (rc < 0) {
        /* Only a broker that breaks the protocol sends this: nothing to
         * run, nothing to ack; the message stays with this connection. */
        minion_log(e->inst, MINION_LOG_ERROR, "%s: %s; ignored", e->base_url,
                   err);
        reader_pump(e);
        return;
    }
    t = running_again(e, m.id);
    if (t) {
        /* Still running since before the reconnect: its verdict settles
         * this delivery too; running it twice here would be a waste. */
        minion_log(e->inst, MINION_LOG_DEBUG,
                   "message %s came again while it runs here", m.id);
        free(m.payload);
        pmsg_done(tree);
        reader_pump(e);
        return;
    }
    t = calloc(1, sizeof(*t));
    if (!t || !(t->id = strdup(m.id)) ||
        (m.task && !(t->task = strdup(m.task)))) {
        minion_log(e->inst, MINION_LOG_ERROR,
                   "out of memory: message %s left to the broker", m.id);
        ptask_free(t);
        free(m.payload);
        pmsg_done(tree);
        return;
    }
    pmsg_done(tree);
    t->param = m.payload;
    t->len = m.len;
    m.redelivery += m.attempts_used;
    t->attempt =
        m.redelivery >= UINT_MAX - 1 ? UINT_MAX : (unsigned)m.redelivery + 1;
    t->gen = e->gen;
    if (e->credit > 0 && !e->paused) {
        deliver(e, t);
    } else {
        plist_append(&e->held, t);
    }
    reader_pump(e);
}

void reader_pause(struct pulsar_engine *e)
{
    /* Permits already given cannot be taken back: what they bring is held,
     * unstarted, and goes back to the broker when the connection closes. */
    e->paused = 1;
    e->credit = 0;
}
