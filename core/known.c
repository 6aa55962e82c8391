/* SPDX-License-Identifier: MIT */
/* Every setting name the minion and its plugins know, to catch typos. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "known.h"

struct known {
    char **names;
    size_t n, cap;
};

struct known *known_new(void)
{
    return calloc(1, sizeof(struct known));
}

void known_free(struct known *k)
{
    if (!k) {
        return;
    }
    for (size_t i = 0; i < k->n; i++) {
        free(k->names[i]);
    }
    free(k->names);
    free(k);
}

int known_add(struct known *k, const char *name)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 64;
        char **names = realloc(k->names, cap * sizeof(*names));

        if (!names) {
            return -ENOMEM;
        }
        k->names = names;
        k->cap = cap;
    }
    if (known_has(k, name)) {
        return 0;
    }
    if (!(k->names[k->n] = strdup(name))) {
        return -ENOMEM;
    }
    k->n++;
    return 0;
}

int known_add_table(struct known *k, const struct minion_option *opts)
{
    for (; opts && opts->name; opts++) {
        if (known_add(k, opts->name) < 0) {
            return -ENOMEM;
        }
    }
    return 0;
}

int known_has(const struct known *k, const char *name)
{
    for (size_t i = 0; i < k->n; i++) {
        if (strcmp(k->names[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Levenshtein distance, capped: names are short, one row is enough. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[128];

    if (lb >= sizeof(row) / sizeof(row[0])) {
        return (size_t)-1;
    }
    for (size_t j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *known_closest(const struct known *k, const char *name)
{
    size_t len = strlen(name);
    size_t limit = len / 3 > 3 ? 3 : (len / 3 < 1 ? 1 : len / 3);
    size_t best = (size_t)-1;
    const char *found = NULL;

    for (size_t i = 0; i < k->n; i++) {
        size_t d = distance(name, k->names[i]);

        if (d < best) {
            best = d;
            found = k->names[i];
        }
    }
    return best <= limit ? found : NULL;
}
