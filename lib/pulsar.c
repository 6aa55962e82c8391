/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "errbuf.h"
#include "pulsar.h"

/* ---- names ------------------------------------------------------------ */

void pulsar_topic_fini(struct pulsar_topic *t)
{
    if (!t) {
        return;
    }
    free(t->tenant);
    free(t->ns);
    free(t->local);
    free(t->full);
    free(t->path);
    memset(t, 0, sizeof(*t));
}

static int unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

char *pulsar_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1), *p = out;

    if (!out) {
        return NULL;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (unreserved(c)) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p = '\0';
    return out;
}

static char *join(const char *a, const char *b, const char *c, const char *d,
                  const char *e)
{
    const char *parts[] = {a, b, c, d, e};
    size_t n = 1;
    char *out;

    for (size_t i = 0; i < 5; i++) {
        n += parts[i] ? strlen(parts[i]) : 0;
    }
    out = malloc(n);
    if (!out) {
        return NULL;
    }
    out[0] = '\0';
    for (size_t i = 0; i < 5; i++) {
        if (parts[i]) {
            strcat(out, parts[i]);
        }
    }
    return out;
}

/* Fill @out from the three parts, checked. */
static int topic_make(struct pulsar_topic *out, const char *tenant, size_t tlen,
                      const char *ns, size_t nlen, const char *local, char *err,
                      size_t errlen)
{
    char *et = NULL, *en = NULL, *el = NULL;

    if (tlen == 0 || nlen == 0 || !local[0]) {
        return errbuf_set(err, errlen, -EINVAL,
                          "PULSAR_TOPIC: an empty tenant, namespace or topic");
    }
    /* The WebSocket consumer path must split into exactly 9 segments. */
    if (strchr(local, '/')) {
        return errbuf_set(err, errlen, -EINVAL,
                          "PULSAR_TOPIC: a topic name cannot contain '/': "
                          "persistent://tenant/namespace/topic");
    }
    out->tenant = strndup(tenant, tlen);
    out->ns = strndup(ns, nlen);
    out->local = strdup(local);
    if (out->tenant && out->ns && out->local) {
        out->full = join("persistent://", out->tenant, "/", out->ns, "/");
        if (out->full) {
            char *f = join(out->full, out->local, NULL, NULL, NULL);
            free(out->full);
            out->full = f;
        }
        et = pulsar_escape(out->tenant);
        en = pulsar_escape(out->ns);
        el = pulsar_escape(out->local);
        if (et && en && el) {
            char *head = join("persistent/", et, "/", en, "/");
            out->path = head ? join(head, el, NULL, NULL, NULL) : NULL;
            free(head);
        }
    }
    free(et);
    free(en);
    free(el);
    if (!out->full || !out->path) {
        pulsar_topic_fini(out);
        return errbuf_set(err, errlen, -ENOMEM, "out of memory");
    }
    return 0;
}

int pulsar_topic_parse(const char *text, struct pulsar_topic *out, char *err,
                       size_t errlen)
{
    const char *s = text, *slash1, *slash2;

    memset(out, 0, sizeof(*out));
    if (!s || !s[0]) {
        return errbuf_set(err, errlen, -EINVAL,
                          "PULSAR_TOPIC is required: persistent://tenant/"
                          "namespace/topic, or a topic name in "
                          "public/default");
    }
    if (strncmp(s, "non-persistent://", 17) == 0) {
        return errbuf_set(err, errlen, -EINVAL,
                          "PULSAR_TOPIC %s: a non-persistent topic keeps no "
                          "subscription, and loses params: use "
                          "persistent://",
                          text);
    }
    if (strstr(s, "://")) {
        if (strncmp(s, "persistent://", 13) != 0) {
            return errbuf_set(err, errlen, -EINVAL,
                              "PULSAR_TOPIC %s: not persistent://tenant/"
                              "namespace/topic",
                              text);
        }
        s += 13;
    } else if (!strchr(s, '/')) {
        return topic_make(out, PULSAR_DEFAULT_TENANT,
                          strlen(PULSAR_DEFAULT_TENANT),
                          PULSAR_DEFAULT_NAMESPACE,
                          strlen(PULSAR_DEFAULT_NAMESPACE), s, err, errlen);
    }
    slash1 = strchr(s, '/');
    slash2 = slash1 ? strchr(slash1 + 1, '/') : NULL;
    if (!slash2) {
        return errbuf_set(err, errlen, -EINVAL,
                          "PULSAR_TOPIC %s: not persistent://tenant/"
                          "namespace/topic",
                          text);
    }
    return topic_make(out, s, (size_t)(slash1 - s), slash1 + 1,
                      (size_t)(slash2 - slash1 - 1), slash2 + 1, err, errlen);
}

int pulsar_topic_dlq(const struct pulsar_topic *t, const char *subscription,
                     struct pulsar_topic *out)
{
    char *local = join(t->local, "-", subscription, "-DLQ", NULL);
    int rc;

    memset(out, 0, sizeof(*out));
    if (!local) {
        return -ENOMEM;
    }
    rc = topic_make(out, t->tenant, strlen(t->tenant), t->ns, strlen(t->ns),
                    local, NULL, 0);
    free(local);
    return rc;
}

