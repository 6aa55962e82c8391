/* SPDX-License-Identifier: MIT */
/* What the pulsar engine and minion-submit share about Apache Pulsar's HTTP
 * side: the defaults, topic names, the URLs of the admin and REST producer
 * APIs, the REST producer's JSON and one-line errors. No I/O: the engine
 * speaks HTTP with libevent (engines/pulsar/http.c), minion-submit with
 * libcurl. */
#ifndef LIB_PULSAR_H
#define LIB_PULSAR_H

#include <stddef.h>

#define PULSAR_DEFAULT_URL "http://localhost:8080"
#define PULSAR_DEFAULT_SUBSCRIPTION "minions"
/* Where a short topic name lives, as in every Pulsar client. */
#define PULSAR_DEFAULT_TENANT "public"
#define PULSAR_DEFAULT_NAMESPACE "default"

/* A persistent topic. Strings are the caller's, freed by
 * pulsar_topic_fini(). */
struct pulsar_topic {
    char *tenant, *ns, *local;
    char *full; /* persistent://tenant/ns/local */
    char *path; /* persistent/tenant/ns/local, each part URL-encoded */
};

/* Parse @text: persistent://tenant/ns/topic, tenant/ns/topic, or a short
 * name in public/default. Returns 0, or -EINVAL / -ENOMEM with one line in
 * @err. @out holds nothing to free on failure. */
int pulsar_topic_parse(const char *text, struct pulsar_topic *out, char *err,
                       size_t errlen);
void pulsar_topic_fini(struct pulsar_topic *t);

/* The dead-letter topic Pulsar's own clients use for @t and @subscription:
 * <full topic>-<subscription>-DLQ, parsed. Returns 0 or -ENOMEM. */
int pulsar_topic_dlq(const struct pulsar_topic *t, const char *subscription,
                     struct pulsar_topic *out);

/* Check @url (http:// or https://, a host, no query) and return it without
 * trailing slashes in *@base. Returns 0, or -EINVAL / -ENOMEM with one line
 * in @err. Returns: *base, freed by the caller. */
int pulsar_url_base(const char *url, char **base, char *err, size_t errlen);

/* @s percent-encoded for one URL path segment or query value. Returns: a
 * new string (caller frees), or NULL. */
char *pulsar_escape(const char *s);

/* base + "/admin/v2/" + path + @suffix, base + "/topics/" + path:
 * Returns: a new string (caller frees), or NULL. */
char *pulsar_admin_url(const char *base, const struct pulsar_topic *t,
                       const char *suffix);
char *pulsar_producer_url(const char *base, const struct pulsar_topic *t);

/* ---- the REST producer ------------------------------------------------ */

/* One message for the REST producer: text (the broker's STRING schema)
 * and string properties (@props: names and values, alternating). */
struct pulsar_out {
    const char *data;
    size_t len;
    const char *const *props;
    size_t nprops;
};

/* Whether @text holds well-formed UTF-8 and no NUL: what a STRING schema
 * message (and a C string in JSON) can carry. */
int pulsar_text_ok(const char *text, size_t len);

/* The POST body for @n messages. Returns: a new NUL-terminated string
 * (caller frees), or NULL: out of memory, or a param that is not valid
 * UTF-8 or holds a NUL byte (*@bad then names it, from 0; else -1). */
char *pulsar_rest_body(const char *producer, const struct pulsar_out *msgs,
                       size_t n, long *bad);

/* Read a 200 reply of the REST producer for @n messages. Returns how many
 * were refused (their errorCode is not 0), with the first one's index and
 * reason in @err; -EPROTO when the reply cannot be read. */
int pulsar_rest_reply(const char *body, size_t len, size_t n, char *err,
                      size_t errlen);

/* ---- errors ----------------------------------------------------------- */

/* One line for an HTTP reply that is not 2xx: the status with Pulsar's
 * reason ("HTTP 401 Unauthorized (...): <reason>"), from {"reason": ...}
 * or the body's first line. Returns @buf. */
const char *pulsar_http_why(long status, const char *body, size_t len,
                            char *buf, size_t buflen);

#endif
