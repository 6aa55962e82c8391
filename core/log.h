/* SPDX-License-Identifier: MIT */
/* Logging to stderr, one write per line so lines from threads never mix. */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stdarg.h>

#include <minionize/plugin.h>

/* Name printed before every line ("minionize", "minion-submit"). Borrows:
 * name, must outlive all logging. */
void log_set_program(const char *name);
void log_set_level(int level);
int log_get_level(void);
/* Parse "error", "warn", "info", "debug"; -1 if unknown. */
int log_level_parse(const char *text);

/* Log @fmt at @level; @label (may be NULL) comes after the level. */
void log_vmsg(int level, const char *label, const char *fmt, va_list ap);
void log_msg(int level, const char *label, const char *fmt, ...)
    MINION_PRINTF(3, 4);

#define log_error(...) log_msg(MINION_LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(MINION_LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...) log_msg(MINION_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(MINION_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
