/* SPDX-License-Identifier: MIT */
/* engines/file/state.c: the state directory; the layout and the crash rules
 * are in state.h. */
/* F_OFD_SETLK, asprintf: GNU extensions. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "due.h"
#include "state.h"

/* The window claims read MINION_FILE through; it grows for longer lines. */
#define WINDOW_BYTES (256 * 1024)
/* The cursor record: two 20-digit numbers, a flag and "\n". */
#define CURSOR_BYTES 44
/* Marks an fline known only from F/Z records, with no claim to locate it. */
#define NO_OFFSET UINT64_MAX
/* Journal records are built in a buffer this large from the start, so that
 * settling a line never needs memory (one_record). */
#define REC_BYTES 4096
/* An attempt's error when there is no memory to keep its text. */
#define ERROR_LOST "(error text lost: out of memory)"

struct cursor {
    uint64_t offset;
    uint64_t line;
    int partial;
};

/* Lines by number: a chained hash table. */
struct fmap {
    struct fline **tab;
    size_t size; /* a power of two, or 0 */
    size_t n;
};

struct fstate {
    char *dir, *jdir, *id;
    char *cursor_path, *lock_path, *journal_path, *tmp_path;
    int file_fd; /* MINION_FILE, borrowed */
    int cursor_fd, dead_fd, lock_fd, journal_fd;
    int locked;      /* the global lock */
    int self_locked; /* our own ID.lock */
    int keep;        /* leave the journal whatever happens */
    unsigned max_attempts;
    struct lines_shard shard;
    struct lines win;
    struct fmap owned;
    struct fline *ready_head, *ready_tail;
    struct fline *dead_head, *dead_tail;
    /* Failed lines waiting out their retry delay, by not_before. Its room
     * is kept at the size of the owned set, so a fail never needs memory. */
    struct due_heap waiting;
    size_t n_ready, n_dead;
    uint64_t tail_line; /* the last claim's unterminated last line */
    size_t tail_len;
    fstate_dead_fn on_dead;
    void *on_dead_arg;
    uint64_t journal_bytes;
    char *scratch; /* data of ready lines and dead letters */
    size_t scratch_cap;
    char *rec; /* journal records being built */
    size_t rec_len, rec_cap;
    char err[512];
};

static void set_err(struct fstate *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_err(struct fstate *st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(st->err, sizeof(st->err), fmt, ap);
    va_end(ap);
}

const char *fstate_error(const struct fstate *st)
{
    return st->err;
}

/* Epoch seconds: not_before times are read by minions on other hosts. */
static double wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------ */
/* Locks                                                                    */

/* One non-blocking fcntl lock on the whole file. Open file description
 * locks belong to the descriptor, not the process, so two minions in one
 * process (the unit tests) exclude each other too, and closing some other
 * descriptor of the file never drops them. Returns 0, -EAGAIN or -errno. */
static int setlk(int fd, short type)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
        return 0;
    }
    if (errno != EINVAL) {
        return errno == EACCES || errno == EAGAIN ? -EAGAIN : -errno;
    }
    /* A kernel without OFD locks: fall back to process locks. */
    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
#endif
    if (fcntl(fd, F_SETLK, &fl) == 0) {
        return 0;
    }
    return errno == EACCES || errno == EAGAIN ? -EAGAIN : -errno;
}

/* Does @fd still have the name @path? A lock on an unlinked file proves
 * nothing. */
static int same_file(int fd, const char *path)
{
    struct stat a, b;

    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

int fstate_lock(struct fstate *st)
{
    int rc;

    if (st->locked) {
        return 0;
    }
    rc = setlk(st->cursor_fd, F_WRLCK);
    if (rc == 0) {
        st->locked = 1;
    } else if (rc != -EAGAIN) {
        set_err(st, "lock %s: %s", st->cursor_path, strerror(-rc));
    }
    return rc;
}

void fstate_unlock(struct fstate *st)
{
    if (st->locked) {
        setlk(st->cursor_fd, F_UNLCK);
        st->locked = 0;
    }
}

/* ------------------------------------------------------------------------ */
/* Small I/O helpers                                                        */

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A write that failed may have left part of its bytes behind: whatever its
 * errno, it is never the shortage a caller waits out (state.h). */
static int write_error(int rc)
{
    return rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM ? -EIO : rc;
}

/* Read all of @path. Returns: new NUL-terminated buffer (*len bytes);
 * NULL with errno set (ENOENT when missing). */
static char *slurp(const char *path, size_t *len)
{
    struct stat sb;
    char *buf;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return NULL;
    }
    if (fstat(fd, &sb) < 0) {
        goto fail;
    }
    buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        goto fail;
    }
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break; /* shrank meanwhile: take what is there */
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
fail:
    close(fd);
    return NULL;
}

static int mkdir_p(const char *path)
{
    char *p = strdup(path);
    int rc = 0;

    if (!p) {
        return -ENOMEM;
    }
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0777) < 0 && errno != EEXIST) {
                rc = -errno;
                goto out;
            }
            *s = '/';
        }
    }
    if (mkdir(p, 0777) < 0 && errno != EEXIST) {
        rc = -errno;
    }
out:
    free(p);
    return rc;
}

/* Make @st->scratch hold at least @len + 1 bytes. */
static int scratch_reserve(struct fstate *st, size_t len)
{
    if (len + 1 > st->scratch_cap) {
        size_t cap = st->scratch_cap ? st->scratch_cap : 4096;
        char *p;
        while (cap < len + 1) {
            cap *= 2;
        }
        p = realloc(st->scratch, cap);
        if (!p) {
            return -ENOMEM;
        }
        st->scratch = p;
        st->scratch_cap = cap;
    }
    return 0;
}

/* Read @fl's bytes back from MINION_FILE into the scratch buffer. */
static int load_line(struct fstate *st, struct fline *fl)
{
    size_t got = 0;

    if (scratch_reserve(st, fl->len) < 0) {
        set_err(st, "out of memory");
        return -ENOMEM;
    }
    while (got < fl->len) {
        ssize_t n = pread(st->file_fd, st->scratch + got, fl->len - got,
                          (off_t)(fl->offset + got));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int rc = n < 0 ? -errno : -EIO;
            set_err(st, "read line %" PRIu64 " back from the file: %s",
                    fl->line, n < 0 ? strerror(-rc) : "file shrank");
            return rc;
        }
        got += (size_t)n;
    }
    fl->data = st->scratch;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Text encodings                                                           */

