/* SPDX-License-Identifier: MIT */
/* A blocking Redis connection, for the tools and the redis engine's
 * start-up checks (never on the loop once it runs): connect, AUTH, SELECT
 * and PING, each bounded in time, with one-line errors. */
#ifndef LIB_REDIS_SYNC_H
#define LIB_REDIS_SYNC_H

#include <stddef.h>

#include <hiredis/hiredis.h>

struct redis_url;

/* Connect to @u within @connect_timeout seconds, with @timeout seconds for
 * each reply,
 * then AUTH and SELECT as @u says, then PING (a missing password shows
 * here, before anything is sent). Returns: a context the caller frees with
 * redisFree(); or NULL with one line in @err naming the server by
 * redis_url_describe(). */
redisContext *redis_sync_connect(const struct redis_url *u,
                                 double connect_timeout, double timeout,
                                 char *err, size_t errlen);

/* One command on @c. Returns: its reply, freed with freeReplyObject(), or
 * NULL with one line in @err ("XADD: no reply within 5s", "XADD failed:
 * <error reply>"). An error reply is never returned. */
redisReply *redis_sync_command(redisContext *c, double timeout, int argc,
                               const char **argv, char *err, size_t errlen);

/* The next reply of a pipeline on @c (commands queued with
 * redisAppendCommandArgv): error replies are returned too, since in a
 * pipeline each command's caller decides what its error means. @what names
 * the command in the message. Returns: the reply, freed with
 * freeReplyObject(), or NULL with one line in @err ("XRANGE: no reply
 * within 30s") when the connection failed; @c is then unusable. */
redisReply *redis_sync_reply(redisContext *c, double timeout, const char *what,
                             char *err, size_t errlen);

#endif
