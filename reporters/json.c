/* SPDX-License-Identifier: MIT */
/*
 * reporters/json.c: JSON Lines, one file per minion,
 * REPORTER_JSON_DIRECTORY/<minion id>.jsonl, one object per finished run.
 *
 * Each object is written with one unbuffered write(2) on an O_APPEND file:
 * a crashed minion loses at most the run in flight, every line in the file
 * is whole, and minion-status can read the file while it grows. Strings are
 * escaped by jsonbuf_string() (see jsonbuf.h: bytes that are not UTF-8
 * become \uef80..\uefff so every line stays valid JSON).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <minionize/plugin.h>

#include "jsonbuf.h"

struct json_conf {
    char *directory; /* REPORTER_JSON_DIRECTORY */
};

static const struct minion_option json_options[] = {
    {"REPORTER_JSON_DIRECTORY", MINION_OPT_STRING, "minion-report",
     offsetof(struct json_conf, directory), 0,
     "Folder of the reports, created when missing; each minion appends one "
     "JSON object per finished task to <folder>/<MINION_ID>.jsonl."},
    {NULL},
};

struct json_state {
    struct minion_instance *inst;
    /* Batch schedulers' job ids at start-up, each NULL when unset */
    char *oar_job_id;          /* OAR_JOB_ID */
    char *slurm_job_id;        /* SLURM_JOB_ID */
    char *slurm_array_task_id; /* SLURM_ARRAY_TASK_ID */
    int fd;
    int failing; /* the last write failed: log again only once it works */
    struct jsonbuf line; /* reused for every object */
};

/* mkdir -p: create @dir and its missing parents. Returns 0 or -errno. */
static int make_dirs(const char *dir)
{
    char *p, *path = strdup(dir);
    int err = 0;

    if (path == NULL) {
        return -ENOMEM;
    }
    for (p = path + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(path, 0777) < 0 && errno != EEXIST) {
            err = -errno;
        }
        *p = '/';
        if (err < 0) {
            break;
        }
    }
    if (err == 0 && mkdir(path, 0777) < 0 && errno != EEXIST) {
        err = -errno;
    }
    free(path);
    return err;
}

static void json_destroy(struct minion_instance *inst);

/* *@out = a copy of $@name, or NULL when unset. Returns 0 or -ENOMEM. */
static int copy_env(const char *name, char **out)
{
    const char *v = getenv(name);

    *out = v != NULL && *v != '\0' ? strdup(v) : NULL;
    return v != NULL && *v != '\0' && *out == NULL ? -ENOMEM : 0;
}

static void put_string_field(struct jsonbuf *b, const char *key,
                             const char *value)
{
    if (value == NULL) {
        return;
    }
    jsonbuf_puts(b, ",\"");
    jsonbuf_puts(b, key);
    jsonbuf_puts(b, "\":");
    jsonbuf_string(b, value, strlen(value));
}

