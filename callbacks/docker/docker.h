/* SPDX-License-Identifier: MIT */
/* What the parts of the docker callback share: its settings, its state, a
 * task's state, and the steps both ways of running a task use (a container
 * per task, docker.c; warm containers run by exec, warm.c). */
#ifndef DOCKER_DOCKER_H
#define DOCKER_DOCKER_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include <minionize/plugin.h>

#include "api.h"
#include "frames.h"

struct event;
struct event_base;
struct warm;

/* Environment strings over this cannot reach a process (MAX_ARG_STRLEN). */
#define ENV_PARAM_MAX (128 * 1024 - 64)
/* A stderr line longer than this is written in pieces. */
#define ERR_LINE_MAX 4096
/* The whole command of a container that only holds something (a warm
 * slot, the shared network namespace): `sleep` this long. */
#define IDLE_SECONDS "2147483647"
/* Containers that could not be removed are tried again this often. */
#define GRAVEYARD_EVERY_S 5

struct docker_conf {
    char *image;       /* MINION_DOCKER_IMAGE */
    char *host;        /* DOCKER_HOST */
    char *io_dir;      /* MINION_DOCKER_IO_DIR */
    int keep_io;       /* MINION_DOCKER_KEEP_IO */
    char *cpus;        /* MINION_DOCKER_CPUS, "1.5" */
    size_t memory;     /* MINION_DOCKER_MEMORY, bytes; 0: no limit */
    char *network;     /* MINION_DOCKER_NETWORK */
    int reuse;         /* MINION_DOCKER_REUSE */
    double kill_after; /* MINION_KILL_AFTER: stop's grace, seconds */
};

struct docker;

/* One run of one param in one container. */
struct dtask {
    struct docker *d;
    minion_task *task;
    struct dtask *prev, *next;
    char id[80]; /* the container's; "" before create answered */
    enum { CREATING, STARTING, RUNNING, CLOSING, REMOVING } phase;
    struct api_request *main_rq; /* the step in progress */
    struct api_request *logs_rq; /* logs?follow=1, while running */
    struct api_request *stop_rq;
    struct frames frames;
    int wait_done, logs_done;
    int exit_code; /* -1: unknown */
    int oom;
    int cancelled;
    enum minion_outcome outcome;
    char error[512]; /* "" while nothing failed */
    char *io_path;   /* the task's folder; NULL without MINION_DOCKER_IO_DIR */
    char *out;       /* IO mode: stdout kept until the end */
    size_t out_len, out_cap;
    char err_line[ERR_LINE_MAX];
    size_t err_len;
    /* Warm containers (warm.c) */
    struct warm *slot;           /* the container it runs in */
    char **argv;                 /* the command to exec; NULL: the image's */
    char exec_id[80];            /* its exec, once created */
    struct api_request *exec_rq; /* exec create, start or inspect */
    unsigned inspections;        /* of an exec still running */
    int replaced;                /* its container was replaced once */
    char holder[80]; /* the network namespace it joined; "" for none */
    int exec_done;   /* the exec ended: only its status is read */
};

/* A container to remove once the daemon answers again. */
struct grave {
    struct grave *next;
    char id[80];
};

struct docker {
    struct minion_instance *inst;
    const struct docker_conf *conf;
    const struct minion_context *ctx;
    struct api_client api;
    struct argv_template *tpl; /* NULL: the image's own command */
    int json;
    char *io_dir;   /* absolute */
    long nano_cpus; /* 0: no limit */
    struct dtask *tasks;
    struct grave *graves;
    struct api_request *grave_rq;
    struct event *grave_ev;
    /* MINION_DOCKER_REUSE */
    struct warm *warm; /* one per concurrency slot */
    unsigned n_warm;
    char **image_entry; /* the image's Entrypoint, NULL-ended */
    char **image_cmd;   /* the image's Cmd, NULL-ended */
    unsigned stopping;  /* removals stop() waits for */
    unsigned removals;  /* removals of dead warm containers, out */
    double first_5xx;   /* when daemon failures before a run began; 0 */
    /* MINION_DOCKER_NETWORK=none: the shared namespace (netns.c) */
    char netns_id[80];   /* its holder, "" when there is none */
    char netns_mode[96]; /* "container:<netns_id>" */
    char netns_next[80]; /* a replacement being made */
    struct api_request *netns_rq;
    struct event *netns_ev; /* trying to make one again */
    int netns_failed_logged;
    int destroying;  /* destroy() runs: tasks end unheard */
    int stop_called; /* stop() began: removals count down */
};

