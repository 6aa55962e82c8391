/* SPDX-License-Identifier: MIT */
/*
 * callbacks/docker: run each param in a container of the user's image,
 * through the Docker Engine API (never the docker CLI), with libcurl driven
 * by the core's loop.
 *
 * A task: [write its IO folder] -> create -> start -> wait, with the logs
 * followed meanwhile (stdout is the task's output in whole lines, stderr
 * goes to stderr) -> [inspect, for an OOM kill] -> remove. Containers are
 * never auto-removed: the logs and the exit status must be read first.
 *
 * Failures are told apart: a daemon that cannot be reached before the
 * container exists is the minion's trouble (MINION_DEFER: the core holds
 * the param and tries again with backoff, no attempt is charged); a
 * container that was running when the daemon went away failed its run
 * (MINION_RETRY). A container that could not be removed then is removed
 * later, and every leftover of this MINION_ID at the next start.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include <minionize/plugin.h>

#include "argv.h"
#include "dlist.h"
#include "grow.h"
#include "docker.h"

/* Daemon failures (5xx) before a run are held, uncharged, for this long
 * from the first of a series (a daemon shutting down or starting fails
 * everything for a while); later ones count an attempt. */
#define FIVE_XX_HOLD_S 60.0

#define OFF(field) offsetof(struct docker_conf, field)

static const struct minion_option docker_options[] = {
    {"MINION_DOCKER_IMAGE", MINION_OPT_STRING, NULL, OFF(image),
     MINION_OPT_REQUIRED,
     "Image each task's container runs; it must be on the daemon already "
     "(never pulled)."},
    {"DOCKER_HOST", MINION_OPT_STRING, "unix:///var/run/docker.sock", OFF(host),
     0, "Docker daemon: unix:///path/docker.sock or tcp://host:port."},
    {"MINION_DOCKER_IO_DIR", MINION_OPT_STRING, NULL, OFF(io_dir), 0,
     "Folder for per-task folders mounted at /data: input.txt holds the "
     "param, /data/output.txt (if written) is the result."},
    {"MINION_DOCKER_KEEP_IO", MINION_OPT_BOOL, "false", OFF(keep_io), 0,
     "Keep the IO folder of a task that succeeded (a failed task's is always "
     "kept)."},
    {"MINION_DOCKER_CPUS", MINION_OPT_STRING, NULL, OFF(cpus), 0,
     "CPUs per container, e.g. 0.5 or 2; unset: no limit."},
    {"MINION_DOCKER_MEMORY", MINION_OPT_SIZE, NULL, OFF(memory), 0,
     "Memory per container (and no swap), e.g. 512M; at least 6M; unset: no "
     "limit."},
    {"MINION_DOCKER_NETWORK", MINION_OPT_STRING, "none", OFF(network), 0,
     "Network of the task containers: none (one loopback-only namespace "
     "shared by this minion's containers), isolated (an empty one each), "
     "bridge, host or a network name."},
    {"MINION_DOCKER_REUSE", MINION_OPT_BOOL, "false", OFF(reuse), 0,
     "One warm container per slot, each task run in it by exec: no "
     "container start per task."},
    {"MINION_KILL_AFTER", MINION_OPT_DURATION, "10s", OFF(kill_after), 0,
     "Seconds a stopped container (timeout, shutdown) gets after SIGTERM "
     "before SIGKILL."},
    {NULL}};

static void start_container(struct dtask *t);

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

/* The first failure of a run is the one reported. */
void fail_with(struct dtask *t, enum minion_outcome outcome, const char *fmt,
               ...)
{
    va_list ap;

    if (t->error[0]) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(t->error, sizeof(t->error), fmt, ap);
    va_end(ap);
    t->outcome = outcome;
}

/* A request failed before the container ran: the daemon's fault when it
 * could not be reached or failed itself (5xx; a daemon shutting down says
 * so to every start), and then the param is held and tried again with
 * backoff, no attempt charged. A refusal (4xx: no such command, a bad
 * setting) is the run's. */
