/* SPDX-License-Identifier: MIT */
/*
 * minion-status --watch: the fleet refreshed every few seconds. On a
 * terminal, a full-screen view like top's, redrawn in place on the
 * alternate screen so the user's scrollback is left as it was; anywhere
 * else (a pipe, a file), one plain line per refresh that a log or `head`
 * can follow. This file is the loop and the terminal; what each refresh
 * shows is watch_frame.c's.
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
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"
#include "tools.h"
#include "watch.h"

/* Below this, a refresh loop would only burn the CPU it is watching. */
#define MIN_INTERVAL 0.05

/* The terminal's size when it cannot tell. */
#define DEFAULT_ROWS 24
#define DEFAULT_COLS 80

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
 * Output and clocks
 */

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

/* What the view shows, and what our own charts are dated by. */
double watch_wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* When to refresh: a clock set meanwhile neither skips nor repeats one. */
static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
    s->end = watch_wall_now();
}

/* After a good refresh: a point on each chart the source does not draw.
 * The rate is the change of the finished count over our own clock, as the
 * source's own "now" may be too coarse for short intervals. */
static void track(struct watch *w, double at)
{
    const struct fleet *f = w->f;
    double done = fleet_done(f);
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
            w->failed_at = watch_wall_now();
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
        struct watch_view v = {
            .f = w->f,
            .error = w->failed ? w->src->error : NULL,
            .failed_at = w->failed_at,
            .interval = w->interval,
            .rate = &w->rate,
            .in_flight = &w->in_flight,
            .rows = w->rows,
            .cols = w->cols,
            .utf8 = w->utf8,
            .clear = w->clear,
        };

        watch_draw(&v, &w->out);
        w->clear = 0;
    } else {
        watch_plain_line(w->f, &w->out);
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
