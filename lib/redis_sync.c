/* SPDX-License-Identifier: MIT */
#include <config.h>

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "redis_sync.h"
#include "redis_url.h"
#include "timeval.h"

/* Why a command got no reply: a timeout reads as one. */
static const char *no_reply(const redisContext *c, double timeout, char *buf,
                            size_t len)
{
    if (c->err == REDIS_ERR_IO && strstr(c->errstr, "temporarily")) {
        snprintf(buf, len, "no reply within %gs", timeout);
        return buf;
    }
    return c->errstr[0] ? c->errstr : "connection lost";
}

redisReply *redis_sync_command(redisContext *c, double timeout, int argc,
                               const char **argv, char *err, size_t errlen)
{
    redisReply *reply = redisCommandArgv(c, argc, argv, NULL);
    char why[64];

    if (!reply) {
        snprintf(err, errlen, "%s: %s", argv[0],
                 no_reply(c, timeout, why, sizeof(why)));
        return NULL;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "%s failed: %s", argv[0], reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

redisReply *redis_sync_reply(redisContext *c, double timeout, const char *what,
                             char *err, size_t errlen)
{
    void *reply = NULL;
    char why[64];

    if (redisGetReply(c, &reply) != REDIS_OK || !reply) {
        snprintf(err, errlen, "%s: %s", what,
                 no_reply(c, timeout, why, sizeof(why)));
        return NULL;
    }
    return reply;
}

/* One set-up command; its reply is not wanted. */
static int setup(redisContext *c, double timeout, int argc, const char **argv,
                 const char *where, char *err, size_t errlen)
{
    char why[256];
    redisReply *reply =
        redis_sync_command(c, timeout, argc, argv, why, sizeof(why));

    if (!reply) {
        snprintf(err, errlen, "%s: %s", where, why);
        return -1;
    }
    freeReplyObject(reply);
    return 0;
}

redisContext *redis_sync_connect(const struct redis_url *u,
                                 double connect_timeout, double timeout,
                                 char *err, size_t errlen)
{
    struct timeval tv;
    redisContext *c;
    char where[512], db[16];

    redis_url_describe(u, where, sizeof(where));
    tv = timeval_of_seconds(connect_timeout);
    c = u->unix_path ? redisConnectUnixWithTimeout(u->unix_path, tv)
                     : redisConnectWithTimeout(u->host, u->port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "cannot connect to %s: %s", where,
                 c ? c->errstr : "out of memory");
        goto fail;
    }
    tv = timeval_of_seconds(timeout);
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errlen, "%s: cannot set a timeout", where);
        goto fail;
    }
    if (u->password) {
        const char *argv[] = {"AUTH", u->user ? u->user : u->password,
                              u->password};
        if (setup(c, timeout, u->user ? 3 : 2, argv, where, err, errlen)) {
            goto fail;
        }
    }
    if (u->db != 0) {
        const char *argv[] = {"SELECT", db};
        snprintf(db, sizeof(db), "%d", u->db);
        if (setup(c, timeout, 2, argv, where, err, errlen) < 0) {
            goto fail;
        }
    }
    {
        const char *argv[] = {"PING"};
        if (setup(c, timeout, 1, argv, where, err, errlen) < 0) {
            goto fail;
        }
    }
    return c;
fail:
    if (c) {
        redisFree(c);
    }
    return NULL;
}
