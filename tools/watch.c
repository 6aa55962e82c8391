/* SPDX-License-Identifier: MIT */
/*
 * minion-status --watch: the fleet refreshed every few seconds. On a
 * terminal, a full-screen view like top's, redrawn in place on the
 * alternate screen so the user's scrollback is left as it was; anywhere
 * else (a pipe, a file), one plain line per refresh that a log or `head`
 * can follow.
 *
 * The signals we answer are blocked except while the loop sleeps in
 * pselect(): a handler can then only run there, sets a flag and nothing
 * more, and all the work (drawing, leaving the screen) happens in the
 * loop. Whatever way the loop ends, watch_run() puts the terminal back as
 * it found it before returning.
 */
#include <config.h>

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "fleet.h"
#include "tools.h"

/* Below this, a refresh loop would only burn the CPU it is watching. */
#define MIN_INTERVAL 0.05

/* The terminal's size when it cannot tell. */
#define DEFAULT_ROWS 24
#define DEFAULT_COLS 80

#define ESC "\033"
#define ALT_SCREEN_ON ESC "[?1049h"
#define ALT_SCREEN_OFF ESC "[?1049l"
#define CURSOR_HIDE ESC "[?25l"
#define CURSOR_SHOW ESC "[?25h"
#define HOME ESC "[H"
#define CLEAR ESC "[2J"
#define ERASE_LINE ESC "[K"
#define ERASE_BELOW ESC "[J"
#define NORMAL ESC "[0m"
#define BOLD ESC "[1m"
#define REVERSE ESC "[7m"
#define RED ESC "[31m"

/* ------------------------------------------------------------------------
 * Signals
 */

static volatile sig_atomic_t got_quit;  /* SIGINT, SIGTERM, SIGHUP, SIGQUIT */
static volatile sig_atomic_t got_winch; /* the window changed size */
static volatile sig_atomic_t got_tstp;  /* Ctrl-Z */

static void on_quit(int sig)
{
    got_quit = 1;
}

static void on_winch(int sig)
{
    got_winch = 1;
}

static void on_tstp(int sig)
{
    got_tstp = 1;
}

/* What we change, in one table so that leaving undoes exactly that. */
static const struct {
    int sig;
    void (*handler)(int);
    int tty_only;     /* only a full screen has something to redo */
    int keep_ignored; /* ignored by whoever started us: stay so */
} watched[] = {
    {SIGINT, on_quit, 0, 1},
    {SIGTERM, on_quit, 0, 0},
    /* nohup minion-status --watch >log must outlive the terminal. */
    {SIGHUP, on_quit, 0, 1},
    {SIGQUIT, on_quit, 0, 1},
    /* A closed pipe is then EPIPE from write(). */
    {SIGPIPE, SIG_IGN, 0, 0},
    {SIGWINCH, on_winch, 1, 0},
    /* Without job control (SIGTSTP ignored) there is nobody to stop for. */
    {SIGTSTP, on_tstp, 1, 1},
};

#define N_WATCHED (sizeof(watched) / sizeof(watched[0]))

/* ------------------------------------------------------------------------
 * An output buffer: a whole frame is written at once so that the terminal
 * never shows half of one.
 */

struct buf {
    char *p;
    size_t len, cap;
    int oom; /* an allocation failed: the frame is incomplete */
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;

        while (b->len + n + 1 > cap) {
            cap *= 2;
        }
        p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* Write all of @p to @fd. Returns 0, or -1 with errno set. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);

        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                /* Someone made the descriptor non-blocking: wait for
                 * room, a second at a time, rather than spin. */
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};

                poll(&pfd, 1, 1000);
                continue;
            }
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Figures as short text. Each writes into @out (at least 32 bytes) and
 * returns it; an unknown figure is "-".
 */

static const char *fmt_count(char *out, size_t size, double v)
{
    if (!(v >= 0) || !isfinite(v)) {
        snprintf(out, size, "-");
    } else if (v < 1e7) {
        snprintf(out, size, "%.0f", v);
    } else if (v < 1e10) {
        /* Keep big counts inside their column. */
        snprintf(out, size, "%.1fM", v / 1e6);
    } else {
        snprintf(out, size, "%.1fG", v / 1e9);
    }
    return out;
}

static const char *fmt_rate(char *out, size_t size, double v)
{
    if (!(v >= 0) || !isfinite(v)) {
        snprintf(out, size, "-");
    } else if (v < 100) {
        snprintf(out, size, "%.1f", v);
    } else {
        snprintf(out, size, "%.0f", v);
    }
    return out;
}

/* A duration to the precision that matters at its size: 120ms, 3.4s,
 * 2m05s, 1h20m, 3d04h. */
static const char *fmt_dur(char *out, size_t size, double s)
{
    long t;

    if (s < 0 || !isfinite(s)) {
        snprintf(out, size, "-");
        return out;
    }
    if (s < 1) {
        snprintf(out, size, "%.0fms", s * 1000);
        return out;
    }
    if (s < 60) {
        snprintf(out, size, "%.1fs", s);
        return out;
    }
    t = lround(s);
    if (t < 3600) {
        snprintf(out, size, "%ldm%02lds", t / 60, t % 60);
    } else if (t < 86400) {
        snprintf(out, size, "%ldh%02ldm", t / 3600, t % 3600 / 60);
    } else {
        snprintf(out, size, "%ldd%02ldh", t / 86400, t % 86400 / 3600);
    }
    return out;
}

