/* SPDX-License-Identifier: MIT */
/* guard.c: kill a dead minion's task process groups (see guard.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2, close_range */
#endif
#include "guard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* One message on the pipe: small enough to be written atomically. */
struct guard_msg {
    int32_t op; /* GUARD_WATCH, GUARD_FORGET or GUARD_QUIT */
    int32_t pgid;
};

enum {
    GUARD_WATCH = 'w',  /* a new group to kill if the minion dies */
    GUARD_FORGET = 'f', /* that group's leader was reaped */
    GUARD_QUIT = 'q',   /* the minion ends cleanly: kill nothing */
};

struct guard {
    pid_t pid;
    int fd; /* write end of the pipe; -1 once closed */
};

/* ------------------------------------------------------------------------ */
/* The guard process: system calls only, on memory made before the fork.    */

static void guard_close_others(int keep)
{
    int null = open("/dev/null", O_RDWR);

    /* Keep stderr for the kernel's sake only; give back the minion's
     * stdin and stdout, so a reader of its output sees the end on time. */
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        if (null > STDERR_FILENO) {
            close(null);
        }
    }
    if (keep != 3) {
        dup2(keep, 3);
        close(keep);
    }
    if (close_range(4, ~0U, 0) < 0) {
        for (int fd = 4; fd < 4096; fd++) {
            close(fd);
        }
    }
}

static void guard_run(int fd, pid_t *groups, size_t capacity)
{
    static const int ignored[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT, SIGUSR1,
                                  SIGUSR2, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU};
    struct sigaction sa;
    sigset_t none;
    size_t n = 0;
    char carry[sizeof(struct guard_msg)];
    size_t have = 0;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
        sigaction(ignored[i], &sa, NULL);
    }
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    guard_close_others(fd);
    fd = 3;

    for (;;) {
        char buf[512];
        ssize_t got = read(fd, buf, sizeof(buf));

        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            break; /* the minion is gone */
        }
        for (ssize_t i = 0; i < got; i++) {
            struct guard_msg m;

            carry[have++] = buf[i];
            if (have < sizeof(m)) {
                continue;
            }
            have = 0;
            memcpy(&m, carry, sizeof(m));
            if (m.op == GUARD_QUIT) {
                _exit(0);
            }
            if (m.op == GUARD_WATCH && n < capacity && m.pgid > 1) {
                groups[n++] = m.pgid;
            } else if (m.op == GUARD_FORGET) {
                for (size_t j = 0; j < n; j++) {
                    if (groups[j] == m.pgid) {
                        groups[j] = groups[--n];
                        break;
                    }
                }
            }
        }
    }
    for (size_t j = 0; j < n; j++) {
        kill(-groups[j], SIGKILL);
    }
    _exit(0);
}

/* ------------------------------------------------------------------------ */
/* The minion's side                                                         */

struct guard *guard_new(size_t capacity)
{
    struct guard *g = calloc(1, sizeof(*g));
    pid_t *groups = calloc(capacity ? capacity : 1, sizeof(*groups));
    int fds[2];
    int saved;

    if (g == NULL || groups == NULL) {
        goto fail_errno;
    }
    if (pipe2(fds, O_CLOEXEC) < 0) {
        goto fail_errno;
    }
    g->pid = fork();
    if (g->pid == 0) {
        close(fds[1]);
        guard_run(fds[0], groups, capacity);
    }
    saved = errno;
    close(fds[0]);
    free(groups); /* the child has its own copy */
    if (g->pid < 0) {
        close(fds[1]);
        free(g);
        errno = saved;
        return NULL;
    }
    /* Never block the loop on a guard that stopped reading. */
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    g->fd = fds[1];
    return g;
fail_errno:
    saved = errno;
    free(groups);
    free(g);
    errno = saved;
    return NULL;
}

static int guard_send(struct guard *g, int op, pid_t pgid)
{
    struct guard_msg m = {op, (int32_t)pgid};
    ssize_t n;

    if (g == NULL || g->fd < 0) {
        return -EPIPE;
    }
    do {
        n = write(g->fd, &m, sizeof(m));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -errno;
    }
    return n == (ssize_t)sizeof(m) ? 0 : -EIO;
}

int guard_watch(struct guard *g, pid_t pgid)
{
    return guard_send(g, GUARD_WATCH, pgid);
}

void guard_forget(struct guard *g, pid_t pgid)
{
    guard_send(g, GUARD_FORGET, pgid);
}

void guard_free(struct guard *g)
{
    if (g == NULL) {
        return;
    }
    if (g->fd >= 0) {
        /* A full pipe cannot take the goodbye: wait for room, briefly. */
        int flags = fcntl(g->fd, F_GETFL);
        if (flags >= 0) {
            fcntl(g->fd, F_SETFL, flags & ~O_NONBLOCK);
        }
        guard_send(g, GUARD_QUIT, 0);
        close(g->fd);
    }
    while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    free(g);
}
