/* SPDX-License-Identifier: MIT */
/* minionize: one minion. Takes params from an engine, runs a callback per
 * param, settles each one, reports. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "cli.h"
#include "halt.h"
#include "instance.h"
#include "known.h"
#include "settings.h"
#include "log.h"
#include "metrics.h"
#include "options.h"
#include "progress.h"
#include "runner.h"
#include "stdfds.h"
#include "task.h"

extern char **environ;

/* The core's own settings, parsed like any plugin's. */
struct core_conf {
    char *engine;
    char *callback;
    char **reporters;
    long long concurrency;
    long long max_attempts;
    double timeout;
    double grace;
    int decoder;
    long long max_tasks;
    int exit_when_empty;
    char *minion_id;
    char *plugin_path;
    char *stats_addr;
    int progress;
    int log_level;
    char *dry;
    size_t result_bytes;
    long long dead_exit;
    double retry_delay;
    double retry_delay_max;
    char *stop_exit;
    char *halt_dead;
    /* Parsed from the two above. */
    int stop_exit_code; /* -1: unset */
    struct halt_policy halt;
};

#define CORE(field) offsetof(struct core_conf, field)

static const struct minion_option core_options[] = {
    {"MINION_ENGINE", MINION_OPT_STRING, "file", CORE(engine), 0,
     "Where params come from: file, redis, or a path to an engine .so."},
    {"MINION_CALLBACK", MINION_OPT_STRING, "process", CORE(callback), 0,
     "What runs per param: process, function, or a path to a callback .so."},
    {"MINION_REPORTER", MINION_OPT_LIST, "null", CORE(reporters), 0,
     "Comma list of reporters: null, stdout, json, or paths to .so files."},
    {"MINION_CONCURRENCY", MINION_OPT_INT, "1", CORE(concurrency), 0,
     "Tasks in flight in this minion (-j)."},
    {"MINION_MAX_ATTEMPTS", MINION_OPT_INT, "3", CORE(max_attempts), 0,
     "Runs of a failing param before it is dead-lettered."},
    {"MINION_TIMEOUT", MINION_OPT_DURATION, "0", CORE(timeout), 0,
     "Seconds a task may run before it is stopped and counted failed; 0: "
     "no limit."},
    {"MINION_GRACE", MINION_OPT_DURATION, "30", CORE(grace), 0,
     "Seconds in-flight tasks get to finish after SIGTERM/SIGINT."},
    {"MINION_DECODER", MINION_OPT_ENUM, "identity", CORE(decoder), 0,
     "identity: the param is its raw text; json: it must be one JSON value.",
     "identity|json"},
    {"MINION_MAX_TASKS", MINION_OPT_INT, "0", CORE(max_tasks), 0,
     "Exit after this many tasks; 0: no limit."},
    {"MINION_EXIT_WHEN_EMPTY", MINION_OPT_BOOL, "0", CORE(exit_when_empty), 0,
     "Exit once the queue holds nothing new and nothing pending (--drain)."},
    {"MINION_ID", MINION_OPT_STRING, NULL, CORE(minion_id), 0,
     "This minion's name: consumer name, report file name. Default "
     "HOSTNAME-PID."},
    {"MINION_PLUGIN_PATH", MINION_OPT_STRING, NULL, CORE(plugin_path), 0,
     "Colon list of folders searched first for plugins given by name."},
    {"MINION_STATS_ADDR", MINION_OPT_STRING, NULL, CORE(stats_addr), 0,
     "HOST:PORT of an HTTP server with GET /metrics (Prometheus) and GET "
     "/stats (JSON); unset: none. It listens only there."},
    {"MINION_PROGRESS", MINION_OPT_BOOL, "false", CORE(progress), 0,
     "A one-line progress on stderr, only to a terminal (--progress)."},
    {"MINION_LOG_LEVEL", MINION_OPT_ENUM, "info", CORE(log_level), 0,
     "error, warn, info or debug; logs go to stderr (-q, -v).",
     "error|warn|info|debug"},
    {"DRY", MINION_OPT_STRING, NULL, CORE(dry), 0,
     "When set (and not 0/false/no): print what would run; run and ack "
     "nothing, so the params stay for real minions (--dry-run)."},
    {"MINION_RESULT_BYTES", MINION_OPT_SIZE, "65536", CORE(result_bytes), 0,
     "Bytes of a task's output kept as its result (the tail)."},
    {"MINION_DEAD_EXIT", MINION_OPT_INT, "4", CORE(dead_exit), 0,
     "Exit status when the minion drained and at least one param it "
     "handled ended dead (0 when dead letters are handled downstream)."},
    {"MINION_RETRY_DELAY", MINION_OPT_DURATION, "0", CORE(retry_delay), 0,
     "Seconds a failed param waits before its next run, doubled at each "
     "further attempt; other params keep flowing meanwhile. 0: at once."},
    {"MINION_RETRY_DELAY_MAX", MINION_OPT_DURATION, "5m", CORE(retry_delay_max),
     0, "The longest MINION_RETRY_DELAY may grow to."},
    {"MINION_STOP_EXIT", MINION_OPT_STRING, NULL, CORE(stop_exit), 0,
     "Exit status when a stop signal ended the minion before its queue was "
     "drained (99 for OAR's idempotent jobs); unset: 0, or 1 when tasks had "
     "to be killed."},
    {"MINION_HALT_DEAD", MINION_OPT_STRING, "0", CORE(halt_dead), 0,
     "Stop taking params once N params ended dead here (N), or once N% of "
     "finished params are dead (N%, after at least 10); in-flight tasks "
     "finish; exit status 3. 0: never."},
    {NULL}};

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: minionize [OPTIONS] [--] [PROGRAM [ARGS...]]\n"
        "Run PROGRAM (default: echo) once per param taken from a queue.\n"
        "\n"
        "  -e, --engine NAME        file (default), redis, or an engine .so\n"
        "  -c, --callback NAME      process (default), function, or a .so\n"
        "  -r, --reporter LIST      null (default), stdout, json, ...\n"
        "  -j, --concurrency N      tasks in flight (default 1)\n"
        "  -a, --arg-file FILE      read params from FILE (MINION_FILE)\n"
        "      --drain              exit when the queue is empty\n"
        "      --progress           a progress line on stderr (a terminal)\n"
        "  -n, --dry-run            print what would run, run nothing\n"
        "      --set NAME=VALUE     any setting, as if in the environment\n"
        "      --env-file PATH      read settings from PATH instead of ./.env\n"
        "  -v, --verbose            log debug detail\n"
        "  -q, --quiet              log warnings and errors only\n"
        "      --help-plugin NAME   a plugin's settings (--format=markdown)\n"
        "  -h, --help               this help\n"
        "  -V, --version            the version\n"
        "\n"
        "Placeholders in ARGS: {} is the param, {name} a field of a JSON\n"
        "object param; without placeholders the param is the last argument.\n"
        "Settings come from flags, then the environment, then .env.\n"
        "Core settings:\n");
    options_print(out, core_options, 0);
}