void fail_request(struct dtask *t, struct api_request *rq, const char *what)
{
    struct docker *d = t->d;
    enum minion_outcome outcome = MINION_RETRY;
    long status = api_result(rq) == CURLE_OK ? api_status(rq) : 0;

    if (t->phase == CREATING || t->phase == STARTING) {
        if (t->holder[0] &&
            (((status == 404 || status == 409) &&
              strstr(api_error(rq), t->holder)) ||
             (status == 400 && strstr(api_error(rq), "namespace path")))) {
            /* The shared namespace's holder is gone (404, 409 name it; a
             * holder that died while this container started leaves runc a
             * namespace path that no longer exists, a 400): not the
             * param's trouble, nor a bad setting. */
            netns_lost(d, t->holder);
            fail_with(t, MINION_DEFER, "%s: %s", what, api_error(rq));
            return;
        }
        if (status == 400 || status == 404) {
            /* The same for every param: the image is gone, a setting or
             * the command does not suit it. No param is charged; the
             * minion stops, as for a bad setting at start-up. */
            fail_with(t, MINION_DEFER, "%s: %s", what, api_error(rq));
            minion_instance_fail_config(d->inst, "docker: %s: %s", what,
                                        api_error(rq));
            return;
        }
        /* A daemon that cannot be reached, or fails (a daemon shutting
         * down answers 500 to everything), is held, uncharged; but a 5xx
         * that keeps coming is the task's after a while. */
        if (status >= 500 && d->first_5xx == 0) {
            d->first_5xx = minion_now();
        }
        if (api_unreachable(rq) ||
            (status >= 500 && minion_now() - d->first_5xx < FIVE_XX_HOLD_S)) {
            outcome = MINION_DEFER;
        }
    }
    fail_with(t, outcome, "%s: %s", what, api_error(rq));
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void rmtree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* stderr in whole lines, each one write(2): never mixed with another
 * task's. */
static void err_write(struct dtask *t, const char *buf, size_t len, int flush)
{
    while (len > 0) {
        size_t take = sizeof(t->err_line) - t->err_len;
        const char *nl;

        if (take > len) {
            take = len;
        }
        nl = memchr(buf, '\n', take);
        if (nl) {
            take = (size_t)(nl - buf) + 1;
        }
        memcpy(t->err_line + t->err_len, buf, take);
        t->err_len += take;
        buf += take;
        len -= take;
        if (nl || t->err_len == sizeof(t->err_line)) {
            ssize_t n = write(STDERR_FILENO, t->err_line, t->err_len);
            (void)n;
            t->err_len = 0;
        }
    }
    if (flush && t->err_len > 0) {
        /* The last line had no newline: end it, in the same write when
         * there is room. */
        size_t n = t->err_len;
        ssize_t w;

        if (n < sizeof(t->err_line)) {
            t->err_line[n++] = '\n';
        }
        w = write(STDERR_FILENO, t->err_line, n);
        if (n == t->err_len) {
            w = write(STDERR_FILENO, "\n", 1);
        }
        (void)w;
        t->err_len = 0;
    }
}

/* ------------------------------------------------------------------------ */
/* The create body                                                           */

/* "A=value" for the environment. */
int add_env(cJSON *env, const char *name, const char *value, size_t len)
{
    size_t n = strlen(name) + 1 + len + 1;
    char *s = malloc(n);
    cJSON *item;

    if (!s) {
        return -ENOMEM;
    }
    snprintf(s, n, "%s=%.*s", name, (int)len, value);
    item = cJSON_CreateString(s);
    free(s);
    if (!item || !cJSON_AddItemToArray(env, item)) {
        cJSON_Delete(item);
        return -ENOMEM;
    }
    return 0;
}

int add_host_config(struct docker *d, cJSON *root, const char *bind_src)
{
    const struct docker_conf *conf = d->conf;
    cJSON *host = cJSON_AddObjectToObject(root, "HostConfig"), *binds;
    int ok;

    ok = host && cJSON_AddStringToObject(host, "NetworkMode", network_mode(d));
    if (ok && d->nano_cpus) {
        ok = cJSON_AddNumberToObject(host, "NanoCpus", (double)d->nano_cpus) !=
             NULL;
    }
    if (ok && conf->memory) {
        /* Swap as large as the memory: none at all. */
        ok = cJSON_AddNumberToObject(host, "Memory", (double)conf->memory) &&
             cJSON_AddNumberToObject(host, "MemorySwap", (double)conf->memory);
    }
    if (ok && bind_src) {
        size_t n = strlen(bind_src) + 8;
        char *bind = malloc(n);
        cJSON *b;

        binds = cJSON_AddArrayToObject(host, "Binds");
        if (bind) {
            snprintf(bind, n, "%s:/data", bind_src);
        }
        b = bind ? cJSON_CreateString(bind) : NULL;
        free(bind);
        ok = binds && b && cJSON_AddItemToArray(binds, b) &&
             cJSON_AddStringToObject(root, "WorkingDir", "/data");
        if (!ok && b && !binds) {
            cJSON_Delete(b);
        }
    }
    return ok ? 0 : -ENOMEM;
}

int add_words(cJSON *array, char **words)
{
    for (char **w = words; w && *w; w++) {
        cJSON *s = cJSON_CreateString(*w);
        if (!s || !cJSON_AddItemToArray(array, s)) {
            cJSON_Delete(s);
            return -ENOMEM;
        }
    }
    return 0;
}

int add_task_env(struct dtask *t, cJSON *root)
{
    struct docker *d = t->d;
    cJSON *env = cJSON_AddArrayToObject(root, "Env");
    size_t len;
    const char *param = minion_task_param(t->task, &len);
    char attempt[16];

    snprintf(attempt, sizeof(attempt), "%u", minion_task_attempt(t->task));
    /* A param too big for the environment reaches the task as input.txt. */
    return env &&
                   (len > ENV_PARAM_MAX ||
                    add_env(env, "MINION_PARAM", param, len) == 0) &&
                   add_env(env, "MINION_TASK_ID", minion_task_id(t->task),
                           strlen(minion_task_id(t->task))) == 0 &&
                   add_env(env, "MINION_ATTEMPT", attempt, strlen(attempt)) ==
                       0 &&
                   add_env(env, "MINION_ID", d->ctx->minion_id,
                           strlen(d->ctx->minion_id)) == 0
               ? 0
               : -ENOMEM;
}

static char *create_body(struct dtask *t, char **argv)
{
    struct docker *d = t->d;
    const struct docker_conf *conf = d->conf;
    cJSON *root = cJSON_CreateObject(), *labels, *cmd;
    char *text = NULL;
    int ok = root != NULL;

    ok = ok && cJSON_AddStringToObject(root, "Image", conf->image);
    if (ok && argv) {
        cmd = cJSON_AddArrayToObject(root, "Cmd");
        ok = cmd && add_words(cmd, argv) == 0;
    }
    ok = ok && add_task_env(t, root) == 0;
    labels = ok ? cJSON_AddObjectToObject(root, "Labels") : NULL;
    ok = labels &&
         cJSON_AddStringToObject(labels, "minionize.minion",
                                 d->ctx->minion_id) &&
         cJSON_AddStringToObject(labels, "minionize.task",
                                 minion_task_id(t->task));
    ok = ok && cJSON_AddBoolToObject(root, "Tty", 0) &&
         cJSON_AddBoolToObject(root, "OpenStdin", 0);
    ok = ok && add_host_config(d, root, t->io_path) == 0;
    if (ok) {
        text = cJSON_PrintUnformatted(root);
        snprintf(t->holder, sizeof(t->holder), "%s", d->netns_id);
    }
    cJSON_Delete(root);
    return text;
}

cJSON *idle_container(struct docker *d, const char *label, const char *value)
{
    cJSON *root = cJSON_CreateObject(), *entry, *cmd, *labels;
    cJSON *sleep = cJSON_CreateString("sleep");
    cJSON *idle = cJSON_CreateString(IDLE_SECONDS);
    int ok;

    ok = root && sleep && idle &&
         cJSON_AddStringToObject(root, "Image", d->conf->image);
    entry = ok ? cJSON_AddArrayToObject(root, "Entrypoint") : NULL;
    cmd = entry ? cJSON_AddArrayToObject(root, "Cmd") : NULL;
    ok = cmd && cJSON_AddItemToArray(entry, sleep);
    sleep = ok ? NULL : sleep;
    ok = ok && cJSON_AddItemToArray(cmd, idle);
    idle = ok ? NULL : idle;
    cJSON_Delete(sleep);
    cJSON_Delete(idle);
    labels = ok ? cJSON_AddObjectToObject(root, "Labels") : NULL;
    ok = labels &&
         cJSON_AddStringToObject(labels, "minionize.minion",
                                 d->ctx->minion_id) &&
         cJSON_AddStringToObject(labels, label, value) &&
         cJSON_AddBoolToObject(root, "Tty", 0);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* ------------------------------------------------------------------------ */
/* The IO folder                                                             */

/* A new folder under MINION_DOCKER_IO_DIR for @t, whatever its task id
 * holds: only [A-Za-z0-9_-] of it is kept, after a fixed prefix, and a
 * random suffix makes it unique. Returns: new path, or NULL with errno. */
static char *task_folder(struct dtask *t)
{
    struct docker *d = t->d;
    const char *id = minion_task_id(t->task);
    size_t n = strlen(d->io_dir) + strlen(id) + 48;
    char *path = malloc(n), *p;

    if (!path) {
        return NULL;
    }
    p = path + snprintf(path, n, "%s/task-", d->io_dir);
    for (const char *c = id; *c && p < path + n - 24; c++) {
        int safe = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                   (*c >= '0' && *c <= '9') || *c == '-' || *c == '_';
        *p++ = safe ? *c : '_';
    }
    snprintf(p, (size_t)(path + n - p), "-a%u-XXXXXX",
             minion_task_attempt(t->task));
    if (!mkdtemp(path)) {
        int e = errno;
        free(path);
        errno = e;
        return NULL;
    }
    /* The container may run as any user: let it write its output. */
    chmod(path, 0777);
    return path;
}

int write_input(struct dtask *t, const char *dir)
{
    size_t len;
    const char *param = minion_task_param(t->task, &len);
    char file[4096];
    int fd, rc = 0;

    snprintf(file, sizeof(file), "%s/input.txt", dir);
    fd =
        open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        return -errno;
    }
    while (len > 0) {
        ssize_t w = write(fd, param, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            rc = -errno;
            break;
        }
        param += w;
        len -= (size_t)w;
    }
    if (close(fd) < 0 && rc == 0) {
        rc = -errno;
    }
    return rc;
}

static int io_prepare(struct dtask *t)
{
    t->io_path = task_folder(t);
    if (!t->io_path) {
        return -errno;
    }
    return write_input(t, t->io_path);
}

static int rm_inside(const char *path, const struct stat *st, int flag,
                     struct FTW *ftw)
{
    (void)st;
    (void)flag;
    return ftw->level > 0 && remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

void clear_dir(const char *path)
{
    nftw(path, rm_inside, 16, FTW_DEPTH | FTW_PHYS);
}

/* A warm container's folder stays bound at /data: what a task left in it
 * moves to a folder of the task's own when it is kept. */
static void keep_slot_files(struct dtask *t)
{
    char *dst = task_folder(t), from[4096], to[4096];
    struct dirent *e;
    DIR *dir;

    if (!dst) {
        return;
    }
    dir = opendir(t->io_path);
    while (dir && (e = readdir(dir))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        snprintf(from, sizeof(from), "%s/%s", t->io_path, e->d_name);
        snprintf(to, sizeof(to), "%s/%s", dst, e->d_name);
        if (rename(from, to) < 0) {
            minion_log(t->d->inst, MINION_LOG_WARN, "task %s: keeping %s: %s",
                       minion_task_id(t->task), from, strerror(errno));
        }
    }
    if (dir) {
        closedir(dir);
    }
    free(dst);
}

/* The result: output.txt when the container wrote one, else its stdout. */
static void io_finish(struct dtask *t)
{
    minion_output *out = minion_task_output(t->task);
    char file[4096], buf[65536];
    int fd, keep = t->outcome == MINION_RETRY || t->outcome == MINION_REJECT ||
                   t->d->conf->keep_io;

    snprintf(file, sizeof(file), "%s/output.txt", t->io_path);
    fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
            minion_output_write(out, buf, (size_t)n);
        }
        close(fd);
    } else if (t->out_len > 0) {
        minion_output_write(out, t->out, t->out_len);
    }
    if (t->slot) {
        if (keep) {
            keep_slot_files(t);
        }
        clear_dir(t->io_path);
    } else if (!keep) {
        rmtree(t->io_path);
    }
}

