/* SPDX-License-Identifier: MIT */
/*
 * callbacks/process/process.c: run `PROGRAM ARGS...` once per param, with no
 * shell.
 *
 * Each task is one child made with vfork and execve, like posix_spawn: its own
 * process group, signals back to their defaults, stdin from /dev/null,
 * stdout into a pipe read on the loop, stderr inherited. Children are reaped
 * through one SIGCHLD event and waitpid(pid, WNOHANG) on each child we own:
 * other code in the process may have children of its own, so never
 * waitpid(-1).
 *
 * A task's processes never outlive the minion: the child asks for SIGKILL
 * when the minion dies (PR_SET_PDEATHSIG, set between vfork and exec, which
 * posix_spawn cannot do), and the guard (guard.h) kills the whole
 * group, grandchildren too, when the minion is gone.
 *
 * A param too large for the environment (Linux takes at most 128 KiB per
 * string) reaches the child as a file instead: MINION_PARAM_FILE names it
 * (/dev/fd/3, an unlinked temporary file that disappears with the task).
 *
 * MINION_MEMORY_LIMIT (RLIMIT_AS) and MINION_CPU_LIMIT (RLIMIT_CPU) bound
 * each task's process: they are set in the child, between vfork and exec,
 * so the minion itself is never limited and the program is limited from
 * its first instruction. posix_spawn has no rlimit attribute, and a
 * prlimit(2) on the child after the spawn would race with the program's
 * first allocations (and a fast program's whole run); with the vfork we
 * already have, the limits cost two system calls in the child and nothing
 * in the minion. A task that dies or fails while a limit is set gets an
 * error naming the limit.
 *
 * Failures to start a task that are the minion's, not the param's (no
 * descriptor, memory or process left), end the task with MINION_DEFER: the
 * core holds it and tries again later, and no attempt is counted.
 *
 * Outcomes: exit 0 is MINION_OK; exit N is MINION_RETRY with exit code N;
 * death by a signal is MINION_RETRY with exit code 128 + the signal number,
 * as shells (and docker) report it; a cancelled task (timeout, shutdown) is
 * MINION_RETRY whatever its exit; a param that cannot make an argument list
 * is MINION_REJECT. When the first params all fail to fill a placeholder
 * the same way, the arguments are wrong, not the params: the minion stops
 * with exit 2 and those params stay in the queue.
 *
 * Without PROGRAM the callback runs `echo`, like xargs.
 */
/* pipe2, asprintf, strndup: GNU and POSIX 2008 extensions. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <minionize/plugin.h>

#include "argv.h"
#include "dlist.h"
#include "guard.h"
#include "timeval.h"

extern char **environ;

/* Pipe bytes read per wake-up, and at most read once the child is gone (a
 * pipe buffers up to 1 MiB; anything past that comes from a grandchild that
 * still writes, and must not keep the loop). */
#define READ_CHUNK 65536
#define DRAIN_MAX (1024 * 1024 + READ_CHUNK)

/* Linux's limit on one argument or environment string, NUL included. */
#define ARG_STRING_MAX (128 * 1024)
/* Where a large param's file is in the child, and its variable. */
#define PARAM_FD 3
#define PARAM_FILE_VAR "MINION_PARAM_FILE=/dev/fd/3"

/* Descriptors the minion needs besides one per task: its own, a reporter's
 * files, the engine's connections, the two pipes of a spawn in progress. */
#define FD_RESERVE 16

/* Params that fail to fill a placeholder before any param has: this many
 * are held back (holding no slot, so that -j1 sees the next params too)
 * before the minion decides the arguments are wrong; fewer are let go as
 * the params' fault after HELD_WAIT_S without a verdict. */
#define HELD_MAX 3
#define HELD_WAIT_S 1

struct process_conf {
    double kill_after;   /* seconds from SIGTERM to SIGKILL on cancel */
    size_t memory_limit; /* RLIMIT_AS of each task, bytes; 0: none */
    double cpu_limit;    /* RLIMIT_CPU of each task, seconds; 0: none */
};

static const struct minion_option process_options[] = {
    {"MINION_KILL_AFTER", MINION_OPT_DURATION, "5s",
     offsetof(struct process_conf, kill_after), 0,
     "Seconds a cancelled task's process group gets between SIGTERM and "
     "SIGKILL.",
     NULL},
    {"MINION_MEMORY_LIMIT", MINION_OPT_SIZE, NULL,
     offsetof(struct process_conf, memory_limit), 0,
     "Address space of each task's process (RLIMIT_AS), e.g. 512M or 4G; a "
     "task over it fails. Unset or 0: no limit. The minion is not limited.",
     NULL},
    {"MINION_CPU_LIMIT", MINION_OPT_DURATION, NULL,
     offsetof(struct process_conf, cpu_limit), 0,
     "CPU time of each process of a task (RLIMIT_CPU), whole seconds, e.g. "
     "30s or 5m: SIGXCPU when it is reached, SIGKILL a second later. Unset "
     "or 0: no limit.",
     NULL},
    {NULL},
};

struct child {
    struct process *p;
    minion_task *task;
    pid_t pid; /* also the process group id */
    int fd;    /* read end of the stdout pipe; -1 once closed */
    struct event *ev_read;
    struct event *ev_kill; /* SIGKILL timer, armed by cancel */
    int cancelled;
    int status; /* from wait4; -1 when lost */
    struct rusage usage;
    double start;
    struct child *prev, *next;
};