/* One line for a usage error, exit status 2. */
static int usage_error(const char *what, const char *arg)
{
    log_error("%s '%s' (see minionize --help)", what, arg);
    return 2;
}

static int is_dry(const char *value)
{
    int b;

    if (!value) {
        return 0;
    }
    if (options_parse_bool(value, &b) == 0) {
        return b;
    }
    return 1;
}

/* MINION_STOP_EXIT: unset or empty is -1 (the default statuses). */
static int parse_stop_exit(const char *text, int *code)
{
    char *end;
    long v;

    *code = -1;
    if (!text || !*text) {
        return 0;
    }
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < 0 || v > 255) {
        return -1;
    }
    *code = (int)v;
    return 0;
}

/* The core settings, checked. Returns 0 or 2 (after logging). */
static int load_core(struct core_conf *cc, struct settings *cfg)
{
    if (options_fill(core_options, cc, cfg) < 0) {
        log_error("%s", settings_error(cfg));
        return 2;
    }
    if (cc->concurrency < 1 || cc->concurrency > 100000) {
        log_error("MINION_CONCURRENCY must be between 1 and 100000, not %lld",
                  cc->concurrency);
        return 2;
    }
    if (cc->max_attempts < 1 || cc->max_attempts > 1000000) {
        log_error("MINION_MAX_ATTEMPTS must be at least 1, not %lld",
                  cc->max_attempts);
        return 2;
    }
    /* Larger values would overflow a timeval; 30 years is "no limit". */
    if (cc->timeout > 1e9 || cc->grace > 1e9) {
        log_error("%s must be at most 1e9 seconds",
                  cc->timeout > 1e9 ? "MINION_TIMEOUT" : "MINION_GRACE");
        return 2;
    }
    if (cc->dead_exit < 0 || cc->dead_exit > 255) {
        log_error("MINION_DEAD_EXIT must be an exit status from 0 to 255, "
                  "not %lld",
                  cc->dead_exit);
        return 2;
    }
    if (cc->retry_delay < 0 || cc->retry_delay > 1e9 ||
        cc->retry_delay_max > 1e9) {
        log_error("MINION_RETRY_DELAY%s must be from 0 to 1e9 seconds",
                  cc->retry_delay_max > 1e9 ? "_MAX" : "");
        return 2;
    }
    if (parse_stop_exit(cc->stop_exit, &cc->stop_exit_code) < 0) {
        log_error("MINION_STOP_EXIT must be an exit status from 0 to 255, "
                  "not '%s'",
                  cc->stop_exit);
        return 2;
    }
    if (halt_parse(cc->halt_dead, &cc->halt) < 0) {
        log_error("MINION_HALT_DEAD must be a count (5) or a share (10%%) of "
                  "dead params, not '%s'",
                  cc->halt_dead);
        return 2;
    }
    if (cc->max_tasks < 0) {
        log_error("MINION_MAX_TASKS must be 0 or more, not %lld",
                  cc->max_tasks);
        return 2;
    }
    if (!cc->reporters || !cc->reporters[0]) {
        log_error("MINION_REPORTER is empty: use null for none");
        return 2;
    }
    return 0;
}

