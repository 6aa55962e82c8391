/* SPDX-License-Identifier: MIT */
/*
 * minion-status's folder source: the json reporter's files, one per minion,
 * read incrementally. Each file is remembered by inode, size and where its
 * last whole line ends, so a refresh reads only what was appended, and one
 * where nothing changed costs a readdir and a stat per file. A file that
 * shrank below what was read, vanished or was replaced (another inode, or
 * other first bytes) makes the next refresh start over: reports are only
 * ever appended, so that is a user's edit, rare, and re-reading everything
 * is the one answer that is always right.
 *
 * Rows: a v2 record names its minion process run in uid, and each (minion,
 * uid) is one row; a v1 record's uid is "<minion>-<generation>", one per
 * task, so v1 records of a minion share one row with no uid. Released
 * records (a stop handed the task back) count in no total and no duration,
 * but they did run: the in-flight chart and last seen include them.
 *
 * Rates are taken at the newest end in the folder, not at the wall clock:
 * a sweep that finished yesterday still shows the rates it ran at, and for
 * a fleet at work the newest end is seconds ago. "Last minute" is the 60 s
 * before that newest end, shortened to when the minion (or the folder)
 * started when that is later, so a 10 s sweep shows its real pace.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "figures.h"
#include "fleet.h"
#include "grow.h"
#include "jsonl.h"
#include "tools.h"

#define SUFFIX ".jsonl"
#define TOP_ERRORS 10   /* error texts kept in struct fleet */
#define CHUNK (1 << 20) /* bytes per read(2) */
#define HEAD_BYTES 64   /* a file's first bytes, to notice a new file */
#define FNV_SEED 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

enum status { OK, FAILED, DEAD, RELEASED };

struct span {
    double start, end;
};

struct group {
    char *id, *uid; /* uid NULL: v1 records */
    size_t id_len, uid_len;
    char *nodename, *oar_job_id, *slurm_job_id, *slurm_array_task_id;
    unsigned long ok, failed, dead;
    struct figures_values dur; /* durations of finished runs */
    struct figures_values end; /* when they finished; never sorted */
    double started, last_seen; /* NAN until seen */
    double p50, mean, p95, rate_1m, rate_all;
    int dirty; /* new runs since the figures were computed */
};

struct error_text {
    char *text;
    size_t len;
    unsigned long count;
    double last;
};

struct rfile {
    char *name; /* in the folder */
    char *id;   /* the name without SUFFIX: the minion of records with none */
    dev_t dev;
    ino_t ino;
    off_t seen;          /* the size read up to */
    off_t done;          /* the end of the last report taken in */
    unsigned long lines; /* whole lines taken in, for messages */
    int known;           /* opened once: dev, ino and head are set */
    int torn;            /* bytes after done are no report, yet */
    int unreadable;      /* warned once */
    char head[HEAD_BYTES];
    size_t head_len;
};

/* Open addressing; index is the entry's position + 1, 0 an empty slot. */
struct slot {
    uint64_t hash;
    size_t index;
};

struct table {
    struct slot *slots;
    size_t cap, n;
};

struct reports {
    struct fleet_source src; /* first: the source is the struct */
    char *dir;
    struct rfile *files; /* sorted by name */
    size_t n_files;
    struct group **groups; /* as they came: group_index points here */
    size_t n_groups, cap_groups;
    struct group **order; /* the same, by id then uid, for the fleet */
    struct table group_index;
    struct error_text *errors;
    size_t n_errors, cap_errors;
    struct table error_index;
    struct group *last; /* lines come file by file: nearly always it */
    unsigned long ok, failed, dead, malformed;
    struct figures_values dur, end;
    struct span *spans; /* every run, released ones too */
    size_t n_spans, cap_spans;
    double first_start, newest; /* NAN until seen */
    int changed, added_group;
    /* Figures computed when something changed */
    double p50, mean, p95, rate_1m, rate_all;
    size_t top[TOP_ERRORS], n_top;
    struct fleet_series rate, in_flight;
    /* The first line that was not a report, for the one warning */
    char *bad_file;
    unsigned long bad_line;
    int warned;
    char *buf, *text; /* read buffer; decoded strings */
    size_t buf_cap, text_cap;
};

/* ---- small containers ------------------------------------------------ */

static uint64_t hash_bytes(uint64_t h, const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        h = (h ^ (unsigned char)p[i]) * FNV_PRIME;
    }
    return h;
}

