/* SPDX-License-Identifier: MIT */
/* Every value is rendered once up front, so producing a combination is only
 * string concatenation: sweeps of millions of params stay cheap. */
#include "errbuf.h"
#include "sweep.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

struct sweep_key {
    char *name;    /* the key as it appears in the spec */
    char *prefix;  /* "\"key\":", escaped once */
    char **values; /* compact JSON of each value */
    size_t nvalues;
};

static char *print_key(const char *name)
{
    cJSON *s = cJSON_CreateString(name);
    char *quoted, *out = NULL;
    size_t n;

    if (s == NULL) {
        return NULL;
    }
    quoted = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    if (quoted == NULL) {
        return NULL;
    }
    n = strlen(quoted);
    out = malloc(n + 2);
    if (out != NULL) {
        memcpy(out, quoted, n);
        out[n] = ':';
        out[n + 1] = '\0';
    }
    cJSON_free(quoted);
    return out;
}

static char *print_value(const cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v);
    char *out;

    if (s == NULL) {
        return NULL;
    }
    /* cJSON_free and free may differ: hand the caller a malloc'd copy. */
    out = strdup(s);
    cJSON_free(s);
    return out;
}

static int fill_key(struct sweep_key *k, const cJSON *item)
{
    const cJSON *v;
    size_t i = 0;

    k->name = strdup(item->string);
    k->prefix = print_key(item->string);
    if (k->name == NULL || k->prefix == NULL) {
        return -ENOMEM;
    }
    k->nvalues = cJSON_IsArray(item) ? (size_t)cJSON_GetArraySize(item) : 1;
    if (k->nvalues == 0) {
        return 0;
    }
    k->values = calloc(k->nvalues, sizeof(*k->values));
    if (k->values == NULL) {
        return -ENOMEM;
    }
    if (!cJSON_IsArray(item)) {
        k->values[0] = print_value(item);
        return k->values[0] == NULL ? -ENOMEM : 0;
    }
    cJSON_ArrayForEach(v, item)
    {
        k->values[i] = print_value(v);
        if (k->values[i++] == NULL) {
            return -ENOMEM;
        }
    }
    return 0;
}

int sweep_init(struct sweep *sw, const char *spec, char *err, size_t errlen)
{
    cJSON *root, *item, *other;
    size_t n = 0;
    int rc = 0;

    memset(sw, 0, sizeof(*sw));
    /* Require the whole text to be one value: "{} x" is a typo. */
    root = spec != NULL ? cJSON_ParseWithOpts(spec, NULL, 1) : NULL;
    if (root == NULL) {
        return errbuf_set(err, errlen, -EINVAL, "--sweep: not JSON: %.60s",
                          spec != NULL ? spec : "");
    }
    if (!cJSON_IsObject(root)) {
        rc = errbuf_set(err, errlen, -EINVAL,
                        "--sweep: expected a JSON object such as "
                        "{\"x\":[1,2],\"y\":[\"a\",\"b\"]}");
        goto out;
    }
    cJSON_ArrayForEach(item, root)
    {
        /* A repeated key would produce objects with the key twice. */
        for (other = root->child; other != item; other = other->next) {
            if (strcmp(other->string, item->string) == 0) {
                rc = errbuf_set(err, errlen, -EINVAL,
                                "--sweep: key \"%.60s\" twice", item->string);
                goto out;
            }
        }
        n++;
    }
    if (n == 0) {
        rc =
            errbuf_set(err, errlen, -EINVAL, "--sweep: the object has no keys");
        goto out;
    }
    sw->keys = calloc(n, sizeof(*sw->keys));
    sw->idx = calloc(n, sizeof(*sw->idx));
    if (sw->keys == NULL || sw->idx == NULL) {
        rc = errbuf_set(err, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    sw->count = 1;
    cJSON_ArrayForEach(item, root)
    {
        struct sweep_key *k = &sw->keys[sw->nkeys++];

        if (fill_key(k, item) < 0) {
            rc = errbuf_set(err, errlen, -ENOMEM, "out of memory");
            goto out;
        }
        if (k->nvalues == 0 && sw->empty_key == NULL) {
            sw->empty_key = k->name;
        }
        if (sw->count > 0 && k->nvalues > SWEEP_MAX_COMBINATIONS / sw->count) {
            rc = errbuf_set(err, errlen, -E2BIG,
                            "--sweep: more than %lu combinations",
                            SWEEP_MAX_COMBINATIONS);
            goto out;
        }
        sw->count *= k->nvalues;
    }
out:
    cJSON_Delete(root);
    if (rc < 0) {
        sweep_fini(sw);
    }
    return rc;
}

static int append(struct sweep *sw, const char *s)
{
    size_t n = strlen(s);
    char *b;

    if (sw->len + n + 1 > sw->cap) {
        size_t cap = sw->cap ? sw->cap : 128;

        while (cap < sw->len + n + 1) {
            cap *= 2;
        }
        b = realloc(sw->buf, cap);
        if (b == NULL) {
            return -ENOMEM;
        }
        sw->buf = b;
        sw->cap = cap;
    }
    memcpy(sw->buf + sw->len, s, n + 1);
    sw->len += n;
    return 0;
}

const char *sweep_next(struct sweep *sw, size_t *len)
{
    size_t i;

    if (sw->done >= sw->count) {
        return NULL;
    }
    sw->len = 0;
    if (append(sw, "{") < 0) {
        return NULL;
    }
    for (i = 0; i < sw->nkeys; i++) {
        if ((i > 0 && append(sw, ",") < 0) ||
            append(sw, sw->keys[i].prefix) < 0 ||
            append(sw, sw->keys[i].values[sw->idx[i]]) < 0) {
            return NULL;
        }
    }
    if (append(sw, "}") < 0) {
        return NULL;
    }
    /* Advance the odometer: the last key is the fastest digit. */
    for (i = sw->nkeys; i-- > 0;) {
        if (++sw->idx[i] < sw->keys[i].nvalues) {
            break;
        }
        sw->idx[i] = 0;
    }
    sw->done++;
    if (len != NULL) {
        *len = sw->len;
    }
    return sw->buf;
}

void sweep_fini(struct sweep *sw)
{
    size_t i, j;

    for (i = 0; sw->keys != NULL && i < sw->nkeys; i++) {
        free(sw->keys[i].name);
        free(sw->keys[i].prefix);
        for (j = 0; sw->keys[i].values != NULL && j < sw->keys[i].nvalues;
             j++) {
            free(sw->keys[i].values[j]);
        }
        free(sw->keys[i].values);
    }
    free(sw->keys);
    free(sw->idx);
    free(sw->buf);
    memset(sw, 0, sizeof(*sw));
}
