/* SPDX-License-Identifier: MIT */
/*
 * MINION_DOCKER_REUSE: one warm container per concurrency slot, started
 * once (its own command is an idle sleep), and each task run in it by
 * exec: create the exec, start it (the daemon hijacks the connection and
 * streams the output until the process ends), inspect it for the exit
 * code. No container is created or started per task.
 *
 * A slot's container is made when a task first needs it. One that dies
 * (killed at a timeout, since an exec cannot be killed alone; OOM; the
 * daemon restarted) is removed and replaced for the next task. With
 * MINION_DOCKER_IO_DIR each slot has a folder, DIR/slot-N, bound at /data:
 * before a task it holds only the task's input.txt, and after it what the
 * task left moves to a folder of the task's own when it is kept.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "docker.h"

/* An exec whose stream ended but still shows running is asked again. */
#define INSPECT_EVERY_MS 20
#define INSPECT_MAX 250

struct warm {
    struct docker *d;
    unsigned index;
    char id[80];
    enum { WARM_NONE, WARM_CREATING, WARM_STARTING, WARM_READY } state;
    struct dtask *task; /* running in it, or waiting for it */
    struct api_request *rq;
    char *io_path; /* DIR/slot-N; NULL without MINION_DOCKER_IO_DIR */
    struct event *inspect_ev;
};

static void exec_create(struct dtask *t);
static void warm_make(struct warm *w);

/* ------------------------------------------------------------------------ */
/* The slots                                                                 */

int warm_init(struct docker *d)
{
    unsigned n = d->ctx->concurrency;

    d->warm = calloc(n, sizeof(*d->warm));
    if (!d->warm) {
        return -ENOMEM;
    }
    d->n_warm = n;
    for (unsigned i = 0; i < n; i++) {
        struct warm *w = &d->warm[i];
        w->d = d;
        w->index = i;
        if (d->io_dir) {
            size_t len = strlen(d->io_dir) + 32;
            w->io_path = malloc(len);
            if (!w->io_path) {
                return -ENOMEM;
            }
            snprintf(w->io_path, len, "%s/slot-%u", d->io_dir, i);
            if (mkdir(w->io_path, 0777) < 0 && errno != EEXIST) {
                return -errno;
            }
            chmod(w->io_path, 0777);
            clear_dir(w->io_path);
        }
    }
    return 0;
}

/* A container being removed; kept for later if it cannot be now. */
struct removal {
    struct docker *d;
    char id[80];
};

static void on_dead_removed(struct api_request *rq, void *arg)
{
    struct removal *r = arg;
    struct docker *d = r->d;

    d->removals--;
    if (api_result(rq) != CURLE_ABORTED_BY_CALLBACK &&
        (api_result(rq) != CURLE_OK ||
         (api_status(rq) >= 300 && api_status(rq) != 404))) {
        grave_add(d, r->id);
    }
    free(r);
    if (d->stop_called) {
        /* stop() counted this removal among those it waits for. */
        on_final_removal(rq, d);
    }
}

/* The slot's container is gone, or must go: remove it; the next task that
 * needs the slot makes a new one. */
static void warm_forget(struct warm *w)
{
    struct removal *r;

    if (w->id[0]) {
        r = malloc(sizeof(*r));
        if (r) {
            r->d = w->d;
            snprintf(r->id, sizeof(r->id), "%s", w->id);
        }
        if (!r || !remove_request(w->d, w->id, on_dead_removed, r)) {
            free(r);
            grave_add(w->d, w->id);
        } else {
            w->d->removals++;
        }
    }
    w->id[0] = '\0';
    w->state = WARM_NONE;
}

/* @t is done with its slot: free the slot, then end @t. */
static void release(struct dtask *t)
{
    struct warm *w = t->slot;

    if (w && w->task == t) {
        w->task = NULL;
    }
    finish(t);
}

/* The slot could not get a container: the task that waited for it fails. */
static void slot_failed(struct warm *w, struct api_request *rq,
                        const char *what)
{
    struct dtask *t = w->task;

    w->rq = NULL;
    if (t) {
        t->phase = w->state == WARM_CREATING ? CREATING : STARTING;
        fail_request(t, rq, what);
    }
    warm_forget(w);
    if (t) {
        release(t);
    }
}