static int table_reserve(struct table *t)
{
    struct slot *old = t->slots, *s;
    size_t cap = t->cap ? t->cap * 2 : 64, i, k;

    if ((t->n + 1) * 10 < t->cap * 7) {
        return 0;
    }
    s = calloc(cap, sizeof(*s));
    if (s == NULL) {
        return -ENOMEM;
    }
    for (i = 0; i < t->cap; i++) {
        if (old[i].index == 0) {
            continue;
        }
        for (k = old[i].hash & (cap - 1); s[k].index != 0;
             k = (k + 1) & (cap - 1)) {
        }
        s[k] = old[i];
    }
    free(old);
    t->slots = s;
    t->cap = cap;
    return 0;
}

static void table_fini(struct table *t)
{
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

/* ---- taking a record in ---------------------------------------------- */

/* A string of the record as bytes: in the line, or decoded into s->text
 * at @at when it holds an escape. */
struct text {
    const char *p;
    size_t len;
};

static int text_room(struct reports *s, size_t need)
{
    return grow(&s->text, &s->text_cap, need, 1, 256);
}

static struct text text_of(struct reports *s, const struct jsonl_str *j,
                           size_t at)
{
    struct text t = {j->p, j->len};

    if (j->p != NULL && j->escaped) {
        t.p = s->text + at;
        t.len = jsonl_decode(j, s->text + at);
    }
    return t;
}

static int status_of(const struct jsonl_str *st)
{
    static const char *const names[] = {"ok", "failed", "dead", "released"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (jsonl_equals(st, names[i])) {
            return (int)i;
        }
    }
    return -1;
}

/* A v1 uid is "<minion>-<generation>": one per task, not per process. */
static int is_v1(struct text id, struct text uid, double generation)
{
    double g = 0;
    size_t i;

    if (uid.len < id.len + 2 || memcmp(uid.p, id.p, id.len) != 0 ||
        uid.p[id.len] != '-' || !isfinite(generation)) {
        return 0;
    }
    for (i = id.len + 1; i < uid.len; i++) {
        if (uid.p[i] < '0' || uid.p[i] > '9') {
            return 0;
        }
        g = g * 10 + (uid.p[i] - '0');
    }
    return g == generation;
}

static int same_group(const struct group *g, struct text id, struct text uid)
{
    if (g->id_len != id.len || memcmp(g->id, id.p, id.len) != 0) {
        return 0;
    }
    if (uid.p == NULL || g->uid == NULL) {
        return uid.p == NULL && g->uid == NULL;
    }
    return g->uid_len == uid.len && memcmp(g->uid, uid.p, uid.len) == 0;
}

static char *copy_text(struct text t)
{
    char *c = malloc(t.len + 1);

    if (c != NULL) {
        memcpy(c, t.p, t.len);
        c[t.len] = '\0';
    }
    return c;
}

static struct group *new_group(struct reports *s, struct text id,
                               struct text uid)
{
    struct group *g;

    if (grow(&s->groups, &s->cap_groups, s->n_groups + 1, sizeof(*s->groups),
             16) < 0 ||
        (g = calloc(1, sizeof(*g))) == NULL) {
        return NULL;
    }
    g->id = copy_text(id);
    g->id_len = id.len;
    if (uid.p != NULL) {
        g->uid = copy_text(uid);
        g->uid_len = uid.len;
    }
    if (g->id == NULL || (uid.p != NULL && g->uid == NULL)) {
        free(g->id);
        free(g->uid);
        free(g);
        return NULL;
    }
    g->started = g->last_seen = NAN;
    s->groups[s->n_groups++] = g;
    s->added_group = 1;
    return g;
}

static struct group *find_group(struct reports *s, struct text id,
                                struct text uid)
{
    struct slot *sl;
    uint64_t h;
    size_t k;

    if (s->last != NULL && same_group(s->last, id, uid)) {
        return s->last;
    }
    h = hash_bytes(FNV_SEED, id.p, id.len);
    h = uid.p != NULL ? hash_bytes(h * FNV_PRIME + 1, uid.p, uid.len) : h;
    if (table_reserve(&s->group_index) < 0) {
        return NULL;
    }
    for (k = h & (s->group_index.cap - 1);;
         k = (k + 1) & (s->group_index.cap - 1)) {
        sl = &s->group_index.slots[k];
        if (sl->index == 0) {
            break;
        }
        if (sl->hash == h && same_group(s->groups[sl->index - 1], id, uid)) {
            s->last = s->groups[sl->index - 1];
            return s->last;
        }
    }
    s->last = new_group(s, id, uid);
    if (s->last != NULL) {
        sl->hash = h;
        sl->index = s->n_groups;
        s->group_index.n++;
    }
    return s->last;
}

/* Keep the latest value of a text field. Returns 0 or -ENOMEM. */
static int set_text(struct reports *s, char **field, const struct jsonl_str *j)
{
    struct text t;
    char *c;

    if (j->p == NULL) {
        return 0;
    }
    if (!j->escaped && *field != NULL && strlen(*field) == j->len &&
        memcmp(*field, j->p, j->len) == 0) {
        return 0;
    }
    if (text_room(s, j->len + 1) < 0) {
        return -ENOMEM;
    }
    t = text_of(s, j, 0);
    if (*field != NULL && strcmp(*field, t.p) == 0) {
        return 0;
    }
    c = copy_text(t);
    if (c == NULL) {
        return -ENOMEM;
    }
    free(*field);
    *field = c;
    return 0;
}

static int add_error(struct reports *s, const struct jsonl_str *j, double when)
{
    struct error_text *e;
    struct slot *sl;
    struct text t;
    uint64_t h;
    size_t k;

    if (text_room(s, j->len + 1) < 0 || table_reserve(&s->error_index) < 0) {
        return -ENOMEM;
    }
    t = text_of(s, j, 0);
    h = hash_bytes(FNV_SEED, t.p, t.len);
    for (k = h & (s->error_index.cap - 1);;
         k = (k + 1) & (s->error_index.cap - 1)) {
        sl = &s->error_index.slots[k];
        if (sl->index == 0) {
            break;
        }
        e = &s->errors[sl->index - 1];
        if (sl->hash == h && e->len == t.len &&
            memcmp(e->text, t.p, t.len) == 0) {
            e->count++;
            e->last = isnan(e->last) || when > e->last ? when : e->last;
            return 0;
        }
    }
    if (grow(&s->errors, &s->cap_errors, s->n_errors + 1, sizeof(*s->errors),
             16) < 0) {
        return -ENOMEM;
    }
    e = &s->errors[s->n_errors];
    e->text = copy_text(t);
    if (e->text == NULL) {
        return -ENOMEM;
    }
    e->len = t.len;
    e->count = 1;
    e->last = when;
    sl->hash = h;
    sl->index = ++s->n_errors;
    s->error_index.n++;
    return 0;
}

static double min_of(double a, double b)
{
    return isnan(a) || b < a ? b : a;
}

static double max_of(double a, double b)
{
    return isnan(a) || b > a ? b : a;
}

static int add_times(struct reports *s, struct group *g,
                     const struct jsonl_record *r, int st)
{
    double seen = isfinite(r->end) ? r->end : r->start;
    int both = isfinite(r->start) && isfinite(r->end) && r->end >= r->start;

    if (isfinite(r->start)) {
        g->started = min_of(g->started, r->start);
        s->first_start = min_of(s->first_start, r->start);
    }
    if (isfinite(seen)) {
        g->last_seen = max_of(g->last_seen, seen);
        s->newest = max_of(s->newest, seen);
    }
    if (both) {
        if (s->n_spans == s->cap_spans &&
            grow(&s->spans, &s->cap_spans, s->n_spans + 1, sizeof(*s->spans),
                 1024) < 0) {
            return -ENOMEM;
        }
        s->spans[s->n_spans].start = r->start;
        s->spans[s->n_spans++].end = r->end;
    }
    if (st == RELEASED) {
        return 0;
    }
    if (isfinite(r->end) && (figures_add(&g->end, r->end) < 0 ||
                             figures_add(&s->end, r->end) < 0)) {
        return -ENOMEM;
    }
    if (both && (figures_add(&g->dur, r->end - r->start) < 0 ||
                 figures_add(&s->dur, r->end - r->start) < 0)) {
        return -ENOMEM;
    }
    return 0;
}

/* Take in one line of @file. Returns 0, 1 when it is no report, or
 * -ENOMEM. */
static int add_line(struct reports *s, const struct rfile *file,
                    const char *line, size_t len)
{
    struct jsonl_record r;
    struct text id, uid;
    struct group *g;
    int st;

    if (jsonl_scan(line, len, &r) < 0 || (st = status_of(&r.status)) < 0) {
        return 1;
    }
    if (text_room(s, r.minion.len + r.uid.len + 2) < 0) {
        return -ENOMEM;
    }
    id = text_of(s, &r.minion, 0);
    if (id.p == NULL || id.len == 0) {
        id.p = file->id;
        id.len = strlen(file->id);
    }
    uid = text_of(s, &r.uid, r.minion.len + 1);
    if (uid.p != NULL && is_v1(id, uid, r.generation)) {
        uid.p = NULL;
        uid.len = 0;
    }
    g = find_group(s, id, uid);
    if (g == NULL) {
        return -ENOMEM;
    }
    switch (st) {
    case OK: g->ok++, s->ok++; break;
    case FAILED: g->failed++, s->failed++; break;
    case DEAD: g->dead++, s->dead++; break;
    default: break;
    }
    g->dirty = 1;
    s->changed = 1;
    if (add_times(s, g, &r, st) < 0 ||
        set_text(s, &g->nodename, &r.nodename) < 0 ||
        set_text(s, &g->oar_job_id, &r.oar_job_id) < 0 ||
        set_text(s, &g->slurm_job_id, &r.slurm_job_id) < 0 ||
        set_text(s, &g->slurm_array_task_id, &r.slurm_array_task_id) < 0) {
        return -ENOMEM;
    }
    if (st != RELEASED && r.error.p != NULL && r.error.len > 0 &&
        add_error(s, &r.error, isfinite(r.end) ? r.end : r.start) < 0) {
        return -ENOMEM;
    }
    return 0;
}

/* ---- the files ------------------------------------------------------- */

static void forget_all(struct reports *s)
{
    size_t i;

    for (i = 0; i < s->n_files; i++) {
        free(s->files[i].name);
        free(s->files[i].id);
    }
    s->n_files = 0;
    for (i = 0; i < s->n_groups; i++) {
        struct group *g = s->groups[i];

        free(g->id);
        free(g->uid);
        free(g->nodename);
        free(g->oar_job_id);
        free(g->slurm_job_id);
        free(g->slurm_array_task_id);
        figures_values_fini(&g->dur);
        figures_values_fini(&g->end);
        free(g);
    }
    s->n_groups = 0;
    free(s->order);
    s->order = NULL;
    s->added_group = 0;
    s->last = NULL;
    for (i = 0; i < s->n_errors; i++) {
        free(s->errors[i].text);
    }
    s->n_errors = 0;
    table_fini(&s->group_index);
    table_fini(&s->error_index);
    figures_values_fini(&s->dur);
    figures_values_fini(&s->end);
    s->n_spans = 0;
    s->ok = s->failed = s->dead = s->malformed = 0;
    s->first_start = s->newest = NAN;
    s->n_top = 0;
    s->rate.n = s->in_flight.n = 0;
    free(s->bad_file);
    s->bad_file = NULL;
    s->changed = 1;
}

static void note_bad(struct reports *s, const struct rfile *file,
                     unsigned long line)
{
    if (s->bad_file == NULL &&
        asprintf(&s->bad_file, "%s/%s", s->dir, file->name) >= 0) {
        s->bad_line = line;
    }
}

static int take_line(struct reports *s, struct rfile *file, const char *line,
                     size_t len)
{
    int rc;

    file->lines++;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ')) {
        len--;
    }
    if (len == 0) {
        return 0;
    }
    rc = add_line(s, file, line, len);
    if (rc == 1) {
        s->malformed++;
        note_bad(s, file, file->lines);
        rc = 0;
    }
    return rc;
}