/* ------------------------------------------------------------------------ */
/* Containers that could not be removed                                      */

void grave_add(struct docker *d, const char *id)
{
    struct grave *g = calloc(1, sizeof(*g)), **pp;
    struct timeval every = {GRAVEYARD_EVERY_S, 0};

    if (!g) {
        return; /* removed at the next start, as a leftover */
    }
    snprintf(g->id, sizeof(g->id), "%s", id);
    /* At the tail: the head is the one whose removal may be out. */
    for (pp = &d->graves; *pp; pp = &(*pp)->next) {
    }
    *pp = g;
    if (d->grave_ev && !evtimer_pending(d->grave_ev, NULL)) {
        evtimer_add(d->grave_ev, &every);
    }
}

void on_final_removal(struct api_request *rq, void *arg)
{
    struct docker *d = arg;

    if (api_result(rq) == CURLE_ABORTED_BY_CALLBACK) {
        return;
    }
    if (d->stopping > 0 && --d->stopping == 0) {
        minion_instance_stopped(d->inst);
    }
}

struct api_request *remove_request(struct docker *d, const char *id,
                                   api_done_fn *done, void *arg)
{
    char path[160];

    snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", id);
    return api_send(&d->api, "DELETE", path, NULL, API_QUICK, NULL, done, arg);
}

