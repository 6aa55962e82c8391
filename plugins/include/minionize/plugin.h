/* SPDX-License-Identifier: MIT */
/*
 * <minionize/plugin.h>: the only header a minionize plugin includes.
 *
 * A plugin is a shared object that exports one descriptor,
 * `const struct minion_plugin minion_plugin_<name>`. The core dlopens it,
 * checks the ABI, fills the plugin's configuration struct from its option
 * table, and drives it through init / start / kind-specific hooks / stop /
 * destroy, all on the core's single libevent loop thread.
 *
 * Three kinds:
 *  - engine:   where params come from (file, redis, pulsar). Delivers params
 *              as the core grants credit, and settles each one as the core
 *              says (ack, retry, dead-letter, release).
 *  - callback: what runs per param (process, function, docker). Asynchronous:
 *              process() starts the work, minion_task_done() ends it.
 *  - reporter: gets one report per finished run of a task.
 *
 * Lifetimes: the conf struct, its strings, the instance and the event base
 * live from init() until destroy() returns. Everything else is documented at
 * the function that lends or takes it ("Borrows:", "Takes:", "Returns:").
 *
 * Growing: every struct here that crosses between a plugin and the core
 * records its own size in its first member (filled by the MINION_*_INIT
 * macros), and fields are only ever appended, so a plugin built against an
 * older header still loads: whatever lies past the size it recorded is
 * absent (NULL, 0) for the core. Moving or removing a field bumps
 * MINION_ABI_MAJOR; a new function or field bumps MINION_ABI_MINOR, and a
 * plugin built against a newer minor than the core's is refused by name.
 *
 * libevent: plugins get the core's `struct event_base` and use libevent 2.1
 * (event2/ headers); the core and its plugins must link the same libevent.
 *
 * Threads: every function here is for the loop thread only, except
 * minion_task_param, minion_task_id, minion_task_attempt, minion_task_output,
 * minion_output_write, minion_output_printf, minion_task_set_error,
 * minion_task_set_exit_code and minion_now, which a callback's worker thread
 * may call on a task it currently owns.
 */
#ifndef MINIONIZE_PLUGIN_H
#define MINIONIZE_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when a field moves or disappears; fields are only ever appended. */
#define MINION_ABI_MAJOR 2
/* Bumped when a function or a field is added: what a plugin built against
 * this header may use. */
#define MINION_ABI_MINOR                                                       \
    3 /* 2.1: minion_stats_get; 2.2: minion_usage,                             \
         report.run_uid, engine queue(); 2.3: report.retry_delay,              \
         context.retry_delay/retry_delay_max */

#if defined(__GNUC__)
#define MINION_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MINION_PRINTF(f, a)
#endif

struct event_base;
struct minion_instance;                     /* one configured plugin, opaque */
struct minion_queue;                        /* an engine's queue figures */
typedef struct minion_task minion_task;     /* one run of one param, opaque */
typedef struct minion_output minion_output; /* a task's captured result */

enum minion_kind {
    MINION_KIND_ENGINE = 1,   /* delivers params */
    MINION_KIND_CALLBACK = 2, /* runs a param */
    MINION_KIND_REPORTER = 3, /* records finished tasks */
};

/* How one run of a task ended, as the callback (or function) says. */
enum minion_outcome {
    MINION_OK = 0,     /* done: the param is acked */
    MINION_RETRY = 1,  /* failed: counts an attempt; dead after max attempts */
    MINION_REJECT = 2, /* failed for good: dead-letter now */
    MINION_DEFER = 3,  /* could not start for the minion's own reasons (no
                          descriptors, memory or processes left): not an
                          attempt; the core holds the param and runs it
                          again later, with backoff. Callbacks only. */
};

/* What the core asks an engine to do with a param it delivered. */
enum minion_verdict {
    MINION_VERDICT_ACK = 0,     /* ran ok: forget it for good */
    MINION_VERDICT_RETRY = 1,   /* failed, attempts left: deliver it again */
    MINION_VERDICT_DEAD = 2,    /* failed for good: dead-letter, then ack */
    MINION_VERDICT_RELEASE = 3, /* not run to the end (shutdown): no ack,
                                   leave it for this or another minion; the
                                   run is not an attempt: its next run has
                                   the same attempt number (report->attempt) */
};