void fstate_pct_encode(char *dst, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == '%') {
            *dst++ = '%';
            *dst++ = hex[c >> 4];
            *dst++ = hex[c & 15];
        } else {
            *dst++ = (char)c;
        }
    }
    *dst = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

void fstate_pct_decode(char *dst, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            *dst++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *dst++ = s[i];
        }
    }
    *dst = '\0';
}

/* Length of the valid UTF-8 sequence at @s (at most @len bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t len)
{
    size_t n;
    uint32_t cp;

    if (s[0] < 0x80) {
        return 1;
    } else if ((s[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n > len) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
        (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return n;
}

size_t fstate_json_string(char *dst, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    char *d = dst;
    size_t i = 0;

    *d++ = '"';
    while (i < len) {
        unsigned char c = p[i];
        size_t n;
        if (c == '"' || c == '\\') {
            *d++ = '\\';
            *d++ = (char)c;
            i++;
        } else if (c == '\n') {
            *d++ = '\\';
            *d++ = 'n';
            i++;
        } else if (c == '\r') {
            *d++ = '\\';
            *d++ = 'r';
            i++;
        } else if (c == '\t') {
            *d++ = '\\';
            *d++ = 't';
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(d, "\\u00", 4);
            d[4] = hex[c >> 4];
            d[5] = hex[c & 15];
            d += 6;
            i++;
        } else if ((n = utf8_len(p + i, len - i)) > 0) {
            memcpy(d, p + i, n);
            d += n;
            i += n;
        } else {
            memcpy(d, "\xef\xbf\xbd", 3); /* U+FFFD */
            d += 3;
            i++;
        }
    }
    *d++ = '"';
    return (size_t)(d - dst);
}

/* ------------------------------------------------------------------------ */
/* The owned set                                                            */

static size_t slot(const struct fmap *m, uint64_t line)
{
    return (size_t)((line * 0x9E3779B97F4A7C15ull) >> 17) & (m->size - 1);
}

static struct fline *map_get(const struct fmap *m, uint64_t line)
{
    if (!m->size) {
        return NULL;
    }
    for (struct fline *fl = m->tab[slot(m, line)]; fl; fl = fl->hnext) {
        if (fl->line == line) {
            return fl;
        }
    }
    return NULL;
}

/* Make room for @n lines in all, so that map_put cannot fail until then.
 * Returns 0 or -ENOMEM (@m unchanged). */
static int map_reserve(struct fmap *m, size_t n)
{
    size_t size = m->size ? m->size : 64;
    struct fline **tab;
    struct fmap grown;

    while (size < n) {
        size *= 2;
    }
    if (size == m->size) {
        return 0;
    }
    if (!(tab = calloc(size, sizeof(*tab)))) {
        return -ENOMEM;
    }
    grown = (struct fmap){tab, size, m->n};
    for (size_t b = 0; b < m->size; b++) {
        struct fline *next;
        for (struct fline *e = m->tab[b]; e; e = next) {
            size_t i = slot(&grown, e->line);
            next = e->hnext;
            e->hnext = tab[i];
            tab[i] = e;
        }
    }
    free(m->tab);
    *m = grown;
    return 0;
}

static int map_put(struct fmap *m, struct fline *fl)
{
    size_t i;

    if (m->n >= m->size &&
        map_reserve(m, m->size ? m->size * 2 : m->n + 1) < 0) {
        return -ENOMEM;
    }
    i = slot(m, fl->line);
    fl->hnext = m->tab[i];
    m->tab[i] = fl;
    m->n++;
    return 0;
}

static void map_del(struct fmap *m, struct fline *fl)
{
    struct fline **pp = &m->tab[slot(m, fl->line)];

    for (; *pp; pp = &(*pp)->hnext) {
        if (*pp == fl) {
            *pp = fl->hnext;
            m->n--;
            return;
        }
    }
}

static void fline_free(struct fline *fl)
{
    if (fl) {
        free(fl->error);
        free(fl);
    }
}

static int set_error(struct fline *fl, const char *error)
{
    char *e = strdup(error ? error : "failed");

    if (!e) {
        return -ENOMEM;
    }
    free(fl->error);
    fl->error = e;
    return 0;
}

/* Free every line of @m, and the table. */
static void map_clear(struct fmap *m)
{
    for (size_t b = 0; b < m->size; b++) {
        struct fline *next;
        for (struct fline *e = m->tab[b]; e; e = next) {
            next = e->hnext;
            fline_free(e);
        }
    }
    free(m->tab);
    memset(m, 0, sizeof(*m));
}

static void queue_push(struct fline **head, struct fline **tail,
                       struct fline *fl)
{
    fl->qnext = NULL;
    if (*tail) {
        (*tail)->qnext = fl;
    } else {
        *head = fl;
    }
    *tail = fl;
}

static struct fline *queue_pop(struct fline **head, struct fline **tail)
{
    struct fline *fl = *head;

    if (fl) {
        *head = fl->qnext;
        if (!*head) {
            *tail = NULL;
        }
        fl->qnext = NULL;
    }
    return fl;
}

size_t fstate_owned(const struct fstate *st)
{
    return st->owned.n;
}

size_t fstate_ready(const struct fstate *st)
{
    return st->n_ready;
}

size_t fstate_dead_pending(const struct fstate *st)
{
    return st->n_dead;
}

size_t fstate_waiting(const struct fstate *st)
{
    return st->waiting.n;
}

double fstate_next_due(const struct fstate *st)
{
    double due = 0;

    due_peek(&st->waiting, &due);
    return due;
}

/* Keep room in the waiting heap for every owned line. Returns 0 or
 * -ENOMEM. */
static int waiting_reserve(struct fstate *st, size_t owned)
{
    return due_reserve(&st->waiting, owned);
}

/* Queue @fl to run: at once, or once its not_before has come. The heap's
 * room was reserved when the line became ours. */
static void queue_line(struct fstate *st, struct fline *fl, double now)
{
    if (fl->not_before > now &&
        due_push(&st->waiting, fl->not_before, fl) == 0) {
        return;
    }
    fl->not_before = 0;
    queue_push(&st->ready_head, &st->ready_tail, fl);
    st->n_ready++;
}

