/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"
#include "dotenv.h"

struct pair {
    char *key, *value;
};

struct layer {
    struct pair *pairs;
    size_t n, cap;
};

struct settings {
    struct layer flags;
    struct layer dotenv;
    char error[768]; /* why the last call that failed did */
};

void settings_set_error(struct settings *cfg, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cfg->error, sizeof(cfg->error), fmt, ap);
    va_end(ap);
}

const char *settings_error(const struct settings *cfg)
{
    return cfg->error;
}

static struct pair *layer_find(const struct layer *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->pairs[i].key, key) == 0) {
            return &l->pairs[i];
        }
    }
    return NULL;
}

static int layer_set(struct layer *l, const char *key, const char *value)
{
    struct pair *p = layer_find(l, key);
    char *v = strdup(value);

    if (!v) {
        return -ENOMEM;
    }
    if (p) {
        free(p->value);
        p->value = v;
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct pair *pairs = realloc(l->pairs, cap * sizeof(*pairs));
        if (!pairs) {
            free(v);
            return -ENOMEM;
        }
        l->pairs = pairs;
        l->cap = cap;
    }
    l->pairs[l->n].key = strdup(key);
    if (!l->pairs[l->n].key) {
        free(v);
        return -ENOMEM;
    }
    l->pairs[l->n++].value = v;
    return 0;
}

static void layer_fini(struct layer *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->pairs[i].key);
        free(l->pairs[i].value);
    }
    free(l->pairs);
}

struct settings *settings_new(void)
{
    return calloc(1, sizeof(struct settings));
}

void settings_free(struct settings *cfg)
{
    if (!cfg) {
        return;
    }
    layer_fini(&cfg->flags);
    layer_fini(&cfg->dotenv);
    free(cfg);
}

int settings_set_flag(struct settings *cfg, const char *key, const char *value)
{
    return layer_set(&cfg->flags, key, value);
}

static int on_dotenv(const char *key, const char *value, void *arg)
{
    return layer_set(arg, key, value) < 0 ? 1 : 0;
}

int settings_load_dotenv(struct settings *cfg, const char *path)
{
    FILE *f = fopen(path, "re");
    char *text = NULL;
    size_t len = 0, cap = 0;
    char why[256];
    int rc = 0;

    if (!f) {
        int e = errno;
        if (e != ENOENT) {
            settings_set_error(cfg, "%s: %s", path, strerror(e));
        }
        return -e;
    }
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            char *t = realloc(text, cap);
            if (!t) {
                rc = -ENOMEM;
                settings_set_error(cfg, "%s: out of memory", path);
                goto out;
            }
            text = t;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    if (ferror(f)) {
        rc = -EIO;
        settings_set_error(cfg, "%s: read error", path);
        goto out;
    }
    if (dotenv_parse(text, len, on_dotenv, &cfg->dotenv, why, sizeof(why)) <
        0) {
        rc = -EINVAL;
        settings_set_error(cfg, "%s: %s", path, why);
    }
out:
    free(text);
    fclose(f);
    return rc;
}

const char *settings_get(const struct settings *cfg, const char *key)
{
    const struct pair *p = layer_find(&cfg->flags, key);
    const char *env;

    if (p) {
        return p->value;
    }
    env = getenv(key);
    if (env) {
        return env;
    }
    p = layer_find(&cfg->dotenv, key);
    return p ? p->value : NULL;
}

const char *settings_source(const struct settings *cfg, const char *key)
{
    if (layer_find(&cfg->flags, key)) {
        return "flag";
    }
    if (getenv(key)) {
        return "environment";
    }
    if (layer_find(&cfg->dotenv, key)) {
        return ".env";
    }
    return NULL;
}