/* A finished run as reporters see it. */
enum minion_status {
    MINION_STATUS_OK = 0,       /* succeeded */
    MINION_STATUS_FAILED = 1,   /* failed, will be retried */
    MINION_STATUS_DEAD = 2,     /* failed, dead-lettered */
    MINION_STATUS_RELEASED = 3, /* interrupted by shutdown, left unacked */
};

enum minion_log_level {
    MINION_LOG_ERROR = 0, /* the minion cannot do what was asked */
    MINION_LOG_WARN = 1,  /* something went wrong and was handled */
    MINION_LOG_INFO = 2,  /* start, stop, reconnects: the default level */
    MINION_LOG_DEBUG = 3, /* per-task detail */
};

/* ------------------------------------------------------------------------ */
/* Settings                                                                  */

/* The C type each option type is stored as in the conf struct. */
enum minion_opt_type {
    MINION_OPT_STRING = 0,   /* char *, NULL when unset without default */
    MINION_OPT_INT = 1,      /* long long */
    MINION_OPT_BOOL = 2,     /* int: 1/0 from 1/0, true/false, yes/no, on/off */
    MINION_OPT_DURATION = 3, /* double seconds: "30", "30s", "250ms", "5m" */
    MINION_OPT_SIZE = 4,     /* size_t bytes: "65536", "64k", "1M", "1G" */
    MINION_OPT_ENUM = 5,     /* int: index of the value in .choices */
    MINION_OPT_LIST = 6,     /* char **, NULL-terminated, from "a,b,c" */
};

#define MINION_OPT_REQUIRED 0x1 /* start-up fails when the option is unset */
#define MINION_OPT_SECRET 0x2   /* never printed, not even by --help-plugin */

/*
 * One row of a plugin's option table. The name is also the environment
 * variable (and .env key) it is read from: "MINION_FILE", "REDIS_URL".
 * A table ends with a row whose name is NULL.
 */
struct minion_option {
    /* Rows are read with the stride the descriptor records (option_size),
     * so this struct may grow at its end. */
    const char *name;
    enum minion_opt_type type;
    const char *def;     /* default as text, parsed like user input; or NULL */
    size_t offset;       /* offsetof(struct my_conf, field) */
    unsigned flags;      /* MINION_OPT_REQUIRED, MINION_OPT_SECRET */
    const char *help;    /* one sentence: unit and effect */
    const char *choices; /* MINION_OPT_ENUM only: "identity|json" */
};

/* ------------------------------------------------------------------------ */
/* What the core knows and lends to every plugin                             */

enum minion_decoder {
    MINION_DECODER_IDENTITY = 0, /* the param is its raw bytes */
    MINION_DECODER_JSON = 1,     /* the param must be one JSON value */
};

/* The core's settings, read-only. Fields are only ever appended. */
struct minion_context {
    const char *minion_id; /* MINION_ID: consumer name, report uid prefix */
    const char *nodename;  /* uname's node name */
    unsigned concurrency;  /* MINION_CONCURRENCY, at least 1 */
    unsigned max_attempts; /* MINION_MAX_ATTEMPTS, at least 1 */
    double timeout;        /* MINION_TIMEOUT seconds; 0: none */
    double grace;          /* MINION_GRACE seconds after SIGTERM */
    int decoder;           /* enum minion_decoder */
    int dry_run;           /* DRY: print, run and ack nothing (every param
                              is settled MINION_VERDICT_RELEASE) */
    int exit_when_empty;   /* MINION_EXIT_WHEN_EMPTY / --drain */
    long long max_tasks;   /* MINION_MAX_TASKS; 0: no limit */
    size_t result_bytes;   /* MINION_RESULT_BYTES: result tail kept */
    int argc;              /* PROGRAM ARGS... after the options */
    char *const *argv;     /* NULL-terminated; argv[0] is PROGRAM */
    /* Since 2.3 */
    double retry_delay;     /* MINION_RETRY_DELAY seconds; 0: at once */
    double retry_delay_max; /* MINION_RETRY_DELAY_MAX seconds */
};

/* ------------------------------------------------------------------------ */
/* Engines                                                                   */

/* One param as an engine hands it to the core. Fill it from
 * MINION_PARAM_INIT, so the core knows which fields it has. */
struct minion_param {
    unsigned size;    /* sizeof(struct minion_param) where it was built */
    const char *data; /* the param's bytes, not NUL-terminated */
    size_t len;
    const char *id;   /* engine's task id: line number, stream entry id */
    unsigned attempt; /* 1 on first delivery */
    void *handle;     /* the engine's own; given back to finish() */
};