/* The waiting lines whose time has come join the ready queue. A timer may
 * fire a hair early: a millisecond's slack spares it a second round. */
static void promote_due(struct fstate *st, double now)
{
    double due;
    struct fline *fl;

    while ((fl = due_peek(&st->waiting, &due)) && due <= now + 0.001) {
        due_pop(&st->waiting);
        fl->not_before = 0;
        queue_push(&st->ready_head, &st->ready_tail, fl);
        st->n_ready++;
    }
}

/* ------------------------------------------------------------------------ */
/* Journal records                                                          */

static int rec_reserve(struct fstate *st, size_t more)
{
    if (st->rec_len + more > st->rec_cap) {
        size_t cap = st->rec_cap ? st->rec_cap : 4096;
        char *p;
        while (cap < st->rec_len + more) {
            cap *= 2;
        }
        p = realloc(st->rec, cap);
        if (!p) {
            return -ENOMEM;
        }
        st->rec = p;
        st->rec_cap = cap;
    }
    return 0;
}

/* Add one record to the batch being built; @error may be NULL. */
static int rec_add(struct fstate *st, char type, uint64_t line, uint64_t a,
                   uint64_t b, unsigned attempt, const char *error)
{
    size_t room = 96 + (error ? 3 * strlen(error) : 0);
    char *p;
    int n;

    if (rec_reserve(st, room) < 0) {
        return -ENOMEM;
    }
    p = st->rec + st->rec_len;
    switch (type) {
    case 'C':
        n = snprintf(p, room, "C %" PRIu64 " %" PRIu64 " %" PRIu64 " %u\n",
                     line, a, b, attempt);
        break;
    case 'S':
    case 'R':
        n = snprintf(p, room, "%c %" PRIu64 " %u\n", type, line, attempt);
        break;
    case 'F':
    case 'Z':
        n = snprintf(p, room, "%c %" PRIu64 " %u ", type, line, attempt);
        fstate_pct_encode(p + n, error ? error : "");
        n += (int)strlen(p + n);
        p[n++] = '\n';
        break;
    default: n = snprintf(p, room, "%c %" PRIu64 "\n", type, line); break;
    }
    st->rec_len += (size_t)n;
    return 0;
}

/* Add a W record: the run after failed attempt @attempt of @line may not
 * start before @not_before (epoch seconds). */
static int rec_add_wait(struct fstate *st, uint64_t line, unsigned attempt,
                        double not_before)
{
    char *p;

    if (rec_reserve(st, 96) < 0) {
        return -ENOMEM;
    }
    p = st->rec + st->rec_len;
    st->rec_len += (size_t)snprintf(p, 96, "W %" PRIu64 " %u %.3f\n", line,
                                    attempt, not_before);
    return 0;
}

/* The records that recreate @fl's state. */
static int rec_add_fline(struct fstate *st, const struct fline *fl)
{
    int rc = rec_add(st, 'C', fl->line, fl->offset, fl->len, fl->attempt, NULL);
    if (rc == 0 && fl->dead) {
        rc = rec_add(st, 'Z', fl->line, 0, 0, fl->failed, fl->error);
    } else if (rc == 0 && fl->failed) {
        rc = rec_add(st, 'F', fl->line, 0, 0, fl->failed, fl->error);
        if (rc == 0 && fl->not_before > 0) {
            rc = rec_add_wait(st, fl->line, fl->failed, fl->not_before);
        }
    }
    if (rc == 0 && fl->running) {
        rc = rec_add(st, 'S', fl->line, 0, 0, fl->running, NULL);
    }
    return rc;
}

/* Append the batch to the journal in one write(2): a kill -9 either keeps
 * all of it or none, and never a torn record in the middle. */
static int rec_flush(struct fstate *st)
{
    int rc = 0;

    if (st->rec_len) {
        rc = write_all(st->journal_fd, st->rec, st->rec_len);
        if (rc < 0) {
            set_err(st, "write %s: %s", st->journal_path, strerror(-rc));
            rc = write_error(rc);
        } else {
            st->journal_bytes += st->rec_len;
        }
    }
    st->rec_len = 0;
    return rc;
}

/* One record, written at once. A settle never fails for want of memory:
 * the buffer reserved at fstate_new holds any record but a long error,
 * and an error that does not fit is replaced by a short one. */
static int one_record(struct fstate *st, char type, uint64_t line,
                      unsigned attempt, const char *error)
{
    if (rec_add(st, type, line, 0, 0, attempt, error) < 0 &&
        (!error || rec_add(st, type, line, 0, 0, attempt, ERROR_LOST) < 0)) {
        set_err(st, "out of memory");
        st->rec_len = 0;
        return -ENOMEM;
    }
    return rec_flush(st);
}

static unsigned umax(unsigned a, unsigned b)
{
    return a > b ? a : b;
}

static struct fline *replay_get(struct fmap *m, uint64_t line)
{
    struct fline *fl = map_get(m, line);

    if (!fl) {
        fl = calloc(1, sizeof(*fl));
        if (!fl) {
            return NULL;
        }
        fl->line = line;
        fl->offset = NO_OFFSET;
        if (map_put(m, fl) < 0) {
            free(fl);
            return NULL;
        }
    }
    return fl;
}

/* Replace @fl's error with @len encoded bytes at @s. */
static int replay_error(struct fline *fl, const char *s, size_t len)
{
    char *e = malloc(len + 1);

    if (!e) {
        return -ENOMEM;
    }
    fstate_pct_decode(e, s, len);
    free(fl->error);
    fl->error = e;
    return 0;
}

/*
 * Fold the records of one journal (NUL-terminated @text) into @m: the lines
 * claimed and not done, with their attempts and last error. A torn last
 * record and malformed ones are skipped. Returns 0 or -ENOMEM.
 */
