/* SPDX-License-Identifier: MIT */
/* What minion-submit and minion-status share: messages and settings. */
#ifndef TOOLS_TOOLS_H
#define TOOLS_TOOLS_H

#include <stdarg.h>

struct settings;

/* Name printed before every message. Borrows: name, for the whole run. */
void tools_set_program(const char *name);

/* "PROGRAM: message" on stderr, one line. */
void tools_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "PROGRAM: warning: message" on stderr, one line. */
void tools_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error: one line naming --help. Returns 2, the exit status. */
int tools_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Load @env_file, or ./.env when NULL (then a missing file is fine), into
 * @cfg's lowest layer. Returns 0, or 2 after printing the reason. */
/* The whole of a tool's main(): settings, @run, and a check that stdout was
 * written. Returns the exit status. */
int tools_main(const char *name, int argc, char **argv,
               int (*run)(int argc, char **argv, struct settings *cfg));

/* After getopt returned '?' or ':' (@c), the usage error for the option it
 * stopped at, naming a short option alone even inside a group (-qz).
 * Returns 2. */
int tools_option_error(int c, char **argv);

int tools_load_env(struct settings *cfg, const char *env_file);

/* The value of @key (flag > environment > .env), or @def when none sets it
 * or it is empty. Returns: a borrowed string. */
const char *tools_get(const struct settings *cfg, const char *key,
                      const char *def);

#endif
