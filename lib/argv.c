/* SPDX-License-Identifier: MIT */
/* argv.c: the param-to-argv rules of the process and docker callbacks. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strndup */
#endif
#include "argv.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum seg_kind {
    SEG_LIT,   /* text copied as it is */
    SEG_ALL,   /* {}: the whole param */
    SEG_FIELD, /* {name}: one field of a JSON object param */
};

struct seg {
    enum seg_kind kind;
    const char *text; /* SEG_LIT: into the argument; SEG_FIELD: the name */
    size_t len;
};

struct targ {
    char *text; /* the argument as given */
    struct seg *segs;
    size_t n_segs;
    char **names; /* NUL-terminated field names, for cJSON lookups */
    size_t n_names;
};

struct argv_template {
    int argc;
    struct targ *args; /* args[0] is PROGRAM, never parsed */
    int has_all;       /* some argument holds {} */
    int has_field;     /* some argument holds {name} */
    const char *first_field;
};

/* ------------------------------------------------------------------------ */
/* Template                                                                  */

static int name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/* Length of the placeholder starting at s[0] == '{' (0 when it is plain
 * text), and whether it names a field. */
static size_t placeholder_len(const char *s, int *field)
{
    size_t i = 1;

    if (s[1] == '}') {
        *field = 0;
        return 2;
    }
    if (!name_start(s[1])) {
        return 0;
    }
    while (name_char(s[i])) {
        i++;
    }
    if (s[i] != '}') {
        return 0;
    }
    *field = 1;
    return i + 1;
}

static int push_seg(struct targ *a, enum seg_kind kind, const char *text,
                    size_t len)
{
    struct seg *segs = realloc(a->segs, (a->n_segs + 1) * sizeof(*segs));

    if (segs == NULL) {
        return -ENOMEM;
    }
    a->segs = segs;
    segs[a->n_segs++] = (struct seg){kind, text, len};
    return 0;
}

static int push_name(struct targ *a, const char *name, size_t len)
{
    char **names = realloc(a->names, (a->n_names + 1) * sizeof(*names));

    if (names == NULL) {
        return -ENOMEM;
    }
    a->names = names;
    names[a->n_names] = strndup(name, len);
    if (names[a->n_names] == NULL) {
        return -ENOMEM;
    }
    a->n_names++;
    return 0;
}

/* Split one argument into literal text and placeholders. `{{` and `}}`
 * are one literal brace; `${...}` is shell syntax, never a placeholder. */
static int parse_arg(struct argv_template *t, struct targ *a)
{
    const char *s = a->text, *lit = s;
    int field;

    while (*s != '\0') {
        size_t n;

        if (s[0] == '$' && s[1] == '{') {
            const char *close = strchr(s + 2, '}');
            s = close ? close + 1 : s + 2;
            continue;
        }
        if ((s[0] == '{' && s[1] == '{') || (s[0] == '}' && s[1] == '}')) {
            /* Keep the text before it and the first brace; drop the
             * second. */
            if (push_seg(a, SEG_LIT, lit, (size_t)(s + 1 - lit)) < 0) {
                return -ENOMEM;
            }
            s += 2;
            lit = s;
            continue;
        }
        if (*s != '{' || (n = placeholder_len(s, &field)) == 0) {
            s++;
            continue;
        }
        if (s > lit && push_seg(a, SEG_LIT, lit, (size_t)(s - lit)) < 0) {
            return -ENOMEM;
        }
        if (field) {
            if (push_name(a, s + 1, n - 2) < 0 ||
                push_seg(a, SEG_FIELD, a->names[a->n_names - 1], n - 2) < 0) {
                return -ENOMEM;
            }
            t->has_field = 1;
            if (t->first_field == NULL) {
                t->first_field = a->names[a->n_names - 1];
            }
        } else {
            if (push_seg(a, SEG_ALL, NULL, 0) < 0) {
                return -ENOMEM;
            }
            t->has_all = 1;
        }
        s += n;
        lit = s;
    }
    if (s > lit && push_seg(a, SEG_LIT, lit, (size_t)(s - lit)) < 0) {
        return -ENOMEM;
    }
    return 0;
}