/* The bytes after the last newline: a report whose newline is missing (a
 * hand-made file) is taken in; anything else may be a line being written,
 * or the remains of a crash, and is looked at again next time. */
static int take_tail(struct reports *s, struct rfile *file, const char *p,
                     size_t len)
{
    size_t n = len;
    int rc;

    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) {
        n--;
    }
    if (n == 0) {
        return 0;
    }
    rc = add_line(s, file, p, n);
    if (rc == 0) {
        file->lines++;
        file->done += (off_t)len;
    } else if (rc == 1) {
        file->torn = 1;
        rc = 0;
    }
    return rc;
}

/* Read @file from file->done on. Returns 0 or -ENOMEM. */
static int read_new(struct reports *s, struct rfile *file, int fd)
{
    size_t carry = 0;
    char *p, *nl, *end;
    off_t off = file->done;
    ssize_t n;
    int rc;

    if (lseek(fd, off, SEEK_SET) < 0) {
        return 0;
    }
    file->torn = 0;
    for (;;) {
        if (s->buf_cap - carry < CHUNK / 2 &&
            grow(&s->buf, &s->buf_cap, carry + CHUNK, 1, CHUNK) < 0) {
            return -ENOMEM;
        }
        n = read(fd, s->buf + carry, s->buf_cap - carry);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n < 0) {
                tools_warn("reading %s/%s: %s", s->dir, file->name,
                           strerror(errno));
            }
            break;
        }
        off += n;
        p = s->buf;
        end = s->buf + carry + n;
        while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            rc = take_line(s, file, p, (size_t)(nl - p));
            if (rc < 0) {
                return rc;
            }
            file->done += nl + 1 - p;
            p = nl + 1;
        }
        carry = (size_t)(end - p);
        memmove(s->buf, p, carry);
    }
    file->seen = off;
    return take_tail(s, file, s->buf, carry);
}