/* How long ago, in its largest unit: 5s, 3m, 2h, 4d. */
static const char *fmt_age(char *out, size_t size, double s)
{
    long t;

    if (s < 0 || !isfinite(s)) {
        snprintf(out, size, "-");
        return out;
    }
    t = lround(s);
    if (t < 60) {
        snprintf(out, size, "%lds", t);
    } else if (t < 3600) {
        snprintf(out, size, "%ldm", t / 60);
    } else if (t < 86400) {
        snprintf(out, size, "%ldh", t / 3600);
    } else {
        snprintf(out, size, "%ldd", t / 86400);
    }
    return out;
}

/* ok + failed + dead, or FLEET_UNKNOWN when none of them is known. */
static double done_count(const struct fleet *f)
{
    double sum = 0;
    int known = 0;

    if (f->ok >= 0) {
        sum += f->ok, known = 1;
    }
    if (f->failed >= 0) {
        sum += f->failed, known = 1;
    }
    if (f->dead >= 0) {
        sum += f->dead, known = 1;
    }
    return known ? sum : FLEET_UNKNOWN;
}

static double wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------
 * A frame: lines of at most the terminal's width, at most its height.
 * Every piece of text goes through put_text(), which counts columns and
 * drops what would not fit, so no line can wrap and push the view up.
 */

struct frame {
    struct buf *out;
    int rows, cols;
    int utf8;
    int row;   /* lines started */
    int col;   /* columns written on the current line */
    int width; /* columns the current line may use; 0 once the rows ran out */
    int open;  /* a line is being drawn */
};

static void line_close(struct frame *fr)
{
    if (fr->open) {
        buf_str(fr->out, NORMAL);
        /* A line that filled every column leaves the cursor on the last
         * one, where erasing would take that column's character away. */
        if (fr->col < fr->cols) {
            buf_str(fr->out, ERASE_LINE);
        }
        fr->open = 0;
    }
    fr->width = 0;
}

/* End the current line and start the next one. Returns 0 when the
 * terminal has no row left (later text is then dropped). */
static int line(struct frame *fr)
{
    line_close(fr);
    if (fr->row >= fr->rows) {
        return 0;
    }
    if (fr->row > 0) {
        buf_str(fr->out, "\r\n");
    }
    fr->row++;
    fr->col = 0;
    fr->open = 1;
    /* Writing the bottom right corner scrolls some terminals. */
    fr->width = fr->row == fr->rows ? fr->cols - 1 : fr->cols;
    return 1;
}

/* Close the last line and clear what an earlier, longer frame left. */
static void frame_end(struct frame *fr)
{
    line_close(fr);
    if (fr->row < fr->rows) {
        buf_str(fr->out, "\r\n" ERASE_BELOW);
    }
}

/* An attribute (bold, reverse), only on a line that is still drawn. */
static void put_attr(struct frame *fr, const char *seq)
{
    if (fr->width > 0) {
        buf_str(fr->out, seq);
    }
}

/* Append to @out (when not NULL) the first characters of @s that fit in
 * @max columns, with control characters as '?' and, outside a UTF-8
 * locale, any non-ASCII byte as '?' too. Returns the columns used. */
static int clip(struct buf *out, int utf8, const char *s, int max)
{
    mbstate_t st;
    int used = 0;

    memset(&st, 0, sizeof(st));
    while (*s != '\0' && used < max) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x80 || !utf8) {
            char ch = c >= 0x20 && c < 0x7f ? (char)c : '?';

            if (c == '\t' || c == '\n' || c == '\r') {
                ch = ' ';
            }
            if (out != NULL) {
                buf_add(out, &ch, 1);
            }
            used++;
            s++;
        } else {
            wchar_t wc;
            size_t n = mbrtowc(&wc, s, MB_CUR_MAX, &st);
            int w;

            if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
                /* Not UTF-8 after all: one '?' per bad byte. */
                memset(&st, 0, sizeof(st));
                if (out != NULL) {
                    buf_add(out, "?", 1);
                }
                used++;
                s++;
                continue;
            }
            w = wcwidth(wc);
            if (w < 0) {
                if (out != NULL) {
                    buf_add(out, "?", 1);
                }
                used++;
            } else if (used + w <= max) {
                if (out != NULL) {
                    buf_add(out, s, n);
                }
                used += w;
            } else {
                break; /* a wide character that would not fit */
            }
            s += n;
        }
    }
    return used;
}

static void put_text(struct frame *fr, const char *s)
{
    if (fr->col < fr->width) {
        fr->col += clip(fr->out, fr->utf8, s, fr->width - fr->col);
    }
}

