/* SPDX-License-Identifier: MIT */
/* What minion-status --watch's loop (watch.c) and its frames
 * (watch_frame.c) share. Private to the two. */
#ifndef TOOLS_WATCH_H
#define TOOLS_WATCH_H

#include <stddef.h>

#include "fleet.h"

/* The terminal's sequences we use: plain ANSI, which every terminal a
 * cluster's login node offers understands. */
#define ESC "\033"
#define ALT_SCREEN_ON ESC "[?1049h"
#define ALT_SCREEN_OFF ESC "[?1049l"
#define CURSOR_HIDE ESC "[?25l"
#define CURSOR_SHOW ESC "[?25h"
#define HOME ESC "[H"
#define CLEAR ESC "[2J"
#define ERASE_LINE ESC "[K"
#define ERASE_BELOW ESC "[J"
#define NORMAL ESC "[0m"
#define BOLD ESC "[1m"
#define REVERSE ESC "[7m"
#define RED ESC "[31m"

/* An output buffer: a whole frame is written at once so that the terminal
 * never shows half of one. Zeroed: empty. */
struct buf {
    char *p;
    size_t len, cap;
    int oom; /* an allocation failed: the frame is incomplete */
};

/* What a frame shows besides the fleet: the loop's own state. */
struct watch_view {
    const struct fleet *f;
    const char *error; /* why the last refresh failed; NULL: it did not */
    double failed_at;  /* wall clock, of the first failure in a row */
    double interval;   /* seconds between refreshes */
    /* Charts of the loop's own refreshes, for a source that has none */
    const struct fleet_series *rate, *in_flight;
    int rows, cols;
    int utf8;  /* the locale's: block characters, wide names */
    int clear; /* clear the whole screen first */
};

/* watch_frame.c: append to @out one frame of @v, sized to the terminal. */
void watch_draw(const struct watch_view *v, struct buf *out);

/* watch_frame.c: append to @out the plain line of one refresh of @f. */
void watch_plain_line(const struct fleet *f, struct buf *out);

/* watch.c: the wall clock, epoch seconds. */
double watch_wall_now(void);

#endif