static void on_warm_started(struct api_request *rq, void *arg)
{
    struct warm *w = arg;
    struct dtask *t;

    if (api_result(rq) != CURLE_OK ||
        (api_status(rq) != 204 && api_status(rq) != 304)) {
        slot_failed(w, rq, "starting a warm container");
        return;
    }
    w->rq = NULL;
    w->state = WARM_READY;
    t = w->task;
    if (!t) {
        return;
    }
    if (t->cancelled) {
        release(t);
        return;
    }
    exec_create(t);
}

static void on_warm_created(struct api_request *rq, void *arg)
{
    struct warm *w = arg;
    char path[160];

    if (api_result(rq) != CURLE_OK || api_status(rq) != 201) {
        slot_failed(w, rq, "creating a warm container");
        return;
    }
    if (api_id(rq, w->id, sizeof(w->id)) < 0) {
        slot_failed(w, rq, "creating a warm container: no id");
        return;
    }
    w->state = WARM_STARTING;
    snprintf(path, sizeof(path), "/containers/%s/start", w->id);
    w->rq = api_send(&w->d->api, "POST", path, NULL, API_QUICK, NULL,
                     on_warm_started, w);
    if (!w->rq) {
        struct dtask *t = w->task;
        warm_forget(w);
        if (t) {
            fail_with(t, MINION_DEFER, "out of memory");
            release(t);
        }
    }
}

static char *warm_body(struct warm *w)
{
    struct docker *d = w->d;
    cJSON *root, *env;
    char slot[16], *text = NULL;
    int ok;

    /* Its entrypoint is replaced: only `sleep` must be in the image. */
    snprintf(slot, sizeof(slot), "%u", w->index);
    root = idle_container(d, "minionize.slot", slot);
    env = root ? cJSON_AddArrayToObject(root, "Env") : NULL;
    ok = env &&
         add_env(env, "MINION_ID", d->ctx->minion_id,
                 strlen(d->ctx->minion_id)) == 0 &&
         add_host_config(d, root, w->io_path) == 0;
    if (ok) {
        text = cJSON_PrintUnformatted(root);
    }
    cJSON_Delete(root);
    return text;
}

