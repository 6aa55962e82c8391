/* SPDX-License-Identifier: MIT */
/* Growing arrays by doubling: output buffers, command queues, id lists. */
#ifndef LIB_GROW_H
#define LIB_GROW_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Make the array *@arrayp (any pointer type, passed as its address) of
 * @size-byte elements hold at least @need, doubling from @first when it is
 * empty; *@cap is its room, in elements. Returns 0 or -ENOMEM (then the
 * array is as it was). */
static inline int grow(void *arrayp, size_t *cap, size_t need, size_t size,
                       size_t first)
{
    size_t n = *cap ? *cap : first;
    void *old, *p;

    if (need <= *cap) {
        return 0;
    }
    while (n < need) {
        if (n > (size_t)-1 / 2 / size) {
            return -ENOMEM;
        }
        n *= 2;
    }
    /* Through memcpy: *@arrayp is not a void *, and may not be read as
     * one. */
    memcpy(&old, arrayp, sizeof(old));
    p = realloc(old, n * size);
    if (!p) {
        return -ENOMEM;
    }
    memcpy(arrayp, &p, sizeof(p));
    *cap = n;
    return 0;
}

#endif
