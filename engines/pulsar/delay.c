/* SPDX-License-Identifier: MIT */
/* MINION_RETRY_DELAY for Pulsar. The WebSocket API has no per-message
 * redelivery delay (its consumer's negativeAckRedeliveryDelay is one figure
 * for every nack), so a failed message waits here, unacked, and its nack is
 * sent once the delay is over: the broker then gives it to any consumer.
 * The message is the broker's the whole time, so nothing is lost if this
 * minion goes: a lost connection or a stop gives it back at once. */
#include "config.h"

#include <event2/event.h>

#include "dlist.h"
#include "engine.h"
#include "timeval.h"

static void arm(struct pulsar_engine *e)
{
    struct timeval tv;

    if (!e->delayed.head) {
        evtimer_del(e->delay_ev);
        return;
    }
    tv = timeval_of_seconds(e->delayed.head->due - mono_now());
    evtimer_add(e->delay_ev, &tv);
}

static void on_due(evutil_socket_t fd, short what, void *arg)
{
    struct pulsar_engine *e = arg;
    double now = mono_now();
    struct ptask *t;

    while ((t = e->delayed.head) && t->due <= now + 0.001) {
        plist_remove(&e->delayed, t);
        /* A message of a lost connection is already the broker's again. */
        if (t->gen == e->gen) {
            conn_send(e, pframe_nack(t->id));
        }
        ptask_free(t);
    }
    arm(e);
}

int delay_init(struct pulsar_engine *e)
{
    e->delay_ev = evtimer_new(e->base, on_due, e);
    return e->delay_ev ? 0 : -1;
}

void delay_add(struct pulsar_engine *e, struct ptask *t, double seconds)
{
    struct ptask *after;

    t->due = mono_now() + seconds;
    /* Ordered by due time; delays only grow with attempts, so the search
     * from the tail is short. */
    for (after = e->delayed.tail; after && after->due > t->due;
         after = after->prev) {
    }
    DQUEUE_INSERT_AFTER(e->delayed, after, t);
    arm(e);
}

void delay_forget(struct pulsar_engine *e)
{
    struct ptask *t;

    while ((t = e->delayed.head)) {
        plist_remove(&e->delayed, t);
        ptask_free(t);
    }
    if (e->delay_ev) {
        evtimer_del(e->delay_ev);
    }
}

void delay_fini(struct pulsar_engine *e)
{
    delay_forget(e);
    if (e->delay_ev) {
        event_free(e->delay_ev);
        e->delay_ev = NULL;
    }
}