static char *default_minion_id(void)
{
    char host[256];
    char *id;

    if (gethostname(host, sizeof(host)) < 0) {
        snprintf(host, sizeof(host), "minion");
    }
    host[sizeof(host) - 1] = '\0';
    if (asprintf(&id, "%s-%ld", host, (long)getpid()) < 0) {
        return NULL;
    }
    return id;
}

static int help_plugin(const char *name, const char *search_path, int markdown)
{
    static const enum minion_kind kinds[] = {
        MINION_KIND_ENGINE, MINION_KIND_CALLBACK, MINION_KIND_REPORTER};
    int found = 0;

    for (size_t i = 0; i < 3; i++) {
        struct loaded_plugin lp = {0};
        if (loader_open(&lp, name, kinds[i], search_path) == 0) {
            if (found) {
                printf("\n");
            }
            instance_print_help(&lp, markdown);
            loader_close(&lp);
            found = 1;
        }
    }
    if (!found) {
        char *e = loader_list(MINION_KIND_ENGINE, search_path);
        char *c = loader_list(MINION_KIND_CALLBACK, search_path);
        char *r = loader_list(MINION_KIND_REPORTER, search_path);
        log_error("no plugin '%s' (engines: %s; callbacks: %s; reporters: "
                  "%s)",
                  name, e ? e : "", c ? c : "", r ? r : "");
        free(e);
        free(c);
        free(r);
        return 2;
    }
    return 0;
}

enum {
    OPT_DRAIN = 256,
    OPT_SET,
    OPT_PROGRESS,
    OPT_ENV_FILE,
    OPT_HELP_PLUGIN,
    OPT_FORMAT,
};

static const struct option long_options[] = {
    {"engine", required_argument, NULL, 'e'},
    {"callback", required_argument, NULL, 'c'},
    {"reporter", required_argument, NULL, 'r'},
    {"concurrency", required_argument, NULL, 'j'},
    {"jobs", required_argument, NULL, 'j'},
    {"arg-file", required_argument, NULL, 'a'},
    {"drain", no_argument, NULL, OPT_DRAIN},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"dry-run", no_argument, NULL, 'n'},
    {"set", required_argument, NULL, OPT_SET},
    {"env-file", required_argument, NULL, OPT_ENV_FILE},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help-plugin", required_argument, NULL, OPT_HELP_PLUGIN},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0}};