static ssize_t read_at(int fd, char *buf, size_t len, off_t at)
{
    ssize_t n;

    do {
        n = pread(fd, buf, len, at);
    } while (n < 0 && errno == EINTR);
    return n;
}

/* Whether @file, open on @fd, is still the file read so far: same first
 * bytes, and a line ended where reading stopped. */
static int same_file(const struct rfile *file, int fd)
{
    char head[HEAD_BYTES], nl;

    if (file->done == 0) {
        return 1;
    }
    return read_at(fd, head, file->head_len, 0) == (ssize_t)file->head_len &&
           memcmp(head, file->head, file->head_len) == 0 &&
           read_at(fd, &nl, 1, file->done - 1) == 1 && nl == '\n';
}

/* Read what is new in @file (@st: its stat). Returns 0, 1 when it is not
 * the file read before (start over), or -ENOMEM. */
static int update_file(struct reports *s, int dfd, struct rfile *file,
                       const struct stat *st)
{
    struct stat fst;
    int fd, rc = 0;

    if (file->known && (st->st_dev != file->dev || st->st_ino != file->ino ||
                        st->st_size < file->done)) {
        return 1;
    }
    if (file->known && st->st_size == file->seen) {
        return 0;
    }
    fd = openat(dfd, file->name, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &fst) < 0) {
        if (fd >= 0) {
            close(fd);
        }
        if (errno != ENOENT && !file->unreadable) {
            tools_warn("cannot read %s/%s: %s", s->dir, file->name,
                       strerror(errno));
            file->unreadable = 1;
        }
        return 0;
    }
    if (file->known && (fst.st_dev != file->dev || fst.st_ino != file->ino ||
                        !same_file(file, fd))) {
        close(fd);
        return 1;
    }
    file->known = 1;
    file->dev = fst.st_dev;
    file->ino = fst.st_ino;
    rc = read_new(s, file, fd);
    if (rc == 0 && file->head_len < HEAD_BYTES &&
        file->done > (off_t)file->head_len) {
        ssize_t n = read_at(fd, file->head, HEAD_BYTES, 0);

        file->head_len = n < 0 ? 0 : (size_t)n;
        if (file->head_len > (size_t)file->done) {
            file->head_len = (size_t)file->done;
        }
    }
    close(fd);
    return rc;
}

