/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <hiredis/adapters/libevent.h>

#include <minionize/plugin.h>

#include "conn.h"
#include "redis_url.h"
#include "timeval.h"

/* A connect (look-up excluded) plus AUTH/SELECT/PING must end within this. */
#define CONNECT_TIMEOUT_S 5.0
/* Reconnection backoff: first wait, then doubled up to the cap. */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

enum cstate {
    C_IDLE,       /* never opened */
    C_WAIT,       /* waiting for the backoff timer */
    C_RESOLVING,  /* host name look-up under way */
    C_CONNECTING, /* TCP connect and handshake under way */
    C_READY,      /* commands may be sent */
    C_CLOSED,     /* closed by the owner: stays down */
};

/* Handshake steps, as the reply callback's privdata. */
enum { STEP_AUTH = 1, STEP_SELECT, STEP_PING };

/* A host name look-up in flight. A cancelled look-up still gets its callback,
 * later, when the connection may be gone: so the callback reaches the
 * connection through this record, and frees it. */
struct lookup {
    struct rconn *c; /* NULL once the connection gave up on it */
    struct evdns_getaddrinfo_request *req;
};

struct rconn {
    struct event_base *base;
    struct minion_instance *inst;
    const char *name;
    struct rtarget *t;
    double reply_timeout;
    const struct rconn_ops *ops;
    void *arg;

    redisAsyncContext *ac;
    struct lookup *lookup;
    enum cstate state;
    int backoff_ms;
    int outage;        /* a failure was logged and nothing worked since */
    double last_reply; /* when the oldest outstanding reply was last due */
    struct event *retry, *watchdog;
    char ip[INET6_ADDRSTRLEN];
};

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void arm(struct event *ev, double secs)
{
    struct timeval tv = timeval_of_seconds(secs);

    evtimer_add(ev, &tv);
}

static void start_connect(struct rconn *c);

/* Forget the hiredis context and free it. Its pending callbacks run with a
 * NULL reply (at once, or when the hiredis callback on the stack returns);
 * on_disconnect then sees a context that is no longer ours. */
static void detach(struct rconn *c)
{
    redisAsyncContext *ac = c->ac;

    c->ac = NULL;
    evtimer_del(c->watchdog);
    if (ac) {
        redisAsyncFree(ac);
    }
}

static void schedule_retry(struct rconn *c)
{
    if (c->state == C_CLOSED) {
        return;
    }
    c->state = C_WAIT;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS) {
        c->backoff_ms = BACKOFF_MAX_MS;
    }
    arm(c->retry, c->backoff_ms / 1000.0);
}

/* An attempt failed before the connection was ready. The first failure of
 * an outage is a warning; the retries that follow are debug chatter. */
static void attempt_failed(struct rconn *c, const char *why)
{
    minion_log(c->inst, c->outage ? MINION_LOG_DEBUG : MINION_LOG_WARN,
               "%s: cannot connect to %s: %s; retrying", c->name, c->t->where,
               why);
    c->outage = 1;
    detach(c);
    schedule_retry(c);
}

/* A ready connection went away: tell the owner, then reconnect. */
static void lost(struct rconn *c, const char *why)
{
    minion_log(c->inst, c->outage ? MINION_LOG_DEBUG : MINION_LOG_WARN,
               "%s: connection to %s lost: %s; reconnecting", c->name,
               c->t->where, why);
    c->outage = 1;
    detach(c);
    schedule_retry(c);
    c->ops->down(c->arg);
}

static void on_handshake(redisAsyncContext *ac, void *r, void *priv)
{
    struct rconn *c = ac->data;
    redisReply *reply = r;
    int step = (int)(intptr_t)priv;
    char why[256];

    if (!c || c->ac != ac || !reply) {
        return; /* a context we already gave up */
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        if (step == STEP_AUTH) {
            snprintf(why, sizeof(why), "AUTH failed: %s", reply->str);
        } else if (step == STEP_SELECT) {
            snprintf(why, sizeof(why), "SELECT %d failed: %s", c->t->url->db,
                     reply->str);
        } else {
            snprintf(why, sizeof(why), "%s", reply->str);
        }
        attempt_failed(c, why);
        return;
    }
    if (step != STEP_PING) {
        return;
    }
    c->state = C_READY;
    evtimer_del(c->watchdog);
    c->ops->ready(c->arg);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    struct rconn *c = ac->data;

    if (!c || c->ac != ac || status == REDIS_OK) {
        return;
    }
    /* hiredis frees this context when we return: only forget it. */
    c->ac = NULL;
    attempt_failed(c, ac->errstr[0] ? ac->errstr : "connection failed");
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    struct rconn *c = ac->data;
    const char *why = ac->errstr[0] ? ac->errstr : "closed by the server";

    if (!c || c->ac != ac) {
        return;
    }
    c->ac = NULL; /* hiredis frees it when we return */
    if (c->state == C_READY) {
        lost(c, why);
    } else {
        attempt_failed(c, why);
    }
}