struct cli {
    const char **set_names; /* every --set NAME, in order */
    size_t n_set;
    const char *env_file;
    const char *help_plugin;
    int markdown;
    int first_arg; /* index of PROGRAM in argv */
};

/* Flags become the top config layer. Returns -1 to go on, else the exit
 * status. */
static int parse_cli(int argc, char **argv, struct settings *cfg,
                     struct cli *cli)
{
    int c;

    opterr = 0;
    optopt = 0;
    /* "+": stop at PROGRAM, so its own options are left alone. */
    while ((c = getopt_long(argc, argv, "+:e:c:r:j:a:nvqhV", long_options,
                            NULL)) != -1) {
        const char *key = NULL, *value = optarg;
        switch (c) {
        case 'e': key = "MINION_ENGINE"; break;
        case 'c': key = "MINION_CALLBACK"; break;
        case 'r': key = "MINION_REPORTER"; break;
        case 'j': key = "MINION_CONCURRENCY"; break;
        case 'a': key = "MINION_FILE"; break;
        case OPT_DRAIN:
            key = "MINION_EXIT_WHEN_EMPTY";
            value = "1";
            break;
        case OPT_PROGRESS:
            key = "MINION_PROGRESS";
            value = "1";
            break;
        case 'n':
            key = "DRY";
            value = "1";
            break;
        case 'v':
            key = "MINION_LOG_LEVEL";
            value = "debug";
            break;
        case 'q':
            key = "MINION_LOG_LEVEL";
            value = "warn";
            break;
        case OPT_SET: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                return usage_error("--set needs NAME=VALUE, not", optarg);
            }
            *eq = '\0';
            key = optarg;
            value = eq + 1;
            cli->set_names[cli->n_set++] = key;
            break;
        }
        case OPT_ENV_FILE: cli->env_file = optarg; break;
        case OPT_HELP_PLUGIN: cli->help_plugin = optarg; break;
        case OPT_FORMAT:
            if (strcmp(optarg, "markdown") != 0 && strcmp(optarg, "text")) {
                return usage_error("--format is text or markdown, not", optarg);
            }
            cli->markdown = strcmp(optarg, "markdown") == 0;
            break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("minionize %s\n", PACKAGE_VERSION); return 0;
        default: {
            char why[256];
            log_error("%s (see minionize --help)",
                      cli_option_error(c, argv, why, sizeof(why)));
            return 2;
        }
        }
        if (key && settings_set_flag(cfg, key, value) < 0) {
            log_error("out of memory");
            return 1;
        }
    }
    cli->first_arg = optind;
    return -1;
}

/* Names a task's process finds in its environment (so a minion that runs
 * inside a task sees them too): never settings, never typos. */
static const char *const task_env_names[] = {
    "MINION_PARAM", "MINION_PARAM_FILE", "MINION_TASK_ID", "MINION_ATTEMPT",
    NULL};

/* Every setting of every plugin in the search path: only looked at when a
 * name is unknown to the plugins in use (MINION_FILE is no typo because
 * this minion uses redis). */
static int add_available(struct known *k, const char *search_path)
{
    static const enum minion_kind kinds[] = {
        MINION_KIND_ENGINE, MINION_KIND_CALLBACK, MINION_KIND_REPORTER};

    for (size_t i = 0; i < 3; i++) {
        char *list = loader_list(kinds[i], search_path);
        char *save = NULL;

        if (!list) {
            return -ENOMEM;
        }
        for (char *name = strtok_r(list, ", ", &save); name;
             name = strtok_r(NULL, ", ", &save)) {
            struct loaded_plugin lp = {0};

            if (loader_open(&lp, name, kinds[i], search_path) == 0) {
                known_add_table(k, lp.options);
                loader_close(&lp);
            }
        }
        free(list);
    }
    return 0;
}

/* A misspelt setting silently does nothing: --set NAME is an error unless
 * some plugin knows NAME, an unknown MINION_* variable in the environment
 * a warning. Returns 0 or 2 (after logging). */