static int has_suffix(const char *name)
{
    size_t n = strlen(name), k = strlen(SUFFIX);

    return n > k && strcmp(name + n - k, SUFFIX) == 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    while (n > 0) {
        free(names[--n]);
    }
    free(names);
}

/* The sorted *.jsonl names in the folder open on @d. Returns 0, or -1 with
 * the error set. */
static int list_names(struct reports *s, DIR *d, char ***out, size_t *n_out)
{
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;

    for (;;) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            break;
        }
        if (!has_suffix(de->d_name)) {
            continue;
        }
        if (grow(&names, &cap, n + 1, sizeof(*names), 16) < 0 ||
            (names[n] = strdup(de->d_name)) == NULL) {
            free_names(names, n);
            snprintf(s->src.error, sizeof(s->src.error), "out of memory");
            return -1;
        }
        n++;
    }
    if (errno != 0) {
        snprintf(s->src.error, sizeof(s->src.error), "reading '%s': %s", s->dir,
                 strerror(errno));
        free_names(names, n);
        return -1;
    }
    if (n > 1) {
        qsort(names, n, sizeof(*names), cmp_names);
    }
    *out = names;
    *n_out = n;
    return 0;
}

/* Make s->files the files of @names (sorted), keeping what was read of
 * each. Returns 0, 1 when a file read before is no longer listed (start
 * over), or -ENOMEM. Takes: the names it keeps (set to NULL in @names). */
