/* SPDX-License-Identifier: MIT */
/* A wait in seconds or milliseconds as the struct timeval libevent's
 * timers take. Header only: the core, plugins and tools each build it in. */
#ifndef LIB_TIMEVAL_H
#define LIB_TIMEVAL_H

#include <sys/time.h>

/* @seconds from now; a negative wait is none. */
static inline struct timeval timeval_of_seconds(double seconds)
{
    struct timeval tv;

    if (!(seconds > 0)) {
        seconds = 0;
    }
    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    return tv;
}

/* @ms milliseconds from now; a negative wait is none. */
static inline struct timeval timeval_of_ms(long long ms)
{
    struct timeval tv;

    if (ms < 0) {
        ms = 0;
    }
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    return tv;
}

#endif