/* What a task's own process used, from wait4(2) (since 2.2). */
struct minion_usage {
    unsigned size;        /* MINION_USAGE_INIT */
    int signal;           /* the signal that ended it; 0: it exited */
    long maxrss_kb;       /* its peak resident set, KiB */
    double user_s, sys_s; /* CPU time, with its waited-for children */
};

#define MINION_USAGE_INIT                                                      \
    {                                                                          \
        .size = sizeof(struct minion_usage)                                    \
    }

/* An entry of a task's timeline (the JSON report's atomic_actions). */
struct minion_action {
    const char *name;
    double start, end; /* epoch seconds */
};

#define MINION_PARAM_INIT                                                      \
    {                                                                          \
        .size = sizeof(struct minion_param)                                    \
    }

/* Everything known about one finished run of a task. A report a plugin
 * makes (minion_engine_report) starts from MINION_REPORT_INIT. */
struct minion_report {
    unsigned size; /* sizeof(struct minion_report) where it was built */
    const char *minion_id;
    const char *nodename;
    const char *task_id;
    const char *param; /* not NUL-terminated */
    size_t param_len;
    unsigned attempt;
    unsigned long long generation; /* this minion's run counter, from 1 */
    enum minion_status status;
    int exit_code;      /* the program's exit status; -1: none */
    const char *error;  /* NULL on success, else one line */
    const char *output; /* the result tail, not NUL-terminated */
    size_t output_len;
    double start, end; /* epoch seconds */
    const struct minion_action *actions;
    size_t n_actions;
    /* Since 2.2 */
    const char *run_uid; /* this run of the minion process; the core's */
    const struct minion_usage *usage; /* NULL: no process of its own */
    /* Since 2.3. With MINION_VERDICT_RETRY: seconds the param must wait
     * before its next run, by any minion (MINION_RETRY_DELAY, doubled for
     * each attempt after the first, at most MINION_RETRY_DELAY_MAX); 0: it
     * may run again at once. An engine keeps other params flowing
     * meanwhile, and a stop during the wait loses nothing. */
    double retry_delay;
};

#define MINION_REPORT_INIT                                                     \
    {                                                                          \
        .size = sizeof(struct minion_report)                                   \
    }

/* Each kind's hooks are a table of their own, reached from the descriptor
 * by pointer, that records its size: MINION_OPS_HEADER(type) first. */
#define MINION_OPS_HEADER(type) .size = sizeof(type)

struct minion_engine_ops {
    unsigned size; /* MINION_OPS_HEADER */
    /* The core can take @n more params: deliver up to that many more, now
     * or later, through minion_engine_deliver(). Credit adds up. */
    void (*request)(struct minion_instance *inst, unsigned n);
    /* Settle a delivered param. Borrows: report, valid until this returns.
     * Called exactly once per delivery, also at shutdown (RELEASE). */
    void (*finish)(struct minion_instance *inst, void *handle,
                   enum minion_verdict verdict,
                   const struct minion_report *report);
    /* Stop delivering: the outstanding credit is void. finish() keeps
     * working until stop(). Optional. */
    void (*pause)(struct minion_instance *inst);
    /* Since 2.2, optional: the queue's figures as last known, at once and
     * without blocking (the core asks often while /metrics or the progress
     * line is on; an engine that must fetch them refreshes them in the
     * background, at most once a second, never on a task's path). */
    void (*queue)(struct minion_instance *inst, struct minion_queue *out);
};

/* The queue as an engine knows it; a figure it cannot know stays -1
 * (MINION_QUEUE_INIT). */
struct minion_queue {
    unsigned size;
    long long total;   /* params ever put in it (a file's lines) */
    long long done;    /* of those, settled for good by any minion */
    long long lag;     /* not yet delivered to any minion */
    long long pending; /* delivered, not yet settled, by all minions */
    long long dead;    /* dead letters */
};

#define MINION_QUEUE_INIT                                                      \
    {                                                                          \
        .size = sizeof(struct minion_queue), .total = -1, .done = -1,          \
        .lag = -1, .pending = -1, .dead = -1                                   \
    }

/* Hand one param to the core; the callback runs it. Loop thread only.
 * Borrows: param (data and id are copied). Returns 0, or -ENOSPC when the
 * engine had no credit left (the param was not taken). */