void remove_at_stop(struct docker *d, const char *id)
{
    if (remove_request(d, id, on_final_removal, d)) {
        d->stopping++;
    }
}

static void on_grave_removed(struct api_request *rq, void *arg)
{
    struct docker *d = arg;
    struct timeval every = {GRAVEYARD_EVERY_S, 0};

    d->grave_rq = NULL;
    if (api_result(rq) == CURLE_OK &&
        (api_status(rq) < 300 || api_status(rq) == 404) && d->graves) {
        struct grave *g = d->graves;
        d->graves = g->next;
        free(g);
    }
    if (d->graves && api_result(rq) != CURLE_ABORTED_BY_CALLBACK) {
        evtimer_add(d->grave_ev, &every);
    }
}

static void on_grave_timer(evutil_socket_t fd, short what, void *arg)
{
    struct docker *d = arg;

    (void)fd;
    (void)what;
    if (!d->graves || d->grave_rq) {
        return;
    }
    d->grave_rq = remove_request(d, d->graves->id, on_grave_removed, d);
}

/* ------------------------------------------------------------------------ */
/* The steps of a task                                                       */

static void dtask_free(struct dtask *t)
{
    DLIST_UNLINK(t->d->tasks, t);
    free(t->argv);
    free(t->io_path);
    free(t->out);
    free(t);
}

void finish(struct dtask *t)
{
    struct docker *d = t->d;
    minion_task *task = t->task;
    enum minion_outcome outcome;

    /* A stop still out would come back to a freed task. (finish never
     * runs inside libcurl's own callbacks: this cancel is immediate.) */
    if (t->stop_rq) {
        api_cancel(t->stop_rq);
    }
    if (d->destroying) {
        /* The core gave up on this task and is freeing everything: it
         * must not hear of it again. */
        dtask_free(t);
        return;
    }
    err_write(t, "", 0, 1);
    if (!t->error[0] && t->exit_code != 0) {
        if (t->oom) {
            fail_with(t, MINION_RETRY,
                      "exit status %d: killed for want of memory (the "
                      "container's limit, MINION_DOCKER_MEMORY, or the "
                      "host's)",
                      t->exit_code);
        } else {
            fail_with(t, MINION_RETRY, "exit status %d", t->exit_code);
        }
    }
    if (!t->error[0]) {
        t->outcome = MINION_OK;
    }
    if (t->exit_code >= 0) {
        minion_task_set_exit_code(task, t->exit_code);
    }
    if (t->io_path) {
        io_finish(t);
    }
    if (t->error[0]) {
        minion_task_set_error(task, "%s", t->error);
    }
    outcome = t->outcome;
    minion_task_set_data(task, NULL);
    dtask_free(t);
    minion_task_done(task, outcome);
}

static void on_removed(struct api_request *rq, void *arg)
{
    struct dtask *t = arg;

    t->main_rq = NULL;
    if (api_result(rq) != CURLE_OK ||
        (api_status(rq) >= 300 && api_status(rq) != 404)) {
        minion_log(t->d->inst, MINION_LOG_WARN,
                   "task %s: container %.12s not removed (%s); trying again "
                   "later",
                   minion_task_id(t->task), t->id, api_error(rq));
        grave_add(t->d, t->id);
    }
    finish(t);
}

static void remove_container(struct dtask *t)
{
    t->phase = REMOVING;
    if (!t->id[0]) {
        finish(t);
        return;
    }
    t->main_rq = remove_request(t->d, t->id, on_removed, t);
    if (!t->main_rq) {
        grave_add(t->d, t->id);
        finish(t);
    }
}

static void inspect_container(struct dtask *t);

static void on_inspect_again(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    inspect_container(arg);
}

static void on_inspected(struct api_request *rq, void *arg)
{
    struct dtask *t = arg;
    struct timeval later = {0, 200 * 1000};
    cJSON *j;

    t->main_rq = NULL;
    if (api_result(rq) == CURLE_OK && api_status(rq) == 200) {
        j = cJSON_Parse(api_body(rq, NULL));
        t->oom = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(j, "State"), "OOMKilled"));
        cJSON_Delete(j);
    }
    /* The daemon may record the OOM event just after the exit it caused:
     * a SIGKILL nobody sent is looked at once more. */
    if (!t->oom && !t->cancelled && t->inspections++ == 0 &&
        event_base_once(minion_instance_base(t->d->inst), -1, EV_TIMEOUT,
                        on_inspect_again, t, &later) == 0) {
        return;
    }
    remove_container(t);
}

static void inspect_container(struct dtask *t)
{
    char path[160];

    snprintf(path, sizeof(path), "/containers/%s/json", t->id);
    t->main_rq = api_send(&t->d->api, "GET", path, NULL, API_QUICK, NULL,
                          on_inspected, t);
    if (!t->main_rq) {
        remove_container(t);
    }
}

