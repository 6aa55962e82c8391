/* SPDX-License-Identifier: MIT */
/* minion-status: what the fleet did and does. A source (the json
 * reporter's folder, reports.c; Redis, live.c) fills a struct fleet
 * (fleet.h); a view prints it once (fleet_view.c) or keeps refreshing it
 * (watch.c). This file only picks them. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "fleet.h"
#include "settings.h"
#include "tools.h"

#define PROGRAM "minion-status"
#define DEFAULT_DIR "minion-report"
#define DEFAULT_WATCH_S 2.0
#define MAX_WATCH_S 86400.0

struct opts {
    int json, redis, dir;
    double watch; /* seconds between refreshes; 0: no --watch */
    const char *env_file;
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROGRAM " [OPTIONS]\n"
            "What the minions did: tasks ok, failed and dead, durations, "
            "rates, errors and\n"
            "when each minion was last seen, from the json reporter's files "
            "or live from\n"
            "Redis.\n"
            "\n"
            "  -d, --dir DIR          reports directory "
            "(REPORTER_JSON_DIRECTORY; default\n"
            "                         " DEFAULT_DIR ")\n"
            "      --redis            live figures from the Redis stream "
            "(REDIS_URL,\n"
            "                         REDIS_STREAM, ...); the default when "
            "MINION_ENGINE=redis\n"
            "                         and no --dir is given\n"
            "      --json             print one JSON object instead of a "
            "table\n"
            "      --watch[=SECONDS]  refresh every SECONDS (default 2) "
            "like top; q quits\n"
            "      --env-file PATH    read settings from PATH instead of "
            "./.env\n"
            "  -h, --help             show this help\n"
            "  -V, --version          show the version\n"
            "\n"
            "Every *.jsonl file in DIR is read; a refresh reads only what "
            "was appended. A\n"
            "line that is not a report (a crash can leave half a line) is "
            "skipped with one\n"
            "warning. Exit status: 0, or 2 when the source cannot be read "
            "or on a usage\n"
            "error.\n");
}

enum {
    OPT_JSON = 256,
    OPT_REDIS,
    OPT_WATCH,
    OPT_ENV_FILE,
};

static const struct option long_options[] = {
    {"dir", required_argument, NULL, 'd'},
    {"json", no_argument, NULL, OPT_JSON},
    {"redis", no_argument, NULL, OPT_REDIS},
    {"watch", optional_argument, NULL, OPT_WATCH},
    {"env-file", required_argument, NULL, OPT_ENV_FILE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Seconds for --watch: a positive number, at most a day. Returns it, or
 * -1. */
static double parse_seconds(const char *s)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0 ||
        v > MAX_WATCH_S) {
        return -1;
    }
    return v;
}

/* --watch takes its SECONDS as --watch=S, or as the next argument when
 * that is a number: minion-status has no operands for it to be. */
static int parse_watch(int argc, char **argv, struct opts *o)
{
    const char *arg = optarg;

    if (arg == NULL && optind < argc && parse_seconds(argv[optind]) > 0) {
        arg = argv[optind++];
    }
    o->watch = arg != NULL ? parse_seconds(arg) : DEFAULT_WATCH_S;
    if (o->watch < 0) {
        return tools_usage("--watch: '%s' is not a number of seconds "
                           "(0 < SECONDS <= %.0f)",
                           arg, MAX_WATCH_S);
    }
    return -1;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct settings *cfg,
                      struct opts *o)
{
    int c, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:hV", long_options, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (settings_set_flag(cfg, "REPORTER_JSON_DIRECTORY", optarg) < 0) {
                tools_error("out of memory");
                return 1;
            }
            o->dir = 1;
            break;
        case OPT_JSON: o->json = 1; break;
        case OPT_REDIS: o->redis = 1; break;
        case OPT_WATCH:
            rc = parse_watch(argc, argv, o);
            if (rc >= 0) {
                return rc;
            }
            break;
        case OPT_ENV_FILE: o->env_file = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf(PROGRAM " %s\n", PACKAGE_VERSION); return 0;
        default: return tools_option_error(c, argv);
        }
    }
    if (optind < argc) {
        return tools_usage("unexpected argument '%s'", argv[optind]);
    }
    if (o->redis && o->dir) {
        return tools_usage("--redis and --dir name two sources: give one");
    }
    if (o->json && o->watch > 0) {
        return tools_usage("--json prints once: it does not go with --watch");
    }
    return -1;
}

/* Returns: the source, or NULL with one line printed. */
static struct fleet_source *open_source(struct settings *cfg,
                                        const struct opts *o, const char **dir)
{
    const char *engine = tools_get(cfg, "MINION_ENGINE", "");
    struct fleet_source *src;

    *dir = NULL;
    /* A redis fleet's reports folder may not be here at all: its queue
     * is the place to look, unless a folder is named. */
    if (o->redis || (!o->dir && strcmp(engine, "redis") == 0)) {
        return redis_source_new(cfg);
    }
    *dir = tools_get(cfg, "REPORTER_JSON_DIRECTORY", DEFAULT_DIR);
    src = reports_source_new(*dir);
    if (src == NULL) {
        tools_error("out of memory");
    }
    return src;
}

static int print_json(const struct fleet *f)
{
    cJSON *root = fleet_json(f);
    char *text = root != NULL ? cJSON_PrintUnformatted(root) : NULL;

    cJSON_Delete(root);
    if (text == NULL) {
        tools_error("out of memory");
        return 1;
    }
    printf("%s\n", text);
    cJSON_free(text);
    return 0;
}

static int run(int argc, char **argv, struct settings *cfg)
{
    struct fleet_source *src;
    struct opts o = {0};
    struct fleet fleet;
    const char *dir;
    int rc;

    rc = parse_args(argc, argv, cfg, &o);
    if (rc >= 0) {
        return rc;
    }
    rc = tools_load_env(cfg, o.env_file);
    if (rc != 0) {
        return rc;
    }
    src = open_source(cfg, &o, &dir);
    if (src == NULL) {
        return 2;
    }
    fleet_init(&fleet, dir != NULL ? "json" : "redis", dir);
    if (o.watch > 0) {
        rc = watch_run(src, &fleet, o.watch);
    } else if (src->refresh(src, &fleet) < 0) {
        tools_error("%s", src->error);
        rc = 2;
    } else if (o.json) {
        rc = print_json(&fleet);
    } else {
        fleet_print_table(&fleet, stdout);
        rc = 0;
    }
    fleet_clear(&fleet);
    src->free(src);
    return rc;
}

int main(int argc, char **argv)
{
    return tools_main(PROGRAM, argc, argv, run);
}
