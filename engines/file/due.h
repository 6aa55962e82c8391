/* SPDX-License-Identifier: MIT */
/*
 * engines/file/due.h: items waiting for a time (MINION_RETRY_DELAY), the
 * earliest first.
 *
 * A binary min-heap on (due time, arrival order): taking the earliest and
 * adding one are O(log n), so a sweep with many params waiting out their
 * retry delay costs no more than a few. Items that share a due time come
 * out in the order they went in. The unit of time is the caller's.
 */
#ifndef ENGINES_FILE_DUE_H
#define ENGINES_FILE_DUE_H

#include <stddef.h>
#include <stdint.h>

struct due_item {
    double due;
    uint64_t seq; /* arrival order, for ties */
    void *ptr;
};

struct due_heap {
    struct due_item *v;
    size_t n, cap;
    uint64_t seq;
};

/* Room for @n items in all, so that due_push cannot fail until then.
 * Returns 0 or -ENOMEM (the heap unchanged). */
int due_reserve(struct due_heap *h, size_t n);

/* Add @ptr, due at @due. Returns 0 or -ENOMEM (nothing added). */
int due_push(struct due_heap *h, double due, void *ptr);

/* The earliest item's pointer (its due time in *due), or NULL when empty. */
void *due_peek(const struct due_heap *h, double *due);

/* Remove and return the earliest item's pointer; NULL when empty. */
void *due_pop(struct due_heap *h);

/* Free the array (not the items). */
void due_fini(struct due_heap *h);

#endif
