/* SPDX-License-Identifier: MIT */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl.h"

/* Nesting deeper than this is no report (atomic_actions is two levels). */
#define MAX_DEPTH 64

enum kind { STR, NUM };

static const struct field {
    const char *name;
    size_t len;
    enum kind kind;
    size_t offset;
} fields[] = {
#define F(name, kind)                                                          \
    {                                                                          \
#name, sizeof(#name) - 1, kind, offsetof(struct jsonl_record, name)    \
    }
    F(uid, STR),
    F(end, NUM),
    F(start, NUM),
    F(status, STR),
    F(minion, STR),
    F(error, STR),
    F(generation, NUM),
    F(nodename, STR),
    F(oar_job_id, STR),
    F(slurm_job_id, STR),
    F(slurm_array_task_id, STR),
#undef F
};

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
    }
    return p;
}

/* @p is at the opening quote. Returns: the byte after the closing one, or
 * NULL when the line ends first. */
static const char *scan_string(const char *p, const char *end,
                               struct jsonl_str *s)
{
    const char *from = ++p, *q, *b;
    int escaped = 0;

    /* memchr for the quote, then for a backslash before it: params and
     * outputs are long, and most have no escape at all. */
    q = memchr(p, '"', (size_t)(end - p));
    for (;;) {
        if (q == NULL) {
            return NULL;
        }
        b = memchr(p, '\\', (size_t)(q - p));
        if (b == NULL) {
            break;
        }
        escaped = 1;
        if (end - b < 2) {
            return NULL;
        }
        p = b + 2;
        if (p > q) { /* that quote was escaped: find the next one */
            q = memchr(p, '"', (size_t)(end - p));
        }
    }
    s->p = from;
    s->len = (size_t)(q - from);
    s->escaped = escaped;
    return q + 1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Returns: the end of the number at @p, or NULL when it is none. */
static const char *number_end(const char *p, const char *end)
{
    if (p < end && *p == '-') {
        p++;
    }
    if (p >= end || !is_digit(*p)) {
        return NULL;
    }
    if (*p == '0') {
        p++; /* no leading zeros: "012" fails on what follows */
    } else {
        while (p < end && is_digit(*p)) {
            p++;
        }
    }
    if (p < end && *p == '.') {
        if (++p >= end || !is_digit(*p)) {
            return NULL;
        }
        while (p < end && is_digit(*p)) {
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        if (++p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p >= end || !is_digit(*p)) {
            return NULL;
        }
        while (p < end && is_digit(*p)) {
            p++;
        }
    }
    return p;
}

/* @p is at the number. Returns: the byte after it, or NULL when it is
 * none. */
static const char *scan_number(const char *p, const char *end, double *v)
{
    /* Exact powers of ten: a mantissa below 2^53 divided by one of these
     * is rounded once, so it is the very double strtod() would give. */
    static const double pow10[] = {
        1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const uint64_t limit = ((uint64_t)1 << 53) / 10;
    const char *to = number_end(p, end), *q = p;
    uint64_t m = 0;
    int exact = 1, dot = 0, frac = 0;
    char buf[64];

    if (to == NULL) {
        return NULL;
    }
    q += *q == '-';
    for (; q < to && exact; q++) {
        if (*q == '.') {
            dot = 1;
        } else if (*q == 'e' || *q == 'E' || m >= limit) {
            exact = 0;
        } else {
            m = m * 10 + (uint64_t)(*q - '0');
            frac += dot;
        }
    }
    if (exact && frac < (int)(sizeof(pow10) / sizeof(pow10[0]))) {
        *v = (double)m / pow10[frac];
        *v = *p == '-' ? -*v : *v;
    } else if ((size_t)(to - p) < sizeof(buf)) {
        memcpy(buf, p, (size_t)(to - p));
        buf[to - p] = '\0';
        *v = strtod(buf, NULL);
    } else {
        *v = NAN; /* a number, but no time or counter of ours */
    }
    return to;
}

static const char *skip_value(const char *p, const char *end, int depth);

/* @p is at '{' or '['. */
static const char *skip_container(const char *p, const char *end, int depth)
{
    char close = *p == '{' ? '}' : ']';
    struct jsonl_str key;

    if (depth > MAX_DEPTH) {
        return NULL;
    }
    p = skip_ws(p + 1, end);
    if (p < end && *p == close) {
        return p + 1;
    }
    for (;;) {
        if (close == '}') {
            if (p >= end || *p != '"' ||
                (p = scan_string(p, end, &key)) == NULL) {
                return NULL;
            }
            p = skip_ws(p, end);
            if (p >= end || *p != ':') {
                return NULL;
            }
            p = skip_ws(p + 1, end);
        }
        p = skip_value(p, end, depth + 1);
        if (p == NULL) {
            return NULL;
        }
        p = skip_ws(p, end);
        if (p >= end) {
            return NULL;
        }
        if (*p == close) {
            return p + 1;
        }
        if (*p != ',') {
            return NULL;
        }
        p = skip_ws(p + 1, end);
    }
}

static const char *skip_literal(const char *p, const char *end,
                                const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(end - p) < n || memcmp(p, word, n) != 0) {
        return NULL;
    }
    return p + n;
}

static const char *skip_value(const char *p, const char *end, int depth)
{
    struct jsonl_str s;

    if (p >= end) {
        return NULL;
    }
    switch (*p) {
    case '"': return scan_string(p, end, &s);
    case '{':
    case '[': return skip_container(p, end, depth);
    case 't': return skip_literal(p, end, "true");
    case 'f': return skip_literal(p, end, "false");
    case 'n': return skip_literal(p, end, "null");
    default: return number_end(p, end);
    }
}

static const struct field *find_field(const struct jsonl_str *key)
{
    size_t i;

    if (key->escaped) {
        return NULL; /* none of ours is spelled with an escape */
    }
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (fields[i].len == key->len && fields[i].name[0] == key->p[0] &&
            memcmp(fields[i].name, key->p, key->len) == 0) {
            return &fields[i];
        }
    }
    return NULL;
}

/* A field of ours: a string of the wrong type, or null, counts as absent
 * rather than making the whole report malformed. */
static const char *scan_field(const struct field *fd, const char *p,
                              const char *end, struct jsonl_record *r)
{
    char *at = (char *)r + fd->offset;

    if (fd->kind == STR && *p == '"') {
        return scan_string(p, end, (struct jsonl_str *)(void *)at);
    }
    if (fd->kind == NUM && (*p == '-' || is_digit(*p))) {
        return scan_number(p, end, (double *)(void *)at);
    }
    if (fd->kind == STR) {
        ((struct jsonl_str *)(void *)at)->p = NULL;
    } else {
        *(double *)(void *)at = NAN;
    }
    return skip_value(p, end, 1);
}

int jsonl_scan(const char *line, size_t len, struct jsonl_record *r)
{
    const char *p = line, *end = line + len;
    const struct field *fd;
    struct jsonl_str key;

    memset(r, 0, sizeof(*r));
    r->generation = r->start = r->end = NAN;
    p = skip_ws(p, end);
    if (p >= end || *p != '{') {
        return -1;
    }
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
        goto done;
    }
    for (;;) {
        if (p >= end || *p != '"' || (p = scan_string(p, end, &key)) == NULL) {
            return -1;
        }
        p = skip_ws(p, end);
        if (p >= end || *p != ':') {
            return -1;
        }
        p = skip_ws(p + 1, end);
        if (p >= end) {
            return -1;
        }
        fd = find_field(&key);
        p = fd != NULL ? scan_field(fd, p, end, r) : skip_value(p, end, 1);
        if (p == NULL) {
            return -1;
        }
        p = skip_ws(p, end);
        if (p >= end) {
            return -1;
        }
        if (*p == '}') {
            p++;
            break;
        }
        if (*p != ',') {
            return -1;
        }
        p = skip_ws(p + 1, end);
    }
done:
    return skip_ws(p, end) == end ? 0 : -1;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
    unsigned v = 0;
    int i;

