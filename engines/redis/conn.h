/* SPDX-License-Identifier: MIT */
/* One asynchronous connection to Redis on the core's loop: name resolution
 * that never blocks, AUTH and SELECT first, libevent timers as watchdogs
 * (hiredis 0.14 has none), and reconnection with backoff. */
#ifndef REDIS_CONN_H
#define REDIS_CONN_H

#include <stddef.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "redis_sync.h"

struct event_base;
struct evdns_base;
struct minion_instance;
struct redis_url;

/* Where to connect, shared by every connection of one engine. */
struct rtarget {
    const struct redis_url *url; /* host and port, or socket; AUTH, SELECT */
    const char *where;      /* the URL without its password, for messages */
    char *last_ip;          /* the address the host last resolved to */
    struct evdns_base *dns; /* made on the first look-up */
};

/* What the owner hears about, on the loop thread (possibly from inside a
 * hiredis callback: never free the connection from them). */
struct rconn_ops {
    void (*ready)(void *arg); /* handshake done: commands may be sent */
    void (*down)(void *arg);  /* a ready connection went away */
};

struct rconn;

/* Returns: a new idle connection (call rconn_open), or NULL. @name tags
 * log lines; @reply_timeout is how long a command may stay unanswered.
 * Borrows: target, ops and arg, for the connection's whole life. */
struct rconn *rconn_new(struct event_base *base, struct minion_instance *inst,
                        const char *name, struct rtarget *target,
                        double reply_timeout, const struct rconn_ops *ops,
                        void *arg);
/* Connect now (and again after every loss) until rconn_close(). */
void rconn_open(struct rconn *c);
/* Drop the connection at once, without reconnecting. Pending commands get
 * their callback with a NULL reply. */
void rconn_close(struct rconn *c);
/* rconn_close(), then free. Accepts NULL. */
void rconn_free(struct rconn *c);

int rconn_is_ready(const struct rconn *c);
/* Nothing sent on it waits for a reply. */
int rconn_is_idle(const struct rconn *c);

/* Send one command; @fn gets the reply (NULL when the connection is lost).
 * Returns 0, or -EIO when the connection is not ready (@fn is not called).
 * Borrows: argv, lens and buf, copied before return. */
int rconn_send(struct rconn *c, redisCallbackFn *fn, void *priv, int argc,
               const char **argv, const size_t *lens);
int rconn_send_formatted(struct rconn *c, redisCallbackFn *fn, void *priv,
                         const char *buf, size_t len);

/* Every reply callback starts with this. Returns 1 when @reply can be used
 * (it may still be an error reply); 0 when it is NULL (connection lost) or
 * a transient error (LOADING, BUSY...), in which case the connection is
 * dropped and reconnected: treat the command as lost and send it again
 * after the next ready(). */
int rconn_reply_usable(redisAsyncContext *ac, const redisReply *reply);

/* Start-up only (it blocks): redis_sync_connect() to @t, and record
 * t->last_ip. Returns: a context the caller frees with redisFree(), or NULL
 * with one line in @err. */
redisContext *rtarget_connect_sync(struct rtarget *t, double timeout, char *err,
                                   size_t errlen);

/* Free what rconn_new() put in @t (not the strings it borrows). */
void rtarget_fini(struct rtarget *t);

#endif
