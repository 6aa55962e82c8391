/* SPDX-License-Identifier: MIT */
/* Wall-clock time for the core's own use (minion_now() for plugins). */
#ifndef CORE_CLOCK_H
#define CORE_CLOCK_H

#include <time.h>

/* Epoch seconds. Any thread. */
static inline double clock_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