static int replay_text(struct fmap *m, const char *text)
{
    const char *p = text;

    for (;;) {
        const char *eol = strchr(p, '\n');
        unsigned long long line, a, b, c;
        struct fline *fl;
        char *end;
        char type;

        if (!eol) {
            return 0; /* nothing more, or a torn last record */
        }
        type = p[0];
        if (p[1] != ' ') {
            goto next;
        }
        line = strtoull(p + 2, &end, 10);
        if (end == p + 2 || line == 0) {
            goto next;
        }
        switch (type) {
        case 'C':
            a = strtoull(end, &end, 10);
            b = strtoull(end, &end, 10);
            c = strtoull(end, &end, 10);
            if (end != eol || c == 0) {
                goto next;
            }
            if (!(fl = replay_get(m, line))) {
                return -ENOMEM;
            }
            fl->offset = a;
            fl->len = (size_t)b;
            fl->attempt = umax(fl->attempt, (unsigned)c);
            break;
        case 'F':
        case 'Z':
            a = strtoull(end, &end, 10);
            if (*end != ' ' || a == 0) {
                goto next;
            }
            if (!(fl = replay_get(m, line))) {
                return -ENOMEM;
            }
            if ((unsigned)a >= fl->failed &&
                replay_error(fl, end + 1, (size_t)(eol - end - 1)) < 0) {
                return -ENOMEM;
            }
            if ((unsigned)a > fl->failed) {
                fl->not_before = 0; /* a W record may follow */
            }
            fl->failed = umax(fl->failed, (unsigned)a);
            fl->attempt = umax(fl->attempt, (unsigned)a + 1);
            if (fl->running <= (unsigned)a) {
                fl->running = 0; /* that run ended */
            }
            if (type == 'Z') {
                fl->dead = 1;
            }
            break;
        case 'S':
        case 'R':
            a = strtoull(end, &end, 10);
            if (end != eol || a == 0) {
                goto next;
            }
            if (!(fl = replay_get(m, line))) {
                return -ENOMEM;
            }
            if (type == 'S') {
                fl->running = (unsigned)a;
                fl->attempt = umax(fl->attempt, (unsigned)a);
                fl->not_before = 0; /* its wait was over */
            } else if (fl->running == (unsigned)a) {
                fl->running = 0;
            }
            break;
        case 'W': {
            double t;
            a = strtoull(end, &end, 10);
            t = strtod(end, &end);
            if (end != eol || a == 0 || !(t > 0)) {
                goto next;
            }
            /* Only the wait after the last failure counts. */
            if ((fl = map_get(m, line)) && fl->failed == (unsigned)a &&
                !fl->running) {
                fl->not_before = t;
            }
            break;
        }
        case 'D':
        case 'X':
            if (end != eol) {
                goto next;
            }
            if ((fl = map_get(m, line))) {
                map_del(m, fl);
                fline_free(fl);
            }
            break;
        default: break;
        }
    next:
        p = eol + 1;
    }
}

/* ------------------------------------------------------------------------ */
/* Cursor                                                                   */

static int read_cursor(struct fstate *st, struct cursor *c)
{
    char buf[CURSOR_BYTES + 20];
    unsigned long long off, line;
    int partial, used = 0;
    ssize_t n = pread(st->cursor_fd, buf, sizeof(buf) - 1, 0);

    if (n < 0) {
        int rc = -errno;
        set_err(st, "read %s: %s", st->cursor_path, strerror(-rc));
        return rc;
    }
    c->offset = 0;
    c->line = 1;
    c->partial = 0;
    if (n == 0) {
        return 0; /* a new state directory */
    }
    buf[n] = '\0';
    if (sscanf(buf, "%llu %llu %d%n", &off, &line, &partial, &used) != 3 ||
        line == 0 || (partial != 0 && partial != 1)) {
        set_err(st, "%s is corrupt", st->cursor_path);
        return -EINVAL;
    }
    c->offset = off;
    c->line = line;
    c->partial = partial;
    return 0;
}

