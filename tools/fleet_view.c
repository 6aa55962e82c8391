/* SPDX-License-Identifier: MIT */
/* minion-status's one-shot views of a struct fleet: the table for people
 * and the --json document for programs. Both print whatever the source
 * knows and "-" or null for the rest, so one view serves the reports
 * folder and Redis. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet.h"

#define COLS 80 /* what the table aims to fit */
#define CELL 48
#define SHORT_UID 8

static int known(double v)
{
    return isfinite(v) && v != FLEET_UNKNOWN;
}

/* ---- the table ------------------------------------------------------- */

static void fmt_count(char *out, double v)
{
    if (known(v)) {
        snprintf(out, CELL, "%.0f", v);
    } else {
        snprintf(out, CELL, "-");
    }
}

/* Seconds in at most 6 characters: 0.8ms, 0.25s, 12.5s, 345s, 16.7m,
 * 3.2h. */
static void fmt_duration(char *out, double s)
{
    if (!known(s)) {
        snprintf(out, CELL, "-");
    } else if (s == 0) {
        snprintf(out, CELL, "0s");
    } else if (s < 0.00995) {
        snprintf(out, CELL, "%.1fms", s * 1000);
    } else if (s < 9.995) {
        snprintf(out, CELL, "%.2fs", s);
    } else if (s < 99.95) {
        snprintf(out, CELL, "%.1fs", s);
    } else if (s < 599.5) {
        snprintf(out, CELL, "%.0fs", s);
    } else if (s < 5999.5 * 60) {
        snprintf(out, CELL, "%.1fm", s / 60);
    } else {
        snprintf(out, CELL, "%.1fh", s / 3600);
    }
}

static void fmt_rate(char *out, double r)
{
    if (!known(r)) {
        snprintf(out, CELL, "-");
    } else {
        snprintf(out, CELL, "%.*f", r < 9.995 ? 2 : r < 99.95 ? 1 : 0, r);
    }
}

static void fmt_ago(char *out, double seconds)
{
    if (!known(seconds)) {
        snprintf(out, CELL, "-");
    } else if (seconds < 60) {
        snprintf(out, CELL, "%.0fs ago", floor(seconds));
    } else if (seconds < 3600) {
        snprintf(out, CELL, "%.0fm ago", floor(seconds / 60));
    } else if (seconds < 86400) {
        snprintf(out, CELL, "%.0fh ago", floor(seconds / 3600));
    } else {
        snprintf(out, CELL, "%.0fd ago", floor(seconds / 86400));
    }
}

static double ago(const struct fleet *f, double when)
{
    if (!known(when)) {
        return FLEET_UNKNOWN;
    }
    return f->now > when ? f->now - when : 0;
}

/* The batch job: OAR's id, or Slurm's with its array task as 900_4 (as
 * squeue shows it). A cluster has one scheduler, so no prefix. */
static void fmt_jobs(char *out, const struct fleet_minion *m)
{
    const char *oar = m->oar_job_id, *slurm = m->slurm_job_id;
    const char *task = m->slurm_array_task_id;

    snprintf(out, CELL, "%s%s%s%s%s", oar != NULL ? oar : "",
             oar != NULL && slurm != NULL ? "/" : "",
             slurm != NULL ? slurm : "",
             slurm != NULL && task != NULL ? "_" : "",
             slurm != NULL && task != NULL ? task : "");
    if (out[0] == '\0') {
        snprintf(out, CELL, "-");
    }
}

/* The text of one cell on one line: control bytes (a newline in an id)
 * would break the table. */
static void fmt_text(char *out, const char *s, size_t max)
{
    size_t i;

    if (s == NULL) {
        snprintf(out, CELL, "-");
        return;
    }
    for (i = 0; s[i] != '\0' && i < max && i < CELL - 1; i++) {
        out[i] = (unsigned char)s[i] < ' ' ? ' ' : s[i];
    }
    out[i] = '\0';
}

struct column {
    const char *title;
    int left; /* text, else a number */
    int width;
};

enum which {
    C_ID,
    C_UID,
    C_NODE,
    C_JOB,
    C_PEND,
    C_BUSY,
    C_OK,
    C_FAILED,
    C_DEAD,
    C_P50,
    C_MEAN,
    C_P95,
    C_RATE,
    C_SEEN,
    C_N
};

static const struct column all_columns[C_N] = {
    {"MINION", 1, 0}, {"RUN", 1, 0},      {"NODE", 1, 0}, {"JOB", 1, 0},
    {"PEND", 0, 0},   {"BUSY", 0, 0},     {"OK", 0, 0},   {"FAILED", 0, 0},
    {"DEAD", 0, 0},   {"P50", 0, 0},      {"MEAN", 0, 0}, {"P95", 0, 0},
    {"RATE/S", 0, 0}, {"LAST SEEN", 1, 0}};