int minion_engine_deliver(struct minion_instance *inst,
                          const struct minion_param *param);

/* The engine has nothing more to deliver, now or later, and every param it
 * delivered is settled: the minion exits 0 once idle. */
void minion_engine_drained(struct minion_instance *inst);

/* A param the engine settled by itself, never delivered (dead-lettered
 * because its runs keep dying, or lost because it was deleted): reporters
 * get @report and the minion counts it. Loop thread only. Borrows: report;
 * minion_id, nodename and generation may be left 0 for the core to fill. */
void minion_engine_report(struct minion_instance *inst,
                          const struct minion_report *report);

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                 */

struct minion_callback_ops {
    unsigned size; /* MINION_OPS_HEADER */
    /* The param was fetched; prepare. Return MINION_OK to go on to
     * process(), MINION_RETRY / MINION_REJECT to fail the task (set an
     * error first). Optional. */
    int (*setup)(struct minion_instance *inst, minion_task *task);
    /* Start the work. It ends with exactly one minion_task_done() on the
     * loop thread, possibly before process() returns. Required. */
    void (*process)(struct minion_instance *inst, minion_task *task);
    /* Stop a running task now (timeout, forced shutdown). It still ends
     * with minion_task_done(), which may come before cancel() returns:
     * the task may be freed by then. Optional. */
    void (*cancel)(struct minion_instance *inst, minion_task *task);
    /* After the task is done, with its final outcome. Optional. */
    void (*teardown)(struct minion_instance *inst, minion_task *task,
                     enum minion_outcome outcome);
    /* DRY mode: write what process() would run into @out (one line).
     * Return 0, or MINION_REJECT with an error set when the param cannot
     * be run at all. Optional: the core prints the param itself. */
    int (*describe)(struct minion_instance *inst, minion_task *task,
                    minion_output *out);
};

/* Borrows: the param's bytes, valid while the task lives. */
const char *minion_task_param(const minion_task *task, size_t *len);
const char *minion_task_id(const minion_task *task);
/* 1 on the first delivery. */
unsigned minion_task_attempt(const minion_task *task);
minion_output *minion_task_output(minion_task *task);
/* One line saying why the task failed; the last call wins. The task is
 * const so that a function, which gets a const task, may say why it failed
 * (what it says is kept apart from the task itself, so nothing const is
 * written); only the thread running the task may call these. */
void minion_task_set_error(const minion_task *task, const char *fmt, ...)
    MINION_PRINTF(2, 3);
void minion_task_set_exit_code(const minion_task *task, int code);
/* What the task's own process used (since 2.2; process-like callbacks).
 * Loop thread only. Borrows: usage (copied). */
void minion_task_set_usage(minion_task *task, const struct minion_usage *usage);
/* Per-task storage for the callback. */
void minion_task_set_data(minion_task *task, void *data);
void *minion_task_data(const minion_task *task);
/* The callback holds @task back, waiting on other tasks rather than on its
 * own work (1), or no longer (0): while it waits it holds no concurrency
 * slot, so the core may take more params. Use it sparingly: a handful of
 * tasks, briefly. Loop thread only. */
void minion_task_set_waiting(minion_task *task, int waiting);
/* Add a step to the task's timeline. Borrows: name (copied). */
void minion_task_add_action(minion_task *task, const char *name, double start,
                            double end);
/* End the task: the core settles it, reports it and frees it, so @task
 * must not be touched after this call. Loop thread only; exactly once per
 * process(). */
void minion_task_done(minion_task *task, enum minion_outcome outcome);

/* Append to the task's result: the last MINION_RESULT_BYTES are kept. On the
 * loop thread whole lines also go to stdout as they come; from a worker
 * thread the output goes to stdout, whole, when the task is done.
 * Returns 0 or -ENOMEM. */
int minion_output_write(minion_output *out, const void *buf, size_t len);
int minion_output_printf(minion_output *out, const char *fmt, ...)
    MINION_PRINTF(2, 3);

/* The user function of the `function` callback (MINION_FUNCTION). Runs on a
 * worker thread; returns an enum minion_outcome. */
typedef int (*minion_function_fn)(const minion_task *task, minion_output *out);

/* ------------------------------------------------------------------------ */
/* Reporters                                                                 */