static void put_fmt(struct frame *fr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put_fmt(struct frame *fr, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    put_text(fr, text);
}

static void put_spaces(struct frame *fr, int n)
{
    while (n-- > 0 && fr->col < fr->width) {
        buf_add(fr->out, " ", 1);
        fr->col++;
    }
}

/* One glyph of ours, one column wide (a block character or ASCII). */
static void put_glyph(struct frame *fr, const char *g)
{
    if (fr->col < fr->width) {
        buf_str(fr->out, g);
        fr->col++;
    }
}

/* @s in a cell of @width columns, cut to it, numbers to the right. */
static void put_cell(struct frame *fr, const char *s, int width, int right)
{
    int w = clip(NULL, fr->utf8, s, width);

    if (right) {
        put_spaces(fr, width - w);
    }
    if (fr->col + w <= fr->width) {
        fr->col += clip(fr->out, fr->utf8, s, w);
    } else {
        put_text(fr, s);
    }
    if (!right) {
        put_spaces(fr, width - w);
    }
}

/* ------------------------------------------------------------------------
 * The watch
 */

struct watch {
    struct fleet_source *src;
    struct fleet *f;
    double interval;
    int tty;  /* full screen; else plain lines */
    int keys; /* standard input is a terminal: q is read from it */
    int utf8;
    int rows, cols;
    struct termios saved; /* standard input's, as we found it */
    int termios_set;      /* ours is in force: put the saved one back */
    int screen_on;        /* the alternate screen is in use */
    int clear;            /* clear the whole screen before the next frame */
    int failed;           /* the last refresh failed: src->error says why */
    double failed_at;     /* wall clock, of the first failure in a row */
    /* The error last printed, so a log gets it once, not every refresh */
    char said[sizeof(((struct fleet_source *)0)->error)];
    /* The charts we draw from our own refreshes when the source has none. */
    struct fleet_series rate, in_flight;
    double prev_done, prev_at; /* the last refresh's count, monotonic time */
    struct buf out;
    sigset_t old_mask;  /* the caller's */
    sigset_t wait_mask; /* the one pselect() sleeps with */
    struct sigaction old_act[N_WATCHED];
    int installed[N_WATCHED];
};

/* Add a point to a chart of our own, dropping the oldest when full. */
static void series_push(struct fleet_series *s, double v, double step)
{
    if (s->n == FLEET_SERIES_MAX) {
        memmove(s->values, s->values + 1,
                (FLEET_SERIES_MAX - 1) * sizeof(s->values[0]));
        s->n--;
    }
    s->values[s->n++] = v;
    s->step = step;
    s->end = wall_now();
}

/* After a good refresh: a point on each chart the source does not draw.
 * The rate is the change of the finished count over our own clock, as the
 * source's own "now" may be too coarse for short intervals. */
static void track(struct watch *w, double at)
{
    const struct fleet *f = w->f;
    double done = done_count(f);
    double flying = f->in_flight >= 0 ? f->in_flight : f->pending;

    if (done >= 0) {
        if (w->prev_at > 0 && at > w->prev_at) {
            double r = (done - w->prev_done) / (at - w->prev_at);

            /* A count going down is a source starting over, not work
             * undone. */
            series_push(&w->rate, r > 0 ? r : 0, w->interval);
        }
        w->prev_done = done;
        w->prev_at = at;
    }
    if (flying >= 0) {
        series_push(&w->in_flight, flying, w->interval);
    }
}

static void refresh(struct watch *w)
{
    double at = mono_now();

    if (w->src->refresh(w->src, w->f) != 0) {
        if (w->src->error[0] == '\0') {
            snprintf(w->src->error, sizeof(w->src->error), "refresh failed");
        }
        /* Once per failure, not once per refresh, in a log. */
        if (!w->tty && (!w->failed || strcmp(w->said, w->src->error) != 0)) {
            tools_error("%s", w->src->error);
            snprintf(w->said, sizeof(w->said), "%s", w->src->error);
        }
        if (!w->failed) {
            w->failed_at = wall_now();
        }
        w->failed = 1;
        return;
    }
    w->failed = 0;
    track(w, at);
}

static void term_size(struct watch *w)
{
    struct winsize ws;

    w->rows = DEFAULT_ROWS;
    w->cols = DEFAULT_COLS;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 &&
        ws.ws_col > 0) {
        w->rows = ws.ws_row;
        w->cols = ws.ws_col;
    }
}

/* ------------------------------------------------------------------------
 * Drawing one frame
 */

/* The source and where on the left, the time and the interval on the
 * right, in reverse video across the whole width. */
static void draw_title(struct watch *w, struct frame *fr)
{
    const struct fleet *f = w->f;
    const char *where = f->where != NULL ? f->where : "";
    char left[128], right[3][128];
    time_t t = (time_t)(f->now > 0 ? f->now : wall_now());
    struct tm tm;
    char day[16], when[16];
    int lw, rw, room, i;

    if (!line(fr)) {
        return;
    }
    localtime_r(&t, &tm);
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    strftime(when, sizeof(when), "%H:%M:%S", &tm);
    snprintf(left, sizeof(left), "minion-status %s ",
             f->source != NULL ? f->source : "");
    /* Less and less of the right side, until the folder has some room. */
    snprintf(right[0], sizeof(right[0]), "  %s %s  every %gs  q: quit", day,
             when, w->interval);
    snprintf(right[1], sizeof(right[1]), "  %s  every %gs", when, w->interval);
    snprintf(right[2], sizeof(right[2]), "  %s", when);
    put_attr(fr, REVERSE);
    put_text(fr, left);
    lw = clip(NULL, fr->utf8, where, fr->width);
    for (i = 0;; i++) {
        rw = clip(NULL, fr->utf8, right[i], fr->width);
        room = fr->width - fr->col - rw;
        if (i == 2 || room >= (lw < 16 ? lw : 16)) {
            break;
        }
    }
    if (lw > room) {
        /* The end of a path or URL says more than its start. */
        while (*where != '\0' && clip(NULL, fr->utf8, where, lw) + 3 > room) {
            where++;
            while (((unsigned char)*where & 0xc0) == 0x80) {
                where++;
            }
        }
        if (room >= 3) {
            put_text(fr, "...");
        }
    }
    put_text(fr, where);
    put_spaces(fr, fr->width - fr->col - rw);
    put_text(fr, right[i]);
    put_spaces(fr, fr->width - fr->col);
}

static void draw_error(struct watch *w, struct frame *fr)
{
    time_t t = (time_t)w->failed_at;
    struct tm tm;
    char when[16];

    if (!line(fr)) {
        return;
    }
    localtime_r(&t, &tm);
    strftime(when, sizeof(when), "%H:%M:%S", &tm);
    put_attr(fr, BOLD RED);
    put_fmt(fr,
            "refresh failed: %s (since %s; the figures are the last good "
            "ones)",
            w->src->error, when);
}