static int check_names(const struct cli *cli, struct minion_instance **insts,
                       size_t n_insts, const char *search_path)
{
    struct known *k = known_new();
    int all_loaded = 0, rc = 0;

    if (!k || known_add_table(k, core_options) < 0) {
        known_free(k);
        return 0; /* out of memory: a typo check is not worth failing for */
    }
    for (size_t i = 0; task_env_names[i]; i++) {
        known_add(k, task_env_names[i]);
    }
    for (size_t i = 0; i < n_insts; i++) {
        known_add_table(k, insts[i]->lp.options);
    }
    for (size_t i = 0; i < cli->n_set && rc == 0; i++) {
        const char *name = cli->set_names[i], *near;

        if (!known_has(k, name) && !all_loaded++) {
            add_available(k, search_path);
        }
        if (known_has(k, name)) {
            continue;
        }
        near = known_closest(k, name);
        if (near) {
            log_error("--set %s: no such setting; did you mean %s?", name,
                      near);
        } else {
            log_error("--set %s: no such setting (minionize --help and "
                      "--help-plugin NAME list them)",
                      name);
        }
        rc = 2;
    }
    for (char **e = environ; rc == 0 && e && *e; e++) {
        const char *eq = strchr(*e, '=');
        char name[128];

        if (strncmp(*e, "MINION_", 7) != 0 || !eq ||
            (size_t)(eq - *e) >= sizeof(name)) {
            continue;
        }
        memcpy(name, *e, (size_t)(eq - *e));
        name[eq - *e] = '\0';
        if (!known_has(k, name) && !all_loaded++) {
            add_available(k, search_path);
        }
        if (!known_has(k, name)) {
            const char *near = known_closest(k, name);
            log_warn("environment: %s is not a setting%s%s; ignored", name,
                     near ? "; did you mean " : "", near ? near : "");
        }
    }
    known_free(k);
    return rc;
}

/* The loop. By default libevent runs every active event before it polls
 * again; tasks that settle at once (a dry run, a param rejected up front)
 * keep the pump active, and a signal would wait for the end of the queue.
 * A bound on callbacks between two polls lets signals in. */