struct minion_reporter_ops {
    unsigned size; /* MINION_OPS_HEADER */
    /* One finished run. Borrows: report, valid until this returns. */
    void (*on_report)(struct minion_instance *inst,
                      const struct minion_report *report);
};

/* ------------------------------------------------------------------------ */
/* The descriptor                                                            */

struct minion_plugin {
    unsigned abi;         /* MINION_ABI_MAJOR at build time */
    unsigned abi_minor;   /* MINION_ABI_MINOR at build time: the core must
                             have at least this minor */
    unsigned size;        /* sizeof(struct minion_plugin) at build time */
    unsigned option_size; /* sizeof(struct minion_option) at build time */
    enum minion_kind kind;
    const char *name;    /* matches the file name and the symbol */
    const char *summary; /* one line for --help-plugin */
    size_t conf_size;    /* the struct the option table fills */
    const struct minion_option *options;

    /* Validate @conf and allocate; no I/O. On failure: free what was made,
     * minion_set_error(), return < 0; destroy() is then never called. */
    int (*init)(struct minion_instance *inst, void *conf);
    /* Attach events, connect, check what must be checked at start-up.
     * Returns 0, or < 0 with minion_set_error(): the minion exits 2. */
    int (*start)(struct minion_instance *inst, struct event_base *base);
    /* Every task is settled: flush and close. Returns 0 when stopped now, 1
     * when it will call minion_instance_stopped() later (the core waits
     * for it, at most 10 seconds). Optional. */
    int (*stop)(struct minion_instance *inst);
    /* Free everything. Optional. */
    void (*destroy)(struct minion_instance *inst);

    /* The table of the plugin's kind; the others NULL. */
    const struct minion_engine_ops *engine;
    const struct minion_callback_ops *callback;
    const struct minion_reporter_ops *reporter;
};

#define MINION_PLUGIN_HEADER(k)                                                \
    .abi = MINION_ABI_MAJOR, .abi_minor = MINION_ABI_MINOR,                    \
    .size = sizeof(struct minion_plugin),                                      \
    .option_size = sizeof(struct minion_option), .kind = (k)

/* ------------------------------------------------------------------------ */
/* Instances                                                                 */

/* Set the instance's one error line (read by the core when a hook fails). */
void minion_set_error(struct minion_instance *inst, const char *fmt, ...)
    MINION_PRINTF(2, 3);
const char *minion_error(const struct minion_instance *inst);
/* Log to stderr, prefixed with the instance ("engine redis: ..."). */
void minion_log(struct minion_instance *inst, enum minion_log_level level,
                const char *fmt, ...) MINION_PRINTF(3, 4);
void minion_instance_set_data(struct minion_instance *inst, void *data);
void *minion_instance_data(const struct minion_instance *inst);
void *minion_instance_conf(const struct minion_instance *inst);
struct event_base *minion_instance_base(const struct minion_instance *inst);
const struct minion_context *
minion_instance_context(const struct minion_instance *inst);
/* Finish a stop() that returned 1. */
void minion_instance_stopped(struct minion_instance *inst);
/* A fatal runtime error: the minion releases what is in flight and exits 1. */
void minion_instance_fail(struct minion_instance *inst, const char *fmt, ...)
    MINION_PRINTF(2, 3);
/* A configuration error found only at run time (the program's arguments can
 * never be built, whatever the param): logged as one line, what is in flight
 * is released, and the minion exits 2, as for a bad setting at start-up. */
void minion_instance_fail_config(struct minion_instance *inst, const char *fmt,
                                 ...) MINION_PRINTF(2, 3);

/* The minion's own figures (since 2.1). Set .size (MINION_STATS_INIT)
 * before the call: the core fills that much. */
struct minion_stats {
    unsigned size;
    unsigned long long ok, failed, dead, released; /* finished runs */
    unsigned in_flight;                            /* tasks running now */
    double started;                                /* epoch seconds */
};
#define MINION_STATS_INIT                                                      \
    {                                                                          \
        .size = sizeof(struct minion_stats)                                    \
    }
/* Loop thread only. */
void minion_stats_get(const struct minion_instance *inst,
                      struct minion_stats *out);

/* "ok", "failed", "dead" or "released": the names reports use. Any thread. */
const char *minion_status_name(enum minion_status status);

/* Wall-clock time, epoch seconds. Any thread. */
double minion_now(void);

#ifdef __cplusplus
}
#endif

#endif