/* A bar with the percent and the ETA when the source knows how much is
 * left; the count done otherwise. */
static void draw_progress(struct watch *w, struct frame *fr)
{
    const struct fleet *f = w->f;
    char done[32], eta[32], tail[96];
    int bar, i, eighths;

    if (!line(fr)) {
        return;
    }
    fmt_count(done, sizeof(done), done_count(f));
    if (!(f->percent >= 0)) {
        put_fmt(fr, "done %s", done);
        return;
    }
    snprintf(tail, sizeof(tail), " %5.1f%%  eta %s  done %s",
             f->percent > 100 ? 100.0 : f->percent,
             fmt_dur(eta, sizeof(eta), f->eta_s), done);
    bar = fr->width - 2 - clip(NULL, fr->utf8, tail, fr->width);
    if (bar > 50) {
        bar = 50;
    }
    if (bar >= 5) {
        static const char *const part[] = {"",  "▏", "▎", "▍",
                                           "▌", "▋", "▊", "▉"};
        double p = f->percent > 100 ? 100.0 : f->percent;

        /* In eighths of a cell when the block characters are there. */
        eighths = (int)(p / 100.0 * bar * 8 + 0.5);
        put_text(fr, "[");
        for (i = 0; i < bar; i++) {
            int left = eighths - i * 8;

            if (fr->utf8) {
                put_glyph(fr, left >= 8 ? "█" : left > 0 ? part[left] : " ");
            } else {
                put_glyph(fr, left >= 4 ? "#" : "-");
            }
        }
        put_text(fr, "]");
    }
    put_text(fr, tail);
}

#define MAX_PIECES 16
#define PIECE_SIZE 128

/* The totals, as pieces that flow onto as many lines as the width needs. */
static size_t total_pieces(const struct fleet *f, char piece[][PIECE_SIZE])
{
    char a[32], b[32];
    size_t n = 0;

    snprintf(piece[n++], PIECE_SIZE, "ok %s", fmt_count(a, sizeof(a), f->ok));
    snprintf(piece[n++], PIECE_SIZE, "failed %s",
             fmt_count(a, sizeof(a), f->failed));
    snprintf(piece[n++], PIECE_SIZE, "dead %s",
             fmt_count(a, sizeof(a), f->dead));
    snprintf(piece[n++], PIECE_SIZE, "in flight %s",
             fmt_count(a, sizeof(a), f->in_flight));
    snprintf(piece[n++], PIECE_SIZE, "pending %s",
             fmt_count(a, sizeof(a), f->pending));
    snprintf(piece[n++], PIECE_SIZE, "lag %s", fmt_count(a, sizeof(a), f->lag));
    snprintf(piece[n++], PIECE_SIZE, "dead letters %s",
             fmt_count(a, sizeof(a), f->dead_letters));
    if (f->stream_length >= 0) {
        snprintf(piece[n++], PIECE_SIZE, "stream %s",
                 fmt_count(a, sizeof(a), f->stream_length));
    }
    snprintf(piece[n++], PIECE_SIZE, "rate %s/s 1m, %s/s all",
             fmt_rate(a, sizeof(a), f->rate_1m),
             fmt_rate(b, sizeof(b), f->rate_all));
    snprintf(piece[n++], PIECE_SIZE, "p50 %s  p95 %s",
             fmt_dur(a, sizeof(a), f->p50), fmt_dur(b, sizeof(b), f->p95));
    return n;
}

/* Lay @n pieces out on lines of @width, two spaces apart, on at most
 * @max_lines lines (0: only count them). Returns the lines used. */
static int flow(struct frame *fr, char piece[][PIECE_SIZE], size_t n, int width,
                int max_lines)
{
    int lines = 0, col = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        int w = clip(NULL, fr->utf8, piece[i], width);

        if (lines == 0 || col + 2 + w > width) {
            if (max_lines > 0 && lines == max_lines) {
                break;
            }
            lines++;
            col = 0;
            if (max_lines > 0 && !line(fr)) {
                break;
            }
        } else {
            col += 2;
            if (max_lines > 0) {
                put_spaces(fr, 2);
            }
        }
        col += w;
        if (max_lines > 0) {
            put_text(fr, piece[i]);
        }
    }
    return lines;
}

/* Bars of one chart's row @r (0 at the bottom) of @h, over @width cells:
 * the newest value on the right. */
static void chart_row(struct frame *fr, const struct fleet_series *s,
                      double max, int r, int h, int width)
{
    static const char *const blocks[] = {" ", "▁", "▂", "▃", "▄",
                                         "▅", "▆", "▇", "█"};
    static const char *const ascii[] = {" ", "_", ".", "-", "=", "#"};
    int levels = fr->utf8 ? 8 : 5;
    int i;

    for (i = 0; i < width; i++) {
        long k = (long)s->n - width + i;
        double v = k >= 0 ? s->values[k] : 0;
        int level = 0;

        if (k >= 0 && v > 0 && max > 0) {
            int total = (int)(v / max * h * levels + 0.5);

            if (total < 1) {
                total = 1; /* a little work is not none */
            }
            level = total - r * levels;
            level = level < 0 ? 0 : level > levels ? levels : level;
        }
        put_glyph(fr, fr->utf8 ? blocks[level] : ascii[level]);
    }
}

static double series_max(const struct fleet_series *s, int width)
{
    double max = 0;
    size_t i = s->n > (size_t)width ? s->n - (size_t)width : 0;

    for (; i < s->n; i++) {
        if (s->values[i] > max) {
            max = s->values[i];
        }
    }
    return max;
}

