/* SPDX-License-Identifier: MIT */
/*
 * guard.h: a small process that outlives its minion just long enough to
 * kill the process groups of the tasks the minion was running.
 *
 * A task runs in its own process group (so a timeout can stop it and all
 * it started), which also means it is not killed with its minion: after a
 * kill -9 it is reparented to init and runs on while another minion runs
 * the same param again. The direct child can ask the kernel for a signal
 * when its parent dies (PR_SET_PDEATHSIG), but that reaches only the child,
 * not what it started. The guard closes the gap: the minion tells it, over
 * a pipe, each group it starts and each it has reaped; when the pipe ends
 * without a goodbye (the minion died, whatever killed it), the guard sends
 * SIGKILL to every group it still knows, then exits.
 *
 * The guard is in a session of its own and ignores the stop signals, so a
 * Ctrl-C or a kill of the minion's process group does not take it first.
 * It holds no descriptor of the minion's but its pipe and stderr.
 */
#ifndef MINION_GUARD_H
#define MINION_GUARD_H

#include <stddef.h>
#include <sys/types.h>

struct guard;

/* Fork the guard, able to track @capacity groups at once. Call it while the
 * process has a single thread, or at least while no other thread holds a
 * lock the child could need (the child only makes system calls).
 * Returns: new guard; NULL with errno set. */
struct guard *guard_new(size_t capacity);

/* The guard kills group @pgid if the minion dies. Returns 0, or -errno
 * (the guard is gone or its pipe is full: the group is then unguarded). */
int guard_watch(struct guard *g, pid_t pgid);

/* Group @pgid's leader was reaped: the guard forgets it. */
void guard_forget(struct guard *g, pid_t pgid);

/* Tell the guard to exit without killing anything, and reap it.
 * Accepts NULL. */
void guard_free(struct guard *g);

#endif