static int write_cursor(struct fstate *st, const struct cursor *c)
{
    char buf[CURSOR_BYTES + 1];
    ssize_t n;

    snprintf(buf, sizeof(buf), "%020" PRIu64 " %020" PRIu64 " %d\n", c->offset,
             c->line, c->partial);
    /* Fixed width: one pwrite replaces the old record whole. */
    n = pwrite(st->cursor_fd, buf, CURSOR_BYTES, 0);
    if (n != CURSOR_BYTES) {
        int rc = n < 0 ? -errno : -EIO;
        set_err(st, "write %s: %s", st->cursor_path,
                n < 0 ? strerror(-rc) : "short write");
        return write_error(rc);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Taking lines over                                                        */

/*
 * @fl's delivery number fl->running started and never ended: its minion
 * died under it, maybe killed by the param itself. It counts as an attempt
 * (Redis counts the delivery too), so a param that keeps killing minions
 * ends dead, with the redis engine's words, rather than running forever.
 * Returns 0 or -ENOMEM.
 */
static int count_lost_run(struct fstate *st, struct fline *fl)
{
    unsigned ran = fl->running;
    char why[64];

    fl->running = 0;
    fl->not_before = 0;
    fl->failed = umax(fl->failed, ran);
    fl->attempt = umax(fl->attempt, ran + 1);
    if (fl->dead || fl->attempt <= st->max_attempts) {
        return 0;
    }
    snprintf(why, sizeof(why), "delivered %u time%s without finishing", ran,
             ran == 1 ? "" : "s");
    fl->dead = 1;
    fl->report = 1;
    return set_error(fl, why);
}

/* Not to be taken from a replay: never claimed for sure (at or past the
 * cursor, see state.h), or already ours. */
static int stale_claim(const struct fstate *st, const struct fline *fl,
                       const struct cursor *c)
{
    return fl->offset == NO_OFFSET || fl->offset >= c->offset ||
           map_get(&st->owned, fl->line) != NULL;
}

/*
 * Move the replayed lines of @from into the owned set: a line at or past
 * the cursor was claimed by a minion killed before it moved the cursor, so
 * it is not claimed at all; a line already owned is a duplicate. The rest
 * joins the ready queue, or the dead queue when dead or out of attempts.
 * With @record, the lines' records are added to the batch being built.
 * Whole or nothing: everything that can fail comes before the first line
 * moves, so on -ENOMEM @st (its batch included) is as it was and @from
 * keeps every line for the caller to free.
 * Returns: lines taken, or -ENOMEM.
 */
static int take_over(struct fstate *st, struct fmap *from,
                     const struct cursor *c, int record)
{
    size_t mark = st->rec_len, keep = 0;
    double now = wall_now();
    int taken = 0;

    for (size_t b = 0; b < from->size; b++) {
        for (struct fline *fl = from->tab[b]; fl; fl = fl->hnext) {
            if (stale_claim(st, fl, c)) {
                continue;
            }
            if (fl->attempt == 0) {
                fl->attempt = 1;
            }
            if (fl->running && count_lost_run(st, fl) < 0) {
                goto nomem;
            }
            if (!fl->dead && fl->attempt > st->max_attempts) {
                /* Failed its attempts, killed before its letter was
                 * queued (or MINION_MAX_ATTEMPTS went down). */
                fl->dead = 1;
                fl->report = 1;
            }
            if (record && rec_add_fline(st, fl) < 0) {
                goto nomem;
            }
            keep++;
        }
    }
    if (keep > 0 && (map_reserve(&st->owned, st->owned.n + keep) < 0 ||
                     waiting_reserve(st, st->owned.n + keep) < 0)) {
        goto nomem;
    }
    /* Nothing below fails. The lines of @from are distinct, so moving one
     * never makes another stale. */
    for (size_t b = 0; b < from->size; b++) {
        struct fline *next;
        for (struct fline *fl = from->tab[b]; fl; fl = next) {
            next = fl->hnext;
            if (stale_claim(st, fl, c)) {
                fline_free(fl);
                continue;
            }
            map_put(&st->owned, fl);
            if (fl->dead) {
                queue_push(&st->dead_head, &st->dead_tail, fl);
                st->n_dead++;
            } else {
                /* A retry delay left by its last failure still holds,
                 * whoever takes the line. */
                queue_line(st, fl, now);
            }
            taken++;
        }
    }
    free(from->tab);
    memset(from, 0, sizeof(*from));
    return taken;
nomem:
    st->rec_len = mark;
    return -ENOMEM;
}

static int ends_with(const char *s, const char *suffix, size_t *stem)
{
    size_t n = strlen(s), k = strlen(suffix);

    if (n <= k || strcmp(s + n - k, suffix) != 0) {
        return 0;
    }
    *stem = n - k;
    return 1;
}

/* Adopt the journal of minion @id if @id is dead. Returns lines adopted,
 * 0 when @id lives, or a negative errno. */
static int adopt_one(struct fstate *st, const char *id, const struct cursor *c)
{
    char *lock = NULL, *journal = NULL, *tmp = NULL, *text = NULL;
    struct fmap m = {0};
    size_t len;
    int fd = -1, rc;

    if (asprintf(&lock, "%s/%s.lock", st->jdir, id) < 0) {
        lock = NULL;
        rc = -ENOMEM;
        goto out;
    }
    if (asprintf(&journal, "%s/%s.journal", st->jdir, id) < 0) {
        journal = NULL;
        rc = -ENOMEM;
        goto out;
    }
    if (asprintf(&tmp, "%s/%s.tmp", st->jdir, id) < 0) {
        tmp = NULL;
        rc = -ENOMEM;
        goto out;
    }
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        rc = -errno;
        set_err(st, "open %s: %s", lock, strerror(-rc));
        goto out;
    }
    rc = setlk(fd, F_WRLCK);
    if (rc == -EAGAIN) {
        rc = 0; /* alive */
        goto out;
    }
    if (rc < 0) {
        set_err(st, "lock %s: %s", lock, strerror(-rc));
        goto out;
    }
    text = slurp(journal, &len);
    if (!text && errno != ENOENT) {
        rc = -errno;
        set_err(st, "read %s: %s", journal, strerror(-rc));
        goto out;
    }
    if (text && (rc = replay_text(&m, text)) < 0) {
        set_err(st, "out of memory");
        goto out;
    }
    rc = take_over(st, &m, c, 1);
    if (rc < 0) {
        set_err(st, "out of memory");
        st->rec_len = 0;
        goto out;
    }
    /* Ours first, theirs gone after: a crash in between runs a line twice
     * rather than never. */
    if (rec_flush(st) < 0) {
        rc = -EIO;
        goto out;
    }
    unlink(journal);
    unlink(tmp);
    if (same_file(fd, lock)) {
        unlink(lock);
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    map_clear(&m);
    free(text);
    free(lock);
    free(journal);
    free(tmp);
    return rc;
}

/* A lock file with no journal: remove it if its minion is dead. */
static void drop_stale_lock(struct fstate *st, const char *name)
{
    char *path;
    int fd;

    if (asprintf(&path, "%s/%s", st->jdir, name) < 0) {
        return;
    }
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        if (setlk(fd, F_WRLCK) == 0 && same_file(fd, path)) {
            unlink(path);
        }
        close(fd);
    }
    free(path);
}

int fstate_adopt(struct fstate *st)
{
    struct cursor c;
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0, stem;
    int rc, total = 0;

    if ((rc = read_cursor(st, &c)) < 0) {
        return rc;
    }
    d = opendir(st->jdir);
    if (!d) {
        rc = -errno;
        set_err(st, "open %s: %s", st->jdir, strerror(-rc));
        return rc;
    }
    /* Names first: adopting removes entries while we would be reading. */
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') {
            continue;
        }
        if (n == cap) {
            char **p = realloc(names, (cap ? cap * 2 : 16) * sizeof(*p));
            if (!p) {
                total = -ENOMEM;
                break;
            }
            names = p;
            cap = cap ? cap * 2 : 16;
        }
        if (!(names[n] = strdup(de->d_name))) {
            total = -ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (total < 0) {
        set_err(st, "out of memory");
    }
    for (size_t i = 0; i < n && total >= 0; i++) {
        char *name = names[i];
        if (ends_with(name, ".journal", &stem)) {
            name[stem] = '\0';
            if (strcmp(name, st->id) != 0) {
                rc = adopt_one(st, name, &c);
                total = rc < 0 ? rc : total + rc;
            }
        } else if (ends_with(name, ".lock", &stem)) {
            char *journal;
            name[stem] = '\0';
            if (strcmp(name, st->id) == 0 ||
                asprintf(&journal, "%s/%s.journal", st->jdir, name) < 0) {
                continue;
            }
            if (access(journal, F_OK) < 0 && errno == ENOENT) {
                name[stem] = '.';
                drop_stale_lock(st, name);
            }
            free(journal);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    return total;
}

/* ------------------------------------------------------------------------ */
/* Claiming                                                                 */

int fstate_claim(struct fstate *st, unsigned max, struct fline **out)
{
    struct cursor c, nc;
    struct lines_param p;
    int file_locked, rc = 0, tail = 0;
    unsigned n = 0;

    st->tail_len = 0;
    if ((rc = read_cursor(st, &c)) < 0) {
        return rc;
    }
    lines_seek(&st->win, &st->shard, c.offset, c.line, c.partial);
    /* A writer appending holds the file: while it does, an unterminated
     * last line is a write in progress, worth waiting for. */
    file_locked = setlk(st->file_fd, F_RDLCK) == 0;
    while (n < max) {
        struct fline *fl;
        /* Never at EOF: a line without its "\n" may be half written (a
         * writer's first write(2) of two), so it waits for the newline. */
        if (lines_next(&st->win, &st->shard, 0, &p)) {
            fl = calloc(1, sizeof(*fl));
            if (fl) {
                fl->line = p.line;
                fl->offset = p.offset;
                fl->len = p.len;
                fl->attempt = 1;
                fl->running = 1;
                fl->data = p.data;
            }
            if (!fl || map_put(&st->owned, fl) < 0) {
                free(fl);
                set_err(st, "out of memory");
                rc = -ENOMEM;
                break;
            }
            out[n++] = fl;
            continue;
        }
        if (n > 0) {
            /* Reading more could move the window under the lines
             * already taken: the caller claims again for the rest. */
            break;
        }
        size_t room;
        char *space = lines_space(&st->win, &room);
        ssize_t got;
        if (!space) {
            set_err(st, "out of memory");
            rc = -ENOMEM;
            break;
        }
        got =
            pread(st->file_fd, space, room, (off_t)lines_end_offset(&st->win));
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = -errno;
            set_err(st, "read: %s", strerror(errno));
            break;
        }
        if (got == 0) {
            /* The end of the file, for now: is a line left unfinished? */
            tail = lines_tail(&st->win, &st->shard, &p);
            break;
        }
        lines_added(&st->win, (size_t)got);
    }
    if (file_locked) {
        setlk(st->file_fd, F_UNLCK);
    }
    /* Claimed and started in one write(2): the runs begin right after. */
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        if (rec_add(st, 'C', out[i]->line, out[i]->offset, out[i]->len, 1,
                    NULL) < 0 ||
            rec_add(st, 'S', out[i]->line, 0, 0, 1, NULL) < 0) {
            set_err(st, "out of memory");
            rc = -ENOMEM;
        }
    }
    nc.offset = st->win.offset;
    nc.line = st->win.next;
    nc.partial = st->win.skip_nl;
    if (rc == 0 && waiting_reserve(st, st->owned.n) < 0) {
        set_err(st, "out of memory");
        rc = -ENOMEM;
    }
    /* Journal first, cursor second (see state.h). */
    if (rc == 0) {
        rc = rec_flush(st);
    }
    if (rc == 0 && (nc.offset != c.offset || nc.line != c.line ||
                    nc.partial != c.partial)) {
        rc = write_cursor(st, &nc);
    }
    if (rc < 0) {
        st->rec_len = 0;
        for (unsigned i = 0; i < n; i++) {
            map_del(&st->owned, out[i]);
            fline_free(out[i]);
        }
        /* The window ran ahead of the cursor: start over from it. */
        lines_reset(&st->win, &st->shard, c.offset, c.line, c.partial);
        return rc;
    }
    if (n > 0) {
        return (int)n;
    }
    if (tail && !file_locked) {
        return -EAGAIN;
    }
    if (tail) {
        st->tail_line = p.line;
        st->tail_len = p.len;
    }
    return 0;
}

size_t fstate_tail(const struct fstate *st, uint64_t *line)
{
    *line = st->tail_line;
    return st->tail_len;
}

/* ------------------------------------------------------------------------ */
/* Settling                                                                 */

struct fline *fstate_next(struct fstate *st, int *rc)
{
    struct fline *fl;

    *rc = 0;
    if (st->waiting.n > 0) {
        promote_due(st, wall_now());
    }
    if (!(fl = st->ready_head)) {
        return NULL;
    }
    if ((*rc = load_line(st, fl)) < 0) {
        return NULL;
    }
    /* Recorded before it runs: if the run kills us, whoever replays this
     * journal counts it. */
    if ((*rc = one_record(st, 'S', fl->line, fl->attempt, NULL)) < 0) {
        return NULL;
    }
    fl->running = fl->attempt;
    queue_pop(&st->ready_head, &st->ready_tail);
    st->n_ready--;
    return fl;
}

int fstate_release(struct fstate *st, struct fline *fl)
{
    unsigned ran = fl->running;

    fl->running = 0;
    fl->qnext = st->ready_head;
    st->ready_head = fl;
    if (!st->ready_tail) {
        st->ready_tail = fl;
    }
    st->n_ready++;
    return ran ? one_record(st, 'R', fl->line, ran, NULL) : 0;
}

int fstate_ack(struct fstate *st, struct fline *fl)
{
    int rc = one_record(st, 'D', fl->line, 0, NULL);

    /* Even when the record is lost the line is done: forget it here, and
     * let the caller stop the minion. */
    map_del(&st->owned, fl);
    fline_free(fl);
    return rc;
}

/* Keep @error as @fl's last error; without the memory to copy it, a short
 * placeholder: the record matters, its text less. */
static void keep_error(struct fline *fl, const char *error)
{
    if (set_error(fl, error) < 0) {
        free(fl->error);
        fl->error = NULL;
        set_error(fl, ERROR_LOST);
    }
}

int fstate_fail(struct fstate *st, struct fline *fl, unsigned attempt,
                const char *error)
{
    return fstate_fail_until(st, fl, attempt, error, 0);
}

int fstate_fail_until(struct fstate *st, struct fline *fl, unsigned attempt,
                      const char *error, double not_before)
{
    const char *kept;

    keep_error(fl, error);
    kept = fl->error ? fl->error : ERROR_LOST;
    fl->running = 0;
    fl->failed = attempt;
    fl->attempt = attempt + 1;
    fl->not_before = not_before > 0 ? not_before : 0;
    queue_line(st, fl, wall_now());
    if (fl->not_before == 0) {
        return one_record(st, 'F', fl->line, attempt, kept);
    }
    /* F and W in one write(2): a replay sees the failure with its wait or
     * neither. With the error cut down to ERROR_LOST both fit in the buffer
     * reserved at fstate_new, so this needs no memory. */
    if (rec_add(st, 'F', fl->line, 0, 0, attempt, kept) < 0 ||
        rec_add_wait(st, fl->line, attempt, fl->not_before) < 0) {
        st->rec_len = 0;
        rec_add(st, 'F', fl->line, 0, 0, attempt, ERROR_LOST);
        rec_add_wait(st, fl->line, attempt, fl->not_before);
    }
    return rec_flush(st);
}

int fstate_dead(struct fstate *st, struct fline *fl, unsigned attempts,
                const char *error)
{
    keep_error(fl, error);
    fl->running = 0;
    fl->failed = attempts;
    fl->dead = 1;
    queue_push(&st->dead_head, &st->dead_tail, fl);
    st->n_dead++;
    return one_record(st, 'Z', fl->line, attempts,
                      fl->error ? fl->error : ERROR_LOST);
}

void fstate_on_dead(struct fstate *st, fstate_dead_fn fn, void *arg)
{
    st->on_dead = fn;
    st->on_dead_arg = arg;
}

int fstate_flush_dead(struct fstate *st)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    struct timeval now;
    int rc = 0;

    if (!st->dead_head) {
        return 0;
    }
    gettimeofday(&now, NULL);
    for (struct fline *fl = st->dead_head; fl; fl = fl->qnext) {
        const char *error = fl->error ? fl->error : "failed";
        size_t need = 6 * (fl->len + strlen(error) + strlen(st->id)) + 160;
        if (len + need > cap) {
            char *p;
            cap = (len + need) * 2;
            if (!(p = realloc(buf, cap))) {
                rc = -ENOMEM;
                set_err(st, "out of memory");
                goto out;
            }
            buf = p;
        }
        if ((rc = load_line(st, fl)) < 0) {
            goto out;
        }
        len += (size_t)sprintf(buf + len,
                               "{\"line\":%" PRIu64 ",\"param\":", fl->line);
        len += fstate_json_string(buf + len, fl->data, fl->len);
        len += (size_t)sprintf(buf + len, ",\"error\":");
        len += fstate_json_string(buf + len, error, strlen(error));
        len += (size_t)sprintf(buf + len,
                               ",\"attempts\":%u,\"minion\":", fl->failed);
        len += fstate_json_string(buf + len, st->id, strlen(st->id));
        len +=
            (size_t)sprintf(buf + len, ",\"time\":%lld.%03d}\n",
                            (long long)now.tv_sec, (int)(now.tv_usec / 1000));
    }
    /* The X records are built before the letters go out: once a letter is
     * written, nothing may fail for want of memory, or a later try would
     * write it again. */
    for (struct fline *fl = st->dead_head; fl; fl = fl->qnext) {
        if (rec_add(st, 'X', fl->line, 0, 0, 0, NULL) < 0) {
            st->rec_len = 0;
            rc = -ENOMEM;
            set_err(st, "out of memory");
            goto out;
        }
    }
    if ((rc = write_all(st->dead_fd, buf, len)) < 0) {
        st->rec_len = 0;
        set_err(st, "write %s/dead.jsonl: %s", st->dir, strerror(-rc));
        rc = write_error(rc);
        goto out;
    }
    /* Letters first, then X: a crash in between writes a letter twice
     * rather than never. */
    rc = rec_flush(st);
    while (st->dead_head) {
        struct fline *fl = queue_pop(&st->dead_head, &st->dead_tail);
        if (fl->report && st->on_dead) {
            /* Written: now the core may count it. Its bytes were read
             * above; a file that fails now gives an empty param. */
            if (load_line(st, fl) < 0) {
                fl->data = "";
                fl->len = 0;
            }
            st->on_dead(st->on_dead_arg, fl);
        }
        map_del(&st->owned, fl);
        fline_free(fl);
    }
    st->n_dead = 0;
out:
    free(buf);
    return rc;
}