/* docker.c: shared steps. */
void fail_with(struct dtask *t, enum minion_outcome outcome, const char *fmt,
               ...) __attribute__((format(printf, 3, 4)));
/* A request that failed before the task's program ran. */
void fail_request(struct dtask *t, struct api_request *rq, const char *what);
/* The create body's HostConfig, Env and Labels parts. Returns 0 or -ENOMEM. */
int add_env(cJSON *env, const char *name, const char *value, size_t len);
int add_host_config(struct docker *d, cJSON *root, const char *bind_src);
/* Append @words (NULL-ended; NULL: none) to @array. Returns 0 or -ENOMEM. */
int add_words(cJSON *array, char **words);
/* The task's environment: MINION_PARAM (when it fits), MINION_TASK_ID,
 * MINION_ATTEMPT, MINION_ID, as @root's "Env". Returns 0 or -ENOMEM. */
int add_task_env(struct dtask *t, cJSON *root);
/* A multiplexed output stream of @arg, a task (logs, exec start). */
int task_stream(struct api_request *rq, const char *buf, size_t len, void *arg);
/* DELETE a container (forced, with its volumes). Returns the request. */
struct api_request *remove_request(struct docker *d, const char *id,
                                   api_done_fn *done, void *arg);
/* Remove @id as one of the removals stop() waits for. */
void remove_at_stop(struct docker *d, const char *id);
/* SIGKILL a container; the reply does not matter (its wait tells). */
void kill_container(struct docker *d, const char *id);
/* A frame of the task's output: stdout to its output, stderr to stderr. */
int task_frame(enum frames_stream stream, const char *buf, size_t len,
               void *arg);
/* End @t: output, error, exit code, minion_task_done. Frees @t. */
void finish(struct dtask *t);
void grave_add(struct docker *d, const char *id);
/* The done callback of a removal stop() waits for (arg: the docker). */
void on_final_removal(struct api_request *rq, void *arg);
/* Remove everything inside @path, not @path itself. */
void clear_dir(const char *path);
/* Write the param to @dir/input.txt. Returns 0 or a negative errno. */
int write_input(struct dtask *t, const char *dir);

/* A container of the image whose command is an idle sleep, labelled as
 * this minion's and @label=@value. Returns: new object, or NULL. */
cJSON *idle_container(struct docker *d, const char *label, const char *value);

/* netns.c */
/* Start-up, blocking: make the holder of the shared namespace when
 * MINION_DOCKER_NETWORK=none (else, or when it cannot be made, each
 * container gets one of its own). Returns 0 or -ENOMEM. */
int netns_start(struct docker *d);
/* Its timer on @base. Returns 0 or -ENOMEM. */
int netns_attach(struct docker *d, struct event_base *base);
/* The NetworkMode of a task container now. Borrows: until the next call. */
const char *network_mode(const struct docker *d);
/* A task could not join @holder: forget it, make a new one. */
void netns_lost(struct docker *d, const char *holder);
/* stop(): remove the holder, wait for one being made. */
void netns_stop(struct docker *d);
void netns_fini(struct docker *d);

/* warm.c */
/* Make the slots (start-up, no I/O). Returns 0 or -ENOMEM. */
int warm_init(struct docker *d);
/* Run @t in a warm container. */
void warm_run(struct dtask *t);
void warm_cancel(struct dtask *t);
/* The id of @t's warm container, or NULL. */
const char *warm_id(const struct dtask *t);
/* stop(), after the graves: remove every warm container. Returns 1 while
 * removals (these, the graves', dead warm containers') are out, then
 * calls minion_instance_stopped(); 0 when there was none. */
int warm_stop(struct docker *d);
void warm_fini(struct docker *d);

#endif
