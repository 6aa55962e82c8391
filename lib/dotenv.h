/* SPDX-License-Identifier: MIT */
/* The .env file: KEY=VALUE lines, # comments, optional "export ", single
 * quotes (literal) and double quotes (with \n \t \" \\ escapes). */
#ifndef LIB_DOTENV_H
#define LIB_DOTENV_H

#include <stddef.h>

/* Called once per assignment. Borrows: key and value, valid during the
 * call. Return non-zero to stop parsing. */
typedef int (*dotenv_fn)(const char *key, const char *value, void *arg);

/* Parse @len bytes of @text. Returns 0, or -1 with "line N: why" in @err. */
int dotenv_parse(const char *text, size_t len, dotenv_fn fn, void *arg,
                 char *err, size_t errlen);

#endif
