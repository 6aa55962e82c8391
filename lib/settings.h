/* SPDX-License-Identifier: MIT */
/* Settings by name, from three layers: command-line flags, then the
 * environment, then the .env file. Defaults live in the option tables. */
#ifndef LIB_SETTINGS_H
#define LIB_SETTINGS_H

#include <stddef.h>

struct settings;

/* Returns: new config; caller frees with settings_free(). NULL on ENOMEM. */
struct settings *settings_new(void);
void settings_free(struct settings *cfg);

/* Record a flag's value; a later flag for the same key wins. Borrows: key,
 * value (copied). Returns 0 or -ENOMEM. */
int settings_set_flag(struct settings *cfg, const char *key, const char *value);

/* Read a .env file. Its values never override the environment (settings_get
 * checks the environment first). Returns 0, -ENOENT when the file does not
 * exist, or another negative errno with one line in settings_error(). */
int settings_load_dotenv(struct settings *cfg, const char *path);

/* The one error line of @cfg: why the last call on it that failed did
 * (settings_load_dotenv, options_fill). Set by those calls. */
void settings_set_error(struct settings *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *settings_error(const struct settings *cfg);

/* The value for @key: flag > environment > .env; NULL when none sets it.
 * Returns a borrowed string valid until the config is freed (or, for the
 * environment, until it changes). */
const char *settings_get(const struct settings *cfg, const char *key);

/* Where settings_get found @key: "flag", "environment", ".env" or NULL. */
const char *settings_source(const struct settings *cfg, const char *key);

#endif
