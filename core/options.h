/* SPDX-License-Identifier: MIT */
/* Option tables: parse values into a plugin's conf struct, print help. */
#ifndef CORE_OPTIONS_H
#define CORE_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include <minionize/plugin.h>

struct settings;

/* Parse @text as @opt's type and store it at @opt->offset in @conf,
 * freeing a previous string/list value. Returns 0, or -EINVAL with the
 * reason in @err ("not a number: 'x'"). */
int options_set(const struct minion_option *opt, void *conf, const char *text,
                char *err, size_t errlen);

/* Fill @conf (zeroed by the caller) from @opts: each option's value from
 * @cfg, else its default. Returns 0, or -EINVAL with "NAME (from flag):
 * why" in settings_error(@cfg); @conf then holds what was parsed so far
 * (free it with options_free). */
int options_fill(const struct minion_option *opts, void *conf,
                 struct settings *cfg);

/* Free the strings and lists options_fill stored in @conf. */
void options_free(const struct minion_option *opts, void *conf);

/* Print @opts as a table (or markdown). SECRET defaults are hidden. */
void options_print(FILE *out, const struct minion_option *opts, int markdown);

/* Parsers shared with the command line. Return 0 or -EINVAL. */
int options_parse_int(const char *text, long long *out);
int options_parse_bool(const char *text, int *out);
int options_parse_duration(const char *text, double *out);
int options_parse_size(const char *text, size_t *out);

#endif