/* Which columns this fleet needs: no empty RUN, NODE or JOB column, and
 * the Redis-only ones only from Redis. */
static void pick_columns(const struct fleet *f, int shown[C_N])
{
    size_t i;
    int c;

    for (c = 0; c < C_N; c++) {
        shown[c] = c != C_UID && c != C_NODE && c != C_JOB && c != C_PEND &&
                   c != C_BUSY;
    }
    for (i = 0; i < f->n_minions; i++) {
        const struct fleet_minion *m = &f->minions[i];

        shown[C_UID] |= m->uid != NULL;
        shown[C_NODE] |= m->nodename != NULL;
        shown[C_JOB] |= m->oar_job_id != NULL || m->slurm_job_id != NULL;
        shown[C_PEND] |= known(m->pending);
        shown[C_BUSY] |= known(m->in_flight);
    }
}

static void fill_row(const struct fleet *f, const struct fleet_minion *m,
                     char row[C_N][CELL])
{
    fmt_text(row[C_ID], m->id, CELL);
    fmt_text(row[C_UID], m->uid, SHORT_UID);
    fmt_text(row[C_NODE], m->nodename, CELL);
    fmt_jobs(row[C_JOB], m);
    fmt_count(row[C_PEND], m->pending);
    fmt_count(row[C_BUSY], m->in_flight);
    fmt_count(row[C_OK], m->ok);
    fmt_count(row[C_FAILED], m->failed);
    fmt_count(row[C_DEAD], m->dead);
    fmt_duration(row[C_P50], m->p50);
    fmt_duration(row[C_MEAN], m->mean);
    fmt_duration(row[C_P95], m->p95);
    fmt_rate(row[C_RATE], m->rate_1m);
    fmt_ago(row[C_SEEN], ago(f, m->last_seen));
    if (m->probably_dead) {
        strcat(row[C_SEEN], " dead?");
    }
}

static void print_cells(FILE *out, const struct column *cols, const int *shown,
                        char row[C_N][CELL])
{
    int c, first = 1;

    for (c = 0; c < C_N; c++) {
        if (!shown[c]) {
            continue;
        }
        if (c == C_SEEN) { /* last: no trailing blanks */
            fprintf(out, "%s%s", first ? "" : " ", row[c]);
        } else {
            fprintf(out, "%s%*s", first ? "" : " ",
                    cols[c].left ? -cols[c].width : cols[c].width, row[c]);
        }
        first = 0;
    }
    fputc('\n', out);
}

static void print_minions(const struct fleet *f, FILE *out)
{
    char(*rows)[C_N][CELL];
    char head[C_N][CELL];
    struct column cols[C_N];
    int shown[C_N], c, w;
    size_t i;

    if (f->n_minions == 0) {
        fprintf(out, "no %s\n",
                f->source != NULL && strcmp(f->source, "json") == 0
                    ? "task reports"
                    : "minions");
        return;
    }
    rows = calloc(f->n_minions, sizeof(*rows));
    if (rows == NULL) {
        fprintf(out, "(out of memory for the minions table)\n");
        return;
    }
    memcpy(cols, all_columns, sizeof(cols));
    pick_columns(f, shown);
    for (c = 0; c < C_N; c++) {
        snprintf(head[c], CELL, "%s", cols[c].title);
        cols[c].width = (int)strlen(cols[c].title);
    }
    for (i = 0; i < f->n_minions; i++) {
        fill_row(f, &f->minions[i], rows[i]);
        for (c = 0; c < C_N; c++) {
            w = (int)strlen(rows[i][c]);
            cols[c].width = w > cols[c].width ? w : cols[c].width;
        }
    }
    print_cells(out, cols, shown, head);
    for (i = 0; i < f->n_minions; i++) {
        print_cells(out, cols, shown, rows[i]);
    }
    free(rows);
}

static void print_errors(const struct fleet *f, FILE *out)
{
    char count[CELL], when[CELL], text[COLS];
    size_t i, k, len, room;
    int cw = 6, more;

    if (f->n_errors == 0) {
        return;
    }
    for (i = 0; i < f->n_errors; i++) {
        fmt_count(count, f->errors[i].count);
        cw = (int)strlen(count) > cw ? (int)strlen(count) : cw;
    }
    fprintf(out, "\n%*s  %-10s %s\n", cw, "ERRORS", "LAST", "TEXT");
    room = COLS - 13 - (size_t)(cw < 40 ? cw : 40);
    for (i = 0; i < f->n_errors; i++) {
        const char *s = f->errors[i].text != NULL ? f->errors[i].text : "";

        fmt_count(count, f->errors[i].count);
        fmt_ago(when, ago(f, f->errors[i].last));
        /* Its first line, cut to the width left but not inside a UTF-8
         * character. */
        len = strcspn(s, "\n");
        more = s[len] != '\0';
        if (len > room - 3 && (len > room || more)) {
            len = room - 3;
            while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80) {
                len--;
            }
            more = 1;
        }
        for (k = 0; k < len; k++) {
            text[k] = (unsigned char)s[k] < ' ' ? ' ' : s[k];
        }
        snprintf(text + len, sizeof(text) - len, "%s", more ? "..." : "");
        fprintf(out, "%*s  %-10s %s\n", cw, count, when, text);
    }
}