    if (end - p < 4) {
        return -1;
    }
    for (i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decode the escape at @p (just after the backslash) into @out. Returns
 * the bytes written; *@pp moves past the escape. A bad escape is kept as
 * it is: the text stays readable. */
static size_t decode_escape(const char **pp, const char *end, char *out)
{
    const char *p = *pp;
    unsigned cp, lo;

    *pp = p + 1;
    switch (*p) {
    case 'n': *out = '\n'; return 1;
    case 't': *out = '\t'; return 1;
    case 'r': *out = '\r'; return 1;
    case 'b': *out = '\b'; return 1;
    case 'f': *out = '\f'; return 1;
    case 'u': break;
    default: *out = *p; return 1; /* '"', '\\', '/' */
    }
    if (hex4(p + 1, end, &cp) < 0) {
        out[0] = '\\';
        out[1] = 'u';
        return 2;
    }
    *pp = p + 5;
    if (cp >= 0xd800 && cp < 0xdc00 && end - (p + 5) >= 6 && p[5] == '\\' &&
        p[6] == 'u' && hex4(p + 7, end, &lo) == 0 && lo >= 0xdc00 &&
        lo < 0xe000) {
        *pp = p + 11;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    } else if (cp >= 0xd800 && cp < 0xe000) {
        cp = 0xfffd; /* a lone surrogate */
    }
    return put_utf8(out, cp);
}

size_t jsonl_decode(const struct jsonl_str *s, char *out)
{
    const char *p = s->p, *end = s->p + s->len;
    size_t n = 0;

    if (!s->escaped) {
        memcpy(out, s->p, s->len);
        out[s->len] = '\0';
        return s->len;
    }
    while (p < end) {
        if (*p != '\\' || p + 1 >= end) {
            out[n++] = *p++;
            continue;
        }
        p++;
        n += decode_escape(&p, end, out + n);
    }
    out[n] = '\0';
    return n;
}

int jsonl_equals(const struct jsonl_str *s, const char *text)
{
    char small[64], *buf = small;
    size_t n = strlen(text);
    int eq;

    if (s->p == NULL) {
        return 0;
    }
    if (!s->escaped) {
        return s->len == n && memcmp(s->p, text, n) == 0;
    }
    if (s->len >= sizeof(small) && (buf = malloc(s->len + 1)) == NULL) {
        return 0;
    }
    eq = jsonl_decode(s, buf) == n && memcmp(buf, text, n) == 0;
    if (buf != small) {
        free(buf);
    }
    return eq;
}