/* The two charts side by side: a heading line, then @h rows of bars. */
static void draw_charts(struct watch *w, struct frame *fr, int h)
{
    const struct fleet *f = w->f;
    const struct fleet_series *s[2];
    const char *title[2] = {"finished/s", "in flight"};
    int width = (fr->cols - 3) / 2;
    double max[2];
    int i, r;

    s[0] = f->rate.n > 0 ? &f->rate : &w->rate;
    s[1] = f->in_flight_series.n > 0 ? &f->in_flight_series : &w->in_flight;
    if (!line(fr)) {
        return;
    }
    for (i = 0; i < 2; i++) {
        char text[128], num[32];
        double last = s[i]->n > 0 ? s[i]->values[s[i]->n - 1] : FLEET_UNKNOWN;
        size_t len;

        max[i] = series_max(s[i], width);
        /* Whole figures or none: a number cut short would lie. */
        len = (size_t)snprintf(text, sizeof(text), "%s  now %s", title[i],
                               fmt_rate(num, sizeof(num), last));
        if (clip(NULL, fr->utf8, text, width + 1) > width) {
            snprintf(text, sizeof(text), "%s", title[i]);
        } else if (s[i]->n > 0) {
            snprintf(text + len, sizeof(text) - len, "  max %s",
                     fmt_rate(num, sizeof(num), max[i]));
            if (clip(NULL, fr->utf8, text, width + 1) > width) {
                text[len] = '\0';
            }
        }
        put_attr(fr, BOLD);
        put_cell(fr, text, width, 0);
        put_attr(fr, NORMAL);
        if (i == 0) {
            put_spaces(fr, 3);
        }
    }
    for (r = h - 1; r >= 0; r--) {
        if (!line(fr)) {
            return;
        }
        for (i = 0; i < 2; i++) {
            chart_row(fr, s[i], max[i], r, h, width);
            if (i == 0) {
                put_spaces(fr, 1);
                put_glyph(fr, fr->utf8 ? "│" : "|");
                put_spaces(fr, 1);
            }
        }
    }
}

/* The minions' table, in the columns that fit, the least telling dropped
 * first when the terminal is narrow. */
enum col {
    C_ID,
    C_RUN,
    C_NODE,
    C_OK,
    C_FAILED,
    C_DEAD,
    C_PENDING,
    C_P50,
    C_P95,
    C_RATE,
    C_SEEN,
    C_N
};

static const struct {
    const char *title;
    int width; /* 0: from the values */
} columns[C_N] = {
    [C_ID] = {"id", 0},
    [C_RUN] = {"uid", 0},
    [C_NODE] = {"node", 0},
    [C_OK] = {"ok", 7},
    [C_FAILED] = {"failed", 6},
    [C_DEAD] = {"dead", 5},
    [C_PENDING] = {"pend/run", 9},
    [C_P50] = {"p50", 6},
    [C_P95] = {"p95", 6},
    [C_RATE] = {"rate/s", 6},
    [C_SEEN] = {"seen", 5},
};

/* The order columns go in when the width is short. */
static const enum col drop_order[] = {C_NODE, C_P50,  C_P95,  C_PENDING, C_RUN,
                                      C_RATE, C_SEEN, C_DEAD, C_FAILED,  C_OK};

static void cell_text(const struct fleet *f, const struct fleet_minion *m,
                      enum col c, char *out, size_t size)
{
    char a[32], b[32];
    double age;

    switch (c) {
    case C_ID: snprintf(out, size, "%s", m->id != NULL ? m->id : "-"); break;
    case C_RUN: snprintf(out, size, "%s", m->uid != NULL ? m->uid : "-"); break;
    case C_NODE:
        snprintf(out, size, "%s", m->nodename != NULL ? m->nodename : "-");
        break;
    case C_OK: fmt_count(out, size, m->ok); break;
    case C_FAILED: fmt_count(out, size, m->failed); break;
    case C_DEAD: fmt_count(out, size, m->dead); break;
    case C_PENDING:
        if (m->pending < 0 && m->in_flight < 0) {
            snprintf(out, size, "-");
        } else {
            snprintf(out, size, "%s/%s", fmt_count(a, sizeof(a), m->pending),
                     fmt_count(b, sizeof(b), m->in_flight));
        }
        break;
    case C_P50: fmt_dur(out, size, m->p50); break;
    case C_P95: fmt_dur(out, size, m->p95); break;
    case C_RATE:
        fmt_rate(out, size, m->rate_1m >= 0 ? m->rate_1m : m->rate_all);
        break;
    case C_SEEN:
        age = FLEET_UNKNOWN;
        if (f->now > 0 && m->last_seen > 0) {
            age = f->now - m->last_seen;
            age = age < 0 ? 0 : age;
        } else if (m->idle_ms >= 0) {
            age = m->idle_ms / 1000;
        }
        fmt_age(out, size, age);
        break;
    case C_N: out[0] = '\0'; break;
    }
}

/* Widen *@width to fit @s, up to @max columns. Returns whether @s is
 * there at all. */
static int grow_to(int *width, const char *s, int utf8, int max)
{
    int w;

    if (s == NULL) {
        return 0;
    }
    w = clip(NULL, utf8, s, max);
    *width = w > *width ? w : *width;
    return 1;
}