/* Both the wait and the logs ended: was it an OOM kill? Then remove. */
static void closing(struct dtask *t)
{
    if (!t->wait_done || !t->logs_done || t->phase != RUNNING) {
        return;
    }
    t->phase = CLOSING;
    if (t->exit_code == 137 && !t->error[0]) {
        inspect_container(t);
        return;
    }
    remove_container(t);
}

static void on_waited(struct api_request *rq, void *arg)
{
    struct dtask *t = arg;
    cJSON *j, *code, *werr;

    t->main_rq = NULL;
    t->wait_done = 1;
    if (api_result(rq) != CURLE_OK || api_status(rq) != 200) {
        fail_with(t, MINION_RETRY,
                  "lost the container while it ran (%s): the docker daemon "
                  "went away or was restarted",
                  api_error(rq));
        if (t->logs_rq) {
            /* on_logs goes on from here: @t may be gone after this. */
            api_cancel(t->logs_rq);
            return;
        }
    } else {
        j = cJSON_Parse(api_body(rq, NULL));
        code = cJSON_GetObjectItemCaseSensitive(j, "StatusCode");
        werr = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(j, "Error"), "Message");
        if (cJSON_IsNumber(code)) {
            t->exit_code = code->valueint;
        } else {
            fail_with(t, MINION_RETRY, "docker: wait: %s",
                      cJSON_IsString(werr) ? werr->valuestring
                                           : "no exit status");
        }
        cJSON_Delete(j);
    }
    closing(t);
}

int task_frame(enum frames_stream stream, const char *buf, size_t len,
               void *arg)
{
    struct dtask *t = arg;

    if (stream == FRAMES_STDERR || stream == FRAMES_SYSTEM) {
        err_write(t, buf, len, 0);
        return 0;
    }
    if (t->io_path) {
        /* Only the result, decided at the end, goes to stdout: keep the
         * tail that can be the result, no more. */
        size_t max = t->d->ctx->result_bytes;

        if (len >= max) {
            buf += len - max;
            len = max;
            t->out_len = 0;
        } else if (t->out_len + len > max) {
            size_t drop = t->out_len + len - max;
            memmove(t->out, t->out + drop, t->out_len - drop);
            t->out_len -= drop;
        }
        if (len == 0) {
            return 0;
        }
        if (grow(&t->out, &t->out_cap, t->out_len + len, 1, 4096) < 0) {
            return -ENOMEM;
        }
        memcpy(t->out + t->out_len, buf, len);
        t->out_len += len;
        return 0;
    }
    return minion_output_write(minion_task_output(t->task), buf, len);
}

int task_stream(struct api_request *rq, const char *buf, size_t len, void *arg)
{
    struct dtask *t = arg;

    (void)rq;
    return frames_feed(&t->frames, buf, len, task_frame, t);
}

static void on_logs(struct api_request *rq, void *arg)
{
    struct dtask *t = arg;

    t->logs_rq = NULL;
    t->logs_done = 1;
    if (api_result(rq) != CURLE_OK &&
        api_result(rq) != CURLE_ABORTED_BY_CALLBACK) {
        minion_log(t->d->inst, MINION_LOG_WARN, "task %s: output cut short: %s",
                   minion_task_id(t->task), api_error(rq));
    }
    closing(t);
}

static void on_stopped(struct api_request *rq, void *arg)
{
    struct dtask *t = arg;

    (void)rq;
    t->stop_rq = NULL;
}

/* Stop a running container: SIGTERM, then SIGKILL after MINION_KILL_AFTER.
 * The wait then ends as for any exit. */
static void stop_container(struct dtask *t)
{
    char path[160];

    if (t->stop_rq || t->phase != RUNNING) {
        return;
    }
    snprintf(path, sizeof(path), "/containers/%s/stop?t=%ld", t->id,
             (long)(t->d->conf->kill_after + 0.5));
    t->stop_rq =
        api_send(&t->d->api, "POST", path, NULL,
                 (long)t->d->conf->kill_after + API_QUICK, NULL, on_stopped, t);
}

static void on_started(struct api_request *rq, void *arg)
{
    struct dtask *t = arg;
    char path[200];

    t->main_rq = NULL;
    if (api_result(rq) != CURLE_OK ||
        (api_status(rq) != 204 && api_status(rq) != 304)) {
        fail_request(t, rq, "start");
        remove_container(t);
        return;
    }
    t->phase = RUNNING;
    t->d->first_5xx = 0; /* the daemon works again */
    frames_init(&t->frames);
    snprintf(path, sizeof(path),
             "/containers/%s/logs?follow=1&stdout=1&stderr=1", t->id);
    t->logs_rq =
        api_send(&t->d->api, "GET", path, NULL, 0, task_stream, on_logs, t);
    t->logs_done = t->logs_rq == NULL;
    snprintf(path, sizeof(path), "/containers/%s/wait", t->id);
    t->main_rq =
        api_send(&t->d->api, "POST", path, NULL, 0, NULL, on_waited, t);
    if (!t->main_rq) {
        fail_with(t, MINION_DEFER, "out of memory");
        t->wait_done = 1;
        stop_container(t);
        closing(t);
        return;
    }
    if (t->cancelled) {
        stop_container(t);
    }
}

static void on_created(struct api_request *rq, void *arg)
{
    struct dtask *t = arg;

    t->main_rq = NULL;
    if (api_result(rq) != CURLE_OK || api_status(rq) != 201) {
        fail_request(t, rq, "create");
        finish(t);
        return;
    }
    if (api_id(rq, t->id, sizeof(t->id)) < 0) {
        fail_with(t, MINION_RETRY, "docker: create: no container id");
        finish(t);
        return;
    }
    if (t->cancelled) {
        remove_container(t);
        return;
    }
    start_container(t);
}

