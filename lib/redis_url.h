/* SPDX-License-Identifier: MIT */
#ifndef MINION_REDIS_URL_H
#define MINION_REDIS_URL_H

/* The REDIS_URL parser shared by the redis engine, minion-submit and
 * minion-status. Pure: no I/O, no global state.
 *
 * Accepted forms (scheme case-insensitive):
 *   redis://[[user]:password@]host[:port][/db][?db=N&password=P]
 *   redis://password@host...        (no colon: password only, as redis-cli)
 *   redis://[::1]:6380/2            (IPv6 literal in brackets)
 *   unix:///path/redis.sock[?db=N&password=P]
 *   unix://[[user]:password@]/path/redis.sock
 * User and password are percent-decoded. Defaults: host "localhost",
 * port 6379, db 0, no user, no password. */

#include <stddef.h>

struct redis_url {
    char *host;      /* TCP host (brackets removed); NULL for unix:// */
    int port;        /* TCP port; 0 for unix:// */
    char *unix_path; /* socket path for unix://; NULL for redis:// */
    char *user;      /* ACL user for AUTH user pass; NULL when none */
    char *password;  /* AUTH password; NULL when none */
    int db;          /* SELECT this database when not 0 */
};

/* Parse @text into @out. Returns 0, or a negative errno value with a
 * one-line reason in @err (never echoing the password). @out is zeroed
 * first and holds nothing to free on failure. Returns: @out's strings;
 * caller frees them with redis_url_fini(). */
int redis_url_parse(const char *text, struct redis_url *out, char *err,
                    size_t errlen);

/* Write @u without its password into @buf: "redis://host:port/db",
 * "redis://[::1]:6380", "unix:///path/redis.sock?db=2". Names the server in
 * every message. Returns @buf. */
const char *redis_url_describe(const struct redis_url *u, char *buf,
                               size_t len);

/* Free @u's strings and zero it. Accepts NULL and a zeroed struct. */
void redis_url_fini(struct redis_url *u);

#endif
