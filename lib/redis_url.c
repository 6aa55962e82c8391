/* SPDX-License-Identifier: MIT */
/* REDIS_URL parsing, shared by the redis engine and the two CLI tools so that
 * every program accepts exactly the same URLs and says the same things about
 * bad ones. Error messages never repeat the user or password: they end up in
 * logs. */
#include "errbuf.h"
#include "redis_url.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_HOST "localhost"
#define DEFAULT_PORT 6379
#define FORMS                                                                  \
    "expected redis://[[user]:password@]host[:port][/db] or "                  \
    "unix:///path/redis.sock[?db=N]"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decode @len bytes of @s. Returns: new string, or NULL on a bad escape
 * (*bad set) or no memory (*bad clear); caller frees. An empty result is
 * NULL with *bad clear too: an empty password means no password. */
static char *pct_decode(const char *s, size_t len, int *bad)
{
    char *out, *o;
    size_t i;
    int hi, lo;

    *bad = 0;
    if (len == 0) {
        return NULL;
    }
    out = malloc(len + 1);
    if (out == NULL) {
        return NULL;
    }
    o = out;
    for (i = 0; i < len; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        hi = i + 2 < len ? hexval(s[i + 1]) : -1;
        lo = i + 2 < len ? hexval(s[i + 2]) : -1;
        /* %00 would silently truncate the secret handed to AUTH. */
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            *bad = 1;
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    return out;
}

static int set_secret(char **dst, const char *s, size_t len, const char *what,
                      char *err, size_t errlen)
{
    int bad;

    if (*dst != NULL) {
        return errbuf_set(err, errlen, -EINVAL, "%s given twice", what);
    }
    *dst = pct_decode(s, len, &bad);
    if (bad) {
        return errbuf_set(err, errlen, -EINVAL,
                          "bad percent-encoding in the %s (use %%XX, not %%00)",
                          what);
    }
    if (*dst == NULL && len > 0) {
        return errbuf_set(err, errlen, -ENOMEM, "out of memory");
    }
    return 0;
}

/* A decimal in [min, max] made of @len digits only. Returns the value or
 * -1. */
static long parse_num(const char *s, size_t len, long min, long max)
{
    long v = 0;
    size_t i;

    if (len == 0 || len > 10) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v < min || v > max ? -1 : v;
}

static int set_db(struct redis_url *out, const char *s, size_t len, char *err,
                  size_t errlen)
{
    long v = parse_num(s, len, 0, INT_MAX);

    if (v < 0) {
        return errbuf_set(
            err, errlen, -EINVAL,
            "bad database number '%.*s': expected an integer >= 0", (int)len,
            s);
    }
    out->db = (int)v;
    return 0;
}

/* userinfo is "user:password", ":password" or "password" (redis-cli reads a
 * lone word as the password, and so do we). */
static int parse_userinfo(struct redis_url *out, const char *s, size_t len,
                          char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', len);
    int rc;

    if (colon == NULL) {
        return set_secret(&out->password, s, len, "password", err, errlen);
    }
    rc = set_secret(&out->user, s, (size_t)(colon - s), "user", err, errlen);
    if (rc < 0) {
        return rc;
    }
    rc = set_secret(&out->password, colon + 1, len - (size_t)(colon - s) - 1,
                    "password", err, errlen);
    if (rc == 0 && out->user != NULL && out->password == NULL) {
        /* AUTH needs both: "user:@" is surely a typo. */
        return errbuf_set(err, errlen, -EINVAL, "a user needs a password");
    }
    return rc;
}

/* "db=N&password=P": the only settings a URL may carry in its query. */
static int parse_query(struct redis_url *out, const char *q, char *err,
                       size_t errlen)
{
    const char *p = q, *end, *eq;
    size_t klen;
    int rc;

    while (*p != '\0') {
        end = strchr(p, '&');
        if (end == NULL) {
            end = p + strlen(p);
        }
        eq = memchr(p, '=', (size_t)(end - p));
        klen = eq != NULL ? (size_t)(eq - p) : (size_t)(end - p);
        if (klen == 2 && strncmp(p, "db", 2) == 0 && eq != NULL) {
            rc = set_db(out, eq + 1, (size_t)(end - eq - 1), err, errlen);
        } else if (klen == 8 && strncmp(p, "password", 8) == 0 && eq != NULL) {
            rc = set_secret(&out->password, eq + 1, (size_t)(end - eq - 1),
                            "password", err, errlen);
        } else if (end == p) {
            rc = 0; /* tolerate "?db=1&" and "a&&b" */
        } else {
            rc = errbuf_set(err, errlen, -EINVAL,
                            "unknown URL parameter '%.*s' (expected db=N or "
                            "password=P)",
                            (int)klen, p);
        }
        if (rc < 0) {
            return rc;
        }
        p = *end == '&' ? end + 1 : end;
    }
    return 0;
}

static int host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/* host[:port], [v6][:port], or empty (localhost). */
static int parse_hostport(struct redis_url *out, const char *s, size_t len,
                          char *err, size_t errlen)
{
    const char *host = s, *port = NULL, *close;
    size_t hlen, plen = 0, i;
    long v;

    if (len > 0 && s[0] == '[') {
        close = memchr(s, ']', len);
        if (close == NULL) {
            return errbuf_set(err, errlen, -EINVAL,
                              "missing ']' after the IPv6 address");
        }
        host = s + 1;
        hlen = (size_t)(close - host);
        if (hlen == 0) {
            return errbuf_set(err, errlen, -EINVAL, "empty IPv6 address '[]'");
        }
        for (i = 0; i < hlen; i++) {
            if (!host_char_ok(host[i]) && host[i] != ':' && host[i] != '%') {
                return errbuf_set(err, errlen, -EINVAL,
                                  "bad character in IPv6 address '%.*s'",
                                  (int)hlen, host);
            }
        }
        if (close + 1 < s + len) {
            if (close[1] != ':') {
                return errbuf_set(err, errlen, -EINVAL,
                                  "expected ':port' after ']', got '%.*s'",
                                  (int)(s + len - close - 1), close + 1);
            }
            port = close + 2;
            plen = (size_t)(s + len - port);
        }
    } else {
        const char *colon = memchr(s, ':', len);

        hlen = colon != NULL ? (size_t)(colon - s) : len;
        if (colon != NULL) {
            port = colon + 1;
            plen = len - hlen - 1;
            if (memchr(port, ':', plen) != NULL) {
                return errbuf_set(err, errlen, -EINVAL,
                                  "IPv6 addresses go in brackets: "
                                  "redis://[::1]:6379");
            }
        }
        for (i = 0; i < hlen; i++) {
            if (!host_char_ok(host[i])) {
                return errbuf_set(err, errlen, -EINVAL,
                                  "bad character '%c' in host '%.*s'", host[i],
                                  (int)hlen, host);
            }
        }
    }
    out->port = DEFAULT_PORT;
    if (port != NULL) {
        if (plen == 0) {
            return errbuf_set(err, errlen, -EINVAL,
                              "missing port number after ':'");
        }
        v = parse_num(port, plen, 1, 65535);
        if (v < 0) {
            return errbuf_set(
                err, errlen, -EINVAL,
                "bad port '%.*s': expected a number from 1 to 65535", (int)plen,
                port);
        }
        out->port = (int)v;
    }
    if (host != s) {
        /* RFC 6874 writes a zone as "%25eth0"; getaddrinfo wants "%eth0". */
        int bad;

        out->host = pct_decode(host, hlen, &bad);
        if (bad) {
            return errbuf_set(err, errlen, -EINVAL,
                              "bad percent-encoding in IPv6 address '%.*s'",
                              (int)hlen, host);
        }
    } else {
        out->host = hlen > 0 ? strndup(host, hlen) : strdup(DEFAULT_HOST);
    }
    if (out->host == NULL) {
        return errbuf_set(err, errlen, -ENOMEM, "out of memory");
    }
    return 0;
}

static int parse_tcp(struct redis_url *out, const char *rest, char *err,
                     size_t errlen)
{
    size_t alen = strcspn(rest, "/?");
    const char *path = rest + alen, *at = NULL, *p;
    size_t plen;
    int rc;

    /* An '@' after the first '/' or '?' means a password with an unencoded
     * '/' or '?': say so without echoing any part of it. */
    if (strchr(path, '@') != NULL) {
        return errbuf_set(err, errlen, -EINVAL,
                          "a '/' or '?' in the user or password must be "
                          "percent-encoded (%%2F, %%3F)");
    }
    /* The last '@' ends the userinfo, so an unencoded '@' in a password
     * still works; '/' and '?' in one must be encoded. */
    for (p = rest; p < path; p++) {
        if (*p == '@') {
            at = p;
        }
    }
    if (at != NULL) {
        rc = parse_userinfo(out, rest, (size_t)(at - rest), err, errlen);
        if (rc < 0) {
            return rc;
        }
        rest = at + 1;
    }
    rc = parse_hostport(out, rest, (size_t)(path - rest), err, errlen);
    if (rc < 0) {
        return rc;
    }
    if (*path == '/') {
        path++;
        plen = strcspn(path, "?");
        if (plen > 0) {
            rc = set_db(out, path, plen, err, errlen);
            if (rc < 0) {
                return rc;
            }
        }
        path += plen;
    }
    return *path == '?' ? parse_query(out, path + 1, err, errlen) : 0;
}

static int parse_unix(struct redis_url *out, const char *rest, char *err,
                      size_t errlen)
{
    const char *slash = strchr(rest, '/');
    size_t plen;
    int rc;

    if (slash == NULL) {
        return errbuf_set(err, errlen, -EINVAL,
                          "unix:// needs an absolute socket path: "
                          "unix:///path/redis.sock");
    }
    if (slash != rest) {
        /* Only a userinfo may sit between "unix://" and the path. */
        if (slash[-1] != '@') {
            return errbuf_set(err, errlen, -EINVAL,
                              "unix:// needs an absolute socket path: "
                              "unix:///path/redis.sock (three slashes)");
        }
        rc = parse_userinfo(out, rest, (size_t)(slash - 1 - rest), err, errlen);
        if (rc < 0) {
            return rc;
        }
    }
    plen = strcspn(slash, "?");
    if (plen == 1) {
        return errbuf_set(err, errlen, -EINVAL, "empty unix socket path");
    }
    out->unix_path = strndup(slash, plen);
    if (out->unix_path == NULL) {
        return errbuf_set(err, errlen, -ENOMEM, "out of memory");
    }
    return slash[plen] == '?' ? parse_query(out, slash + plen + 1, err, errlen)
                              : 0;
}

int redis_url_parse(const char *text, struct redis_url *out, char *err,
                    size_t errlen)
{
    const char *sep;
    size_t slen;
    int rc;

    memset(out, 0, sizeof(*out));
    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    if (text == NULL || *text == '\0') {
        return errbuf_set(err, errlen, -EINVAL, "empty Redis URL: " FORMS);
    }
    sep = strstr(text, "://");
    /* Without a scheme the text may well be a bare password: never echo. */
    if (sep == NULL) {
        return errbuf_set(err, errlen, -EINVAL, "not a Redis URL: " FORMS);
    }
    slen = (size_t)(sep - text);
    if (slen == 5 && strncasecmp(text, "redis", 5) == 0) {
        rc = parse_tcp(out, sep + 3, err, errlen);
    } else if (slen == 4 && strncasecmp(text, "unix", 4) == 0) {
        rc = parse_unix(out, sep + 3, err, errlen);
    } else if (slen == 6 && strncasecmp(text, "rediss", 6) == 0) {
        rc = errbuf_set(err, errlen, -ENOTSUP,
                        "TLS (rediss://) is not supported: " FORMS);
    } else {
        rc =
            errbuf_set(err, errlen, -EINVAL, "unknown scheme '%.*s://': " FORMS,
                       slen > 20 ? 20 : (int)slen, text);
    }
    if (rc < 0) {
        redis_url_fini(out);
    }
    return rc;
}

void redis_url_fini(struct redis_url *u)
{
    if (u == NULL) {
        return;
    }
    free(u->host);
    free(u->unix_path);
    free(u->user);
    free(u->password);
    memset(u, 0, sizeof(*u));
}

const char *redis_url_describe(const struct redis_url *u, char *buf, size_t len)
{
    int n;

    if (u->unix_path) {
        n = snprintf(buf, len, "unix://%s", u->unix_path);
    } else if (strchr(u->host, ':')) {
        n = snprintf(buf, len, "redis://[%s]:%d", u->host, u->port);
    } else {
        n = snprintf(buf, len, "redis://%s:%d", u->host, u->port);
    }
    if (u->db && n > 0 && (size_t)n < len) {
        snprintf(buf + n, len - (size_t)n, "%s%d", u->unix_path ? "?db=" : "/",
                 u->db);
    }
    return buf;
}
