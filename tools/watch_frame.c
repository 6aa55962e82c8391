/* SPDX-License-Identifier: MIT */
/*
 * What one refresh of minion-status --watch shows (watch.h): on a
 * terminal, a frame laid out to its size (the title, a progress bar, the
 * totals, the charts, the minions' table and the errors); anywhere else,
 * one plain line. Both are made whole in a buffer, for the loop
 * (watch.c) to write at once.
 */
#include <config.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "fleet.h"
#include "watch.h"

/* ------------------------------------------------------------------------
 * The output buffer
 */

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
 * Drawing one frame
 */

/* The source and where on the left, the time and the interval on the
 * right, in reverse video across the whole width. */
static void draw_title(const struct watch_view *v, struct frame *fr)
{
    const struct fleet *f = v->f;
    const char *where = f->where != NULL ? f->where : "";
    char left[128], right[3][128];
    time_t t = (time_t)(f->now > 0 ? f->now : watch_wall_now());
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
             when, v->interval);
    snprintf(right[1], sizeof(right[1]), "  %s  every %gs", when, v->interval);
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

static void draw_error(const struct watch_view *v, struct frame *fr)
{
    time_t t = (time_t)v->failed_at;
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
            v->error, when);
}

/* A bar with the percent and the ETA when the source knows how much is
 * left; the count done otherwise. */
static void draw_progress(const struct watch_view *v, struct frame *fr)
{
    const struct fleet *f = v->f;
    char done[32], eta[32], tail[96];
    int bar, i, eighths;

    if (!line(fr)) {
        return;
    }
    fmt_count(done, sizeof(done), fleet_done(f));
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
static void draw_charts(const struct watch_view *v, struct frame *fr, int h)
{
    const struct fleet *f = v->f;
    const struct fleet_series *s[2];
    const char *title[2] = {"finished/s", "in flight"};
    int width = (fr->cols - 3) / 2;
    double max[2];
    int i, r;

    s[0] = f->rate.n > 0 ? &f->rate : v->rate;
    s[1] = f->in_flight_series.n > 0 ? &f->in_flight_series : v->in_flight;
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

static void draw_table(const struct watch_view *v, struct frame *fr, int rows)
{
    const struct fleet *f = v->f;
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

static void draw_errors(const struct watch_view *v, struct frame *fr, int rows)
{
    const struct fleet *f = v->f;
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
void watch_draw(const struct watch_view *v, struct buf *out)
{
    const struct fleet *f = v->f;
    struct frame fr = {
        .out = out, .rows = v->rows, .cols = v->cols, .utf8 = v->utf8};
    char piece[MAX_PIECES][PIECE_SIZE];
    size_t n = total_pieces(f, piece);
    int totals = flow(&fr, piece, n, v->cols, 0);
    int rem, gap = 0, chart = 0, errors = 0, table, table_need, table_min;

    totals = totals > 3 ? 3 : totals;
    rem = v->rows - 1 - (v->error != NULL ? 1 : 0) - 1 - totals;
    if (rem >= 16) {
        gap = 1; /* room for a blank line before the charts and the table */
        rem -= 2;
    }
    if (rem >= 6 && v->cols >= 20) {
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

    if (v->clear) {
        buf_str(out, CLEAR);
    }
    buf_str(out, HOME);
    draw_title(v, &fr);
    if (v->error != NULL) {
        draw_error(v, &fr);
    }
    draw_progress(v, &fr);
    flow(&fr, piece, n, v->cols, totals);
    if (chart > 0) {
        if (gap) {
            line(&fr);
        }
        draw_charts(v, &fr, chart);
    }
    if (gap) {
        line(&fr);
    }
    draw_table(v, &fr, table);
    draw_errors(v, &fr, errors);
    frame_end(&fr);
}

/* ------------------------------------------------------------------------
 * Plain lines, for a pipe or a file
 */

void watch_plain_line(const struct fleet *f, struct buf *out)
{
    time_t t = (time_t)(f->now > 0 ? f->now : watch_wall_now());
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