static int match_files(struct reports *s, char **names, size_t n)
{
    struct rfile *files;
    size_t i, j = 0;
    int c;

    for (i = 0; i < n && j < s->n_files; i++) {
        c = strcmp(s->files[j].name, names[i]);
        if (c < 0) {
            return 1;
        }
        j += c == 0;
    }
    if (j < s->n_files) {
        return 1;
    }
    files = calloc(n > 0 ? n : 1, sizeof(*files));
    if (files == NULL) {
        return -ENOMEM;
    }
    for (i = 0, j = 0; i < n; i++) {
        if (j < s->n_files && strcmp(s->files[j].name, names[i]) == 0) {
            files[i] = s->files[j++];
            continue;
        }
        files[i].name = names[i];
        files[i].id = strndup(names[i], strlen(names[i]) - strlen(SUFFIX));
        if (files[i].id == NULL) {
            while (i-- > 0) {
                if (files[i].name == names[i]) {
                    free(files[i].id);
                }
            }
            free(files);
            return -ENOMEM;
        }
    }
    for (i = 0; i < n; i++) {
        if (files[i].name == names[i]) {
            names[i] = NULL;
        }
    }
    free(s->files);
    s->files = files;
    s->n_files = n;
    return 0;
}

/* Returns 0, 1 to start over, or -ENOMEM. */
static int update_files(struct reports *s, int dfd)
{
    struct stat st;
    size_t i;
    int rc;

    for (i = 0; i < s->n_files; i++) {
        if (fstatat(dfd, s->files[i].name, &st, 0) < 0 ||
            !S_ISREG(st.st_mode)) {
            continue; /* removed since the listing: the next one sees it */
        }
        rc = update_file(s, dfd, &s->files[i], &st);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Returns 0, or -1 with the error set. */
static int read_folder(struct reports *s)
{
    DIR *d = opendir(s->dir);
    char **names;
    size_t n;
    int rc;

    if (d == NULL) {
        if (errno == ENOENT) {
            snprintf(s->src.error, sizeof(s->src.error),
                     "no reports directory '%s' (set --dir or "
                     "REPORTER_JSON_DIRECTORY)",
                     s->dir);
        } else {
            snprintf(s->src.error, sizeof(s->src.error),
                     "cannot read reports directory '%s': %s", s->dir,
                     strerror(errno));
        }
        return -1;
    }
    /* Twice at most: after forget_all() no file is known, so none can
     * have changed under us. */
    for (;;) {
        if (list_names(s, d, &names, &n) < 0) {
            closedir(d);
            return -1;
        }
        rc = match_files(s, names, n);
        free_names(names, n);
        if (rc == 0) {
            rc = update_files(s, dirfd(d));
        }
        if (rc != 1) {
            break;
        }
        forget_all(s);
        rewinddir(d);
    }
    closedir(d);
    if (rc < 0) {
        snprintf(s->src.error, sizeof(s->src.error), "out of memory");
        return -1;
    }
    return 0;
}

/* ---- figures --------------------------------------------------------- */

static int cmp_groups(const void *a, const void *b)
{
    const struct group *x = *(struct group *const *)a;
    const struct group *y = *(struct group *const *)b;
    int c = strcmp(x->id, y->id);

    if (c != 0) {
        return c;
    }
    if (x->uid == NULL || y->uid == NULL) {
        return (x->uid != NULL) - (y->uid != NULL);
    }
    return strcmp(x->uid, y->uid);
}

/* Finished runs per second over the minute up to s->newest (those that
 * ended after its start), or since @started when that is later. */
static double rate_1m(const struct reports *s, const struct figures_values *end,
                      double started)
{
    double from = s->newest - FIGURES_MINUTE_S, window;
    size_t i, count = 0;

    for (i = 0; i < end->n; i++) {
        count += end->v[i] > from;
    }
    if (isfinite(started) && started > from) {
        from = started;
    }
    window = s->newest - from;
    return window > 0 ? (double)count / window : FLEET_UNKNOWN;
}

/* The rate chart counts runs by the step they ended in; the in-flight
 * chart is the mean number of runs going on during each step (a run of a
 * tenth of a step adds a tenth), so short runs show however coarse the
 * step. */
static void compute_charts(struct reports *s)
{
    double diff[FLEET_SERIES_MAX + 1] = {0};
    double *rate = s->rate.values, *fly = s->in_flight.values, step, b0, acc;
    size_t n, i, ia, ib;

    s->rate.n = s->in_flight.n = 0;
    if (!isfinite(s->first_start) || !isfinite(s->newest) ||
        s->newest < s->first_start) {
        return;
    }
    step = figures_chart_step(s->first_start, s->newest);
    b0 = floor(s->first_start / step);
    n = (size_t)(floor(s->newest / step) - b0) + 1;
    memset(rate, 0, n * sizeof(*rate));
    memset(fly, 0, n * sizeof(*fly));
    for (i = 0; i < s->end.n; i++) {
        rate[figures_chart_bin(s->end.v[i], step, b0, n)] += 1;
    }
    for (i = 0; i < s->n_spans; i++) {
        const struct span *sp = &s->spans[i];

        ia = figures_chart_bin(sp->start, step, b0, n);
        ib = figures_chart_bin(sp->end, step, b0, n);
        if (ia == ib) {
            fly[ia] += sp->end - sp->start;
            continue;
        }
        fly[ia] += (b0 + (double)ia + 1) * step - sp->start;
        fly[ib] += sp->end - (b0 + (double)ib) * step;
        diff[ia + 1] += step;
        diff[ib] -= step;
    }
    acc = 0;
    for (i = 0; i < n; i++) {
        acc += diff[i];
        rate[i] /= step;
        fly[i] = (fly[i] + acc) / step;
    }
    s->rate.n = s->in_flight.n = n;
    s->rate.step = s->in_flight.step = step;
    s->rate.end = s->in_flight.end = (b0 + (double)n) * step;
}

static int error_before(const struct error_text *a, const struct error_text *b)
{
    return a->count > b->count || (a->count == b->count && a->last > b->last);
}

/* The TOP_ERRORS most frequent texts; of equal counts, the latest first. */
static void compute_top(struct reports *s)
{
    size_t i, k;

    s->n_top = 0;
    for (i = 0; i < s->n_errors; i++) {
        k = s->n_top;
        if (k == TOP_ERRORS) {
            if (!error_before(&s->errors[i], &s->errors[s->top[k - 1]])) {
                continue;
            }
            k--;
        } else {
            s->n_top++;
        }
        for (; k > 0 && error_before(&s->errors[i], &s->errors[s->top[k - 1]]);
             k--) {
            s->top[k] = s->top[k - 1];
        }
        s->top[k] = i;
    }
}

static void compute_durations(struct figures_values *d, double *p50,
                              double *mean, double *p95)
{
    figures_sort(d);
    *p50 = figures_percentile(d, 50);
    *p95 = figures_percentile(d, 95);
    *mean = figures_mean(d);
}

static int compute(struct reports *s)
{
    size_t i;

    if (s->added_group) {
        free(s->order);
        s->order = malloc(s->n_groups * sizeof(*s->order));
        if (s->order == NULL) {
            return -ENOMEM;
        }
        memcpy(s->order, s->groups, s->n_groups * sizeof(*s->order));
        qsort(s->order, s->n_groups, sizeof(*s->order), cmp_groups);
        s->added_group = 0;
    }
    for (i = 0; i < s->n_groups; i++) {
        struct group *g = s->groups[i];

        /* The window moves with the newest end: every rate, every time. */
        g->rate_1m = rate_1m(s, &g->end, g->started);
        if (!g->dirty) {
            continue;
        }
        compute_durations(&g->dur, &g->p50, &g->mean, &g->p95);
        g->rate_all = figures_rate((double)g->end.n, g->started, g->last_seen);
        g->dirty = 0;
    }
    compute_durations(&s->dur, &s->p50, &s->mean, &s->p95);
    s->rate_1m = rate_1m(s, &s->end, s->first_start);
    s->rate_all = figures_rate((double)s->end.n, s->first_start, s->newest);
    compute_charts(s);
    compute_top(s);
    s->changed = 0;
    return 0;
}

/* ---- filling the fleet ----------------------------------------------- */

static double known(double v)
{
    return isfinite(v) ? v : FLEET_UNKNOWN;
}

static int dup_or_null(char **to, const char *from)
{
    *to = from != NULL ? strdup(from) : NULL;
    return from != NULL && *to == NULL ? -ENOMEM : 0;
}

static int fill_minion(struct fleet_minion *m, const struct group *g,
                       double now)
{
    m->ok = (double)g->ok;
    m->failed = (double)g->failed;
    m->dead = (double)g->dead;
    m->pending = m->in_flight = FLEET_UNKNOWN;
    m->p50 = g->p50;
    m->mean = g->mean;
    m->p95 = g->p95;
    m->rate_1m = g->rate_1m;
    m->rate_all = g->rate_all;
    m->started = known(g->started);
    m->last_seen = known(g->last_seen);
    m->idle_ms = FLEET_UNKNOWN;
    if (isfinite(g->last_seen)) {
        m->idle_ms = now > g->last_seen ? (now - g->last_seen) * 1000 : 0;
    }
    return dup_or_null(&m->id, g->id) | dup_or_null(&m->uid, g->uid) |
           dup_or_null(&m->nodename, g->nodename) |
           dup_or_null(&m->oar_job_id, g->oar_job_id) |
           dup_or_null(&m->slurm_job_id, g->slurm_job_id) |
           dup_or_null(&m->slurm_array_task_id, g->slurm_array_task_id);
}

static int fill(struct reports *s, struct fleet *f)
{
    size_t i;

    fleet_clear(f);
    f->source = "json";
    f->where = s->dir;
    f->ok = (double)s->ok;
    f->failed = (double)s->failed;
    f->dead = (double)s->dead;
    f->p50 = s->p50;
    f->mean = s->mean;
    f->p95 = s->p95;
    f->rate_1m = s->rate_1m;
    f->rate_all = s->rate_all;
    f->started = known(s->first_start);
    f->malformed = s->malformed;
    for (i = 0; i < s->n_files; i++) {
        f->malformed += (unsigned long)s->files[i].torn;
    }
    f->rate = s->rate;
    f->in_flight_series = s->in_flight;
    if (s->n_groups > 0) {
        f->minions = calloc(s->n_groups, sizeof(*f->minions));
        if (f->minions == NULL) {
            return -ENOMEM;
        }
    }
    for (i = 0; i < s->n_groups; i++) {
        f->n_minions++;
        if (fill_minion(&f->minions[i], s->order[i], f->now) < 0) {
            return -ENOMEM;
        }
    }
    if (s->n_top > 0) {
        f->errors = calloc(s->n_top, sizeof(*f->errors));
        if (f->errors == NULL) {
            return -ENOMEM;
        }
    }
    for (i = 0; i < s->n_top; i++) {
        const struct error_text *e = &s->errors[s->top[i]];

        f->n_errors++;
        f->errors[i].count = (double)e->count;
        f->errors[i].last = known(e->last);
        f->errors[i].text = strdup(e->text);
        if (f->errors[i].text == NULL) {
            return -ENOMEM;
        }
    }
    return 0;
}

/* Once, at the first refresh: later lines that are no report show in the
 * malformed figure, and a full-screen --watch has no room for warnings. */
static void warn_malformed(struct reports *s, unsigned long malformed)
{
    size_t i;

    if (s->warned) {
        return;
    }
    s->warned = 1;
    if (malformed == 0) {
        return;
    }
    for (i = 0; s->bad_file == NULL && i < s->n_files; i++) {
        if (s->files[i].torn) {
            note_bad(s, &s->files[i], s->files[i].lines + 1);
        }
    }
    tools_warn("skipped %lu line%s that %s not a task report (first: %s:%lu)",
               malformed, malformed == 1 ? "" : "s",
               malformed == 1 ? "is" : "are",
               s->bad_file != NULL ? s->bad_file : "?", s->bad_line);
}

static int reports_refresh(struct fleet_source *src, struct fleet *f)
{
    struct reports *s = (struct reports *)src;

    src->error[0] = '\0';
    if (read_folder(s) < 0) {
        return -1;
    }
    if ((s->changed && compute(s) < 0) || fill(s, f) < 0) {
        snprintf(src->error, sizeof(src->error), "out of memory");
        return -1;
    }
    warn_malformed(s, f->malformed);
    return 0;
}

static void reports_free(struct fleet_source *src)
{
    struct reports *s = (struct reports *)src;

    if (s == NULL) {
        return;
    }
    forget_all(s);
    free(s->files);
    free(s->groups);
    free(s->order);
    free(s->errors);
    free(s->spans);
    free(s->buf);
    free(s->text);
    free(s->dir);
    free(s);
}

struct fleet_source *reports_source_new(const char *dir)
{
    struct reports *s = calloc(1, sizeof(*s));

    if (s == NULL || (s->dir = strdup(dir)) == NULL) {
        free(s);
        return NULL;
    }
    s->src.refresh = reports_refresh;
    s->src.free = reports_free;
    s->first_start = s->newest = NAN;
    s->changed = 1;
    return &s->src;
}