struct process {
    struct minion_instance *inst;
    struct process_conf *conf;
    const struct minion_context *ctx;
    struct argv_template *tpl;
    char *path;          /* PROGRAM as found at start */
    const char *program; /* PROGRAM as given */
    int json;            /* the json decoder is on */
    int devnull;         /* the children's stdin */
    /* The children's environment: ours minus the four MINION_ names below,
     * then MINION_ID, then three slots rewritten per task, then NULL. */
    char **env;
    size_t n_env;    /* inherited entries, MINION_ID included */
    char *task_vars; /* the strings of the three per-task slots */
    size_t task_vars_cap;
    struct event *ev_chld;
    struct child *children; /* running, not yet reaped */
    struct guard *guard;
    int guard_lost;         /* warned once that groups are unguarded */
    struct rlimit fd_limit; /* the soft limit we were given, for children */
    int fd_limit_raised;
    /* The task limits, applied in each child before its exec. */
    struct rlimit as_limit, cpu_limit;
    int has_as_limit, has_cpu_limit;
    char memory_limit_text[32]; /* MINION_MEMORY_LIMIT as "64M", for errors */
    sigset_t all_signals;

    /* Arguments that no param has filled yet: see HELD_MAX. */
    int built_once;
    minion_task *held[HELD_MAX];
    unsigned n_held, held_limit;
    char held_error[512];
    struct event *ev_held;
};

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static const char *signal_name(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {
        {SIGHUP, "SIGHUP"},       {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"},
        {SIGILL, "SIGILL"},       {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},
        {SIGBUS, "SIGBUS"},       {SIGFPE, "SIGFPE"},   {SIGKILL, "SIGKILL"},
        {SIGUSR1, "SIGUSR1"},     {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
        {SIGPIPE, "SIGPIPE"},     {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
        {SIGCHLD, "SIGCHLD"},     {SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"},
        {SIGTSTP, "SIGTSTP"},     {SIGTTIN, "SIGTTIN"}, {SIGTTOU, "SIGTTOU"},
        {SIGURG, "SIGURG"},       {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
        {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGSYS, "SIGSYS"},
#ifdef SIGWINCH
        {SIGWINCH, "SIGWINCH"},
#endif
#ifdef SIGIO
        {SIGIO, "SIGIO"},
#endif
#ifdef SIGPWR
        {SIGPWR, "SIGPWR"},
#endif
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].sig == sig) {
            return names[i].name;
        }
    }
    return NULL;
}

static int is_program(const char *path, int *not_exec)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        return 0;
    }
    if (S_ISDIR(st.st_mode) || access(path, X_OK) < 0) {
        *not_exec = 1;
        return 0;
    }
    return 1;
}

/* Find @name as execvp would. Returns: new path (caller frees), or NULL with
 * *not_exec set when something by that name exists but cannot be run. */
static char *find_program(const char *name, int *not_exec)
{
    const char *dirs = getenv("PATH");
    char *def = NULL, *found = NULL;

    *not_exec = 0;
    if (*name == '\0') {
        return NULL;
    }
    if (strchr(name, '/') != NULL) {
        return is_program(name, not_exec) ? strdup(name) : NULL;
    }
    if (dirs == NULL) {
        size_t n = confstr(_CS_PATH, NULL, 0);

        def = n > 0 ? malloc(n) : NULL;
        if (def == NULL) {
            return NULL;
        }
        confstr(_CS_PATH, def, n);
        dirs = def;
    }
    while (found == NULL) {
        const char *end = strchr(dirs, ':');
        size_t dlen = end ? (size_t)(end - dirs) : strlen(dirs);
        char *path;

        /* An empty entry is the working directory, as for execvp. */
        if (asprintf(&path, "%.*s%s%s", (int)dlen, dirs, dlen ? "/" : "",
                     name) < 0) {
            break;
        }
        if (is_program(path, not_exec)) {
            found = path;
        } else {
            free(path);
        }
        if (end == NULL) {
            break;
        }
        dirs = end + 1;
    }
    free(def);
    if (found != NULL) {
        *not_exec = 0;
    }
    return found;
}

static int env_reserved(const char *entry)
{
    static const char *const names[] = {
        "MINION_PARAM=", "MINION_PARAM_FILE=", "MINION_TASK_ID=",
        "MINION_ATTEMPT=", "MINION_ID="};

    if (strncmp(entry, "MINION_", 7) != 0) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strncmp(entry, names[i], strlen(names[i])) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Copy our environment once; per task only the three task slots change. */
static int env_build(struct process *p)
{
    size_t n = 0;

    for (char **e = environ; e != NULL && *e != NULL; e++) {
        n++;
    }
    p->env = calloc(n + 5, sizeof(char *));
    if (p->env == NULL) {
        return -ENOMEM;
    }
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (env_reserved(*e)) {
            continue;
        }
        if ((p->env[p->n_env] = strdup(*e)) == NULL) {
            return -ENOMEM;
        }
        p->n_env++;
    }
    if (asprintf(&p->env[p->n_env], "MINION_ID=%s",
                 p->ctx->minion_id ? p->ctx->minion_id : "") < 0) {
        p->env[p->n_env] = NULL;
        return -ENOMEM;
    }
    p->n_env++;
    return 0;
}

static void env_free(struct process *p)
{
    if (p->env != NULL) {
        for (size_t i = 0; i < p->n_env; i++) {
            free(p->env[i]);
        }
    }
    free(p->env);
    p->env = NULL;
    free(p->task_vars);
    p->task_vars = NULL;
}

/* Does the param fit in one environment string? Else it goes in a file. */
static int param_fits_env(size_t len)
{
    return sizeof("MINION_PARAM=") + len <= ARG_STRING_MAX;
}

/* Point the three task slots at this task's values. The strings are reused
 * by the next task: the spawn returns once the child has exec'd. */
static int env_set_task(struct process *p, minion_task *task)
{
    size_t len, need;
    const char *param = minion_task_param(task, &len);
    const char *id = minion_task_id(task);
    int in_file = !param_fits_env(len);
    char attempt[16];
    char *s;

    if (id == NULL) {
        id = "";
    }
    if (in_file) {
        len = 0; /* the slot holds PARAM_FILE_VAR instead */
    }
    snprintf(attempt, sizeof(attempt), "%u", minion_task_attempt(task));
    need = sizeof(PARAM_FILE_VAR) + len + sizeof("MINION_TASK_ID=") +
           strlen(id) + sizeof("MINION_ATTEMPT=") + strlen(attempt);
    if (need > p->task_vars_cap) {
        s = realloc(p->task_vars, need);
        if (s == NULL) {
            return -ENOMEM;
        }
        p->task_vars = s;
        p->task_vars_cap = need;
    }
    s = p->task_vars;
    p->env[p->n_env] = s;
    if (in_file) {
        memcpy(s, PARAM_FILE_VAR, sizeof(PARAM_FILE_VAR));
        s += sizeof(PARAM_FILE_VAR);
    } else {
        memcpy(s, "MINION_PARAM=", 13);
        memcpy(s + 13, param, len);
        s[13 + len] = '\0';
        s += 14 + len;
    }
    p->env[p->n_env + 1] = s;
    s += sprintf(s, "MINION_TASK_ID=%s", id) + 1;
    p->env[p->n_env + 2] = s;
    sprintf(s, "MINION_ATTEMPT=%s", attempt);
    p->env[p->n_env + 3] = NULL;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Children                                                                  */

static void child_unlink(struct child *c)
{
    struct process *p = c->p;

    DLIST_UNLINK(p->children, c);
}

static void child_close(struct child *c)
{
    if (c->ev_read != NULL) {
        event_free(c->ev_read);
        c->ev_read = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

static void child_free(struct child *c)
{
    child_close(c);
    if (c->ev_kill != NULL) {
        event_free(c->ev_kill);
    }
    free(c);
}

/* What child_read found. */
enum pipe_state {
    PIPE_CLOSED = 0, /* end of file or error: the pipe is closed now */
    PIPE_EMPTY = 1,  /* nothing to read now */
    PIPE_DATA = 2,   /* bytes were passed on; there may be more */
};

/* Pass one read's worth of the pipe to the task's output. */
static enum pipe_state child_read(struct child *c)
{
    char buf[READ_CHUNK];
    ssize_t n;

    do {
        n = read(c->fd, buf, sizeof(buf));
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        if (minion_output_write(minion_task_output(c->task), buf, (size_t)n) <
            0) {
            minion_log(c->p->inst, MINION_LOG_WARN,
                       "task %s: output lost: out of memory",
                       minion_task_id(c->task));
        }
        return PIPE_DATA;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return PIPE_EMPTY;
    }
    if (n < 0) {
        minion_log(c->p->inst, MINION_LOG_WARN, "task %s: read output: %s",
                   minion_task_id(c->task), strerror(errno));
    }
    child_close(c);
    return PIPE_CLOSED;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    child_read(arg);
}

/* CPU seconds of the child and its waited-for children, from wait4. */
static double child_cpu_seconds(const struct child *c)
{
    return (double)c->usage.ru_utime.tv_sec +
           (double)c->usage.ru_utime.tv_usec / 1e6 +
           (double)c->usage.ru_stime.tv_sec +
           (double)c->usage.ru_stime.tv_usec / 1e6;
}

/* Did the child die of MINION_CPU_LIMIT? The kernel sends SIGXCPU at the
 * soft limit and SIGKILL at the hard one, a second later (for a program
 * that ignores SIGXCPU): a SIGKILL is the limit's only when the child used
 * about that much CPU time and we did not kill it ourselves. "About": the
 * kernel checks the limit against the scheduler's clock, and wait4's
 * figures come out lower (by up to a sixth on a busy virtual machine). */
static int cpu_limit_reached(const struct child *c, int sig)
{
    const struct process *p = c->p;

    if (!p->has_cpu_limit) {
        return 0;
    }
    if (sig == SIGXCPU) {
        return 1;
    }
    return sig == SIGKILL && !c->cancelled &&
           child_cpu_seconds(c) >= 0.75 * (double)p->cpu_limit.rlim_cur;
}

/* The error of a task whose program failed (@status is not a clean exit):
 * its exit status or signal, and the limit it met or may have met. A
 * program over RLIMIT_AS sees its allocations fail and decides how to die
 * (an error exit, abort, a segfault): so the memory limit is a "may". */
static void failure_message(const struct child *c, int status, char *msg,
                            size_t len)
{
    const struct process *p = c->p;
    unsigned long long cpu = (unsigned long long)p->cpu_limit.rlim_cur;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    const char *name = signal_name(sig);
    char sig_text[32];
    int n;

    if (name != NULL) {
        snprintf(sig_text, sizeof(sig_text), "%s", name);
    } else {
        snprintf(sig_text, sizeof(sig_text), "%d", sig);
    }
    if (sig != 0 && cpu_limit_reached(c, sig)) {
        snprintf(msg, len,
                 "killed by %s: CPU limit of %llus (MINION_CPU_LIMIT) "
                 "reached",
                 sig_text, cpu);
        return;
    }
    n = sig != 0 ? snprintf(msg, len, "killed by signal %s", sig_text)
                 : snprintf(msg, len, "exit status %d", code);
    if (n < 0 || (size_t)n >= len || c->cancelled) {
        return;
    }
    msg += n;
    len -= (size_t)n;
    if (p->has_cpu_limit && code == 128 + SIGXCPU) {
        snprintf(msg, len,
                 " (128 + SIGXCPU: a process of the task reached the CPU "
                 "limit of %llus, MINION_CPU_LIMIT)",
                 cpu);
    } else if (p->has_as_limit && (code > 0 || sig == SIGSEGV ||
                                   sig == SIGABRT || sig == SIGBUS)) {
        snprintf(msg, len,
                 " (MINION_MEMORY_LIMIT is %s: the task may have run out of "
                 "address space)",
                 p->memory_limit_text);
    }
}

/* The child is reaped: take the rest of its output and end the task. */
static void child_complete(struct child *c)
{
    minion_task *task = c->task;
    enum minion_outcome outcome = MINION_OK;
    int status = c->status;
    size_t reads = 0;

    /* What the child wrote is in the pipe now; do not wait for an end of
     * file that a grandchild holding the pipe could delay forever. */
    while (c->fd >= 0 && reads++ < DRAIN_MAX / READ_CHUNK &&
           child_read(c) == PIPE_DATA) {
    }
    child_close(c);
    minion_task_add_action(task, "process", c->start, minion_now());
    if (status != -1) {
        struct minion_usage u = MINION_USAGE_INIT;

        u.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        u.maxrss_kb = c->usage.ru_maxrss; /* KiB on Linux */
        u.user_s = (double)c->usage.ru_utime.tv_sec +
                   (double)c->usage.ru_utime.tv_usec / 1e6;
        u.sys_s = (double)c->usage.ru_stime.tv_sec +
                  (double)c->usage.ru_stime.tv_usec / 1e6;
        minion_task_set_usage(task, &u);
    }

    if (status == -1) {
        minion_task_set_error(task, "child %d lost: reaped elsewhere",
                              (int)c->pid);
        outcome = MINION_RETRY;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        minion_task_set_exit_code(task, 0);
    } else if (WIFEXITED(status) || WIFSIGNALED(status)) {
        char msg[256];

        failure_message(c, status, msg, sizeof(msg));
        minion_task_set_exit_code(task, WIFEXITED(status)
                                            ? WEXITSTATUS(status)
                                            : 128 + WTERMSIG(status));
        minion_task_set_error(task, "%s", msg);
        outcome = MINION_RETRY;
    }
    /* A cancelled program that still exits 0 did not finish its work. */
    if (c->cancelled && outcome == MINION_OK) {
        minion_task_set_error(task, "cancelled");
        outcome = MINION_RETRY;
    }
    minion_task_set_data(task, NULL);
    child_free(c);
    minion_task_done(task, outcome);
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    struct process *p = arg;
    struct child *reaped = NULL, *c, *next;

    /* Unlink every exited child first: ending a task may start another one
     * (process() adds to p->children) before this is over. */
    for (c = p->children; c != NULL; c = next) {
        siginfo_t info;
        pid_t r;
        int rc;

        next = c->next;
        memset(&info, 0, sizeof(info));
        do {
            rc =
                waitid(P_PID, (id_t)c->pid, &info, WEXITED | WNOHANG | WNOWAIT);
        } while (rc < 0 && errno == EINTR);
        if (rc == 0 && info.si_pid == 0) {
            continue; /* still running */
        }
        /* A cancelled task whose program died of the SIGTERM may have left
         * processes in its group that ignore it: kill them now, while the
         * unreaped leader keeps the group id from being reused. */
        if (rc == 0 && c->cancelled) {
            kill(-c->pid, SIGKILL);
        }
        do {
            r = wait4(c->pid, &c->status, WNOHANG, &c->usage);
        } while (r < 0 && errno == EINTR);
        if (r == 0) {
            continue;
        }
        if (r < 0) {
            c->status = -1; /* ECHILD: someone else reaped it */
        }
        guard_forget(p->guard, c->pid);
        child_unlink(c);
        c->next = reaped;
        reaped = c;
    }
    /* p->children is newest first, so @reaped is oldest first: settle them
     * in the order they were started. */
    while (reaped != NULL) {
        c = reaped;
        reaped = c->next;
        c->next = NULL;
        child_complete(c);
    }
}

static void on_kill(evutil_socket_t fd, short what, void *arg)
{
    struct child *c = arg;

    /* Still not reaped after SIGTERM: the group cannot ignore this one. The
     * child itself too, in case it left its group. */
    kill(-c->pid, SIGKILL);
    kill(c->pid, SIGKILL);
}

/* ------------------------------------------------------------------------ */
/* Hooks                                                                     */

static void fail_task(minion_task *task, enum minion_outcome outcome,
                      const char *fmt, ...) MINION_PRINTF(3, 4);

static void fail_task(minion_task *task, enum minion_outcome outcome,
                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    minion_task_set_error(task, "%s", msg);
    minion_task_done(task, outcome);
}

/* Is @err the minion's trouble (no descriptor, memory or process left)
 * rather than the param's? Then the task waits and is not charged. */
static int is_resource_error(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOMEM || err == EAGAIN ||
           err == ENOSPC || err == ENOBUFS || err == EDQUOT;
}

/* The outcome of a task that could not start because of @err. */
static enum minion_outcome start_failure(int err)
{
    if (is_resource_error(err)) {
        return MINION_DEFER;
    }
    return err == E2BIG ? MINION_REJECT : MINION_RETRY;
}

/* Where large params' files go: $TMPDIR, else /tmp. */
static const char *tmp_dir(void)
{
    const char *dir = getenv("TMPDIR");

    return dir != NULL && *dir != '\0' ? dir : "/tmp";
}

/* A param too large for the environment, as an unlinked temporary file.
 * Returns: the descriptor (read from the start), or -errno. */
static int param_file(const char *param, size_t len)
{
    const char *dir = tmp_dir();
    char path[4096];
    int fd;

    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EMFILE && errno != ENFILE && errno != ENOSPC) {
        /* A file system without O_TMPFILE: make one and unlink it now. */
        snprintf(path, sizeof(path), "%s/minionize-param-XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0) {
            unlink(path);
        }
    }
    if (fd < 0) {
        return -errno;
    }
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, param + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int err = errno;
            close(fd);
            return -err;
        }
        done += (size_t)n;
    }
    if (lseek(fd, 0, SEEK_SET) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

/* In the child, between vfork and exec: system calls only, and no write to
 * memory but *@exec_err (the child shares the minion's memory until its
 * exec). Never returns. */
static void exec_child(const struct process *p, char **argv, int out_fd,
                       int param_fd, pid_t parent, volatile int *exec_err)
{
    static const int defaults[] = {SIGCHLD, SIGPIPE, SIGTERM, SIGINT, SIGHUP,
                                   SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM};
    struct sigaction sa;
    sigset_t none;

    /* The loop's handlers would write into its wake-up socket, which the
     * child shares: back to the defaults before any signal is let in. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        sigaction(defaults[i], &sa, NULL);
    }
    /* Own group: a timeout kills the program and everything it started. */
    setpgid(0, 0);
    /* Die with the minion, even by SIGKILL; the guard kills the rest of
     * the group. If the minion died before this, nobody would ask. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(127);
    }
    /* Every descriptor here is 3 or more: the minion made sure 0 to 2 are
     * open. */
    if (dup2(p->devnull, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0) {
        goto fail;
    }
    if (param_fd == PARAM_FD) {
        fcntl(PARAM_FD, F_SETFD, 0); /* keep it across exec */
    } else if (param_fd >= 0 && dup2(param_fd, PARAM_FD) < 0) {
        goto fail;
    }
    /* The program gets the descriptor limit the minion was given, not the
     * one it raised for itself (select() and close-all loops mind). */
    if (p->fd_limit_raised) {
        setrlimit(RLIMIT_NOFILE, &p->fd_limit);
    }
    /* The task's limits, last: from here the child may not map memory (it
     * still runs on the minion's), and exec maps the program under them.
     * They were checked against our hard limits at start. */
    if (p->has_cpu_limit && setrlimit(RLIMIT_CPU, &p->cpu_limit) < 0) {
        goto fail;
    }
    if (p->has_as_limit && setrlimit(RLIMIT_AS, &p->as_limit) < 0) {
        goto fail;
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(p->path, argv, p->env);
fail:
    *exec_err = errno ? errno : EIO;
    _exit(127);
}

/* Start the program for one task. vfork, like posix_spawn: no copy of the
 * minion's page tables, no copy-on-write faults after, and the minion
 * waits only for the child's exec. Returns: the child's pid, or -errno (of
 * vfork, or of the child's setup or execve: then *@in_child is 1). */
static pid_t spawn(struct process *p, char **argv, int out_fd, int param_fd,
                   int *in_child)
{
    volatile int exec_err = 0;
    sigset_t old;
    pid_t parent = getpid(), pid;
    int err;

    pthread_sigmask(SIG_BLOCK, &p->all_signals, &old);
    pid = vfork();
    if (pid == 0) {
        exec_child(p, argv, out_fd, param_fd, parent, &exec_err);
    }
    err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        return -err;
    }
    if (exec_err != 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        *in_child = 1;
        return -exec_err;
    }
    /* Also here, so the group exists before anyone may signal it. */
    setpgid(pid, pid);
    return pid;
}

/* The longest string in @argv is over exec's limit for one string. */
static int too_long_arg(char *const *argv, size_t *len)
{
    for (; *argv != NULL; argv++) {
        *len = strlen(*argv);
        if (*len + 1 > ARG_STRING_MAX) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Arguments that no param has filled yet                                    */

/* End the held tasks as their params' fault (REJECT): a param did fill
 * the arguments since, or none came to say otherwise. */
static void held_reject_all(struct process *p)
{
    while (p->n_held > 0) {
        minion_task *task = p->held[--p->n_held];
        minion_task_done(task, MINION_REJECT);
    }
    if (p->ev_held != NULL) {
        evtimer_del(p->ev_held);
    }
}

static void on_held_wait(evutil_socket_t fd, short what, void *arg)
{
    held_reject_all(arg);
}

static int held_remove(struct process *p, minion_task *task)
{
    for (unsigned i = 0; i < p->n_held; i++) {
        if (p->held[i] == task) {
            p->held[i] = p->held[--p->n_held];
            return 1;
        }
    }
    return 0;
}

/* @task could not fill a placeholder, and no param has yet. Hold it until
 * the next params say whose fault it is. */
static void held_add(struct process *p, minion_task *task, const char *err)
{
    struct timeval wait = {HELD_WAIT_S, 0};

    if (p->n_held > 0 && strcmp(err, p->held_error) != 0) {
        held_reject_all(p); /* failing in different ways: the params */
    }
    if (p->n_held == 0) {
        snprintf(p->held_error, sizeof(p->held_error), "%s", err);
    }
    minion_task_set_error(task, "%s", err);
    p->held[p->n_held++] = task;
    minion_task_set_waiting(task, 1);
    if (p->n_held >= p->held_limit) {
        /* The stop releases every task in flight, the held ones through
         * process_cancel(): none is dead-lettered. */
        minion_instance_fail_config(
            p->inst,
            "the first %u param%s all fail to fill the arguments of %s: %s; "
            "stopping with nothing dead-lettered",
            p->n_held, p->n_held == 1 ? "" : "s", p->program, p->held_error);
        return;
    }
    if (p->ev_held != NULL && !evtimer_pending(p->ev_held, NULL)) {
        evtimer_add(p->ev_held, &wait);
    }
}

/* ------------------------------------------------------------------------ */
/* Running a task                                                            */

static void process_run(struct minion_instance *inst, minion_task *task)
{
    struct process *p = minion_instance_data(inst);
    struct child *c = NULL;
    char err[512];
    char **argv = NULL;
    size_t len, arglen;
    const char *param = minion_task_param(task, &len);
    int fds[2] = {-1, -1};
    int param_fd = -1;
    int in_child = 0;
    pid_t pid;
    int rc;

    rc = argv_build(p->tpl, p->json, param, len, &argv, err, sizeof(err));
    if (rc == -ENOENT && !p->built_once) {
        held_add(p, task, err);
        return;
    }
    if (rc < 0) {
        fail_task(task, rc == -ENOMEM ? MINION_DEFER : MINION_REJECT, "%s",
                  err);
        return;
    }
    if (!p->built_once) {
        p->built_once = 1;
        held_reject_all(p);
    }
    if (too_long_arg(argv, &arglen)) {
        free(argv);
        fail_task(task, MINION_REJECT,
                  "an argument of %zu bytes is over exec's limit of %d per "
                  "argument; a task can read a large param from "
                  "$MINION_PARAM or $MINION_PARAM_FILE instead of {}",
                  arglen, ARG_STRING_MAX - 1);
        return;
    }
    if (env_set_task(p, task) < 0) {
        free(argv);
        fail_task(task, MINION_DEFER, "out of memory");
        return;
    }
    if (!param_fits_env(len) && (param_fd = param_file(param, len)) < 0) {
        /* Whatever is wrong with $TMPDIR is the minion's, not the
         * param's. */
        rc = -param_fd;
        free(argv);
        fail_task(task, MINION_DEFER, "param file in %s: %s", tmp_dir(),
                  strerror(rc));
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        rc = ENOMEM;
        goto fail;
    }
    if (pipe2(fds, O_CLOEXEC) < 0) {
        rc = errno;
        goto fail;
    }
    /* Only our end is non-blocking: the child's stdout keeps blocking
     * writes, as programs expect. */
    if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
        rc = errno;
        goto fail;
    }
    pid = spawn(p, argv, fds[1], param_fd, &in_child);
    if (pid < 0) {
        rc = (int)-pid;
        goto fail;
    }
    close(fds[1]);
    if (param_fd >= 0) {
        close(param_fd);
    }
    free(argv);
    if (guard_watch(p->guard, pid) < 0 && !p->guard_lost) {
        p->guard_lost = 1;
        minion_log(inst, MINION_LOG_WARN,
                   "the guard is gone: a task's grandchildren may outlive "
                   "a killed minion");
    }

    c->p = p;
    c->task = task;
    c->pid = pid;
    c->fd = fds[0];
    c->start = minion_now();
    c->ev_read = event_new(minion_instance_base(inst), c->fd,
                           EV_READ | EV_PERSIST, on_read, c);
    if (c->ev_read == NULL || event_add(c->ev_read, NULL) < 0) {
        /* Without the event the output is lost, not the task: the child is
         * still reaped through SIGCHLD. */
        minion_log(inst, MINION_LOG_WARN, "task %s: cannot watch output",
                   minion_task_id(task));
        child_close(c);
    }
    DLIST_PUSH(p->children, c);
    minion_task_set_data(task, c);
    return;
fail:
    if (fds[0] >= 0) {
        close(fds[0]);
        close(fds[1]);
    }
    if (param_fd >= 0) {
        close(param_fd);
    }
    free(c);
    free(argv);
    if (rc == E2BIG) {
        fail_task(task, MINION_REJECT,
                  "spawn %s: the arguments and environment are over exec's "
                  "limit of %ld bytes",
                  p->path, sysconf(_SC_ARG_MAX));
        return;
    }
    /* An exec that finds no room under the task's own limit is not the
     * minion's shortage: waiting would not help. */
    if (rc == ENOMEM && in_child && p->has_as_limit) {
        fail_task(task, MINION_RETRY,
                  "spawn %s: %s (MINION_MEMORY_LIMIT is %s: too small to "
                  "start it)",
                  p->path, strerror(rc), p->memory_limit_text);
        return;
    }
    fail_task(task, start_failure(rc), "spawn %s: %s", p->path, strerror(rc));
}

static void process_cancel(struct minion_instance *inst, minion_task *task)
{
    struct process *p = minion_instance_data(inst);
    struct child *c = minion_task_data(task);
    struct timeval tv;

    if (held_remove(p, task)) {
        minion_task_done(task, MINION_RETRY); /* never started */
        return;
    }
    if (c == NULL) {
        return;
    }
    /* Asked again (a second signal, a forced stop): no more waiting. */
    if (c->cancelled) {
        on_kill(-1, 0, c);
        return;
    }
    c->cancelled = 1;
    kill(-c->pid, SIGTERM);
    if (p->conf->kill_after <= 0) {
        on_kill(-1, 0, c);
        return;
    }
    c->ev_kill = evtimer_new(minion_instance_base(inst), on_kill, c);
    if (c->ev_kill == NULL) {
        on_kill(-1, 0, c);
        return;
    }
    tv = timeval_of_seconds(p->conf->kill_after);
    if (evtimer_add(c->ev_kill, &tv) < 0) {
        on_kill(-1, 0, c);
    }
}

static int process_describe(struct minion_instance *inst, minion_task *task,
                            minion_output *out)
{
    struct process *p = minion_instance_data(inst);
    char err[512];
    size_t len;
    const char *param = minion_task_param(task, &len);
    char **argv = NULL;
    char *line;
    int rc;

    if (argv_build(p->tpl, p->json, param, len, &argv, err, sizeof(err)) < 0) {
        minion_task_set_error(task, "%s", err);
        return MINION_REJECT;
    }
    line = argv_quote(argv);
    free(argv);
    if (line == NULL) {
        minion_task_set_error(task, "out of memory");
        return MINION_REJECT;
    }
    rc = minion_output_printf(out, "%s\n", line);
    free(line);
    if (rc < 0) {
        minion_task_set_error(task, "out of memory");
        return MINION_REJECT;
    }
    return 0;
}

/* Kill and reap whatever still runs. Its task is not touched: the core has
 * settled (or given up on and freed) every task before stop() and
 * destroy(). */
static void kill_all(struct process *p)
{
    while (p->children != NULL) {
        struct child *c = p->children;

        child_unlink(c);
        kill(-c->pid, SIGKILL);
        kill(c->pid, SIGKILL);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        guard_forget(p->guard, c->pid);
        child_free(c);
    }
}

/* Is @seconds a whole number that RLIMIT_CPU can hold (0: no limit)? */
static int whole_seconds(double seconds)
{
    return seconds >= 0 && seconds < 1e15 &&
           seconds == (double)(unsigned long long)seconds;
}

static int process_init(struct minion_instance *inst, void *conf)
{
    struct process *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    p->inst = inst;
    p->conf = conf;
    p->devnull = -1;
    if (p->conf->kill_after < 0) {
        free(p);
        minion_set_error(inst, "MINION_KILL_AFTER must not be negative");
        return -EINVAL;
    }
    if (!whole_seconds(p->conf->cpu_limit)) {
        minion_set_error(inst,
                         "MINION_CPU_LIMIT must be a whole number of seconds "
                         "(RLIMIT_CPU counts seconds), not %gs",
                         p->conf->cpu_limit);
        free(p);
        return -EINVAL;
    }
    minion_instance_set_data(inst, p);
    return 0;
}

/* Descriptors open now, the base of what -j adds to. */
static size_t open_descriptors(void)
{
    DIR *d = opendir("/proc/self/fd");
    size_t n = 0;

    if (d == NULL) {
        return FD_RESERVE;
    }
    while (readdir(d) != NULL) {
        n++;
    }
    closedir(d);
    return n > 3 ? n - 3 : 0; /* ".", ".." and the listing's own */
}

/* Each task in flight holds one descriptor (its output pipe): allow as
 * many as the hard limit lets, so that -j is bounded by the machine, not
 * by a shell's default soft limit of 1024; and refuse a -j that cannot fit
 * under it, rather than failing tasks later. */
static int check_fd_limit(struct process *p)
{
    struct rlimit rl;
    size_t need = open_descriptors() + p->ctx->concurrency + FD_RESERVE;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return 0;
    }
    p->fd_limit = rl;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        p->fd_limit_raised = setrlimit(RLIMIT_NOFILE, &rl) == 0;
        if (!p->fd_limit_raised) {
            rl.rlim_cur = p->fd_limit.rlim_cur;
        }
    }
    if (rl.rlim_cur == RLIM_INFINITY || need <= rl.rlim_cur) {
        return 0;
    }
    minion_set_error(p->inst,
                     "-j %u needs about %zu file descriptors, over the limit "
                     "of %llu (ulimit -n); lower -j or raise the hard limit",
                     p->ctx->concurrency, need,
                     (unsigned long long)rl.rlim_cur);
    return -EMFILE;
}

/* @bytes as the user would write it: "64M", "4G", else in bytes. */
static void format_size(size_t bytes, char *buf, size_t len)
{
    static const char units[] = "KMGT";
    size_t value = bytes;
    int unit = -1;

    while (value >= 1024 && value % 1024 == 0 && unit < 3) {
        value /= 1024;
        unit++;
    }
    if (unit < 0) {
        snprintf(buf, len, "%zu bytes", bytes);
    } else {
        snprintf(buf, len, "%zu%c", value, units[unit]);
    }
}

/* Can a child lower limit @resource to @want? Not above the hard limit
 * the minion was given (only root may raise it). */
static int check_hard_limit(struct process *p, int resource, rlim_t want,
                            const char *option)
{
    struct rlimit rl;
    char hard[32];

    if (getrlimit(resource, &rl) < 0 || rl.rlim_max == RLIM_INFINITY ||
        want <= rl.rlim_max) {
        return 0;
    }
    if (resource == RLIMIT_AS) {
        format_size((size_t)rl.rlim_max, hard, sizeof(hard));
    } else {
        snprintf(hard, sizeof(hard), "%llus", (unsigned long long)rl.rlim_max);
    }
    minion_set_error(p->inst,
                     "%s is over the minion's own hard limit of %s (ulimit "
                     "-H%c): a task cannot be given more; lower it",
                     option, hard, resource == RLIMIT_AS ? 'v' : 't');
    return -EINVAL;
}

/* The limits each child sets before its exec (see the top of the file).
 * The address-space limit is hard too, so the program cannot lift it; the
 * CPU limit's hard one is a second later, for a program that ignores
 * SIGXCPU. */
static int prepare_task_limits(struct process *p)
{
    struct rlimit hard;

    if (p->conf->memory_limit > 0) {
        p->as_limit.rlim_cur = (rlim_t)p->conf->memory_limit;
        p->as_limit.rlim_max = (rlim_t)p->conf->memory_limit;
        p->has_as_limit = 1;
        format_size(p->conf->memory_limit, p->memory_limit_text,
                    sizeof(p->memory_limit_text));
        if (check_hard_limit(p, RLIMIT_AS, p->as_limit.rlim_cur,
                             "MINION_MEMORY_LIMIT") < 0) {
            return -EINVAL;
        }
    }
    if (p->conf->cpu_limit > 0) {
        p->cpu_limit.rlim_cur = (rlim_t)p->conf->cpu_limit;
        p->cpu_limit.rlim_max = p->cpu_limit.rlim_cur + 1;
        p->has_cpu_limit = 1;
        if (check_hard_limit(p, RLIMIT_CPU, p->cpu_limit.rlim_cur,
                             "MINION_CPU_LIMIT") < 0) {
            return -EINVAL;
        }
        /* Right at our hard limit: no second of grace, SIGKILL with it. */
        if (getrlimit(RLIMIT_CPU, &hard) == 0 &&
            hard.rlim_max != RLIM_INFINITY &&
            hard.rlim_max < p->cpu_limit.rlim_max) {
            p->cpu_limit.rlim_max = hard.rlim_max;
        }
    }
    return 0;
}

static int process_start(struct minion_instance *inst, struct event_base *base)
{
    static char *const echo[] = {"echo", NULL};
    struct process *p = minion_instance_data(inst);
    char *const *argv;
    int argc, not_exec, rc;

    p->ctx = minion_instance_context(inst);
    p->json = p->ctx->decoder == MINION_DECODER_JSON;
    argc = p->ctx->argc;
    argv = p->ctx->argv;
    if (argc < 1 || argv == NULL || argv[0] == NULL) {
        argc = 1;
        argv = echo;
    }
    p->program = argv[0];
    p->path = find_program(argv[0], &not_exec);
    if (p->path == NULL) {
        minion_set_error(inst, "program %s: %s",
                         not_exec ? "not executable" : "not found", argv[0]);
        return -ENOENT;
    }
    p->tpl = argv_template_new(argc, argv);
    if (p->tpl == NULL || env_build(p) < 0) {
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    p->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (p->devnull < 0) {
        minion_set_error(inst, "open /dev/null: %s", strerror(errno));
        return -EIO;
    }
    if ((rc = check_fd_limit(p)) < 0 || (rc = prepare_task_limits(p)) < 0) {
        return rc;
    }
    sigfillset(&p->all_signals);
    p->held_limit = HELD_MAX;
    p->ev_held = evtimer_new(base, on_held_wait, p);
    if (p->ev_held == NULL) {
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    /* Before the engine starts: the guard forks while nothing else runs. */
    p->guard = guard_new(p->ctx->concurrency + 64);
    if (p->guard == NULL) {
        minion_set_error(inst, "cannot start the guard process: %s",
                         strerror(errno));
        return -EIO;
    }
    p->ev_chld = evsignal_new(base, SIGCHLD, on_sigchld, p);
    if (p->ev_chld == NULL || evsignal_add(p->ev_chld, NULL) < 0) {
        minion_set_error(inst, "cannot watch SIGCHLD");
        return -EIO;
    }
    return 0;
}

static int process_stop(struct minion_instance *inst)
{
    kill_all(minion_instance_data(inst));
    return 0;
}

static void process_destroy(struct minion_instance *inst)
{
    struct process *p = minion_instance_data(inst);

    if (p == NULL) {
        return;
    }
    kill_all(p);
    guard_free(p->guard);
    if (p->ev_chld != NULL) {
        event_free(p->ev_chld);
    }
    if (p->ev_held != NULL) {
        event_free(p->ev_held);
    }
    if (p->devnull >= 0) {
        close(p->devnull);
    }
    env_free(p);
    argv_template_free(p->tpl);
    free(p->path);
    free(p);
    minion_instance_set_data(inst, NULL);
}

static const struct minion_callback_ops process_ops = {
    MINION_OPS_HEADER(struct minion_callback_ops),
    .process = process_run,
    .cancel = process_cancel,
    .describe = process_describe,
};

const struct minion_plugin minion_plugin_process = {
    MINION_PLUGIN_HEADER(MINION_KIND_CALLBACK),
    .name = "process",
    .summary = "Run PROGRAM ARGS... once per param, with no shell",
    .conf_size = sizeof(struct process_conf),
    .options = process_options,
    .init = process_init,
    .start = process_start,
    .stop = process_stop,
    .destroy = process_destroy,
    .callback = &process_ops,
};