int pulsar_url_base(const char *url, char **base, char *err, size_t errlen)
{
    const char *host;
    size_t n;

    *base = NULL;
    if (strncasecmp(url, "http://", 7) == 0) {
        host = url + 7;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        host = url + 8;
    } else {
        return errbuf_set(err, errlen, -EINVAL,
                          "PULSAR_URL %s: not http://host:port or "
                          "https://host:port (the broker's web service)",
                          url);
    }
    if (!host[0] || host[0] == '/' || host[0] == ':') {
        return errbuf_set(err, errlen, -EINVAL, "PULSAR_URL %s: no host", url);
    }
    if (strpbrk(url, "?#")) {
        return errbuf_set(err, errlen, -EINVAL,
                          "PULSAR_URL %s: a query or fragment has no place "
                          "here",
                          url);
    }
    n = strlen(url);
    while (n > 0 && url[n - 1] == '/') {
        n--;
    }
    *base = strndup(url, n);
    if (!*base) {
        return errbuf_set(err, errlen, -ENOMEM, "out of memory");
    }
    return 0;
}

char *pulsar_admin_url(const char *base, const struct pulsar_topic *t,
                       const char *suffix)
{
    return join(base, "/admin/v2/", t->path, suffix, NULL);
}

char *pulsar_producer_url(const char *base, const struct pulsar_topic *t)
{
    return join(base, "/topics/", t->path, NULL, NULL);
}

/* ---- the REST producer ------------------------------------------------ */

int pulsar_text_ok(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t more;
        unsigned min;
        unsigned cp;

        if (c == 0) {
            return 0;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            more = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            more = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (i + more >= len) {
            return 0; /* cut short */
        }
        for (size_t k = 1; k <= more; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += more + 1;
    }
    return 1;
}

char *pulsar_rest_body(const char *producer, const struct pulsar_out *msgs,
                       size_t n, long *bad)
{
    cJSON *root = cJSON_CreateObject(), *arr;
    char *out = NULL, *text;

    *bad = -1;
    if (!root || !cJSON_AddStringToObject(root, "producerName", producer) ||
        !cJSON_AddNumberToObject(root, "schemaVersion", -1) ||
        !(arr = cJSON_AddArrayToObject(root, "messages"))) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        cJSON *m = cJSON_CreateObject(), *props;

        if (!m) {
            goto out;
        }
        cJSON_AddItemToArray(arr, m);
        if (!pulsar_text_ok(msgs[i].data, msgs[i].len)) {
            *bad = (long)i;
            goto out;
        }
        /* The param is NUL-free (checked): a C string of its bytes. */
        text = strndup(msgs[i].data, msgs[i].len);
        if (!text || !cJSON_AddStringToObject(m, "payload", text)) {
            free(text);
            goto out;
        }
        free(text);
        if (msgs[i].nprops == 0) {
            continue;
        }
        props = cJSON_AddObjectToObject(m, "properties");
        if (!props) {
            goto out;
        }
        for (size_t k = 0; k + 1 < msgs[i].nprops * 2; k += 2) {
            if (!cJSON_AddStringToObject(props, msgs[i].props[k],
                                         msgs[i].props[k + 1])) {
                goto out;
            }
        }
    }
    out = cJSON_PrintUnformatted(root);
out:
    cJSON_Delete(root);
    return out;
}

int pulsar_rest_reply(const char *body, size_t len, size_t n, char *err,
                      size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(body, len), *res, *item;
    int refused = 0;
    size_t i = 0;

    res = root ? cJSON_GetObjectItemCaseSensitive(root, "messagePublishResults")
               : NULL;
    if (!cJSON_IsArray(res) || (size_t)cJSON_GetArraySize(res) != n) {
        cJSON_Delete(root);
        return errbuf_set(err, errlen, -EPROTO,
                          "unexpected reply from the REST producer");
    }
    cJSON_ArrayForEach(item, res)
    {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(item, "errorCode");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(item, "errorMsg");

        if (cJSON_IsNumber(code) && code->valuedouble != 0) {
            if (refused++ == 0) {
                errbuf_set(err, errlen, 0, "message %zu refused: %s", i,
                           cJSON_IsString(msg) ? msg->valuestring
                                               : "no reason given");
            }
        }
        i++;
    }
    cJSON_Delete(root);
    return refused;
}

/* ---- errors ----------------------------------------------------------- */

static const char *status_text(long status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized (PULSAR_TOKEN missing or not accepted)";
    case 403: return "Forbidden (PULSAR_TOKEN lacks the permission)";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
    }
}

const char *pulsar_http_why(long status, const char *body, size_t len,
                            char *buf, size_t buflen)
{
    const char *reason = NULL;
    cJSON *root = NULL;
    char first[200];

    /* Pulsar says why as {"reason": "..."}; anything else: its first
     * line. */
    if (len > 0) {
        const cJSON *r;
        root = cJSON_ParseWithLength(body, len);
        r = root ? cJSON_GetObjectItemCaseSensitive(root, "reason") : NULL;
        if (cJSON_IsString(r) && r->valuestring[0]) {
            reason = r->valuestring;
        } else if (!root) {
            size_t n = 0;
            while (n < len && body[n] != '\r' && body[n] != '\n') {
                n++;
            }
            snprintf(first, sizeof(first), "%.*s", (int)n, body);
            reason = first[0] ? first : NULL;
        }
    }
    snprintf(buf, buflen, "HTTP %ld%s%s%s%s", status,
             status_text(status)[0] ? " " : "", status_text(status),
             reason ? ": " : "", reason ? reason : "");
    cJSON_Delete(root);
    return buf;
}
