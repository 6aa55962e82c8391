/* SPDX-License-Identifier: MIT */
/* minion-submit --sweep: the cartesian product of a JSON object's values.
 * Pure: no I/O. */
#ifndef TOOLS_SWEEP_H
#define TOOLS_SWEEP_H

#include <stddef.h>

/* Larger sweeps are refused: they would only exhaust memory. */
#define SWEEP_MAX_COMBINATIONS 100000000UL

struct sweep_key;

struct sweep {
    struct sweep_key *keys; /* in the order of the spec */
    size_t nkeys;
    size_t count; /* number of combinations */
    size_t done;  /* combinations produced so far */
    size_t *idx;  /* odometer, one digit per key */
    char *buf;    /* the current combination */
    size_t len, cap;
    const char *empty_key; /* first key with [] (count is then 0) */
};

/* Parse @spec, a JSON object whose values are arrays (every element is one
 * value) or anything else (one value). Returns 0, or a negative errno value
 * with a one-line reason in @err; @sw then holds nothing to free. */
int sweep_init(struct sweep *sw, const char *spec, char *err, size_t errlen);

/* The next combination as one compact JSON object, keys in spec order, the
 * last key varying fastest. Returns: a string owned by @sw, valid until the
 * next call (length in *@len when not NULL), or NULL when all were produced
 * (or on no memory: then sw->done < sw->count). */
const char *sweep_next(struct sweep *sw, size_t *len);

/* Free @sw. Accepts a zeroed struct. */
void sweep_fini(struct sweep *sw);

#endif
