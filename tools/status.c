/* SPDX-License-Identifier: MIT */
/* minion-status: what the fleet did, from the json reporter's files. The
 * source is chosen in one place (run) so that a live --redis source and a
 * --watch refresh can slot in next to the directory reader. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include <cJSON.h>

#include "jsonl.h"
#include "settings.h"
#include "tools.h"

#define PROGRAM "minion-status"
#define DEFAULT_DIR "minion-report"
#define SUFFIX ".jsonl"

struct opts {
    int json;
    int redis;
    int watch;
    const char *env_file;
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROGRAM " [OPTIONS]\n"
            "Summarise what the minions did: tasks ok, failed and dead, "
            "durations and\n"
            "when each minion was last seen, from the json reporter's "
            "files.\n"
            "\n"
            "  -d, --dir DIR        reports directory "
            "(REPORTER_JSON_DIRECTORY; default\n"
            "                       " DEFAULT_DIR ")\n"
            "      --json           print one JSON object instead of a "
            "table\n"
            "      --redis          live figures from Redis (not available "
            "yet)\n"
            "      --watch[=SECONDS] refresh like top (not available yet)\n"
            "      --env-file PATH  read settings from PATH instead of "
            "./.env\n"
            "  -h, --help           show this help\n"
            "  -V, --version        show the version\n"
            "\n"
            "Every *" SUFFIX " file in DIR is read. A line that is not a "
            "report (a crash can\n"
            "leave half a line) is skipped with one warning. Exit status: 0, "
            "or 2 when\n"
            "the directory cannot be read or on a usage error.\n");
}

/* ---- reading the directory ------------------------------------------- */

struct malformed_at {
    char *file; /* the first file with a malformed line */
    size_t line;
};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_suffix(const char *name)
{
    size_t n = strlen(name), s = strlen(SUFFIX);

    return n > s && strcmp(name + n - s, SUFFIX) == 0;
}

/* Returns: the sorted *.jsonl names in @dir (NULL-terminated; free each
 * and the array), or NULL with the reason already printed. */
static char **list_reports(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL, **nn;
    size_t n = 0, cap = 0;

    if (d == NULL) {
        if (errno == ENOENT) {
            tools_error("no reports directory '%s' (set --dir or "
                        "REPORTER_JSON_DIRECTORY)",
                        dir);
        } else {
            tools_error("cannot read reports directory '%s': %s", dir,
                        strerror(errno));
        }
        return NULL;
    }
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            break;
        }
        if (!has_suffix(de->d_name)) {
            continue;
        }
        if (n + 1 >= cap) {
            cap = cap ? cap * 2 : 16;
            nn = realloc(names, cap * sizeof(*names));
            if (nn == NULL) {
                goto nomem;
            }
            names = nn;
        }
        names[n] = strdup(de->d_name);
        if (names[n] == NULL) {
            goto nomem;
        }
        names[++n] = NULL;
    }
    if (errno != 0) {
        tools_error("reading '%s': %s", dir, strerror(errno));
        goto fail;
    }
    closedir(d);
    if (names == NULL) {
        names = calloc(1, sizeof(*names));
        if (names == NULL) {
            tools_error("out of memory");
        }
        return names;
    }
    qsort(names, n, sizeof(*names), cmp_names);
    return names;
nomem:
    tools_error("out of memory");
fail:
    while (n > 0) {
        free(names[--n]);
    }
    free(names);
    closedir(d);
    return NULL;
}

/* Add every line of @path. Returns 0, or -1 after printing why. */
static int read_report(struct jsonl_stats *st, const char *dir,
                       const char *name, struct malformed_at *bad)
{
    char *path = NULL, *id = NULL, *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    FILE *f = NULL;
    int rc = -1, r;

    if (asprintf(&path, "%s/%s", dir, name) < 0) {
        path = NULL;
        goto nomem;
    }
    id = strndup(name, strlen(name) - strlen(SUFFIX));
    if (id == NULL) {
        goto nomem;
    }
    f = fopen(path, "re");
    if (f == NULL) {
        /* Removed since the listing, or unreadable: say so, go on. */
        tools_warn("cannot read %s: %s", path, strerror(errno));
        rc = 0;
        goto out;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        size_t len = (size_t)n;

        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            len--;
        }
        if (len == 0) {
            continue;
        }
        r = jsonl_stats_add(st, line, len, id);
        if (r < 0) {
            goto nomem;
        }
        if (r > 0 && bad->file == NULL) {
            bad->file = strdup(path);
            bad->line = lineno;
        }
    }
    if (ferror(f)) {
        tools_warn("reading %s: %s", path, strerror(errno));
    }
    rc = 0;
    goto out;
nomem:
    tools_error("out of memory");
out:
    if (f != NULL) {
        fclose(f);
    }
    free(line);
    free(id);
    free(path);
    return rc;
}

static int load_dir(struct jsonl_stats *st, const char *dir)
{
    struct malformed_at bad = {NULL, 0};
    char **names = list_reports(dir);
    size_t i;
    int rc = 0;

    if (names == NULL) {
        return -1;
    }
    for (i = 0; names[i] != NULL; i++) {
        if (rc == 0) {
            rc = read_report(st, dir, names[i], &bad);
        }
        free(names[i]);
    }
    free(names);
    if (rc == 0 && st->malformed > 0) {
        tools_warn("skipped %lu line%s that %s not a task report (first: "
                   "%s:%zu)",
                   st->malformed, st->malformed == 1 ? "" : "s",
                   st->malformed == 1 ? "is" : "are",
                   bad.file != NULL ? bad.file : "?", bad.line);
    }
    free(bad.file);
    jsonl_stats_sort(st);
    return rc;
}