struct argv_template *argv_template_new(int argc, char *const *argv)
{
    struct argv_template *t;

    if (argc < 1) {
        return NULL;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    t->args = calloc((size_t)argc, sizeof(*t->args));
    if (t->args == NULL) {
        goto fail;
    }
    t->argc = argc;
    for (int i = 0; i < argc; i++) {
        t->args[i].text = strdup(argv[i]);
        if (t->args[i].text == NULL) {
            goto fail;
        }
        if (i > 0 && parse_arg(t, &t->args[i]) < 0) {
            goto fail;
        }
    }
    return t;
fail:
    argv_template_free(t);
    return NULL;
}

void argv_template_free(struct argv_template *t)
{
    if (t == NULL) {
        return;
    }
    for (int i = 0; t->args != NULL && i < t->argc; i++) {
        struct targ *a = &t->args[i];

        for (size_t j = 0; j < a->n_names; j++) {
            free(a->names[j]);
        }
        free(a->names);
        free(a->segs);
        free(a->text);
    }
    free(t->args);
    free(t);
}

int argv_template_has_placeholders(const struct argv_template *t)
{
    return t->has_all || t->has_field;
}

/* ------------------------------------------------------------------------ */
/* Building one vector                                                       */

/* The arguments under construction: their bytes one after the other, each
 * ended by a NUL, and where each one starts. */
struct build {
    char *data;
    size_t len, cap;
    size_t *starts;
    size_t n, n_cap;
    char *err;
    size_t errsz;
    const char *param;
    size_t param_len;
    int esc_nul; /* -1: not looked for yet */
};

static int put(struct build *b, const void *p, size_t len)
{
    if (b->cap - b->len < len) {
        size_t cap = b->cap ? b->cap : 256;

        while (cap - b->len < len) {
            if (cap > SIZE_MAX / 2) {
                return -ENOMEM;
            }
            cap *= 2;
        }
        char *data = realloc(b->data, cap);
        if (data == NULL) {
            return -ENOMEM;
        }
        b->data = data;
        b->cap = cap;
    }
    if (len > 0) {
        memcpy(b->data + b->len, p, len);
    }
    b->len += len;
    return 0;
}

static int arg_begin(struct build *b)
{
    if (b->n == b->n_cap) {
        size_t n_cap = b->n_cap ? b->n_cap * 2 : 8;
        size_t *starts = realloc(b->starts, n_cap * sizeof(*starts));

        if (starts == NULL) {
            return -ENOMEM;
        }
        b->starts = starts;
        b->n_cap = n_cap;
    }
    b->starts[b->n++] = b->len;
    return 0;
}

static int arg_end(struct build *b)
{
    return put(b, "", 1);
}

static void say(struct build *b, const char *fmt, va_list ap)
{
    if (b->errsz > 0) {
        vsnprintf(b->err, b->errsz, fmt, ap);
    }
}

/* The param itself cannot make arguments (a NUL byte, not JSON). */
static int fail(struct build *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct build *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    say(b, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* A placeholder the param cannot fill: the param's fault, or the
 * template's when no param can. */
static int fail_placeholder(struct build *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail_placeholder(struct build *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    say(b, fmt, ap);
    va_end(ap);
    return -ENOENT;
}

/* Does the param spell a NUL character (\u0000) anywhere? cJSON cuts a
 * string there without telling, even when printing it back as JSON, so no
 * value parsed from such a param can be trusted. */
static int has_escaped_nul(struct build *b)
{
    if (b->esc_nul < 0) {
        const char *p = b->param;
        size_t len = b->param_len;

        b->esc_nul = 0;
        for (size_t i = 0; i + 1 < len; i++) {
            if (p[i] != '\\') {
                continue;
            }
            if (p[i + 1] == 'u' && i + 6 <= len &&
                memcmp(p + i + 2, "0000", 4) == 0) {
                b->esc_nul = 1;
                break;
            }
            i++; /* skip the escaped character: "\\u0000" is no NUL */
        }
    }
    return b->esc_nul;
}

/* Append a JSON value as argument text: strings bare, the rest compact. */
static int put_value(struct build *b, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        return put(b, v->valuestring, strlen(v->valuestring));
    }
    char *text = cJSON_PrintUnformatted(v);
    if (text == NULL) {
        return -ENOMEM;
    }
    int rc = put(b, text, strlen(text));
    free(text);
    return rc;
}

static int is_index(const char *s, size_t len)
{
    if (len == 0 || len > 9) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/* Field @name of @root: the exact key first, then a dotted path. */
static const cJSON *lookup(const cJSON *root, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
    const char *s = name;

    if (v != NULL || strchr(name, '.') == NULL) {
        return v;
    }
    v = root;
    while (v != NULL) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);

        if (cJSON_IsArray(v) && is_index(s, len)) {
            v = cJSON_GetArrayItem(v, atoi(s));
        } else if (cJSON_IsObject(v)) {
            const cJSON *child = NULL;

            cJSON_ArrayForEach(child, v)
            {
                if (child->string != NULL && strlen(child->string) == len &&
                    memcmp(child->string, s, len) == 0) {
                    break;
                }
            }
            v = child;
        } else {
            v = NULL;
        }
        if (dot == NULL) {
            break;
        }
        s = dot + 1;
    }
    return v;
}

static int put_segs(struct build *b, const struct targ *a, int json,
                    const cJSON *root)
{
    for (size_t i = 0; i < a->n_segs; i++) {
        const struct seg *s = &a->segs[i];
        const cJSON *v;
        int rc = 0;

        switch (s->kind) {
        case SEG_LIT: rc = put(b, s->text, s->len); break;
        case SEG_ALL:
            rc = json ? put_value(b, root) : put(b, b->param, b->param_len);
            break;
        case SEG_FIELD:
            v = lookup(root, s->text);
            if (v == NULL) {
                return fail_placeholder(
                    b,
                    "param has no field \"%s\" for {%s} (for the braces "
                    "themselves write {{%s}})",
                    s->text, s->text, s->text);
            }
            rc = put_value(b, v);
            break;
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* The param as one argument, or one per element of a JSON array. */
static int put_appended(struct build *b, int json, const cJSON *root)
{
    int rc;

    if (!json) {
        if ((rc = arg_begin(b)) < 0 ||
            (rc = put(b, b->param, b->param_len)) < 0) {
            return rc;
        }
        return arg_end(b);
    }
    if (cJSON_IsArray(root)) {
        const cJSON *v;

        cJSON_ArrayForEach(v, root)
        {
            if ((rc = arg_begin(b)) < 0 || (rc = put_value(b, v)) < 0 ||
                (rc = arg_end(b)) < 0) {
                return rc;
            }
        }
        return 0;
    }
    if ((rc = arg_begin(b)) < 0 || (rc = put_value(b, root)) < 0) {
        return rc;
    }
    return arg_end(b);
}

/* Parse the param as one JSON value into *@root (NULL when it is not JSON).
 * Returns 0 or -ENOMEM. */
static int parse_json(const char *param, size_t len, cJSON **root)
{
    /* cJSON wants a NUL at the end to reject trailing garbage. */
    char *copy = malloc(len + 1);

    *root = NULL;
    if (copy == NULL) {
        return -ENOMEM;
    }
    memcpy(copy, param, len);
    copy[len] = '\0';
    *root = cJSON_ParseWithOpts(copy, NULL, 1);
    free(copy);
    return 0;
}

/* Lay the built arguments out as one block: the pointers, then the bytes. */
static int finish(struct build *b, char ***out)
{
    size_t head = (b->n + 1) * sizeof(char *);
    char **argv = malloc(head + b->len);
    char *data;

    if (argv == NULL) {
        return -ENOMEM;
    }
    data = (char *)argv + head;
    memcpy(data, b->data, b->len);
    for (size_t i = 0; i < b->n; i++) {
        argv[i] = data + b->starts[i];
    }
    argv[b->n] = NULL;
    *out = argv;
    return 0;
}

#define NEEDS_OBJECT                                                           \
    "placeholder {%s} needs a JSON object param (for the braces themselves "   \
    "write {{%s}})"

int argv_build(const struct argv_template *t, int json, const char *param,
               size_t len, char ***out, char *err, size_t errsz)
{
    struct build b = {.err = err,
                      .errsz = errsz,
                      .param = param,
                      .param_len = len,
                      .esc_nul = -1};
    int placeholders = argv_template_has_placeholders(t);
    cJSON *root = NULL;
    int rc;

    *out = NULL;
    if (errsz > 0) {
        err[0] = '\0';
    }
    if (memchr(param, '\0', len) != NULL) {
        return fail(&b, "param holds a NUL byte");
    }
    if (t->has_field || (json && (t->has_all || !placeholders))) {
        if (parse_json(param, len, &root) < 0) {
            rc = -ENOMEM;
            goto out;
        }
        if (root == NULL) {
            if (t->has_field) {
                return fail_placeholder(&b, NEEDS_OBJECT, t->first_field,
                                        t->first_field);
            }
            return fail(&b, "param is not valid JSON");
        }
        if (has_escaped_nul(&b)) {
            rc = fail(&b, "param holds a NUL character (\\u0000)");
            goto out;
        }
        if (t->has_field && !cJSON_IsObject(root)) {
            rc = fail_placeholder(&b, NEEDS_OBJECT, t->first_field,
                                  t->first_field);
            goto out;
        }
    }
    for (int i = 0; i < t->argc; i++) {
        const struct targ *a = &t->args[i];

        if ((rc = arg_begin(&b)) < 0) {
            goto out;
        }
        if (i == 0 || a->n_segs == 0) {
            rc = put(&b, a->text, strlen(a->text));
        } else {
            rc = put_segs(&b, a, json, root);
        }
        if (rc < 0 || (rc = arg_end(&b)) < 0) {
            goto out;
        }
    }
    if (!placeholders && (rc = put_appended(&b, json, root)) < 0) {
        goto out;
    }
    rc = finish(&b, out);
out:
    if (rc == -ENOMEM && errsz > 0) {
        snprintf(err, errsz, "out of memory");
    }
    cJSON_Delete(root);
    free(b.data);
    free(b.starts);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Quoting for DRY mode                                                      */

static int shell_safe(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        char c = *s;

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || strchr("_-+=.,/:@%^", c) != NULL)) {
            return 0;
        }
    }
    return 1;
}

char *argv_quote(char *const *argv)
{
    struct build b = {0};
    int rc = 0;

    for (size_t i = 0; argv[i] != NULL && rc == 0; i++) {
        const char *s = argv[i];

        if (i > 0) {
            rc = put(&b, " ", 1);
        }
        if (rc < 0) {
            break;
        }
        if (shell_safe(s)) {
            rc = put(&b, s, strlen(s));
            continue;
        }
        /* Single quotes keep everything but a quote, written '\''. */
        rc = put(&b, "'", 1);
        for (; *s != '\0' && rc == 0; s++) {
            rc = *s == '\'' ? put(&b, "'\\''", 4) : put(&b, s, 1);
        }
        if (rc == 0) {
            rc = put(&b, "'", 1);
        }
    }
    if (rc == 0) {
        rc = put(&b, "", 1);
    }
    if (rc < 0) {
        free(b.data);
        return NULL;
    }
    return b.data;
}