static int send_handshake(struct rconn *c)
{
    const struct rtarget *t = c->t;
    redisAsyncContext *ac = c->ac;
    char db[16];
    int rc = REDIS_OK;

    if (t->url->password) {
        if (t->url->user) {
            const char *argv[] = {"AUTH", t->url->user, t->url->password};
            rc = redisAsyncCommandArgv(
                ac, on_handshake, (void *)(intptr_t)STEP_AUTH, 3, argv, NULL);
        } else {
            const char *argv[] = {"AUTH", t->url->password};
            rc = redisAsyncCommandArgv(
                ac, on_handshake, (void *)(intptr_t)STEP_AUTH, 2, argv, NULL);
        }
    }
    if (rc == REDIS_OK && t->url->db != 0) {
        const char *argv[] = {"SELECT", db};
        snprintf(db, sizeof(db), "%d", t->url->db);
        rc = redisAsyncCommandArgv(
            ac, on_handshake, (void *)(intptr_t)STEP_SELECT, 2, argv, NULL);
    }
    if (rc == REDIS_OK) {
        const char *argv[] = {"PING"};
        rc = redisAsyncCommandArgv(ac, on_handshake,
                                   (void *)(intptr_t)STEP_PING, 1, argv, NULL);
    }
    return rc == REDIS_OK ? 0 : -EIO;
}

/* Connect to @ip (NULL: the unix socket). Commands queued before the TCP
 * connect completes are written as soon as it does. */
