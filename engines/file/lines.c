/* SPDX-License-Identifier: MIT */
/* engines/file/lines.c: see lines.h. This is the engine's hot path: one
 * memchr per line, no allocation, no division. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lines.h"

int lines_shard_parse(const char *text, struct lines_shard *shard)
{
    unsigned long long i, n;
    char *end;

    shard->index = 0;
    shard->count = 1;
    if (!text || !*text) {
        return 0;
    }
    /* strtoull accepts a sign and leading blanks: insist on digits. */
    if (*text < '0' || *text > '9') {
        return -EINVAL;
    }
    errno = 0;
    i = strtoull(text, &end, 10);
    if (errno || *end != '/' || end[1] < '0' || end[1] > '9') {
        return -EINVAL;
    }
    n = strtoull(end + 1, &end, 10);
    if (errno || *end || i < 1 || n < 1 || i > n) {
        return -EINVAL;
    }
    shard->index = i - 1;
    shard->count = n;
    return 0;
}

int lines_init(struct lines *l, size_t cap)
{
    memset(l, 0, sizeof(*l));
    l->buf = malloc(cap);
    if (!l->buf) {
        return -ENOMEM;
    }
    l->cap = cap;
    l->next = 1;
    return 0;
}

void lines_fini(struct lines *l)
{
    free(l->buf);
    l->buf = NULL;
    l->cap = l->pos = l->end = 0;
}

void lines_reset(struct lines *l, const struct lines_shard *shard,
                 uint64_t offset, uint64_t line, int skip_nl)
{
    l->pos = l->end = 0;
    l->offset = offset;
    l->next = line;
    l->phase = (line - 1) % shard->count;
    l->skip_nl = skip_nl;
}

int lines_seek(struct lines *l, const struct lines_shard *shard,
               uint64_t offset, uint64_t line, int skip_nl)
{
    /* Bytes before pos may already be dropped: only seek forward. */
    if (offset >= l->offset && offset <= lines_end_offset(l)) {
        l->pos += (size_t)(offset - l->offset);
        l->offset = offset;
        l->next = line;
        l->phase = (line - 1) % shard->count;
        l->skip_nl = skip_nl;
        return 1;
    }
    lines_reset(l, shard, offset, line, skip_nl);
    return 0;
}

char *lines_space(struct lines *l, size_t *room)
{
    /* Slide the unconsumed tail down once half the window is used up, so
     * each byte moves at most about once. */
    if (l->pos > 0 && l->cap - l->end < l->cap / 2) {
        memmove(l->buf, l->buf + l->pos, l->end - l->pos);
        l->end -= l->pos;
        l->pos = 0;
    }
    if (l->end == l->cap) {
        /* One line longer than the window: grow until it fits. */
        size_t cap = l->cap ? l->cap * 2 : 65536;
        char *buf = realloc(l->buf, cap);
        if (!buf) {
            return NULL;
        }
        l->buf = buf;
        l->cap = cap;
    }
    *room = l->cap - l->end;
    return l->buf + l->end;
}

int lines_next(struct lines *l, const struct lines_shard *shard, int at_eof,
               struct lines_param *out)
{
    for (;;) {
        char *p = l->buf + l->pos;
        size_t avail = l->end - l->pos;
        const char *nl;
        size_t len, adv;
        uint64_t line;
        int mine;

        if (avail == 0) {
            return 0;
        }
        if (l->skip_nl) {
            l->skip_nl = 0;
            if (*p == '\n') {
                l->pos++;
                l->offset++;
                continue;
            }
        }
        nl = memchr(p, '\n', avail);
        if (nl) {
            len = (size_t)(nl - p);
            adv = len + 1;
        } else if (at_eof) {
            len = adv = avail;
            l->skip_nl = 1;
        } else {
            return 0;
        }
        line = l->next++;
        mine = l->phase == shard->index;
        if (++l->phase == shard->count) {
            l->phase = 0;
        }
        out->offset = l->offset;
        l->pos += adv;
        l->offset += adv;
        if (len > 0 && p[len - 1] == '\r') {
            len--;
        }
        if (!mine || len == 0) {
            continue;
        }
        out->data = p;
        out->len = len;
        out->line = line;
        return 1;
    }
}

uint64_t lines_count(const struct lines *l, const struct lines_shard *shard,
                     int at_eof)
{
    /* lines_next() moves only the window's indexes, never its bytes: a
     * copy walks the same lines by the same rules and leaves @l as it is. */
    struct lines walk = *l;
    struct lines_param p;
    uint64_t n = 0;

    while (lines_next(&walk, shard, at_eof, &p)) {
        n++;
    }
    return n;
}

int lines_tail(const struct lines *l, const struct lines_shard *shard,
               struct lines_param *out)
{
    const char *p = l->buf + l->pos;
    size_t len = l->end - l->pos;

    /* lines_next() has consumed every whole line and the "\n" skip_nl
     * waited for: what is left has no newline, or was not asked for. */
    if (len == 0 || l->skip_nl || l->phase != shard->index ||
        memchr(p, '\n', len)) {
        return 0;
    }
    out->data = p;
    out->offset = l->offset;
    out->line = l->next;
    if (p[len - 1] == '\r') {
        len--;
    }
    out->len = len;
    return len > 0;
}

size_t lines_u64(char *dst, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) {
        dst[i] = tmp[n - 1 - i];
    }
    dst[n] = '\0';
    return n;
}
