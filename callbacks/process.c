/* SPDX-License-Identifier: MIT */
/*
 * callbacks/process.c: run `PROGRAM ARGS...` once per param, with no shell.
 *
 * Each task is one child made with posix_spawn (vfork-like, so the cost per
 * task stays close to xargs): its own process group, signals back to their
 * defaults, stdin from /dev/null, stdout into a pipe read on the loop, stderr
 * inherited. Children are reaped through one SIGCHLD event and
 * waitpid(pid, WNOHANG) on each child we own: other code in the process may
 * have children of its own, so never waitpid(-1).
 *
 * Outcomes: exit 0 is MINION_OK; exit N is MINION_RETRY with exit code N;
 * death by a signal is MINION_RETRY with exit code 128 + the signal number,
 * as shells (and docker) report it; a cancelled task (timeout, shutdown) is
 * MINION_RETRY whatever its exit; a param that cannot make an argument list
 * is MINION_REJECT.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <minionize/plugin.h>

#include "argv.h"

extern char **environ;

/* Pipe bytes read per wake-up, and at most read once the child is gone (a
 * pipe buffers up to 1 MiB; anything past that comes from a grandchild that
 * still writes, and must not keep the loop). */
#define READ_CHUNK 65536
#define DRAIN_MAX (1024 * 1024 + READ_CHUNK)

struct process_conf {
    double kill_after; /* seconds from SIGTERM to SIGKILL on cancel */
};

