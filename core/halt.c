/* SPDX-License-Identifier: MIT */
#include "config.h"

#include "halt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int halt_parse(const char *text, struct halt_policy *out)
{
    char *end;

    memset(out, 0, sizeof(*out));
    if (!text || !*text) {
        return 0;
    }
    errno = 0;
    if (strchr(text, '%')) {
        double v = strtod(text, &end);
        if (errno || end == text || strcmp(end, "%") != 0 || !(v >= 0) ||
            v > 100) {
            return -1;
        }
        out->percent = v;
        return 0;
    }
    if (text[0] == '-' || text[0] == '+') {
        return -1;
    }
    unsigned long long n = strtoull(text, &end, 10);
    if (errno || end == text || *end) {
        return -1;
    }
    out->count = n;
    return 0;
}

int halt_reached(const struct halt_policy *p, unsigned long long dead,
                 unsigned long long finished)
{
    if (p->count > 0 && dead >= p->count) {
        return 1;
    }
    if (p->percent > 0 && finished >= HALT_MIN_FINISHED &&
        100.0 * (double)dead >= p->percent * (double)finished) {
        return 1;
    }
    return 0;
}

void halt_describe(const struct halt_policy *p, unsigned long long dead,
                   unsigned long long finished, char *buf, unsigned len)
{
    if (p->count > 0 && dead >= p->count) {
        snprintf(buf, len, "%llu params ended dead (MINION_HALT_DEAD=%llu)",
                 dead, p->count);
    } else {
        snprintf(buf, len,
                 "%llu of %llu finished params ended dead, %.1f%% "
                 "(MINION_HALT_DEAD=%g%%)",
                 dead, finished, 100.0 * (double)dead / (double)finished,
                 p->percent);
    }
}