/* ---- output ---------------------------------------------------------- */

static double wall_now(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void format_ago(double seconds, char *out, size_t outlen)
{
    if (seconds < 0) {
        seconds = 0;
    }
    if (seconds < 60) {
        snprintf(out, outlen, "%.0fs ago", seconds);
    } else if (seconds < 3600) {
        snprintf(out, outlen, "%.0fm ago", floor(seconds / 60));
    } else if (seconds < 86400) {
        snprintf(out, outlen, "%.0fh ago", floor(seconds / 3600));
    } else {
        snprintf(out, outlen, "%.0fd ago", floor(seconds / 86400));
    }
}

static void format_seen(double when, double now, char *out, size_t outlen)
{
    char date[32], ago[32];
    time_t t;
    struct tm tm;

    if (!isfinite(when)) {
        snprintf(out, outlen, "-");
        return;
    }
    t = (time_t)when;
    if (localtime_r(&t, &tm) == NULL ||
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm) == 0) {
        snprintf(date, sizeof(date), "%.0f", when);
    }
    format_ago(now - when, ago, sizeof(ago));
    snprintf(out, outlen, "%s (%s)", date, ago);
}

static void print_row(int width, const char *id, unsigned long ok,
                      unsigned long failed, unsigned long dead, double *dur,
                      size_t ndur, const char *seen)
{
    char mean[32] = "-", p95[32] = "-";

    if (ndur > 0) {
        snprintf(mean, sizeof(mean), "%.3f", jsonl_mean(dur, ndur));
        snprintf(p95, sizeof(p95), "%.3f", jsonl_p95(dur, ndur));
    }
    printf("%-*s %8lu %8lu %8lu %10s %10s  %s\n", width, id, ok, failed, dead,
           mean, p95, seen);
}

static int print_table(struct jsonl_stats *st, const char *dir, double now)
{
    unsigned long ok = 0, failed = 0, dead = 0;
    double *all = NULL, last = NAN;
    size_t i, n = 0;
    int width = 6;
    char seen[96];

    for (i = 0; i < st->nminions; i++) {
        int w = (int)strlen(st->minions[i].id);

        width = w > width ? w : width;
        n += st->minions[i].ndurations;
    }
    if (n > 0 && (all = malloc(n * sizeof(*all))) == NULL) {
        tools_error("out of memory");
        return 1;
    }
    if (st->nminions == 0) {
        printf("no task reports in %s\n", dir);
    }
    printf("%-*s %8s %8s %8s %10s %10s  %s\n", width, "MINION", "OK", "FAILED",
           "DEAD", "MEAN(s)", "P95(s)", "LAST SEEN");
    n = 0;
    for (i = 0; i < st->nminions; i++) {
        struct jsonl_minion *m = &st->minions[i];

        if (m->ndurations > 0) {
            memcpy(all + n, m->durations, m->ndurations * sizeof(*all));
            n += m->ndurations;
        }
        ok += m->ok;
        failed += m->failed;
        dead += m->dead;
        if (isfinite(m->last_seen) && !(m->last_seen <= last)) {
            last = m->last_seen;
        }
        format_seen(m->last_seen, now, seen, sizeof(seen));
        print_row(width, m->id, m->ok, m->failed, m->dead, m->durations,
                  m->ndurations, seen);
    }
    format_seen(last, now, seen, sizeof(seen));
    print_row(width, "TOTAL", ok, failed, dead, all, n, seen);
    free(all);
    return 0;
}

static int print_json(struct jsonl_stats *st, double now)
{
    cJSON *root = jsonl_stats_json(st, now);
    char *text = root != NULL ? cJSON_PrintUnformatted(root) : NULL;

    if (text == NULL) {
        cJSON_Delete(root);
        tools_error("out of memory");
        return 1;
    }
    printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(root);
    return 0;
}

/* ---- main ------------------------------------------------------------ */

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

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct settings *cfg,
                      struct opts *o)
{
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:hV", long_options, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (settings_set_flag(cfg, "REPORTER_JSON_DIRECTORY", optarg) < 0) {
                tools_error("out of memory");
                return 1;
            }
            break;
        case OPT_JSON: o->json = 1; break;
        case OPT_REDIS: o->redis = 1; break;
        case OPT_WATCH: o->watch = 1; break;
        case OPT_ENV_FILE: o->env_file = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf(PROGRAM " %s\n", PACKAGE_VERSION); return 0;
        default: return tools_option_error(c, argv);
        }
    }
    if (optind < argc) {
        return tools_usage("unexpected argument '%s'", argv[optind]);
    }
    return -1;
}

static int run(int argc, char **argv, struct settings *cfg)
{
    struct jsonl_stats st = {0};
    struct opts o = {0};
    const char *dir;
    double now;
    int rc;

    rc = parse_args(argc, argv, cfg, &o);
    if (rc >= 0) {
        return rc;
    }
    if (o.redis) {
        tools_error("--redis is not available yet");
        return 2;
    }
    if (o.watch) {
        tools_error("--watch is not available yet");
        return 2;
    }
    rc = tools_load_env(cfg, o.env_file);
    if (rc != 0) {
        return rc;
    }
    dir = tools_get(cfg, "REPORTER_JSON_DIRECTORY", DEFAULT_DIR);
    if (load_dir(&st, dir) < 0) {
        jsonl_stats_fini(&st);
        return 2;
    }
    now = wall_now();
    rc = o.json ? print_json(&st, now) : print_table(&st, dir, now);
    jsonl_stats_fini(&st);
    return rc;
}

int main(int argc, char **argv)
{
    return tools_main(PROGRAM, argc, argv, run);
}