static int json_init(struct minion_instance *inst, void *conf)
{
    struct json_conf *c = conf;
    struct json_state *st;

    if (c->directory == NULL || *c->directory == '\0') {
        minion_set_error(inst, "REPORTER_JSON_DIRECTORY is empty");
        return -EINVAL;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    st->inst = inst;
    st->fd = -1;
    jsonbuf_init(&st->line);
    minion_instance_set_data(inst, st);
    if (copy_env("OAR_JOB_ID", &st->oar_job_id) < 0 ||
        copy_env("SLURM_JOB_ID", &st->slurm_job_id) < 0 ||
        copy_env("SLURM_ARRAY_TASK_ID", &st->slurm_array_task_id) < 0) {
        json_destroy(inst); /* not called after a failed init */
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* One write(2) per record is whole against other writers, but a kill -9
 * in the middle of a large write can leave a part of it: cut the file
 * back to its last whole line, so what a restart appends stays valid. */
static void drop_torn_tail(struct minion_instance *inst, int fd,
                           const char *path)
{
    struct stat sb;
    char buf[4096];
    off_t end, at;

    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0) {
        return;
    }
    end = sb.st_size;
    if (pread(fd, buf, 1, end - 1) != 1 || buf[0] == '\n') {
        return;
    }
    for (at = end; at > 0;) {
        off_t from = at > (off_t)sizeof(buf) ? at - (off_t)sizeof(buf) : 0;
        ssize_t n = pread(fd, buf, (size_t)(at - from), from);

        if (n <= 0) {
            return;
        }
        while (n > 0 && buf[n - 1] != '\n') {
            n--;
        }
        if (n > 0) {
            at = from + n;
            break;
        }
        at = from;
    }
    if (ftruncate(fd, at) == 0) {
        minion_log(inst, MINION_LOG_WARN,
                   "%s: dropped %lld bytes of a record cut short by a "
                   "killed minion",
                   path, (long long)(end - at));
    }
}

static int json_start(struct minion_instance *inst, struct event_base *base)
{
    struct json_state *st = minion_instance_data(inst);
    const struct json_conf *c = minion_instance_conf(inst);
    const char *id = minion_instance_context(inst)->minion_id;
    char *path, *name;
    size_t dlen = strlen(c->directory), ilen, i;
    int err;

    err = make_dirs(c->directory);
    if (err < 0) {
        minion_set_error(inst, "REPORTER_JSON_DIRECTORY=%s: %s", c->directory,
                         strerror(-err));
        return err;
    }
    if (id == NULL || *id == '\0') {
        id = "minion";
    }
    ilen = strlen(id);
    path = malloc(dlen + 1 + ilen + sizeof(".jsonl"));
    if (path == NULL) {
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    memcpy(path, c->directory, dlen);
    path[dlen] = '/';
    name = path + dlen + 1;
    memcpy(name, id, ilen);
    memcpy(name + ilen, ".jsonl", sizeof(".jsonl"));
    /* A minion id is a name, not a path: keep the file in the folder. */
    for (i = 0; i < ilen; i++) {
        if (name[i] == '/') {
            name[i] = '_';
        }
    }
    st->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (st->fd < 0) {
        err = -errno;
        minion_set_error(inst, "open %s: %s", path, strerror(errno));
        free(path);
        return err;
    }
    drop_torn_tail(inst, st->fd, path);
    free(path);
    return 0;
}

/* Render @r as one line into st->line. */
static void render(struct json_state *st, const struct minion_report *r)
{
    struct jsonbuf *b = &st->line;
    const char *minion = r->minion_id != NULL ? r->minion_id : "";
    char num[32];
    size_t i;
    int n;

    jsonbuf_reset(b);
    if (r->run_uid != NULL) {
        jsonbuf_puts(b, "{\"uid\":");
        jsonbuf_string(b, r->run_uid, strlen(r->run_uid));
    } else {
        /* A core older than 2.2 gives no run uid: v1's per-run name. */
        jsonbuf_puts(b, "{\"uid\":\"");
        jsonbuf_escape(b, minion, strlen(minion));
        n = snprintf(num, sizeof(num), "-%llu\"", r->generation);
        jsonbuf_append(b, num, (size_t)n);
    }
    jsonbuf_puts(b, ",\"minion\":");
    jsonbuf_string(b, minion, strlen(minion));
    jsonbuf_puts(b, ",\"generation\":");
    jsonbuf_llong(b, (long long)r->generation);
    jsonbuf_puts(b, ",\"start\":");
    jsonbuf_double(b, r->start);
    jsonbuf_puts(b, ",\"end\":");
    jsonbuf_double(b, r->end);
    jsonbuf_puts(b, ",\"duration\":");
    jsonbuf_double(b, r->end - r->start);
    jsonbuf_puts(b, ",\"task_id\":");
    if (r->task_id != NULL) {
        jsonbuf_string(b, r->task_id, strlen(r->task_id));
    } else {
        jsonbuf_puts(b, "null");
    }
    jsonbuf_puts(b, ",\"attempt\":");
    jsonbuf_llong(b, r->attempt);
    jsonbuf_puts(b, ",\"status\":\"");
    jsonbuf_puts(b, minion_status_name(r->status));
    jsonbuf_puts(b, "\",\"exit_code\":");
    if (r->exit_code == -1) {
        jsonbuf_puts(b, "null");
    } else {
        jsonbuf_llong(b, r->exit_code);
    }
    jsonbuf_puts(b, ",\"error\":");
    if (r->error != NULL) {
        jsonbuf_string(b, r->error, strlen(r->error));
    } else {
        jsonbuf_puts(b, "null");
    }
    jsonbuf_puts(b, ",\"param\":");
    jsonbuf_string(b, r->param != NULL ? r->param : "", r->param_len);
    jsonbuf_puts(b, ",\"output\":");
    jsonbuf_string(b, r->output != NULL ? r->output : "", r->output_len);
    jsonbuf_puts(b, ",\"atomic_actions\":[");
    for (i = 0; i < r->n_actions; i++) {
        const struct minion_action *a = &r->actions[i];
        const char *name = a->name != NULL ? a->name : "";
        jsonbuf_puts(b, i == 0 ? "{\"name\":" : ",{\"name\":");
        jsonbuf_string(b, name, strlen(name));
        jsonbuf_puts(b, ",\"start\":");
        jsonbuf_double(b, a->start);
        jsonbuf_puts(b, ",\"end\":");
        jsonbuf_double(b, a->end);
        jsonbuf_puts(b, "}");
    }
    jsonbuf_puts(b, "],\"nodename\":");
    if (r->nodename != NULL) {
        jsonbuf_string(b, r->nodename, strlen(r->nodename));
    } else {
        jsonbuf_puts(b, "null");
    }
    put_string_field(b, "oar_job_id", st->oar_job_id);
    put_string_field(b, "slurm_job_id", st->slurm_job_id);
    put_string_field(b, "slurm_array_task_id", st->slurm_array_task_id);
    /* The task process's resources: null for a run with no process of its
     * own (a function, a container). */
    if (r->usage != NULL) {
        jsonbuf_puts(b, ",\"signal\":");
        if (r->usage->signal > 0) {
            jsonbuf_llong(b, r->usage->signal);
        } else {
            jsonbuf_puts(b, "null");
        }
        jsonbuf_puts(b, ",\"maxrss_kb\":");
        jsonbuf_llong(b, r->usage->maxrss_kb);
        jsonbuf_puts(b, ",\"user_s\":");
        jsonbuf_double(b, r->usage->user_s);
        jsonbuf_puts(b, ",\"sys_s\":");
        jsonbuf_double(b, r->usage->sys_s);
    } else {
        jsonbuf_puts(b, ",\"signal\":null,\"maxrss_kb\":null,"
                        "\"user_s\":null,\"sys_s\":null");
    }
    jsonbuf_puts(b, "}\n");
}

static void json_on_report(struct minion_instance *inst,
                           const struct minion_report *r)
{
    struct json_state *st = minion_instance_data(inst);
    const char *p;
    size_t left;
    ssize_t n;
    int err = 0;

    if (st->fd < 0) {
        return;
    }
    render(st, r);
    if (st->line.oom) {
        err = ENOMEM;
    }
    p = st->line.data;
    left = st->line.len;
    /* One write(2) for a whole line; a short write (disk full, a signal)
     * is finished rather than left as half a line. */
    while (err == 0 && left > 0) {
        n = write(st->fd, p, left);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            err = errno;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (err != 0 && !st->failing) {
        minion_log(inst, MINION_LOG_WARN,
                   "cannot write the report of task %s: %s",
                   r->task_id != NULL ? r->task_id : "-", strerror(err));
    } else if (err == 0 && st->failing) {
        minion_log(inst, MINION_LOG_INFO, "writing reports again");
    }
    st->failing = err != 0;
}

static void json_destroy(struct minion_instance *inst)
{
    struct json_state *st = minion_instance_data(inst);

    if (st == NULL) {
        return;
    }
    if (st->fd >= 0) {
        close(st->fd);
    }
    jsonbuf_fini(&st->line);
    free(st->oar_job_id);
    free(st->slurm_job_id);
    free(st->slurm_array_task_id);
    free(st);
    minion_instance_set_data(inst, NULL);
}

static const struct minion_reporter_ops json_ops = {
    MINION_OPS_HEADER(struct minion_reporter_ops),
    .on_report = json_on_report,
};

const struct minion_plugin minion_plugin_json = {
    MINION_PLUGIN_HEADER(MINION_KIND_REPORTER),
    .name = "json",
    .summary = "Append one JSON object per finished task to a file per minion",
    .conf_size = sizeof(struct json_conf),
    .options = json_options,
    .init = json_init,
    .start = json_start,
    .destroy = json_destroy,
    .reporter = &json_ops,
};
