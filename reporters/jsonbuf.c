/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonbuf.h"

void jsonbuf_init(struct jsonbuf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->oom = 0;
}

void jsonbuf_fini(struct jsonbuf *b)
{
    if (b == NULL) {
        return;
    }
    free(b->data);
    jsonbuf_init(b);
}

void jsonbuf_reset(struct jsonbuf *b)
{
    b->len = 0;
    b->oom = 0;
}

/* Make room for @more bytes. Returns 0, or -1 (and sets oom). */
static int reserve(struct jsonbuf *b, size_t more)
{
    size_t cap;
    char *p;

    if (b->oom) {
        return -1;
    }
    if (more <= b->cap - b->len) {
        return 0;
    }
    cap = b->cap != 0 ? b->cap : 256;
    while (cap - b->len < more) {
        if (cap > ((size_t)-1) / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void jsonbuf_append(struct jsonbuf *b, const char *s, size_t len)
{
    if (len == 0 || reserve(b, len) < 0) {
        return;
    }
    memcpy(b->data + b->len, s, len);
    b->len += len;
}

void jsonbuf_puts(struct jsonbuf *b, const char *s)
{
    jsonbuf_append(b, s, strlen(s));
}

void jsonbuf_double(struct jsonbuf *b, double v)
{
    char tmp[64];
    int n;

    if (!isfinite(v)) {
        v = 0;
    }
    n = snprintf(tmp, sizeof(tmp), "%.6f", v);
    if (n > 0 && (size_t)n < sizeof(tmp)) {
        jsonbuf_append(b, tmp, (size_t)n);
    } else {
        jsonbuf_append(b, "0", 1);
    }
}

void jsonbuf_llong(struct jsonbuf *b, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%lld", v);

    jsonbuf_append(b, tmp, (size_t)n);
}

/* Length of the valid UTF-8 sequence at @s (at most @len bytes), or 0 when
 * the first byte does not start one. ASCII is handled by the caller. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned c = s[0];
    size_t n, i;
    unsigned long cp;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, or > U+10FFFF */
    }
    if (n > len) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, UTF-16 surrogates and code points past Unicode. */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
        return 0;
    }
    return n;
}

void jsonbuf_string(struct jsonbuf *b, const char *s, size_t len)
{
    jsonbuf_append(b, "\"", 1);
    jsonbuf_escape(b, s, len);
    jsonbuf_append(b, "\"", 1);
}

void jsonbuf_escape(struct jsonbuf *b, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run, n;
    char esc[6];

    while (i < len) {
        /* Copy the longest run that needs no escaping in one go. */
        run = i;
        while (run < len && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' &&
               s[run] != '\\') {
            run++;
        }
        jsonbuf_append(b, str + i, run - i);
        i = run;
        if (i >= len) {
            break;
        }
        if (s[i] >= 0x80) {
            n = utf8_seq(s + i, len - i);
            if (n > 0) {
                jsonbuf_append(b, str + i, n);
                i += n;
                continue;
            }
            /* Not UTF-8: keep the byte as U+EF80..U+EFFF. */
            memcpy(esc, "\\uef", 4);
        } else {
            switch (s[i]) {
            case '"':
                jsonbuf_append(b, "\\\"", 2);
                i++;
                continue;
            case '\\':
                jsonbuf_append(b, "\\\\", 2);
                i++;
                continue;
            case '\n':
                jsonbuf_append(b, "\\n", 2);
                i++;
                continue;
            case '\r':
                jsonbuf_append(b, "\\r", 2);
                i++;
                continue;
            case '\t':
                jsonbuf_append(b, "\\t", 2);
                i++;
                continue;
            case '\b':
                jsonbuf_append(b, "\\b", 2);
                i++;
                continue;
            case '\f':
                jsonbuf_append(b, "\\f", 2);
                i++;
                continue;
            default: memcpy(esc, "\\u00", 4); break;
            }
        }
        esc[4] = hex[s[i] >> 4];
        esc[5] = hex[s[i] & 0xf];
        jsonbuf_append(b, esc, 6);
        i++;
    }
}