static void start_container(struct dtask *t)
{
    char path[160];

    t->phase = STARTING;
    snprintf(path, sizeof(path), "/containers/%s/start", t->id);
    t->main_rq = api_send(&t->d->api, "POST", path, NULL, API_QUICK, NULL,
                          on_started, t);
    if (!t->main_rq) {
        fail_with(t, MINION_DEFER, "out of memory");
        remove_container(t);
    }
}

/* ------------------------------------------------------------------------ */
/* The callback                                                              */

static void docker_process(struct minion_instance *inst, minion_task *task)
{
    struct docker *d = minion_instance_data(inst);
    struct dtask *t = calloc(1, sizeof(*t));
    char **argv = NULL, err[512];
    size_t len;
    const char *param = minion_task_param(task, &len);
    char *body;
    int rc;

    if (!t) {
        minion_task_set_error(task, "out of memory");
        minion_task_done(task, MINION_DEFER);
        return;
    }
    t->d = d;
    t->task = task;
    t->exit_code = -1;
    t->phase = CREATING;
    if (memchr(param, '\0', len)) {
        free(t);
        minion_task_set_error(task, "the param holds a NUL byte: it cannot "
                                    "be passed to a container");
        minion_task_done(task, MINION_REJECT);
        return;
    }
    if (len > ENV_PARAM_MAX && !d->io_dir) {
        free(t);
        minion_task_set_error(task,
                              "a param of %zu bytes is over what a "
                              "container's environment can hold; set "
                              "MINION_DOCKER_IO_DIR to pass it as "
                              "/data/input.txt",
                              len);
        minion_task_done(task, MINION_REJECT);
        return;
    }
    if (d->tpl) {
        rc = argv_build(d->tpl, d->json, param, len, &argv, err, sizeof(err));
        if (rc < 0) {
            free(t);
            minion_task_set_error(task, "%s", err);
            minion_task_done(task,
                             rc == -ENOMEM ? MINION_DEFER : MINION_REJECT);
            return;
        }
    }
    if (d->warm) {
        /* The command is exec'd in a warm container: warm.c takes it. */
        t->argv = argv;
        DLIST_PUSH(d->tasks, t);
        minion_task_set_data(task, t);
        warm_run(t);
        return;
    }
    if (d->io_dir && (rc = io_prepare(t)) < 0) {
        free(argv);
        if (t->io_path) {
            rmtree(t->io_path);
        }
        free(t->io_path);
        free(t);
        /* The folder is the minion's: its trouble is not the param's. */
        minion_task_set_error(task, "MINION_DOCKER_IO_DIR %s: %s", d->io_dir,
                              strerror(-rc));
        minion_task_done(task, MINION_DEFER);
        return;
    }
    body = create_body(t, argv);
    free(argv);
    if (body) {
        t->main_rq = api_send(&d->api, "POST", "/containers/create", body,
                              API_QUICK, NULL, on_created, t);
    }
    free(body);
    if (!t->main_rq) {
        if (t->io_path) {
            rmtree(t->io_path);
        }
        free(t->io_path);
        free(t);
        minion_task_set_error(task, "out of memory");
        minion_task_done(task, MINION_DEFER);
        return;
    }
    DLIST_PUSH(d->tasks, t);
    minion_task_set_data(task, t);
}

static void on_killed(struct api_request *rq, void *arg)
{
    (void)rq;
    (void)arg;
}

void kill_container(struct docker *d, const char *id)
{
    char path[160];

    snprintf(path, sizeof(path), "/containers/%s/kill", id);
    api_send(&d->api, "POST", path, NULL, API_QUICK, NULL, on_killed, d);
}

static void kill_now(struct dtask *t)
{
    const char *id = t->slot ? warm_id(t) : t->id;

    if (t->phase == RUNNING && id && id[0]) {
        kill_container(t->d, id);
    } else if (t->main_rq && !t->slot) {
        api_cancel(t->main_rq); /* its done callback goes on from there */
    } else if (t->exec_rq && t->phase != RUNNING) {
        api_cancel(t->exec_rq);
    }
}

static void docker_cancel(struct minion_instance *inst, minion_task *task)
{
    struct dtask *t = minion_task_data(task);

    (void)inst;
    if (!t) {
        return;
    }
    if (t->cancelled) {
        /* Asked again (the core escalates): kill now, and end a request
         * that hangs before the container runs. */
        kill_now(t);
        return;
    }
    t->cancelled = 1;
    if (t->phase >= CLOSING || (t->slot && t->exec_done)) {
        return; /* it ran to its end: its outcome stands */
    }
    fail_with(t, MINION_RETRY, "stopped");
    if (t->slot) {
        warm_cancel(t);
        return;
    }
    /* Before the container runs, its create or start reply sees the flag;
     * while it runs, stop it and let the wait end as for any exit. */
    if (t->phase == RUNNING) {
        stop_container(t);
    }
}

