/* SPDX-License-Identifier: MIT */
/* MINION_PROGRESS (--progress): one line on stderr, redrawn at most four
 * times a second, like GNU parallel's --bar: done ok / failed / dead, in
 * flight, the rate, and percent and ETA when the engine knows the total.
 * Only when stderr is a terminal. The line is erased before anything else
 * is written to the terminal (a task's output line, a log line) and drawn
 * again at the next tick, so it never mixes with them. */
#ifndef CORE_PROGRESS_H
#define CORE_PROGRESS_H

struct event_base;
struct runner;
struct progress;

/* Start drawing, when stderr is a terminal. Borrows: base and r. Returns:
 * the line, or NULL (no terminal, or out of memory: then no line). */
struct progress *progress_new(struct event_base *base, struct runner *r);
/* Erase the line and free. Accepts NULL. */
void progress_free(struct progress *p);

/* Erase the line if it is drawn; it comes back at the next tick. Any
 * thread; cheap when there is no line. */
void progress_hide(void);

#endif
