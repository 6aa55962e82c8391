/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <event2/event.h>

#include <minionize/plugin.h>

#include "clock.h"
#include "progress.h"
#include "runner.h"
#include "stats.h"

/* Four redraws a second at most. */
#define TICK_MS 250
/* Rates are taken over this many seconds of samples. */
#define WINDOW_MS 10000
#define SAMPLES (WINDOW_MS / TICK_MS + 1)

struct sample {
    double when;
    double finished; /* this minion's ok, failed and dead runs */
    double done;     /* the queue's settled params; -1: unknown */
};

struct progress {
    struct runner *runner;
    struct event *tick;
    struct sample samples[SAMPLES]; /* a ring, the newest at @newest */
    int newest, count;
};

/* The line on the terminal is shared by every thread that writes there:
 * drawn by the loop thread, erased by whoever writes next. */
static pthread_mutex_t line_lock = PTHREAD_MUTEX_INITIALIZER;
static int line_on; /* a progress line exists (read without the lock) */
static int line_drawn;

static void write_all(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0) {
            return; /* a terminal that fails: the line is not worth more */
        }
        s += w;
        n -= (size_t)w;
    }
}

void progress_hide(void)
{
    if (!__atomic_load_n(&line_on, __ATOMIC_RELAXED)) {
        return;
    }
    pthread_mutex_lock(&line_lock);
    if (line_drawn) {
        write_all("\r\033[K", 4);
        line_drawn = 0;
    }
    pthread_mutex_unlock(&line_lock);
}

/* "1h02m", "3m05s", "42s" */
static void format_eta(double s, char *out, size_t cap)
{
    long t = (long)(s + 0.5);

    if (t >= 3600) {
        snprintf(out, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    } else if (t >= 60) {
        snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
    } else {
        snprintf(out, cap, "%lds", t);
    }
}

static const struct sample *oldest_in_window(const struct progress *p)
{
    const struct sample *now = &p->samples[p->newest], *best = now;

    for (int i = 1; i < p->count; i++) {
        const struct sample *s =
            &p->samples[(p->newest - i + SAMPLES) % SAMPLES];
        if (now->when - s->when > WINDOW_MS / 1000.0) {
            break;
        }
        best = s;
    }
    return best;
}

static size_t render(struct progress *p, char *line, size_t cap)
{
    unsigned in_flight;
    const struct stats *st = runner_figures(p->runner, &in_flight);
    struct minion_queue q = MINION_QUEUE_INIT;
    struct sample *now;
    const struct sample *then;
    double rate = -1, done_rate = -1, span;
    size_t n;

    runner_queue(p->runner, &q);
    p->newest = (p->newest + 1) % SAMPLES;
    if (p->count < SAMPLES) {
        p->count++;
    }
    now = &p->samples[p->newest];
    now->when = clock_now();
    now->finished = (double)(st->by_status[MINION_STATUS_OK] +
                             st->by_status[MINION_STATUS_FAILED] +
                             st->by_status[MINION_STATUS_DEAD]);
    now->done = q.done >= 0 ? (double)q.done : -1;
    then = oldest_in_window(p);
    span = now->when - then->when;
    if (span >= 0.5) {
        rate = (now->finished - then->finished) / span;
        if (now->done >= 0 && then->done >= 0) {
            done_rate = (now->done - then->done) / span;
        }
    }
    n = (size_t)snprintf(
        line, cap, "minionize: %llu ok, %llu failed, %llu dead, %u running",
        st->by_status[MINION_STATUS_OK], st->by_status[MINION_STATUS_FAILED],
        st->by_status[MINION_STATUS_DEAD], in_flight);
    if (n < cap && rate >= 0) {
        n += (size_t)snprintf(line + n, cap - n, ", %.*f/s", rate < 10 ? 1 : 0,
                              rate);
    }
    if (n < cap && q.total > 0 && q.done >= 0) {
        /* The queue's own figures: the fleet's progress, not only ours. */
        double left = (double)(q.total - q.done), pct;
        double r = done_rate > 0 ? done_rate : rate;
        char eta[32];

        pct = 100.0 * (double)q.done / (double)q.total;
        n += (size_t)snprintf(line + n, cap - n, ", %.1f%%",
                              pct > 100 ? 100 : pct);
        if (n < cap && left > 0 && r > 0) {
            format_eta(left / r, eta, sizeof(eta));
            n += (size_t)snprintf(line + n, cap - n, ", ETA %s", eta);
        }
    } else if (n < cap && q.lag >= 0) {
        n += (size_t)snprintf(line + n, cap - n, ", %lld waiting", q.lag);
    }
    return n < cap ? n : cap - 1;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct progress *p = arg;
    struct winsize ws;
    char line[512];
    size_t n = render(p, line, sizeof(line));

    (void)fd;
    (void)what;
    /* One column short of the width: a full line would wrap the cursor. */
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
        n > (size_t)ws.ws_col - 1) {
        n = (size_t)ws.ws_col - 1;
    }
    pthread_mutex_lock(&line_lock);
    write_all("\r", 1);
    write_all(line, n);
    write_all("\033[K", 3);
    line_drawn = 1;
    pthread_mutex_unlock(&line_lock);
}

struct progress *progress_new(struct event_base *base, struct runner *r)
{
    struct timeval every = {0, TICK_MS * 1000};
    struct progress *p;

    if (!isatty(STDERR_FILENO)) {
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        return NULL;
    }
    p->runner = r;
    p->newest = -1;
    p->tick = event_new(base, -1, EV_PERSIST, on_tick, p);
    if (!p->tick || event_add(p->tick, &every) < 0) {
        progress_free(p);
        return NULL;
    }
    __atomic_store_n(&line_on, 1, __ATOMIC_RELAXED);
    return p;
}

void progress_free(struct progress *p)
{
    if (!p) {
        return;
    }
    if (p->tick) {
        event_free(p->tick);
    }
    progress_hide();
    __atomic_store_n(&line_on, 0, __ATOMIC_RELAXED);
    free(p);
}