static void connect_to(struct rconn *c, const char *ip)
{
    redisAsyncContext *ac;

    ac = ip ? redisAsyncConnect(ip, c->t->url->port)
            : redisAsyncConnectUnix(c->t->url->unix_path);
    if (!ac) {
        attempt_failed(c, "out of memory");
        return;
    }
    if (ac->err) {
        char why[128];
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        attempt_failed(c, why);
        return;
    }
    ac->data = c;
    if (redisLibeventAttach(ac, c->base) != REDIS_OK) {
        redisAsyncFree(ac);
        attempt_failed(c, "cannot watch the socket");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    c->state = C_CONNECTING;
    arm(c->watchdog, CONNECT_TIMEOUT_S);
    if (send_handshake(c) < 0) {
        attempt_failed(c, "cannot queue the handshake");
    }
}

/* The numeric form of @ai into @buf. Returns 0, or -EINVAL. */
static int numeric(const struct evutil_addrinfo *ai, char *buf, size_t len)
{
    const void *addr;

    if (ai->ai_family == AF_INET) {
        addr = &((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
    } else if (ai->ai_family == AF_INET6) {
        addr = &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
    } else {
        return -EINVAL;
    }
    return evutil_inet_ntop(ai->ai_family, addr, buf, len) ? 0 : -EINVAL;
}

/* Of the addresses a name has, prefer the one that worked before (a name
 * like localhost has ::1 and 127.0.0.1, and Redis may listen on only one),
 * then one of its family, then the first. */
static int pick_address(const struct evutil_addrinfo *res, const char *last,
                        char *buf, size_t len)
{
    int family = last && strchr(last, ':') ? AF_INET6 : AF_INET;
    const struct evutil_addrinfo *ai;

    for (ai = res; last && ai; ai = ai->ai_next) {
        if (numeric(ai, buf, len) == 0 && strcmp(buf, last) == 0) {
            return 0;
        }
    }
    for (ai = res; last && ai; ai = ai->ai_next) {
        if (ai->ai_family == family && numeric(ai, buf, len) == 0) {
            return 0;
        }
    }
    for (ai = res; ai; ai = ai->ai_next) {
        if (numeric(ai, buf, len) == 0) {
            return 0;
        }
    }
    return -EINVAL;
}

static void on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    struct lookup *lk = arg;
    struct rconn *c = lk->c;
    struct rtarget *t;
    int found;

    free(lk);
    if (!c || result == EVUTIL_EAI_CANCEL) {
        if (res) {
            evutil_freeaddrinfo(res);
        }
        return;
    }
    c->lookup = NULL;
    t = c->t;
    found = result == 0 && res &&
            pick_address(res, t->last_ip, c->ip, sizeof(c->ip)) == 0;
    if (res) {
        evutil_freeaddrinfo(res);
    }
    if (found) {
        char *copy = strdup(c->ip);
        if (copy) {
            free(t->last_ip);
            t->last_ip = copy;
        }
    } else if (t->last_ip) {
        /* The resolver is down, not necessarily Redis: try where it was. */
        minion_log(c->inst, MINION_LOG_DEBUG,
                   "%s: look-up of %s failed (%s); trying %s", c->name,
                   t->url->host, evutil_gai_strerror(result), t->last_ip);
        snprintf(c->ip, sizeof(c->ip), "%s", t->last_ip);
    } else {
        attempt_failed(c, evutil_gai_strerror(result));
        return;
    }
    connect_to(c, c->ip);
}

static int is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return evutil_inet_pton(AF_INET, host, buf) == 1 ||
           evutil_inet_pton(AF_INET6, host, buf) == 1;
}

static void start_connect(struct rconn *c)
{
    struct rtarget *t = c->t;
    struct evutil_addrinfo hints;
    struct evdns_getaddrinfo_request *req;
    struct lookup *lk;

    if (!t->url->host) {
        connect_to(c, NULL);
        return;
    }
    if (is_ip_literal(t->url->host)) {
        connect_to(c, t->url->host);
        return;
    }
    /* Look the name up again on every connect: a restarted Redis container
     * often comes back on another address. */
    if (!t->dns) {
        t->dns = evdns_base_new(c->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                             EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    }
    if (!t->dns) {
        if (t->last_ip) {
            snprintf(c->ip, sizeof(c->ip), "%s", t->last_ip);
            connect_to(c, c->ip);
        } else {
            attempt_failed(c, "cannot start the DNS resolver");
        }
        return;
    }
    lk = calloc(1, sizeof(*lk));
    if (!lk) {
        attempt_failed(c, "out of memory");
        return;
    }
    lk->c = c;
    c->lookup = lk;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    c->state = C_RESOLVING;
    /* The callback may run (and free lk) before this returns. */
    req =
        evdns_getaddrinfo(t->dns, t->url->host, NULL, &hints, on_resolved, lk);
    if (c->lookup) {
        c->lookup->req = req;
    }
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct rconn *c = arg;

    if (c->state == C_WAIT) {
        start_connect(c);
    }
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    struct rconn *c = arg;
    double idle;
    char why[64];

    if (c->state == C_CONNECTING) {
        attempt_failed(c, "timed out");
        return;
    }
    if (c->state != C_READY || rconn_is_idle(c)) {
        return;
    }
    idle = mono_now() - c->last_reply;
    if (idle < c->reply_timeout) {
        arm(c->watchdog, c->reply_timeout - idle);
        return;
    }
    snprintf(why, sizeof(why), "no reply for %.1fs", idle);
    lost(c, why);
}

struct rconn *rconn_new(struct event_base *base, struct minion_instance *inst,
                        const char *name, struct rtarget *target,
                        double reply_timeout, const struct rconn_ops *ops,
                        void *arg)
{
    struct rconn *c = calloc(1, sizeof(*c));

    if (!c) {
        return NULL;
    }
    c->base = base;
    c->inst = inst;
    c->name = name;
    c->t = target;
    c->reply_timeout = reply_timeout;
    c->ops = ops;
    c->arg = arg;
    c->retry = evtimer_new(base, on_retry, c);
    c->watchdog = evtimer_new(base, on_watchdog, c);
    if (!c->retry || !c->watchdog) {
        rconn_free(c);
        return NULL;
    }
    return c;
}

void rconn_open(struct rconn *c)
{
    if (c->state == C_IDLE || c->state == C_CLOSED) {
        c->state = C_IDLE;
        start_connect(c);
    }
}

void rconn_close(struct rconn *c)
{
    c->state = C_CLOSED;
    if (c->retry) {
        evtimer_del(c->retry);
    }
    if (c->lookup) {
        struct lookup *lk = c->lookup;
        c->lookup = NULL;
        lk->c = NULL;
        if (lk->req) {
            evdns_getaddrinfo_cancel(lk->req); /* its callback frees lk */
        }
    }
    if (c->watchdog) {
        detach(c);
    }
}

void rconn_free(struct rconn *c)
{
    if (!c) {
        return;
    }
    rconn_close(c);
    if (c->retry) {
        event_free(c->retry);
    }
    if (c->watchdog) {
        event_free(c->watchdog);
    }
    free(c);
}

int rconn_is_ready(const struct rconn *c)
{
    return c->state == C_READY && c->ac != NULL;
}

int rconn_is_idle(const struct rconn *c)
{
    return !c->ac || c->ac->replies.head == NULL;
}

/* Bookkeeping after a command went out: the watchdog runs while anything
 * waits for a reply, measured from the last reply (or from now). */
static void sent(struct rconn *c, int was_idle)
{
    if (was_idle) {
        c->last_reply = mono_now();
    }
    if (!evtimer_pending(c->watchdog, NULL)) {
        arm(c->watchdog, c->reply_timeout);
    }
}

int rconn_send(struct rconn *c, redisCallbackFn *fn, void *priv, int argc,
               const char **argv, const size_t *lens)
{
    int was_idle;

    if (!rconn_is_ready(c)) {
        return -EIO;
    }
    was_idle = rconn_is_idle(c);
    if (redisAsyncCommandArgv(c->ac, fn, priv, argc, argv, lens) != REDIS_OK) {
        return -EIO;
    }
    sent(c, was_idle);
    return 0;
}

int rconn_send_formatted(struct rconn *c, redisCallbackFn *fn, void *priv,
                         const char *buf, size_t len)
{
    int was_idle;

    if (!rconn_is_ready(c)) {
        return -EIO;
    }
    was_idle = rconn_is_idle(c);
    if (redisAsyncFormattedCommand(c->ac, fn, priv, buf, len) != REDIS_OK) {
        return -EIO;
    }
    sent(c, was_idle);
    return 0;
}

/* Errors that say "not now" rather than "never": the server is loading its
 * data, running a long script, or not (yet) a writable master. */
static int transient(const redisReply *r)
{
    static const char *const prefixes[] = {
        "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "READONLY", "CLUSTERDOWN"};

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);
        if (r->len >= n && strncmp(r->str, prefixes[i], n) == 0 &&
            (r->len == n || r->str[n] == ' ')) {
            return 1;
        }
    }
    return 0;
}

int rconn_reply_usable(redisAsyncContext *ac, const redisReply *reply)
{
    struct rconn *c = ac->data;
    int ours = c && c->ac == ac;

    if (!reply) {
        return 0;
    }
    if (ours) {
        c->last_reply = mono_now();
    }
    if (reply->type == REDIS_REPLY_ERROR && transient(reply)) {
        if (ours && c->state == C_READY) {
            lost(c, reply->str);
        }
        return 0;
    }
    if (ours && reply->type != REDIS_REPLY_ERROR) {
        if (c->outage) {
            minion_log(c->inst, MINION_LOG_INFO, "%s: reconnected to %s",
                       c->name, c->t->where);
            c->outage = 0;
        }
        c->backoff_ms = 0;
    }
    return 1;
}

void rtarget_fini(struct rtarget *t)
{
    if (t->dns) {
        evdns_base_free(t->dns, 1);
        t->dns = NULL;
    }
    free(t->last_ip);
    t->last_ip = NULL;
}

/* Remember the address a host name resolved to, for reconnects when the
 * resolver itself is unreachable. */
static void remember_peer(struct rtarget *t, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];
    const void *addr;

    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
        return;
    }
    if (ss.ss_family == AF_INET) {
        addr = &((struct sockaddr_in *)&ss)->sin_addr;
    } else if (ss.ss_family == AF_INET6) {
        addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    } else {
        return;
    }
    if (inet_ntop(ss.ss_family, addr, ip, sizeof(ip))) {
        char *copy = strdup(ip);
        if (copy) {
            free(t->last_ip);
            t->last_ip = copy;
        }
    }
}

redisContext *rtarget_connect_sync(struct rtarget *t, double timeout, char *err,
                                   size_t errlen)
{
    redisContext *c = redis_sync_connect(t->url, timeout, timeout, err, errlen);

    if (c && t->url->host) {
        remember_peer(t, c->fd);
    }
    return c;
}
