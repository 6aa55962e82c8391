/* SPDX-License-Identifier: MIT */
/* What minion-submit's engine parts share: the params read from arguments,
 * stdin or --sweep, and the producers that live in files of their own. */
#ifndef TOOLS_SUBMIT_H
#define TOOLS_SUBMIT_H

#include <stddef.h>

#define PROGRAM "minion-submit"

struct settings;

struct param {
    char *data; /* NUL-terminated, though a param may hold NULs */
    size_t len;
    size_t where; /* line or argument number, for messages */
};

struct params {
    struct param *v;
    size_t n, cap;
    int from_args; /* where says "argument N" rather than "line N" */
};

/* Publish @ps to PULSAR_TOPIC on PULSAR_URL through the REST producer, in
 * batches, in order. Returns the exit status: 0, 1 (failed once some were
 * published), 2 (nothing published: a bad setting, the broker refused or
 * could not be reached). Borrows: everything. */
int submit_pulsar(const struct params *ps, const struct settings *cfg,
                  int quiet);

#endif
