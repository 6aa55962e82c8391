/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "progress.h"

static const char *program = "minionize";
static int current_level = MINION_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_program(const char *name)
{
    program = name;
}

void log_set_level(int level)
{
    current_level = level;
}

int log_get_level(void)
{
    return current_level;
}

int log_level_parse(const char *text)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, level_names[i]) == 0) {
            return i;
        }
    }
    if (strcmp(text, "warning") == 0) {
        return MINION_LOG_WARN;
    }
    return -1;
}

void log_vmsg(int level, const char *label, const char *fmt, va_list ap)
{
    char line[2048];
    size_t n;
    int len;

    if (level > current_level) {
        return;
    }
    /* "info" is the normal case: leave it out so lines stay short. */
    if (level == MINION_LOG_INFO) {
        len = snprintf(line, sizeof(line), "%s: ", program);
    } else {
        len = snprintf(line, sizeof(line), "%s: %s: ", program,
                       level_names[level]);
    }
    n = (size_t)len;
    if (label && n < sizeof(line)) {
        len = snprintf(line + n, sizeof(line) - n, "%s: ", label);
        n += (size_t)len;
    }
    if (n < sizeof(line)) {
        len = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        n += len > 0 ? (size_t)len : 0;
    }
    if (n >= sizeof(line) - 1) {
        n = sizeof(line) - 2; /* truncated: keep the newline */
    }
    line[n++] = '\n';
    progress_hide(); /* the progress line comes back at its next tick */
    const char *p = line;
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

void log_msg(int level, const char *label, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, label, fmt, ap);
    va_end(ap);
}