static void warm_make(struct warm *w)
{
    char *body = warm_body(w);

    w->state = WARM_CREATING;
    w->rq = body ? api_send(&w->d->api, "POST", "/containers/create", body,
                            API_QUICK, NULL, on_warm_created, w)
                 : NULL;
    free(body);
    if (!w->rq) {
        struct dtask *t = w->task;
        w->state = WARM_NONE;
        if (t) {
            fail_with(t, MINION_DEFER, "out of memory");
            release(t);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* A task's exec                                                             */

static void on_exec_inspected(struct api_request *rq, void *arg);

static void inspect_exec(struct dtask *t)
{
    char path[160];

    snprintf(path, sizeof(path), "/exec/%s/json", t->exec_id);
    t->exec_rq = api_send(&t->d->api, "GET", path, NULL, API_QUICK, NULL,
                          on_exec_inspected, t);
    if (!t->exec_rq) {
        fail_with(t, MINION_RETRY, "out of memory reading the exit status");
        release(t);
    }
}

static void on_inspect_timer(evutil_socket_t fd, short what, void *arg)
{
    struct warm *w = arg;

    (void)fd;
    (void)what;
    if (w->task) {
        inspect_exec(w->task);
    }
}

static void on_exec_inspected(struct api_request *rq, void *arg)
{
    struct dtask *t = arg;
    struct warm *w = t->slot;
    const cJSON *running, *code;
    cJSON *j;

    t->exec_rq = NULL;
    if (api_result(rq) != CURLE_OK || api_status(rq) != 200) {
        fail_with(t, MINION_RETRY, "reading the exit status: %s",
                  api_error(rq));
        warm_forget(w);
        release(t);
        return;
    }
    j = cJSON_Parse(api_body(rq, NULL));
    running = cJSON_GetObjectItemCaseSensitive(j, "Running");
    code = cJSON_GetObjectItemCaseSensitive(j, "ExitCode");
    if (cJSON_IsTrue(running) && ++t->inspections < INSPECT_MAX) {
        struct timeval again = {0, INSPECT_EVERY_MS * 1000};
        cJSON_Delete(j);
        if (!w->inspect_ev) {
            w->inspect_ev = evtimer_new(minion_instance_base(t->d->inst),
                                        on_inspect_timer, w);
        }
        if (w->inspect_ev && evtimer_add(w->inspect_ev, &again) == 0) {
            return;
        }
        fail_with(t, MINION_RETRY, "out of memory reading the exit status");
        release(t);
        return;
    }
    if (cJSON_IsNumber(code) && !cJSON_IsTrue(running)) {
        t->exit_code = code->valueint;
    } else {
        /* Still running, or unknown: the slot's container cannot be
         * trusted with another task. */
        fail_with(t, MINION_RETRY, "exec: no exit status");
        warm_forget(w);
    }
    cJSON_Delete(j);
    if (t->cancelled || t->exit_code == 137) {
        /* Killed with its container (a timeout), or by the OOM killer:
         * the container goes, and the next task gets a new one. */
        warm_forget(w);
    }
    release(t);
}

static void on_exec_ended(struct api_request *rq, void *arg)
{
    struct dtask *t = arg;
    CURLcode result = api_result(rq);
    long status =
        result == CURLE_OK || result == CURLE_PARTIAL_FILE ? api_status(rq) : 0;

    t->exec_rq = NULL;
    if (api_unreachable(rq) || result == CURLE_GOT_NOTHING || status == 404 ||
        status == 409) {
        /* The exec never started (no daemon, or its container is gone):
         * not the param's fault, and the slot needs a new container. */
        fail_with(t, MINION_DEFER, "exec start: %s", api_error(rq));
        warm_forget(t->slot);
        release(t);
        return;
    }
    if (result != CURLE_OK && result != CURLE_PARTIAL_FILE) {
        fail_with(t, MINION_RETRY,
                  "lost the exec while it ran (%s): the docker daemon went "
                  "away or was restarted",
                  api_error(rq));
        warm_forget(t->slot);
        release(t);
        return;
    }
    if (status != 200 && status != 101) {
        fail_with(t, MINION_RETRY, "exec start: %s", api_error(rq));
        warm_forget(t->slot);
        release(t);
        return;
    }
    t->exec_done = 1;
    inspect_exec(t);
}

static void on_exec_created(struct api_request *rq, void *arg)
{
    struct dtask *t = arg;
    struct warm *w = t->slot;
    char path[160];

    t->exec_rq = NULL;
    if (api_result(rq) == CURLE_OK &&
        (api_status(rq) == 409 || api_status(rq) == 404) && !t->replaced) {
        /* The container died between two tasks: a new one, once. */
        t->replaced = 1;
        warm_forget(w);
        if (t->cancelled) {
            release(t);
            return;
        }
        warm_make(w);
        return;
    }
    if (api_result(rq) != CURLE_OK || api_status(rq) != 201) {
        t->phase = STARTING;
        fail_request(t, rq, "exec");
        warm_forget(w);
        release(t);
        return;
    }
    if (api_id(rq, t->exec_id, sizeof(t->exec_id)) < 0) {
        fail_with(t, MINION_RETRY, "exec: no id");
        release(t);
        return;
    }
    if (t->cancelled) {
        release(t);
        return;
    }
    t->phase = RUNNING;
    frames_init(&t->frames);
    snprintf(path, sizeof(path), "/exec/%s/start", t->exec_id);
    t->exec_rq =
        api_send(&t->d->api, "POST", path, "{\"Detach\":false,\"Tty\":false}",
                 0, task_stream, on_exec_ended, t);
    if (!t->exec_rq) {
        fail_with(t, MINION_DEFER, "out of memory");
        release(t);
    }
}

static char *exec_body(struct dtask *t)
{
    struct docker *d = t->d;
    char **argv = t->argv ? t->argv : d->image_cmd;
    cJSON *root = cJSON_CreateObject(), *cmd;
    char *text = NULL;
    int ok;

    ok = root && cJSON_AddBoolToObject(root, "AttachStdout", 1) &&
         cJSON_AddBoolToObject(root, "AttachStderr", 1) &&
         cJSON_AddBoolToObject(root, "AttachStdin", 0) &&
         cJSON_AddBoolToObject(root, "Tty", 0);
    cmd = ok ? cJSON_AddArrayToObject(root, "Cmd") : NULL;
    ok = cmd != NULL;
    /* What a container of the image would run: its entrypoint, then
     * PROGRAM ARGS... or its own Cmd. */
    ok = ok && add_words(cmd, d->image_entry) == 0 && add_words(cmd, argv) == 0;
    ok = ok && add_task_env(t, root) == 0;
    if (ok && t->io_path) {
        ok = cJSON_AddStringToObject(root, "WorkingDir", "/data") != NULL;
    }
    if (ok) {
        text = cJSON_PrintUnformatted(root);
    }
    cJSON_Delete(root);
    return text;
}

static void exec_create(struct dtask *t)
{
    struct warm *w = t->slot;
    char path[160], *body = exec_body(t);

    t->phase = STARTING;
    snprintf(path, sizeof(path), "/containers/%s/exec", w->id);
    t->exec_rq = body ? api_send(&t->d->api, "POST", path, body, API_QUICK,
                                 NULL, on_exec_created, t)
                      : NULL;
    free(body);
    if (!t->exec_rq) {
        fail_with(t, MINION_DEFER, "out of memory");
        release(t);
    }
}

void warm_run(struct dtask *t)
{
    struct docker *d = t->d;
    struct warm *w = NULL;
    int rc;

    for (unsigned i = 0; i < d->n_warm; i++) {
        if (!d->warm[i].task) {
            w = &d->warm[i];
            break;
        }
    }
    if (!w) {
        /* The core runs at most -j tasks: a free slot is always there. */
        fail_with(t, MINION_DEFER, "no free warm container");
        finish(t);
        return;
    }
    w->task = t;
    t->slot = w;
    if (w->io_path) {
        t->io_path = strdup(w->io_path);
        clear_dir(w->io_path);
        rc = t->io_path ? write_input(t, w->io_path) : -ENOMEM;
        if (rc < 0) {
            /* The folder is the minion's: its trouble is not the param's. */
            fail_with(t, MINION_DEFER, "MINION_DOCKER_IO_DIR %s: %s", d->io_dir,
                      strerror(-rc));
            free(t->io_path);
            t->io_path = NULL;
            release(t);
            return;
        }
    }
    switch (w->state) {
    case WARM_READY: exec_create(t); break;
    case WARM_NONE: warm_make(w); break;
    default: break; /* its container is on its way: it runs the task */
    }
}

const char *warm_id(const struct dtask *t)
{
    return t->slot && t->slot->id[0] ? t->slot->id : NULL;
}

void warm_cancel(struct dtask *t)
{
    struct warm *w = t->slot;

    /* An exec cannot be stopped alone: its container is killed, which ends
     * the exec's stream, and replaced for the next task. Before the exec
     * runs, the step in progress sees t->cancelled. */
    if (t->phase == RUNNING && w->id[0]) {
        kill_container(t->d, w->id);
    }
}

/* ------------------------------------------------------------------------ */
/* The end                                                                   */

int warm_stop(struct docker *d)
{
    d->stop_called = 1;
    /* Removals of dead warm containers still out are waited for too. */
    d->stopping += d->removals;
    if (!d->warm) {
        return d->stopping > 0;
    }
    for (unsigned i = 0; i < d->n_warm; i++) {
        struct warm *w = &d->warm[i];
        if (!w->id[0]) {
            continue;
        }
        remove_at_stop(d, w->id);
        w->id[0] = '\0';
        w->state = WARM_NONE;
    }
    return d->stopping > 0;
}

void warm_fini(struct docker *d)
{
    for (unsigned i = 0; d->warm && i < d->n_warm; i++) {
        if (d->warm[i].inspect_ev) {
            event_free(d->warm[i].inspect_ev);
        }
        free(d->warm[i].io_path);
    }
    free(d->warm);
    d->warm = NULL;
}