int fstate_compact(struct fstate *st, uint64_t limit)
{
    int fd, rc = 0;

    if (st->journal_bytes <= limit) {
        return 0;
    }
    for (size_t b = 0; b < st->owned.size && rc == 0; b++) {
        for (struct fline *fl = st->owned.tab[b]; fl && rc == 0;
             fl = fl->hnext) {
            rc = rec_add_fline(st, fl);
        }
    }
    if (rc < 0) {
        st->rec_len = 0;
        set_err(st, "out of memory");
        return rc;
    }
    fd = open(st->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
              0666);
    if (fd < 0) {
        rc = -errno;
        set_err(st, "open %s: %s", st->tmp_path, strerror(-rc));
        st->rec_len = 0;
        return rc;
    }
    rc = write_all(fd, st->rec, st->rec_len);
    /* The rename swaps the whole journal at once: a crash leaves the old
     * one or the new one, both complete. */
    if (rc < 0 || rename(st->tmp_path, st->journal_path) < 0) {
        rc = rc < 0 ? rc : -errno;
        set_err(st, "compact %s: %s", st->journal_path, strerror(-rc));
        close(fd);
        unlink(st->tmp_path);
        st->rec_len = 0;
        return write_error(rc);
    }
    close(st->journal_fd);
    st->journal_fd = fd;
    st->journal_bytes = st->rec_len;
    st->rec_len = 0;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Opening and closing                                                      */

/* A minion id as a file name: no "/", no leading ".". */
static char *file_name_of(const char *id)
{
    char *s = strdup(id && *id ? id : "minion");

    if (!s) {
        return NULL;
    }
    for (char *p = s; *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                 (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
                 (*p == '.' && p != s);
        if (!ok) {
            *p = '_';
        }
    }
    return s;
}

/* Lock our own lock file, making sure the lock is on the file that has the
 * name (an adopter may unlink a lock it found stale meanwhile). */
static int lock_self(struct fstate *st)
{
    for (int tries = 0; tries < 5; tries++) {
        int rc;
        st->lock_fd = open(st->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (st->lock_fd < 0) {
            set_err(st, "open %s: %s", st->lock_path, strerror(errno));
            return -errno;
        }
        rc = setlk(st->lock_fd, F_WRLCK);
        for (int wait = 0; rc == -EAGAIN && wait < 10; wait++) {
            /* A peer may hold it for an instant to see whether we are dead;
             * start-up may wait a little (the loop has no tasks yet). */
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
            rc = setlk(st->lock_fd, F_WRLCK);
        }
        if (rc == -EAGAIN) {
            close(st->lock_fd);
            st->lock_fd = -1;
            set_err(st, "MINION_ID %s is in use by a live minion of %s", st->id,
                    st->dir);
            return rc;
        }
        if (rc < 0) {
            set_err(st, "lock %s: %s", st->lock_path, strerror(-rc));
            return rc;
        }
        if (same_file(st->lock_fd, st->lock_path)) {
            st->self_locked = 1;
            return 0;
        }
        close(st->lock_fd);
        st->lock_fd = -1;
    }
    set_err(st, "lock %s: it keeps being replaced", st->lock_path);
    return -EAGAIN;
}

static int open_paths(struct fstate *st, const char *dir)
{
    if (!(st->dir = strdup(dir)) ||
        asprintf(&st->jdir, "%s/journal", dir) < 0 ||
        asprintf(&st->cursor_path, "%s/cursor", dir) < 0 ||
        asprintf(&st->lock_path, "%s/%s.lock", st->jdir, st->id) < 0 ||
        asprintf(&st->journal_path, "%s/%s.journal", st->jdir, st->id) < 0 ||
        asprintf(&st->tmp_path, "%s/%s.tmp", st->jdir, st->id) < 0) {
        return -ENOMEM;
    }
    return 0;
}

/* Replay our own journal, left by a previous run with the same id. */
static int replay_self(struct fstate *st)
{
    struct fmap m = {0};
    struct cursor c;
    size_t len;
    char *text = slurp(st->journal_path, &len);
    int rc;

    if (!text) {
        if (errno == ENOENT) {
            return 0;
        }
        set_err(st, "read %s: %s", st->journal_path, strerror(errno));
        return -errno;
    }
    rc = read_cursor(st, &c);
    if (rc == 0 && (rc = replay_text(&m, text)) < 0) {
        set_err(st, "out of memory");
    }
    if (rc == 0 && (rc = take_over(st, &m, &c, 0)) < 0) {
        set_err(st, "out of memory");
    }
    map_clear(&m);
    st->journal_bytes = len;
    free(text);
    if (rc < 0) {
        return rc;
    }
    /* Down to what is still owned, so stale claims never come back. */
    return len > 0 ? fstate_compact(st, 0) : 0;
}

struct fstate *fstate_new(const char *dir, const char *id, int fd,
                          const struct lines_shard *shard,
                          unsigned max_attempts, char *err, size_t errlen)
{
    struct fstate *st = calloc(1, sizeof(*st));
    struct stat sb;
    struct cursor c;
    int rc;

    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->cursor_fd = st->dead_fd = st->lock_fd = st->journal_fd = -1;
    st->file_fd = fd;
    st->shard = *shard;
    st->max_attempts = max_attempts ? max_attempts : 1;
    if (!(st->id = file_name_of(id)) || open_paths(st, dir) < 0 ||
        lines_init(&st->win, WINDOW_BYTES) < 0 ||
        rec_reserve(st, REC_BYTES) < 0) {
        set_err(st, "out of memory");
        goto fail;
    }
    if ((rc = mkdir_p(st->jdir)) < 0) {
        set_err(st, "create %s: %s", st->jdir, strerror(-rc));
        goto fail;
    }
    /* Our own lock first: at exit the kernel closes fds in order, so our
     * lock goes before the directory lock, and whoever gets the directory
     * lock after a kill -9 already sees our journal as adoptable. */
    if (lock_self(st) < 0) {
        goto fail;
    }
    st->cursor_fd = open(st->cursor_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (st->cursor_fd < 0) {
        set_err(st, "open %s: %s", st->cursor_path, strerror(errno));
        goto fail;
    }
    if (asprintf(&st->scratch, "%s/dead.jsonl", dir) < 0) {
        st->scratch = NULL;
        set_err(st, "out of memory");
        goto fail;
    }
    st->dead_fd =
        open(st->scratch, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (st->dead_fd < 0) {
        set_err(st, "open %s: %s", st->scratch, strerror(errno));
        goto fail;
    }
    free(st->scratch);
    st->scratch = NULL;
    unlink(st->tmp_path); /* an interrupted compaction */
    if (read_cursor(st, &c) < 0) {
        goto fail;
    }
    /* A cursor past the end belongs to another (or a truncated) file. */
    if (fstat(fd, &sb) == 0 && c.offset > (uint64_t)sb.st_size) {
        set_err(st,
                "%s is at byte %" PRIu64 " but the file has %lld bytes: "
                "is it the state of another file?",
                st->cursor_path, c.offset, (long long)sb.st_size);
        goto fail;
    }
    st->journal_fd =
        open(st->journal_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (st->journal_fd < 0) {
        set_err(st, "open %s: %s", st->journal_path, strerror(errno));
        goto fail;
    }
    if (replay_self(st) < 0) {
        goto fail;
    }
    return st;
fail:
    snprintf(err, errlen, "%s", st->err);
    /* Nothing was taken yet: keep whatever journal is there. */
    st->keep = 1;
    fstate_free(st);
    return NULL;
}

void fstate_free(struct fstate *st)
{
    if (!st) {
        return;
    }
    fstate_unlock(st);
    if (st->self_locked && !st->keep && st->owned.n == 0 &&
        st->journal_fd >= 0) {
        /* Everything settled: nothing for anyone to adopt. Journal first,
         * lock last, while still holding it. */
        unlink(st->journal_path);
        unlink(st->lock_path);
    }
    if (st->journal_fd >= 0) {
        close(st->journal_fd);
    }
    if (st->lock_fd >= 0) {
        close(st->lock_fd);
    }
    if (st->dead_fd >= 0) {
        close(st->dead_fd);
    }
    if (st->cursor_fd >= 0) {
        close(st->cursor_fd);
    }
    map_clear(&st->owned);
    due_fini(&st->waiting);
    lines_fini(&st->win);
    free(st->scratch);
    free(st->rec);
    free(st->dir);
    free(st->jdir);
    free(st->id);
    free(st->cursor_path);
    free(st->lock_path);
    free(st->journal_path);
    free(st->tmp_path);
    free(st);
}