static const struct minion_option process_options[] = {
    {"MINION_KILL_AFTER", MINION_OPT_DURATION, "5s",
     offsetof(struct process_conf, kill_after), 0,
     "Seconds a cancelled task's process group gets between SIGTERM and "
     "SIGKILL.",
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
    int status; /* from waitpid; -1 when lost */
    double start;
    struct child *prev, *next;
};

struct process {
    struct minion_instance *inst;
    struct process_conf *conf;
    const struct minion_context *ctx;
    struct argv_template *tpl;
    char *path;  /* PROGRAM as found at start */
    int json;    /* the json decoder is on */
    int devnull; /* the children's stdin */
    posix_spawnattr_t attr;
    int attr_ok;
    /* The children's environment: ours minus the four MINION_ names below,
     * then MINION_ID, then three slots rewritten per task, then NULL. */
    char **env;
    size_t n_env;    /* inherited entries, MINION_ID included */
    char *task_vars; /* the strings of the three per-task slots */
    size_t task_vars_cap;
    struct event *ev_chld;
    struct child *children; /* running, not yet reaped */
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
        "MINION_PARAM=", "MINION_TASK_ID=", "MINION_ATTEMPT=", "MINION_ID="};

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

/* Point the three task slots at this task's values. The strings are reused
 * by the next task: posix_spawn returns once the child has exec'd. */
static int env_set_task(struct process *p, minion_task *task)
{
    size_t len, need;
    const char *param = minion_task_param(task, &len);
    const char *id = minion_task_id(task);
    char attempt[16];
    char *s;

    if (id == NULL) {
        id = "";
    }
    snprintf(attempt, sizeof(attempt), "%u", minion_task_attempt(task));
    need = sizeof("MINION_PARAM=") + len + sizeof("MINION_TASK_ID=") +
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
    memcpy(s, "MINION_PARAM=", 13);
    memcpy(s + 13, param, len);
    s[13 + len] = '\0';
    s += 14 + len;
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

    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else if (p->children == c) {
        p->children = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
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

    if (status == -1) {
        minion_task_set_error(task, "child %d lost: reaped elsewhere",
                              (int)c->pid);
        outcome = MINION_RETRY;
    } else if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);

        minion_task_set_exit_code(task, code);
        if (code != 0) {
            minion_task_set_error(task, "exit status %d", code);
            outcome = MINION_RETRY;
        }
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *name = signal_name(sig);

        minion_task_set_exit_code(task, 128 + sig);
        if (name != NULL) {
            minion_task_set_error(task, "killed by signal %s", name);
        } else {
            minion_task_set_error(task, "killed by signal %d", sig);
        }
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
        pid_t r;

        next = c->next;
        do {
            r = waitpid(c->pid, &c->status, WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r == 0) {
            continue;
        }
        if (r < 0) {
            c->status = -1; /* ECHILD: someone else reaped it */
        }
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

/* The argument vector for @task, or a failed task. Returns: new vector;
 * caller frees with free(). NULL when the task was already ended. */
static char **task_argv(struct process *p, minion_task *task,
                        enum minion_outcome *bad, char *err, size_t errsz)
{
    size_t len;
    const char *param = minion_task_param(task, &len);
    char **argv;
    int rc = argv_build(p->tpl, p->json, param, len, &argv, err, errsz);

    if (rc == 0) {
        return argv;
    }
    /* A param that cannot make arguments will never make them. */
    *bad = rc == -EINVAL ? MINION_REJECT : MINION_RETRY;
    return NULL;
}

static void process_run(struct minion_instance *inst, minion_task *task)
{
    struct process *p = minion_instance_data(inst);
    enum minion_outcome bad = MINION_RETRY;
    posix_spawn_file_actions_t fa;
    struct child *c = NULL;
    char err[512];
    char **argv;
    int fds[2] = {-1, -1};
    pid_t pid;
    int rc;

    argv = task_argv(p, task, &bad, err, sizeof(err));
    if (argv == NULL) {
        fail_task(task, bad, "%s", err);
        return;
    }
    if (env_set_task(p, task) < 0) {
        free(argv);
        fail_task(task, MINION_RETRY, "out of memory");
        return;
    }
    if (pipe2(fds, O_CLOEXEC) < 0) {
        rc = errno;
        free(argv);
        fail_task(task, MINION_RETRY, "pipe: %s", strerror(rc));
        return;
    }
    /* Only our end is non-blocking: the child's stdout keeps blocking
     * writes, as programs expect. */
    if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
        rc = errno;
        goto fail;
    }
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
        goto fail;
    }
    rc = posix_spawn_file_actions_adddup2(&fa, p->devnull, STDIN_FILENO);
    if (rc == 0) {
        rc = posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    }
    if (rc == 0) {
        rc = posix_spawn(&pid, p->path, &fa, &p->attr, argv, p->env);
    }
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        close(fds[0]);
        close(fds[1]);
        free(argv);
        fail_task(task, rc == E2BIG ? MINION_REJECT : MINION_RETRY,
                  "spawn %s: %s", p->path, strerror(rc));
        return;
    }
    close(fds[1]);
    fds[1] = -1;
    free(argv);

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        /* The child runs but cannot be followed: stop it and reap it now. */
        close(fds[0]);
        kill(-pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        fail_task(task, MINION_RETRY, "out of memory");
        return;
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
    c->next = p->children;
    if (c->next != NULL) {
        c->next->prev = c;
    }
    p->children = c;
    minion_task_set_data(task, c);
    return;
fail:
    close(fds[0]);
    close(fds[1]);
    free(argv);
    fail_task(task, MINION_RETRY, "spawn %s: %s", p->path, strerror(rc));
}

static void process_cancel(struct minion_instance *inst, minion_task *task)
{
    struct process *p = minion_instance_data(inst);
    struct child *c = minion_task_data(task);
    struct timeval tv;

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
    tv.tv_sec = (time_t)p->conf->kill_after;
    tv.tv_usec = (suseconds_t)((p->conf->kill_after - (double)tv.tv_sec) * 1e6);
    if (evtimer_add(c->ev_kill, &tv) < 0) {
        on_kill(-1, 0, c);
    }
}

static int process_describe(struct minion_instance *inst, minion_task *task,
                            minion_output *out)
{
    struct process *p = minion_instance_data(inst);
    enum minion_outcome bad = MINION_RETRY;
    char err[512];
    char **argv = task_argv(p, task, &bad, err, sizeof(err));
    char *line;
    int rc;

    if (argv == NULL) {
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
        child_free(c);
    }
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
    minion_instance_set_data(inst, p);
    return 0;
}

static int spawn_attr_init(struct process *p)
{
    static const int defaults[] = {SIGCHLD, SIGPIPE, SIGTERM,
                                   SIGINT,  SIGHUP,  SIGQUIT};
    sigset_t none, def;
    int rc;

    if ((rc = posix_spawnattr_init(&p->attr)) != 0) {
        return rc;
    }
    p->attr_ok = 1;
    sigemptyset(&none);
    sigemptyset(&def);
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        sigaddset(&def, defaults[i]);
    }
    /* Own group: a timeout kills the program and everything it started.
     * Clean signal state: the loop's handlers and mask are not the child's
     * business. */
    if ((rc = posix_spawnattr_setflags(&p->attr, POSIX_SPAWN_SETPGROUP |
                                                     POSIX_SPAWN_SETSIGMASK |
                                                     POSIX_SPAWN_SETSIGDEF)) ||
        (rc = posix_spawnattr_setpgroup(&p->attr, 0)) ||
        (rc = posix_spawnattr_setsigmask(&p->attr, &none)) ||
        (rc = posix_spawnattr_setsigdefault(&p->attr, &def))) {
        return rc;
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
    if ((rc = spawn_attr_init(p)) != 0) {
        minion_set_error(inst, "posix_spawnattr: %s", strerror(rc));
        return -rc;
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
    if (p->ev_chld != NULL) {
        event_free(p->ev_chld);
    }
    if (p->attr_ok) {
        posix_spawnattr_destroy(&p->attr);
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
    .callback =
        {
            .process = process_run,
            .cancel = process_cancel,
            .describe = process_describe,
        },
};