static int docker_describe(struct minion_instance *inst, minion_task *task,
                           minion_output *out)
{
    struct docker *d = minion_instance_data(inst);
    size_t len;
    const char *param = minion_task_param(task, &len);
    char **argv = NULL, *line, err[512];

    if (!d->tpl) {
        minion_output_printf(out,
                             "docker %s (its own command), "
                             "MINION_PARAM=%.*s\n",
                             d->conf->image, (int)len, param);
        return 0;
    }
    if (argv_build(d->tpl, d->json, param, len, &argv, err, sizeof(err)) < 0) {
        minion_task_set_error(task, "%s", err);
        return MINION_REJECT;
    }
    line = argv_quote(argv);
    minion_output_printf(out, "docker %s %s\n", d->conf->image,
                         line ? line : "");
    free(line);
    free(argv);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Start-up                                                                  */

static int docker_init(struct minion_instance *inst, void *conf_)
{
    struct docker_conf *conf = conf_;
    struct docker *d;
    char err[512];
    int rc;

    if (conf->memory && conf->memory < 6 * 1024 * 1024) {
        minion_set_error(inst, "MINION_DOCKER_MEMORY must be at least 6M "
                               "(the daemon's minimum), or unset");
        return -EINVAL;
    }
    /* Once, before any handle, while the minion has no other thread. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        minion_set_error(inst, "libcurl: cannot initialise");
        return -EIO;
    }
    d = calloc(1, sizeof(*d));
    if (!d) {
        curl_global_cleanup();
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    d->inst = inst;
    d->conf = conf;
    if (conf->cpus && conf->cpus[0]) {
        char *end;
        double cpus = strtod(conf->cpus, &end);
        if (*end || !(cpus > 0) || cpus > 1024) {
            minion_set_error(inst,
                             "MINION_DOCKER_CPUS: not a number of CPUs: "
                             "'%s'",
                             conf->cpus);
            free(d);
            curl_global_cleanup();
            return -EINVAL;
        }
        d->nano_cpus = (long)(cpus * 1e9);
    }
    rc = api_client_init(&d->api, conf->host, err, sizeof(err));
    if (rc < 0) {
        minion_set_error(inst, "%s", err);
        free(d);
        curl_global_cleanup();
        return rc;
    }
    minion_instance_set_data(inst, d);
    return 0;
}

/* GET @path; 200 or an error naming @what. Returns the body, or NULL. */
static char *get_json(struct docker *d, const char *path, const char *what,
                      long *status)
{
    char err[512], msg[256], *resp = NULL;

    *status = api_sync(&d->api, "GET", path, NULL, &resp, err, sizeof(err));
    if (*status < 0) {
        minion_set_error(d->inst, "%s", err);
        return NULL;
    }
    if (*status != 200) {
        minion_set_error(d->inst, "%s: %s (HTTP %ld)", what,
                         api_message(resp, msg, sizeof(msg)), *status);
        free(resp);
        return NULL;
    }
    return resp;
}

/* Remove the containers this MINION_ID left (a minion killed with its
 * tasks running): by label, never another minion's. */
static int remove_leftovers(struct docker *d)
{
    char label[512], path[1024], err[512], *q = NULL, *body, *resp;
    char *filter = NULL;
    cJSON *list, *c, *f = cJSON_CreateObject(), *labels;
    long status;
    int n = 0;

    snprintf(label, sizeof(label), "minionize.minion=%s", d->ctx->minion_id);
    labels = f ? cJSON_AddArrayToObject(f, "label") : NULL;
    if (labels && cJSON_AddItemToArray(labels, cJSON_CreateString(label))) {
        filter = cJSON_PrintUnformatted(f);
    }
    cJSON_Delete(f);
    q = filter ? api_escape(filter) : NULL;
    free(filter);
    if (!q) {
        minion_set_error(d->inst, "out of memory");
        return -ENOMEM;
    }
    snprintf(path, sizeof(path), "/containers/json?all=1&filters=%s", q);
    curl_free(q);
    body =
        get_json(d, path, "listing this minion's leftover containers", &status);
    if (!body) {
        return -EIO;
    }
    list = cJSON_Parse(body);
    free(body);
    cJSON_ArrayForEach(c, list)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "Id");
        if (!cJSON_IsString(id) || strlen(id->valuestring) > 128) {
            continue;
        }
        snprintf(path, sizeof(path), "/containers/%s?force=1&v=1",
                 id->valuestring);
        status =
            api_sync(&d->api, "DELETE", path, NULL, &resp, err, sizeof(err));
        free(resp);
        n += status == 204 || status == 404;
    }
    cJSON_Delete(list);
    if (n > 0) {
        minion_log(d->inst, MINION_LOG_INFO,
                   "removed %d leftover container%s of minion %s", n,
                   n == 1 ? "" : "s", d->ctx->minion_id);
    }
    return 0;
}

/* The image's Entrypoint then Cmd, as one NULL-ended vector. */
/* @list's strings as a new NULL-ended vector in *@out. */
static int words(const cJSON *list, char ***out)
{
    size_t n = (size_t)cJSON_GetArraySize(list), i = 0;
    const cJSON *w;

    *out = calloc(n + 1, sizeof(**out));
    if (!*out) {
        return -ENOMEM;
    }
    cJSON_ArrayForEach(w, list)
    {
        if (cJSON_IsString(w) && !((*out)[i++] = strdup(w->valuestring))) {
            return -ENOMEM;
        }
    }
    return 0;
}

/* The daemon answers, speaks API 1.41, and has the image. Blocking: the
 * loop does not run yet. */
