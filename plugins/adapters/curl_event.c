/* SPDX-License-Identifier: MIT */
/* libcurl's multi-socket interface on the minion's libevent loop.
 *
 * libcurl never waits itself: through the socket callback it says which
 * sockets it wants to read or write, and through the timer callback when it
 * next needs to run. Each socket gets one persistent event (remembered with
 * curl_multi_assign, so it comes back as `socketp`), and the adapter has one
 * timer. Whenever one of them fires, libcurl does the work it can with
 * curl_multi_socket_action, and finished transfers are collected with
 * curl_multi_info_read and handed to their owners.
 *
 * Re-entrancy: owners' done callbacks may add, cancel, or detach the whole
 * adapter. Every frame that can run a done callback counts itself in
 * `depth`; curl_event_detach() then only marks the adapter dead, and the
 * outermost frame frees it on the way out. Inside libcurl's own callbacks
 * (an owner's write or header function) libcurl refuses to add or remove
 * handles, so an add or a cancel made there is carried out as soon as
 * curl_multi_socket_action returns: docker's /wait, say, starts the
 * container from the header function of its own request. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include <event2/event.h>

#include "curl_event.h"
#include "dlist.h"
#include "timeval.h"

/* One transfer we were given: the owner's callback and argument. Kept in a
 * list of our own, keyed by the easy handle, because CURLOPT_PRIVATE belongs
 * to the owner. */
struct xfer {
    struct xfer *prev, *next;
    CURL *easy;
    curl_event_done_fn *done;
    void *arg;
    int queued;    /* added inside libcurl: not in the multi yet */
    int cancelled; /* cancelled inside libcurl: finish after it returns */
};

/* One socket libcurl watches; `what` is the CURL_POLL_* it last asked for. */
struct sock {
    struct sock *prev, *next;
    struct curl_event *ce;
    curl_socket_t fd;
    int what;
    struct event *ev;
};

struct curl_event {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    struct xfer *xfers;
    struct sock *socks; /* to free what libcurl never told us to remove */
    unsigned n_xfers;
    unsigned depth;   /* frames on the stack that may run done callbacks */
    unsigned in_curl; /* inside curl_multi_socket_action */
    unsigned n_queued, n_cancelled;
    int dead; /* detached: the outermost frame frees it */
};

static struct xfer *find_xfer(struct curl_event *ce, CURL *easy)
{
    for (struct xfer *x = ce->xfers; x; x = x->next) {
        if (x->easy == easy) {
            return x;
        }
    }
    return NULL;
}

/* Take @x out of the multi and forget it, then tell its owner: after this
 * the owner may free or re-add the handle, so nothing of @x is used once
 * done runs. Not inside libcurl, which refuses the removal there. */
static void finish(struct curl_event *ce, struct xfer *x, CURLcode result)
{
    CURL *easy = x->easy;
    curl_event_done_fn *done = x->done;
    void *arg = x->arg;
    int in_multi = !x->queued;

    if (x->queued) {
        ce->n_queued--;
    }
    if (x->cancelled) {
        ce->n_cancelled--;
        result = CURLE_ABORTED_BY_CALLBACK;
    }
    DLIST_UNLINK(ce->xfers, x);
    ce->n_xfers--;
    free(x);
    if (in_multi) {
        curl_multi_remove_handle(ce->multi, easy);
    }
    done(easy, result, arg);
}

/* Every transfer ends as cancelled. A done callback may cancel others, so
 * the list is read again from its head each time. */
static void cancel_all(struct curl_event *ce)
{
    while (ce->xfers) {
        finish(ce, ce->xfers, CURLE_ABORTED_BY_CALLBACK);
    }
}

/* The adapter is unused by anyone now (depth 0, no transfers). Cleaning up
 * the multi closes its cached connections, which may still call on_socket:
 * the events and the timer go after it. */
static void destroy(struct curl_event *ce)
{
    curl_multi_cleanup(ce->multi);
    while (ce->socks) {
        struct sock *s = ce->socks;

        DLIST_UNLINK(ce->socks, s);
        event_free(s->ev);
        free(s);
    }
    event_free(ce->timer);
    free(ce);
}