static void draw_table(struct watch *w, struct frame *fr, int rows)
{
    const struct fleet *f = w->f;
    int width[C_N], on[C_N];
    int total, c, any_dead = 0;
    size_t i, shown, d;

    if (rows < 1) {
        return;
    }
    if (rows == 1 || f->n_minions == 0) {
        if (line(fr)) {
            put_fmt(fr, "%zu minion%s", f->n_minions,
                    f->n_minions == 1 ? "" : "s");
        }
        return;
    }
    /* The text columns as wide as their values, within reason; a column
     * no minion has a value for is left out. */
    for (c = 0; c < C_N; c++) {
        width[c] = columns[c].width > 0 ? columns[c].width
                                        : (int)strlen(columns[c].title);
        on[c] = columns[c].width > 0;
    }
    on[C_ID] = 1;
    on[C_PENDING] = 0;
    for (i = 0; i < f->n_minions; i++) {
        const struct fleet_minion *m = &f->minions[i];

        grow_to(&width[C_ID], m->id, fr->utf8, 24);
        on[C_RUN] |= grow_to(&width[C_RUN], m->uid, fr->utf8, 12);
        on[C_NODE] |= grow_to(&width[C_NODE], m->nodename, fr->utf8, 16);
        on[C_PENDING] |= m->pending >= 0 || m->in_flight >= 0;
        any_dead |= m->probably_dead;
    }
    /* The mark for a minion probably dead, then a space per column. */
    total = 1;
    for (c = 0; c < C_N; c++) {
        total += on[c] ? 1 + width[c] : 0;
    }
    /* Long names give way before any column does. */
    for (c = C_NODE; c >= C_ID && total > fr->cols; c--) {
        int min = c == C_ID ? 12 : 8;
        int cut = total - fr->cols;

        if (!on[c]) {
            continue;
        }
        if (width[c] - cut < min) {
            cut = width[c] > min ? width[c] - min : 0;
        }
        width[c] -= cut;
        total -= cut;
    }
    for (d = 0;
         total > fr->cols && d < sizeof(drop_order) / sizeof(*drop_order);
         d++) {
        if (on[drop_order[d]]) {
            on[drop_order[d]] = 0;
            total -= 1 + width[drop_order[d]];
        }
    }
    if (total > fr->cols) {
        width[C_ID] -= total - fr->cols;
        width[C_ID] = width[C_ID] < 1 ? 1 : width[C_ID];
    }

    if (!line(fr)) {
        return;
    }
    put_attr(fr, REVERSE);
    put_text(fr, any_dead ? "!" : " ");
    for (c = 0; c < C_N; c++) {
        if (on[c]) {
            put_spaces(fr, 1);
            put_cell(fr, columns[c].title, width[c], columns[c].width > 0);
        }
    }
    if (any_dead && fr->width - fr->col >= 18) {
        put_text(fr, "  ! probably dead");
    }
    put_spaces(fr, fr->width - fr->col);
    put_attr(fr, NORMAL);

    shown = f->n_minions;
    if (shown > (size_t)rows - 1) {
        shown = (size_t)rows - 2; /* and a line for the rest */
    }
    for (i = 0; i < shown; i++) {
        const struct fleet_minion *m = &f->minions[i];
        char text[256];

        if (!line(fr)) {
            return;
        }
        if (m->probably_dead) {
            put_attr(fr, BOLD RED);
            put_text(fr, "!");
        } else {
            put_text(fr, " ");
        }
        for (c = 0; c < C_N; c++) {
            if (on[c]) {
                cell_text(f, m, (enum col)c, text, sizeof(text));
                put_spaces(fr, 1);
                put_cell(fr, text, width[c], columns[c].width > 0);
            }
        }
        put_attr(fr, NORMAL);
    }
    if (shown < f->n_minions && line(fr)) {
        put_fmt(fr, " +%zu more", f->n_minions - shown);
    }
}

static void draw_errors(struct watch *w, struct frame *fr, int rows)
{
    const struct fleet *f = w->f;
    int redis = f->source != NULL && strcmp(f->source, "redis") == 0;
    size_t i;

    if (rows < 2 || f->n_errors == 0 || !line(fr)) {
        return;
    }
    put_attr(fr, BOLD);
    put_text(fr, redis ? "latest dead letters" : "errors, most frequent first");
    put_attr(fr, NORMAL);
    for (i = 0; i < f->n_errors && (int)i < rows - 1; i++) {
        const struct fleet_error *e = &f->errors[i];
        char count[32];

        if (!line(fr)) {
            return;
        }
        put_cell(fr, fmt_count(count, sizeof(count), e->count), 7, 1);
        put_spaces(fr, 2);
        put_text(fr, e->text != NULL ? e->text : "-");
    }
}

/* One frame, sized to the terminal. The title, the progress and the totals
 * always; the charts get about a third of the rows left, the errors a third
 * of the rest (more when the table does not need it), the table the
 * others. What does not fit is cut. */