static struct event_base *new_loop(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base *base;

    if (!cfg) {
        return NULL;
    }
    event_config_set_max_dispatch_interval(cfg, NULL, 256, 0);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

static int load_env_file(struct settings *cfg, const struct cli *cli)
{
    const char *path = cli->env_file ? cli->env_file : ".env";
    int rc = settings_load_dotenv(cfg, path);

    if (rc == -ENOENT && !cli->env_file) {
        return 0; /* ./.env is optional */
    }
    if (rc < 0) {
        if (rc == -ENOENT) {
            log_error("--env-file %s: no such file", path);
        } else {
            log_error("%s", settings_error(cfg));
        }
        return 2;
    }
    return 0;
}

/* @rc is what a start-up step of @inst returned: a failure is logged here,
 * once, with the instance's error line. Returns @rc. */
static int checked(struct minion_instance *inst, int rc)
{
    if (rc < 0) {
        log_error("%s", instance_error(inst));
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct core_conf cc = {0};
    struct minion_context ctx = {0};
    struct settings *cfg = settings_new();
    struct cli cli = {0};
    /* The engine, the callback, then the reporters. */
    struct minion_instance **all = NULL;
    struct event_base *base = NULL;
    struct runner *runner = NULL;
    struct metrics *metrics = NULL;
    struct progress *progress = NULL;
    struct utsname uts;
    char *search_path = NULL, *minion_id = NULL;
    size_t n_reporters = 0, n_all = 0;
    int rc;

    stdfds_ensure();
    log_set_program("minionize");
    cli.set_names = calloc((size_t)argc + 1, sizeof(*cli.set_names));
    if (!cfg || !cli.set_names) {
        log_error("out of memory");
        settings_free(cfg);
        free(cli.set_names);
        return 1;
    }
    rc = parse_cli(argc, argv, cfg, &cli);
    if (rc >= 0) {
        goto out;
    }
    rc = load_env_file(cfg, &cli);
    if (rc) {
        goto out;
    }
    rc = load_core(&cc, cfg);
    if (rc) {
        goto out;
    }
    log_set_level(cc.log_level);
    rc = 2;
    search_path = loader_search_path(cc.plugin_path);
    if (!search_path) {
        log_error("out of memory");
        goto out;
    }
    if (cli.help_plugin) {
        rc = help_plugin(cli.help_plugin, search_path, cli.markdown);
        goto out;
    }

    minion_id = cc.minion_id ? strdup(cc.minion_id) : default_minion_id();
    if (!minion_id || !*minion_id) {
        log_error("MINION_ID is empty");
        goto out;
    }
    ctx.minion_id = minion_id;
    ctx.nodename = uname(&uts) == 0 ? uts.nodename : "unknown";
    ctx.concurrency = (unsigned)cc.concurrency;
    ctx.max_attempts = (unsigned)cc.max_attempts;
    ctx.timeout = cc.timeout;
    ctx.grace = cc.grace;
    ctx.decoder = cc.decoder;
    ctx.dry_run = is_dry(cc.dry);
    ctx.exit_when_empty = cc.exit_when_empty;
    ctx.max_tasks = cc.max_tasks;
    ctx.result_bytes = cc.result_bytes;
    ctx.retry_delay = cc.retry_delay;
    ctx.retry_delay_max = cc.retry_delay_max;
    ctx.argc = argc - cli.first_arg;
    ctx.argv = argv + cli.first_arg;

    /* Load and configure everything before any I/O, so a bad setting is
     * exit 2 with nothing consumed. */
    while (cc.reporters[n_reporters]) {
        n_reporters++;
    }
    all = calloc(2 + n_reporters, sizeof(*all));
    if (!all) {
        log_error("out of memory");
        goto out;
    }
    for (n_all = 0; n_all < 2 + n_reporters; n_all++) {
        all[n_all] = instance_new(n_all == 0   ? MINION_KIND_ENGINE
                                  : n_all == 1 ? MINION_KIND_CALLBACK
                                               : MINION_KIND_REPORTER);
        if (!all[n_all]) {
            log_error("out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < n_all; i++) {
        const char *spec = i == 0   ? cc.engine
                           : i == 1 ? cc.callback
                                    : cc.reporters[i - 2];
        if (checked(all[i], instance_load(all[i], spec, search_path, cfg)) <
            0) {
            goto out;
        }
    }
    if (check_names(&cli, all, n_all, search_path)) {
        goto out;
    }
    for (size_t i = 0; i < n_all; i++) {
        if (checked(all[i], instance_init(all[i], &ctx)) < 0) {
            goto out;
        }
    }

    /* Writing to a closed pipe is an error to handle, not a death. */
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();
    base = new_loop();
    if (!base) {
        log_error("cannot create the event loop");
        rc = 1;
        goto out;
    }
    task_set_loop_thread();
    runner = runner_new(base, &ctx, all[0], all[1], all + 2, n_reporters);
    if (!runner) {
        log_error("out of memory");
        rc = 1;
        goto out;
    }
    runner_set_dead_exit(runner, (int)cc.dead_exit);
    runner_set_stop_exit(runner, cc.stop_exit_code);
    runner_set_halt(runner, &cc.halt);
    /* Before any param is taken: an address that cannot be used is a
     * bad setting, exit 2. */
    if (cc.stats_addr && *cc.stats_addr && !ctx.dry_run) {
        char why[512];
        metrics =
            metrics_new(base, cc.stats_addr, runner, &ctx, why, sizeof(why));
        if (!metrics) {
            log_error("%s", why);
            goto out;
        }
    }
    /* The engine starts last: nothing is taken before the rest is ready. */
    for (size_t i = n_all; i-- > 0;) {
        if (checked(all[i], instance_start(all[i], base)) < 0) {
            goto out;
        }
    }
    log_debug("minion %s: engine %s, callback %s, -j%u", ctx.minion_id,
              all[0]->plugin->name, all[1]->plugin->name, ctx.concurrency);
    if (cc.progress) {
        progress = progress_new(base, runner);
    }
    rc = runner_run(runner);
    progress_free(progress);
    progress = NULL;

out:
    /* The engine goes first so nothing new arrives while the rest goes. */
    for (size_t i = 0; i < n_all; i++) {
        instance_free(all[i]);
    }
    free(all);
    progress_free(progress);
    metrics_free(metrics);
    runner_free(runner);
    if (base) {
        event_base_free(base);
    }
    options_free(core_options, &cc);
    free(search_path);
    free(minion_id);
    settings_free(cfg);
    free(cli.set_names);
    return rc;
}