static void enter(struct curl_event *ce)
{
    ce->depth++;
}

/* Leave a frame. The outermost one of a dead adapter ends what is still
 * running (a detach made inside libcurl could not) and frees it. */
static void leave(struct curl_event *ce)
{
    if (ce->depth > 1 || !ce->dead) {
        ce->depth--;
        return;
    }
    cancel_all(ce);
    ce->depth = 0;
    destroy(ce);
}

/* The first transfer flagged `cancelled` (@cancelled) or `queued`. */
static struct xfer *find_flagged(struct curl_event *ce, int cancelled)
{
    for (struct xfer *x = ce->xfers; x; x = x->next) {
        if (cancelled ? x->cancelled : x->queued) {
            return x;
        }
    }
    return NULL;
}

/* Hand a transfer added inside libcurl to the multi. If libcurl refuses
 * now, the owner learns it from the done callback: curl_event_add()
 * already returned 0. */
static void add_queued(struct curl_event *ce, struct xfer *x)
{
    CURLMcode mc;

    x->queued = 0;
    ce->n_queued--;
    mc = curl_multi_add_handle(ce->multi, x->easy);
    if (mc != CURLM_OK) {
        x->queued = 1; /* never in the multi: finish() must not remove it */
        ce->n_queued++;
        finish(ce, x,
               mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
                                         : CURLE_FAILED_INIT);
    }
}

/* After libcurl returned: first the cancels and adds it could not take,
 * then what it finished. Done callbacks may change the list, so each
 * search starts again from its head. The message is copied out before
 * finish(), because removing a handle invalidates it; a done callback that
 * detaches stops everything (leave() cancels what is left). */
static void settle(struct curl_event *ce)
{
    struct xfer *x;
    CURLMsg *msg;
    int left;

    while (!ce->dead && ce->n_cancelled > 0 && (x = find_flagged(ce, 1))) {
        finish(ce, x, CURLE_ABORTED_BY_CALLBACK);
    }
    while (!ce->dead && ce->n_queued > 0 && (x = find_flagged(ce, 0))) {
        add_queued(ce, x);
    }
    while (!ce->dead && (msg = curl_multi_info_read(ce->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        x = find_xfer(ce, msg->easy_handle);
        if (x) {
            finish(ce, x, msg->data.result);
        }
    }
}

/* Let libcurl act on @fd (or its timeout), then hand out what ended. */
static void drive(struct curl_event *ce, curl_socket_t fd, int flags)
{
    int running;

    enter(ce);
    ce->in_curl++;
    curl_multi_socket_action(ce->multi, fd, flags, &running);
    ce->in_curl--;
    settle(ce);
    leave(ce);
}

/* A socket event: @arg may be freed by libcurl's work, so only @fd and the
 * adapter are taken from it, before. */
static void on_socket(evutil_socket_t fd, short events, void *arg)
{
    struct sock *s = arg;
    int flags = 0;

    if (events & EV_READ) {
        flags |= CURL_CSELECT_IN;
    }
    if (events & EV_WRITE) {
        flags |= CURL_CSELECT_OUT;
    }
    drive(s->ce, fd, flags);
}

static void on_timer(evutil_socket_t fd, short events, void *arg)
{
    drive(arg, CURL_SOCKET_TIMEOUT, 0);
}

static void forget_sock(struct curl_event *ce, struct sock *s)
{
    curl_multi_assign(ce->multi, s->fd, NULL);
    DLIST_UNLINK(ce->socks, s);
    event_free(s->ev);
    free(s);
}

/* CURLMOPT_SOCKETFUNCTION: libcurl's wish for @fd becomes its one event.
 * Returning -1 would fail every transfer on the multi, so we do that only
 * when we cannot watch the socket at all. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
                          void *socketp)
{
    struct curl_event *ce = userp;
    struct sock *s = socketp;
    short events = EV_PERSIST;

    if (what == CURL_POLL_REMOVE) {
        if (s) {
            forget_sock(ce, s);
        }
        return 0;
    }
    if (s && s->what == what) {
        return 0;
    }
    if (what & CURL_POLL_IN) {
        events |= EV_READ;
    }
    if (what & CURL_POLL_OUT) {
        events |= EV_WRITE;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s) {
            return -1;
        }
        s->ce = ce;
        s->fd = fd;
        s->ev = event_new(ce->base, fd, events, on_socket, s);
        if (!s->ev) {
            free(s);
            return -1;
        }
        DLIST_PUSH(ce->socks, s);
        curl_multi_assign(ce->multi, fd, s);
    } else {
        /* The same struct event, re-armed: event_assign needs it idle. */
        event_del(s->ev);
        event_assign(s->ev, ce->base, fd, events, on_socket, s);
    }
    s->what = what;
    if (event_add(s->ev, NULL) < 0) {
        forget_sock(ce, s);
        return -1;
    }
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: only (re)arms the timer. libcurl must not be
 * called from here; the timer's own callback does it, 0 ms meaning the next
 * loop iteration. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct curl_event *ce = userp;
    struct timeval tv;

    if (timeout_ms < 0) {
        evtimer_del(ce->timer);
        return 0;
    }
    tv = timeval_of_ms(timeout_ms);
    return evtimer_add(ce->timer, &tv) < 0 ? -1 : 0;
}