static void draw(struct watch *w, struct buf *out)
{
    const struct fleet *f = w->f;
    struct frame fr = {
        .out = out, .rows = w->rows, .cols = w->cols, .utf8 = w->utf8};
    char piece[MAX_PIECES][PIECE_SIZE];
    size_t n = total_pieces(f, piece);
    int totals = flow(&fr, piece, n, w->cols, 0);
    int rem, gap = 0, chart = 0, errors = 0, table, table_need, table_min;

    totals = totals > 3 ? 3 : totals;
    rem = w->rows - 1 - (w->failed ? 1 : 0) - 1 - totals;
    if (rem >= 16) {
        gap = 1; /* room for a blank line before the charts and the table */
        rem -= 2;
    }
    if (rem >= 6 && w->cols >= 20) {
        chart = (rem - 4) / 3;
        chart = chart > 8 ? 8 : chart;
        rem -= 1 + chart;
    }
    table_need = (int)f->n_minions + 1;
    table_min = table_need < 4 ? table_need : 4;
    if (f->n_errors > 0) {
        /* A third of what is left, or all the table does not need. */
        int room = rem / 3 > rem - table_need ? rem / 3 : rem - table_need;

        errors = 1 + (int)f->n_errors;
        errors = errors > room ? room : errors;
        errors = errors > rem - table_min ? rem - table_min : errors;
        /* A heading alone says nothing. */
        errors = errors < 2 ? 0 : errors;
    }
    table = rem - errors;
    table = table > table_need ? table_need : table;

    if (w->clear) {
        buf_str(out, CLEAR);
        w->clear = 0;
    }
    buf_str(out, HOME);
    draw_title(w, &fr);
    if (w->failed) {
        draw_error(w, &fr);
    }
    draw_progress(w, &fr);
    flow(&fr, piece, n, w->cols, totals);
    if (chart > 0) {
        if (gap) {
            line(&fr);
        }
        draw_charts(w, &fr, chart);
    }
    if (gap) {
        line(&fr);
    }
    draw_table(w, &fr, table);
    draw_errors(w, &fr, errors);
    frame_end(&fr);
}

/* ------------------------------------------------------------------------
 * Plain lines, for a pipe or a file
 */

static void plain_line(struct watch *w, struct buf *out)
{
    const struct fleet *f = w->f;
    time_t t = (time_t)(f->now > 0 ? f->now : wall_now());
    double rate = f->rate_1m >= 0 ? f->rate_1m : f->rate_all;
    char text[512], a[32];
    struct tm tm;
    size_t len;

    localtime_r(&t, &tm);
    len = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
    buf_add(out, text, len);
#define FIELD(name, v)                                                         \
    if ((v) >= 0) {                                                            \
        buf_str(out, " " name "=");                                            \
        buf_str(out, fmt_count(a, sizeof(a), v));                              \
    }
    FIELD("ok", f->ok)
    FIELD("failed", f->failed)
    FIELD("dead", f->dead)
    FIELD("in_flight", f->in_flight)
    FIELD("pending", f->pending)
    FIELD("lag", f->lag)
    FIELD("dead_letters", f->dead_letters)
#undef FIELD
    if (rate >= 0) {
        snprintf(text, sizeof(text), " rate=%s/s",
                 fmt_rate(a, sizeof(a), rate));
        buf_str(out, text);
    }
    if (f->percent >= 0) {
        snprintf(text, sizeof(text), " %.1f%%", f->percent);
        buf_str(out, text);
    }
    if (f->eta_s >= 0) {
        snprintf(text, sizeof(text), " eta=%s",
                 fmt_dur(a, sizeof(a), f->eta_s));
        buf_str(out, text);
    }
    buf_str(out, "\n");
}

/* ------------------------------------------------------------------------
 * Taking the terminal, and giving it back
 */

/* The alternate screen, no cursor, keys without Enter and without echo. */
static int screen_start(struct watch *w)
{
    if (w->keys && tcgetattr(STDIN_FILENO, &w->saved) == 0) {
        struct termios raw = w->saved;

        /* ISIG stays: Ctrl-C and Ctrl-Z keep coming as signals. */
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) {
            w->termios_set = 1;
        }
    }
    w->screen_on = 1;
    w->clear = 1;
    term_size(w);
    return write_all(STDOUT_FILENO, ALT_SCREEN_ON CURSOR_HIDE,
                     strlen(ALT_SCREEN_ON CURSOR_HIDE));
}

/* Undo screen_start, whatever state the terminal is in; safe to repeat. */
static void screen_stop(struct watch *w)
{
    static const char leave[] = NORMAL CURSOR_SHOW ALT_SCREEN_OFF;

    if (w->screen_on) {
        write_all(STDOUT_FILENO, leave, strlen(leave));
        w->screen_on = 0;
    }
    if (w->termios_set) {
        /* After the output above has reached the terminal. */
        tcsetattr(STDIN_FILENO, TCSADRAIN, &w->saved);
        w->termios_set = 0;
    }
}

/* Ctrl-Z: give the terminal back, stop as the default action would, and
 * take it again when continued (the shell may have changed it meanwhile,
 * so it is read anew). */
static void suspend(struct watch *w)
{
    struct sigaction dfl, ours;
    sigset_t tstp;

    got_tstp = 0;
    screen_stop(w);
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGTSTP, &dfl, &ours);
    sigemptyset(&tstp);
    sigaddset(&tstp, SIGTSTP);
    raise(SIGTSTP);
    /* Pending until here: we stop now, and go on when continued. */
    sigprocmask(SIG_UNBLOCK, &tstp, NULL);
    sigprocmask(SIG_BLOCK, &tstp, NULL);
    sigaction(SIGTSTP, &ours, NULL);
    screen_start(w);
}