static int check_daemon(struct docker *d)
{
    char *body, *escaped, path[1024];
    const cJSON *v;
    cJSON *j;
    long status;
    int major = 0, minor = 0;

    body = get_json(d, "/version", "docker daemon", &status);
    if (!body) {
        return -EIO;
    }
    j = cJSON_Parse(body);
    free(body);
    v = cJSON_GetObjectItemCaseSensitive(j, "ApiVersion");
    if (!cJSON_IsString(v) ||
        sscanf(v->valuestring, "%d.%d", &major, &minor) != 2 || major < 1 ||
        (major == 1 && minor < 41)) {
        minion_set_error(d->inst,
                         "the docker daemon at %s speaks API %s: too old, "
                         "minionize needs %s (Docker 20.10 or later)",
                         d->api.where,
                         cJSON_IsString(v) ? v->valuestring : "(unknown)",
                         API_VERSION);
        cJSON_Delete(j);
        return -EPROTO;
    }
    cJSON_Delete(j);
    /* An image name holds '/' and ':' as they are; escape the rest. */
    escaped = api_escape(d->conf->image);
    if (!escaped) {
        minion_set_error(d->inst, "out of memory");
        return -ENOMEM;
    }
    for (char *s = escaped, *o = escaped;; s++) {
        if (s[0] == '%' && s[1] == '2' && (s[2] == 'F' || s[2] == 'f')) {
            *o++ = '/';
            s += 2;
        } else if (s[0] == '%' && s[1] == '3' && (s[2] == 'A' || s[2] == 'a')) {
            *o++ = ':';
            s += 2;
        } else if (!(*o++ = *s)) {
            break;
        }
    }
    snprintf(path, sizeof(path), "/images/%s/json", escaped);
    curl_free(escaped);
    body = get_json(d, path, "MINION_DOCKER_IMAGE", &status);
    if (!body) {
        if (status == 404) {
            minion_set_error(d->inst,
                             "image %s is not on the docker daemon at %s "
                             "(minionize never pulls: docker pull or build "
                             "it first)",
                             d->conf->image, d->api.where);
        }
        return -ENOENT;
    }
    {
        cJSON *img = cJSON_Parse(body);
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(img, "Config");
        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(cfg, "Cmd");
        const cJSON *entry =
            cJSON_GetObjectItemCaseSensitive(cfg, "Entrypoint");
        /* Without PROGRAM the image's own command runs: it needs one. */
        int none = !d->tpl && cJSON_GetArraySize(cmd) == 0 &&
                   cJSON_GetArraySize(entry) == 0;

        /* A warm container runs its own idle command: an exec names what
         * a container of the image would run, its entrypoint first. */
        if (!none && d->conf->reuse &&
            (words(entry, &d->image_entry) < 0 ||
             words(cmd, &d->image_cmd) < 0)) {
            cJSON_Delete(img);
            free(body);
            minion_set_error(d->inst, "out of memory");
            return -ENOMEM;
        }
        cJSON_Delete(img);
        if (none) {
            free(body);
            minion_set_error(d->inst,
                             "image %s has no command of its own: give "
                             "PROGRAM ARGS... after the options",
                             d->conf->image);
            return -EINVAL;
        }
    }
    free(body);
    return 0;
}

static int docker_start(struct minion_instance *inst, struct event_base *base)
{
    struct docker *d = minion_instance_data(inst);
    const struct minion_context *ctx = minion_instance_context(inst);
    int rc;

    d->ctx = ctx;
    d->json = ctx->decoder == MINION_DECODER_JSON;
    if (ctx->argc >= 1 && ctx->argv && ctx->argv[0]) {
        d->tpl = argv_template_new(ctx->argc, ctx->argv);
        if (!d->tpl) {
            minion_set_error(inst, "out of memory");
            return -ENOMEM;
        }
    }
    if (d->conf->io_dir && d->conf->io_dir[0]) {
        if (mkdir(d->conf->io_dir, 0755) < 0 && errno != EEXIST) {
            minion_set_error(inst, "MINION_DOCKER_IO_DIR %s: %s",
                             d->conf->io_dir, strerror(errno));
            return -EIO;
        }
        d->io_dir = realpath(d->conf->io_dir, NULL);
        if (!d->io_dir) {
            minion_set_error(inst, "MINION_DOCKER_IO_DIR %s: %s",
                             d->conf->io_dir, strerror(errno));
            return -EIO;
        }
    }
    if ((rc = check_daemon(d)) < 0) {
        return rc;
    }
    if (!ctx->dry_run && (rc = remove_leftovers(d)) < 0) {
        return rc;
    }
    if (!ctx->dry_run && (rc = netns_start(d)) < 0) {
        return rc;
    }
    if (d->conf->reuse && (rc = warm_init(d)) < 0) {
        minion_set_error(inst, "warm containers: %s", strerror(-rc));
        return rc;
    }
    d->grave_ev = evtimer_new(base, on_grave_timer, d);
    if (!d->grave_ev || api_client_attach(&d->api, base) < 0 ||
        netns_attach(d, base) < 0) {
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* Wait for the containers still to remove (warm ones, ones the daemon
 * could not remove before): the minion must not leave them behind. */
static int docker_stop(struct minion_instance *inst)
{
    struct docker *d = minion_instance_data(inst);

    d->stop_called = 1;
    for (struct grave *g = d->graves; g; g = g->next) {
        remove_at_stop(d, g->id);
    }
    netns_stop(d);
    return warm_stop(d);
}

static void docker_destroy(struct minion_instance *inst)
{
    struct docker *d = minion_instance_data(inst);

    if (!d) {
        return;
    }
    /* Ends every request still out (as cancelled) before the rest goes;
     * a task the core abandoned ends with it, unheard. */
    d->destroying = 1;
    api_client_fini(&d->api);
    warm_fini(d);
    netns_fini(d);
    for (char **w = d->image_cmd; w && *w; w++) {
        free(*w);
    }
    free(d->image_cmd);
    for (char **w = d->image_entry; w && *w; w++) {
        free(*w);
    }
    free(d->image_entry);
    if (d->grave_ev) {
        event_free(d->grave_ev);
    }
    while (d->graves) {
        struct grave *g = d->graves;
        d->graves = g->next;
        free(g);
    }
    argv_template_free(d->tpl);
    free(d->io_dir);
    free(d);
    minion_instance_set_data(inst, NULL);
    curl_global_cleanup();
}

static const struct minion_callback_ops docker_ops = {
    MINION_OPS_HEADER(struct minion_callback_ops),
    .process = docker_process,
    .cancel = docker_cancel,
    .describe = docker_describe,
};

const struct minion_plugin minion_plugin_docker = {
    MINION_PLUGIN_HEADER(MINION_KIND_CALLBACK),
    .name = "docker",
    .summary = "Run each param in a container of an image (Docker Engine API)",
    .conf_size = sizeof(struct docker_conf),
    .options = docker_options,
    .init = docker_init,
    .start = docker_start,
    .stop = docker_stop,
    .destroy = docker_destroy,
    .callback = &docker_ops,
};