struct curl_event *curl_event_attach(struct event_base *base)
{
    struct curl_event *ce = calloc(1, sizeof(*ce));

    if (!ce) {
        return NULL;
    }
    ce->base = base;
    ce->timer = evtimer_new(base, on_timer, ce);
    if (!ce->timer) {
        goto fail;
    }
    ce->multi = curl_multi_init();
    if (!ce->multi) {
        goto fail;
    }
    if (curl_multi_setopt(ce->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) ||
        curl_multi_setopt(ce->multi, CURLMOPT_SOCKETDATA, ce) ||
        curl_multi_setopt(ce->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) ||
        curl_multi_setopt(ce->multi, CURLMOPT_TIMERDATA, ce)) {
        goto fail;
    }
    return ce;
fail:
    if (ce->multi) {
        curl_multi_cleanup(ce->multi);
    }
    if (ce->timer) {
        event_free(ce->timer);
    }
    free(ce);
    return NULL;
}

void curl_event_detach(struct curl_event *ce)
{
    if (!ce || ce->dead) {
        return;
    }
    ce->dead = 1;
    enter(ce);
    if (!ce->in_curl) {
        cancel_all(ce);
    }
    leave(ce);
}

int curl_event_add(struct curl_event *ce, CURL *easy, curl_event_done_fn *done,
                   void *arg)
{
    struct xfer *x;
    CURLMcode mc;

    /* A dead adapter takes nothing: a done callback run by detach would
     * otherwise keep it alive by adding again. */
    if (!ce || !easy || !done || ce->dead || find_xfer(ce, easy)) {
        return -EINVAL;
    }
    x = calloc(1, sizeof(*x));
    if (!x) {
        return -ENOMEM;
    }
    x->easy = easy;
    x->done = done;
    x->arg = arg;
    if (ce->in_curl) {
        /* libcurl would answer CURLM_RECURSIVE_API_CALL: drive() adds it
         * as soon as libcurl returns. */
        x->queued = 1;
        ce->n_queued++;
    } else {
        /* Only schedules: libcurl asks for the timer, and the transfer
         * starts from the loop. */
        mc = curl_multi_add_handle(ce->multi, easy);
        if (mc != CURLM_OK) {
            free(x);
            return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
        }
    }
    DLIST_PUSH(ce->xfers, x);
    ce->n_xfers++;
    return 0;
}

void curl_event_cancel(struct curl_event *ce, CURL *easy)
{
    struct xfer *x;

    if (!ce || !easy) {
        return;
    }
    x = find_xfer(ce, easy);
    if (!x || x->cancelled) {
        return;
    }
    if (ce->in_curl) {
        /* libcurl would refuse to remove the handle now: drive() finishes
         * it as cancelled as soon as libcurl returns. */
        x->cancelled = 1;
        ce->n_cancelled++;
        return;
    }
    enter(ce);
    finish(ce, x, CURLE_ABORTED_BY_CALLBACK);
    leave(ce);
}

unsigned curl_event_running(const struct curl_event *ce)
{
    return ce ? ce->n_xfers : 0;
}