static void print_date(char *out, double when)
{
    time_t t = (time_t)when;
    struct tm tm;

    if (!known(when) || localtime_r(&t, &tm) == NULL ||
        strftime(out, CELL, "%Y-%m-%d %H:%M:%S", &tm) == 0) {
        snprintf(out, CELL, "-");
    }
}

static void print_totals(const struct fleet *f, FILE *out)
{
    char a[CELL], b[CELL], c[CELL], d[CELL], e[CELL];

    fmt_count(a, f->ok);
    fmt_count(b, f->failed);
    fmt_count(c, f->dead);
    fmt_count(d, f->pending);
    fmt_count(e, f->lag);
    fprintf(out, "%s %s: ok %s, failed %s, dead %s, pending %s, lag %s",
            f->source != NULL ? f->source : "?",
            f->where != NULL ? f->where : "?", a, b, c, d, e);
    if (known(f->in_flight)) {
        fprintf(out, ", running %.0f", f->in_flight);
    }
    fputc('\n', out);
    if (known(f->stream_length) || known(f->added) || known(f->dead_letters) ||
        known(f->percent) || known(f->eta_s)) {
        fmt_count(a, f->stream_length);
        fmt_count(b, f->added);
        fmt_count(c, f->dead_letters);
        fmt_duration(d, f->eta_s);
        fprintf(out, "stream %s (added %s), dead letters %s", a, b, c);
        if (known(f->percent)) {
            fprintf(out, ", %.1f%% done", f->percent);
        }
        fprintf(out, ", ETA %s\n", d);
    }
    fmt_duration(a, f->p50);
    fmt_duration(b, f->mean);
    fmt_duration(c, f->p95);
    fmt_rate(d, f->rate_1m);
    fmt_rate(e, f->rate_all);
    fprintf(out, "p50 %s, mean %s, p95 %s; %s/s last minute, %s/s overall\n", a,
            b, c, d, e);
    print_date(a, f->started);
    fprintf(out, "since %s", a);
    if (f->malformed > 0) {
        fprintf(out, "; %lu line%s skipped: not a task report", f->malformed,
                f->malformed == 1 ? "" : "s");
    }
    fputc('\n', out);
}

void fleet_print_table(const struct fleet *f, FILE *out)
{
    print_totals(f, out);
    fputc('\n', out);
    print_minions(f, out);
    print_errors(f, out);
}

/* ---- JSON ------------------------------------------------------------ */

/* A number with at most @decimals, trailing zeros dropped: readable, and
 * the same bytes on every machine; null when unknown. */
static int add_num(cJSON *o, const char *key, double v, int decimals)
{
    char num[64];
    size_t n;

    if (!known(v)) {
        return cJSON_AddNullToObject(o, key) != NULL ? 0 : -1;
    }
    n = (size_t)snprintf(num, sizeof(num), "%.*f", decimals, v);
    if (decimals > 0 && n < sizeof(num)) {
        while (num[n - 1] == '0') {
            num[--n] = '\0';
        }
        if (num[n - 1] == '.') {
            num[--n] = '\0';
        }
    }
    if (strcmp(num, "-0") == 0) {
        strcpy(num, "0");
    }
    return cJSON_AddRawToObject(o, key, num) != NULL ? 0 : -1;
}

static int add_str(cJSON *o, const char *key, const char *v)
{
    if (v == NULL) {
        return cJSON_AddNullToObject(o, key) != NULL ? 0 : -1;
    }
    return cJSON_AddStringToObject(o, key, v) != NULL ? 0 : -1;
}

/* Durations and rates: what both totals and minions have. */
static int add_perf(cJSON *o, double p50, double mean, double p95, double r1,
                    double rall, double started)
{
    return add_num(o, "p50_s", p50, 6) | add_num(o, "mean_s", mean, 6) |
           add_num(o, "p95_s", p95, 6) | add_num(o, "rate_1m", r1, 6) |
           add_num(o, "rate_all", rall, 6) | add_num(o, "started", started, 3);
}