static void signals_start(struct watch *w)
{
    sigset_t block;
    size_t i;

    sigemptyset(&block);
    for (i = 0; i < N_WATCHED; i++) {
        struct sigaction sa;

        w->installed[i] = 0;
        if (watched[i].tty_only && !w->tty) {
            continue;
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = watched[i].handler;
        sigemptyset(&sa.sa_mask);
        if (sigaction(watched[i].sig, NULL, &w->old_act[i]) != 0) {
            continue;
        }
        if (watched[i].keep_ignored && w->old_act[i].sa_handler == SIG_IGN) {
            continue;
        }
        if (sigaction(watched[i].sig, &sa, NULL) == 0) {
            w->installed[i] = 1;
            sigaddset(&block, watched[i].sig);
        }
    }
    sigprocmask(SIG_BLOCK, &block, &w->old_mask);
    w->wait_mask = w->old_mask;
    for (i = 0; i < N_WATCHED; i++) {
        if (w->installed[i]) {
            sigdelset(&w->wait_mask, watched[i].sig);
        }
    }
}

static void signals_stop(struct watch *w)
{
    size_t i;

    /* Unblock first, while our handlers are in place: a signal that came
     * during the last refresh only sets a flag, rather than killing us
     * with its default action after we said we were done. */
    sigprocmask(SIG_SETMASK, &w->old_mask, NULL);
    for (i = 0; i < N_WATCHED; i++) {
        if (w->installed[i]) {
            sigaction(watched[i].sig, &w->old_act[i], NULL);
        }
    }
}

/* ------------------------------------------------------------------------
 * The loop
 */

/* Sleep until @deadline (monotonic), a key or a signal. Returns 1 to
 * refresh now, 0 otherwise (a signal, the time), -1 to leave (q, or the
 * terminal gone). */
static int wait_event(struct watch *w, double deadline)
{
    double left = deadline - mono_now();
    struct timespec ts;
    fd_set rd;
    char keys[64];
    ssize_t n, i;
    int r;

    left = left < 0 ? 0 : left;
    ts.tv_sec = (time_t)left;
    ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
    FD_ZERO(&rd);
    if (w->keys) {
        FD_SET(STDIN_FILENO, &rd);
    }
    r = pselect(w->keys ? STDIN_FILENO + 1 : 0, &rd, NULL, NULL, &ts,
                &w->wait_mask);
    if (r <= 0 || !w->keys || !FD_ISSET(STDIN_FILENO, &rd)) {
        return 0;
    }
    n = read(STDIN_FILENO, keys, sizeof(keys));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return 0;
    }
    if (n <= 0) {
        return -1; /* the terminal hung up */
    }
    for (i = 0; i < n; i++) {
        switch (keys[i]) {
        case 'q':
        case 'Q':
        case 3: /* Ctrl-C, should the terminal not turn it into SIGINT */
            return -1;
        case 12: /* Ctrl-L: the screen may hold someone else's output */
            w->clear = 1;
            break;
        default: break;
        }
    }
    return 1;
}

/* Show the fleet as it is now. Returns 0, or -1 when the output is gone
 * (errno set). */
static int show(struct watch *w)
{
    w->out.len = 0;
    w->out.oom = 0;
    if (w->tty) {
        draw(w, &w->out);
    } else {
        plain_line(w, &w->out);
    }
    if (w->out.oom) {
        errno = ENOMEM;
        return -1;
    }
    return write_all(STDOUT_FILENO, w->out.p, w->out.len);
}

static int loop(struct watch *w)
{
    double next = 0; /* monotonic time of the next refresh */

    if (w->tty && show(w) != 0) {
        return -1; /* a first, empty frame while the first refresh reads */
    }
    while (!got_quit) {
        int redraw = 0, ev;

        if (got_tstp && w->tty) {
            suspend(w);
            redraw = 1;
        }
        if (got_winch) {
            got_winch = 0;
            term_size(w);
            redraw = 1;
        }
        if (mono_now() >= next) {
            double start = mono_now();

            refresh(w);
            /* A period of @interval from start to start, unless a refresh
             * takes longer than that. */
            next = start + w->interval;
            if (next < mono_now()) {
                next = mono_now();
            }
            redraw = 1;
            if (!w->tty && w->failed) {
                redraw = 0; /* the error went to stderr */
            }
        }
        if (redraw) {
            if (show(w) != 0) {
                return -1;
            }
        }
        ev = wait_event(w, next);
        if (ev < 0) {
            break;
        }
        if (ev > 0) {
            next = 0; /* a key: refresh and redraw at once */
        }
    }
    return 0;
}

int watch_run(struct fleet_source *src, struct fleet *f, double interval)
{
    struct watch *w;
    char *old_locale = NULL;
    const char *loc;
    int rc = 0, err = 0;

    /* Anything the caller printed goes out before our frames. */
    fflush(stdout);
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        tools_error("out of memory");
        return 1;
    }
    w->src = src;
    w->f = f;
    w->interval = interval >= MIN_INTERVAL ? interval : MIN_INTERVAL;
    w->tty = isatty(STDOUT_FILENO);
    w->keys = w->tty && isatty(STDIN_FILENO);
    w->prev_done = FLEET_UNKNOWN;
    got_quit = got_winch = got_tstp = 0;

    loc = setlocale(LC_ALL, NULL);
    if (loc != NULL) {
        old_locale = strdup(loc);
    }
    setlocale(LC_ALL, "");
    w->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    /* Numbers keep their '.' whatever the user's locale: the plain lines
     * are read by programs. */
    setlocale(LC_NUMERIC, "C");

    signals_start(w);
    if (w->tty && screen_start(w) != 0) {
        err = errno;
        rc = -1;
    }
    if (rc == 0) {
        rc = loop(w);
        err = errno;
    }
    if (w->tty) {
        screen_stop(w);
    }
    signals_stop(w);

    if (old_locale != NULL) {
        setlocale(LC_ALL, old_locale);
        free(old_locale);
    }
    free(w->out.p);
    free(w);
    if (rc != 0) {
        /* A reader that went away (head, a closed pipe) is the end of the
         * watch, not a failure. */
        if (err == EPIPE) {
            return 0;
        }
        tools_error("writing standard output: %s", strerror(err));
        return 1;
    }
    return 0;
}
