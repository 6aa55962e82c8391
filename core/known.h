/* SPDX-License-Identifier: MIT */
/* A set of setting names (the core's and the plugins' option tables), and
 * the closest one to a misspelt name. */
#ifndef CORE_KNOWN_H
#define CORE_KNOWN_H

#include <minionize/plugin.h>

struct known;

/* Returns: new empty set; free with known_free(). NULL on ENOMEM. */
struct known *known_new(void);
/* Accepts NULL. */
void known_free(struct known *k);

/* Borrows: name and @opts (copied). Return 0 or -ENOMEM. */
int known_add(struct known *k, const char *name);
int known_add_table(struct known *k, const struct minion_option *opts);

int known_has(const struct known *k, const char *name);

/* The known name closest to @name by edit distance, when it is close
 * enough to be a typo of it (at most a third of its letters, 1 to 3);
 * else NULL. Borrows: the result lives as long as the set. */
const char *known_closest(const struct known *k, const char *name);

#endif