static int add_totals(cJSON *root, const struct fleet *f)
{
    cJSON *t = cJSON_AddObjectToObject(root, "totals");

    if (t == NULL) {
        return -1;
    }
    return add_num(t, "ok", f->ok, 0) | add_num(t, "failed", f->failed, 0) |
           add_num(t, "dead", f->dead, 0) |
           add_num(t, "pending", f->pending, 0) | add_num(t, "lag", f->lag, 0) |
           add_num(t, "in_flight", f->in_flight, 3) |
           add_num(t, "stream_length", f->stream_length, 0) |
           add_num(t, "added", f->added, 0) |
           add_num(t, "dead_letters", f->dead_letters, 0) |
           add_num(t, "percent", f->percent, 2) |
           add_num(t, "eta_s", f->eta_s, 0) |
           add_perf(t, f->p50, f->mean, f->p95, f->rate_1m, f->rate_all,
                    f->started) |
           add_num(t, "malformed", (double)f->malformed, 0);
}

static int add_minion(cJSON *list, const struct fleet_minion *m)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || !cJSON_AddItemToArray(list, o)) {
        cJSON_Delete(o);
        return -1;
    }
    return add_str(o, "id", m->id) | add_str(o, "uid", m->uid) |
           add_str(o, "nodename", m->nodename) |
           add_str(o, "oar_job_id", m->oar_job_id) |
           add_str(o, "slurm_job_id", m->slurm_job_id) |
           add_str(o, "slurm_array_task_id", m->slurm_array_task_id) |
           add_num(o, "ok", m->ok, 0) | add_num(o, "failed", m->failed, 0) |
           add_num(o, "dead", m->dead, 0) |
           add_num(o, "pending", m->pending, 0) |
           add_num(o, "in_flight", m->in_flight, 3) |
           add_num(o, "idle_ms", m->idle_ms, 0) |
           add_num(o, "last_seen", m->last_seen, 3) |
           add_perf(o, m->p50, m->mean, m->p95, m->rate_1m, m->rate_all,
                    m->started) |
           (cJSON_AddBoolToObject(o, "probably_dead", m->probably_dead) == NULL
                ? -1
                : 0);
}

static int add_errors(cJSON *root, const struct fleet *f)
{
    cJSON *list = cJSON_AddArrayToObject(root, "errors"), *o;
    size_t i;

    if (list == NULL) {
        return -1;
    }
    for (i = 0; i < f->n_errors; i++) {
        o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(list, o)) {
            cJSON_Delete(o);
            return -1;
        }
        if (add_str(o, "text", f->errors[i].text) |
            add_num(o, "count", f->errors[i].count, 0) |
            add_num(o, "last", f->errors[i].last, 3)) {
            return -1;
        }
    }
    return 0;
}

static int add_series(cJSON *o, const char *key, const struct fleet_series *s,
                      int decimals)
{
    cJSON *obj, *values, *v;
    char num[64];
    size_t i;
    int n;

    if (s->n == 0) {
        return cJSON_AddNullToObject(o, key) != NULL ? 0 : -1;
    }
    obj = cJSON_AddObjectToObject(o, key);
    if (obj == NULL || add_num(obj, "step", s->step, 3) ||
        add_num(obj, "end", s->end, 3) ||
        (values = cJSON_AddArrayToObject(obj, "values")) == NULL) {
        return -1;
    }
    for (i = 0; i < s->n; i++) {
        n = snprintf(num, sizeof(num), "%.*f", decimals, s->values[i]);
        while (n > 1 && num[n - 1] == '0') {
            num[--n] = '\0';
        }
        if (num[n - 1] == '.') {
            num[--n] = '\0';
        }
        v = cJSON_CreateRaw(isfinite(s->values[i]) ? num : "null");
        if (v == NULL || !cJSON_AddItemToArray(values, v)) {
            cJSON_Delete(v);
            return -1;
        }
    }
    return 0;
}

cJSON *fleet_json(const struct fleet *f)
{
    cJSON *root = cJSON_CreateObject(), *list, *series;
    size_t i;

    if (root == NULL || add_str(root, "source", f->source) ||
        add_str(root, "where", f->where) || add_num(root, "now", f->now, 3) ||
        add_totals(root, f) ||
        (list = cJSON_AddArrayToObject(root, "minions")) == NULL) {
        goto fail;
    }
    for (i = 0; i < f->n_minions; i++) {
        if (add_minion(list, &f->minions[i])) {
            goto fail;
        }
    }
    if (add_errors(root, f) ||
        (series = cJSON_AddObjectToObject(root, "series")) == NULL ||
        add_series(series, "rate", &f->rate, 6) ||
        add_series(series, "in_flight", &f->in_flight_series, 3)) {
        goto fail;
    }
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}
