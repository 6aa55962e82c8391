/* SPDX-License-Identifier: MIT */
/* engines/file/due.c: a min-heap of items by due time (see due.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "due.h"

static int earlier(const struct due_item *a, const struct due_item *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void swap(struct due_item *a, struct due_item *b)
{
    struct due_item t = *a;

    *a = *b;
    *b = t;
}

int due_reserve(struct due_heap *h, size_t n)
{
    size_t cap = h->cap ? h->cap : 16;
    struct due_item *v;

    while (cap < n) {
        cap *= 2;
    }
    if (cap == h->cap) {
        return 0;
    }
    v = realloc(h->v, cap * sizeof(*v));
    if (!v) {
        return -ENOMEM;
    }
    h->v = v;
    h->cap = cap;
    return 0;
}

int due_push(struct due_heap *h, double due, void *ptr)
{
    size_t i;

    if (h->n == h->cap && due_reserve(h, h->n + 1) < 0) {
        return -ENOMEM;
    }
    i = h->n++;
    h->v[i] = (struct due_item){due, h->seq++, ptr};
    /* Sift up. */
    while (i > 0 && earlier(&h->v[i], &h->v[(i - 1) / 2])) {
        swap(&h->v[i], &h->v[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    return 0;
}

void *due_peek(const struct due_heap *h, double *due)
{
    if (h->n == 0) {
        return NULL;
    }
    if (due) {
        *due = h->v[0].due;
    }
    return h->v[0].ptr;
}

void *due_pop(struct due_heap *h)
{
    void *ptr;
    size_t i = 0;

    if (h->n == 0) {
        return NULL;
    }
    ptr = h->v[0].ptr;
    h->v[0] = h->v[--h->n];
    /* Sift down. */
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && earlier(&h->v[l], &h->v[m])) {
            m = l;
        }
        if (r < h->n && earlier(&h->v[r], &h->v[m])) {
            m = r;
        }
        if (m == i) {
            break;
        }
        swap(&h->v[i], &h->v[m]);
        i = m;
    }
    return ptr;
}

void due_fini(struct due_heap *h)
{
    free(h->v);
    memset(h, 0, sizeof(*h));
}
