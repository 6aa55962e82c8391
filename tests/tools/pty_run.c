/* SPDX-License-Identifier: MIT */
/*
 * pty_run: a program on a pseudo-terminal of a given size, played by a
 * script of keys, resizes and signals, so that a test can drive a
 * full-screen view as a user at a terminal would and keep what it drew.
 *
 *   pty_run [-s ROWSxCOLS] [-o OUTFILE] [-t TIMEOUT_S] [-T] [EVENT]...
 *           -- PROGRAM [ARG]...
 *
 * The events run in the order given, each after the one before it:
 *   -k MS:KEYS   wait MS milliseconds, then type KEYS (\e, \n, \r, \t, \\,
 *                \xHH understood)
 *   -c MS        wait MS, then type Ctrl-C (the line discipline turns it
 *                into SIGINT, as for a user)
 *   -S MS[:SIG]  wait MS, then send signal SIG (default SIGTERM) to PROGRAM
 *   -r MS:RxC    wait MS, then resize the window to R rows, C columns (the
 *                kernel sends SIGWINCH)
 *   -w TEXT      wait until TEXT appears in the output, after where the
 *                previous -w matched (escapes as for -k)
 *   -x COMMAND   run COMMAND with /bin/sh -c and wait for it
 *
 * Everything PROGRAM writes is copied to OUTFILE (default: standard
 * output) as it comes. -T prints the terminal's modes to standard error
 * before PROGRAM starts and after it ends, so a test can check it left them
 * as it found them.
 *
 * Every wait is bounded by TIMEOUT_S (default 10): then PROGRAM is killed
 * and the exit status is 124. Otherwise the exit status is PROGRAM's
 * (128+N when signal N killed it), or 125 when pty_run itself failed or
 * PROGRAM ended before the last event.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <utmp.h>

#define EXIT_TIMEOUT 124
#define EXIT_FAIL 125

/* The step of the loop: how late a timed event can be, at most. */
#define TICK_MS 10

struct event {
    int opt;        /* the option that made it: k c S r w x */
    long ms;        /* the delay before it */
    char *text;     /* -k, -w: decoded; -x: the command */
    size_t len;     /* of text, decoded */
    int sig;        /* -S */
    int rows, cols; /* -r */
};

static const char *me = "pty_run";

static void usage(void)
{
    fprintf(stderr,
            "usage: %s [-s ROWSxCOLS] [-o OUTFILE] [-t TIMEOUT_S] [-T]\n"
            "       [-k MS:KEYS] [-c MS] [-S MS[:SIG]] [-r MS:ROWSxCOLS]\n"
            "       [-w TEXT] [-x COMMAND]... -- PROGRAM [ARG]...\n",
            me);
    exit(EXIT_FAIL);
}

static void die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", me, what, strerror(errno));
    exit(EXIT_FAIL);
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_size(const char *s, int *rows, int *cols)
{
    char *end;
    long r = strtol(s, &end, 10), c;

    if (end == s || (*end != 'x' && *end != 'X')) {
        return -1;
    }
    s = end + 1;
    c = strtol(s, &end, 10);
    if (end == s || *end != '\0' || r < 1 || c < 1 || r > 1000 || c > 1000) {
        return -1;
    }
    *rows = (int)r;
    *cols = (int)c;
    return 0;
}

/* "MS" alone, or "MS:" followed by the rest, returned in @rest. */
static int parse_delay(const char *s, long *ms, const char **rest)
{
    char *end;

    *ms = strtol(s, &end, 10);
    if (end == s || *ms < 0) {
        return -1;
    }
    if (*end == ':') {
        *rest = end + 1;
    } else if (*end == '\0') {
        *rest = NULL;
    } else {
        return -1;
    }
    return 0;
}

/* Decode the escapes of @s into a new string. Returns its length. */
static size_t unescape(const char *s, char **out)
{
    char *d = malloc(strlen(s) + 1);
    size_t n = 0;

    if (d == NULL) {
        die("malloc");
    }
    while (*s != '\0') {
        if (*s != '\\' || s[1] == '\0') {
            d[n++] = *s++;
            continue;
        }
        s++;
        switch (*s) {
        case 'e': d[n++] = 033, s++; break;
        case 'n': d[n++] = '\n', s++; break;
        case 'r': d[n++] = '\r', s++; break;
        case 't': d[n++] = '\t', s++; break;
        case 'x': {
            int v = 0, digits = 0;

            for (s++; digits < 2 && isxdigit((unsigned char)*s); s++) {
                v = v * 16 + (isdigit((unsigned char)*s)
                                  ? *s - '0'
                                  : tolower((unsigned char)*s) - 'a' + 10);
                digits++;
            }
            d[n++] = (char)v;
            break;
        }
        default: d[n++] = *s++; break;
        }
    }
    d[n] = '\0';
    *out = d;
    return n;
}

static void print_modes(int fd, const char *when)
{
    struct termios t;

    if (tcgetattr(fd, &t) != 0) {
        fprintf(stderr, "%s: termios %s: %s\n", me, when, strerror(errno));
        return;
    }
    fprintf(stderr,
            "%s: termios %s: iflag=%#lo oflag=%#lo cflag=%#lo lflag=%#lo "
            "vmin=%d vtime=%d icanon=%d echo=%d\n",
            me, when, (unsigned long)t.c_iflag, (unsigned long)t.c_oflag,
            (unsigned long)t.c_cflag, (unsigned long)t.c_lflag, t.c_cc[VMIN],
            t.c_cc[VTIME], (t.c_lflag & ICANON) != 0, (t.c_lflag & ECHO) != 0);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);

        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            die("write");
        }
        p += k;
        n -= (size_t)k;
    }
}

/* The output so far, kept for -w. */
static char *seen;
static size_t seen_len, seen_cap;

/* Copy what the program wrote to @out. Returns 1 when something was read,
 * 0 when nothing was there, -1 at the end of the terminal. */
static int pump(int master, int out, int wait_ms)
{
    struct pollfd pfd = {.fd = master, .events = POLLIN};
    char chunk[4096];
    ssize_t n;

    if (poll(&pfd, 1, wait_ms) <= 0) {
        return 0;
    }
    n = read(master, chunk, sizeof(chunk));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return 0;
    }
    if (n <= 0) {
        return -1; /* EIO: no slave left */
    }
    write_all(out, chunk, (size_t)n);
    if (seen_len + (size_t)n > seen_cap) {
        seen_cap = (seen_len + (size_t)n) * 2;
        seen = realloc(seen, seen_cap);
        if (seen == NULL) {
            die("realloc");
        }
    }
    memcpy(seen + seen_len, chunk, (size_t)n);
    seen_len += (size_t)n;
    return 1;
}

static void describe(const struct event *e)
{
    fprintf(stderr, "%s: stuck at -%c", me, e->opt);
    if (e->opt == 'w' || e->opt == 'x') {
        fprintf(stderr, " '%s'", e->text);
    }
    fprintf(stderr, "\n");
}

/* Kill @child, politely first. Returns its wait status. */
static int stop_child(pid_t child)
{
    int status, i;

    kill(child, SIGTERM);
    for (i = 0; i < 100; i++) {
        if (waitpid(child, &status, WNOHANG) == child) {
            return status;
        }
        usleep(10000);
    }
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    return status;
}

/* Free the events of the script: their texts, but -x's command, which is
 * argv's. */
static void free_events(struct event *ev, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (ev[i].opt != 'x') {
            free(ev[i].text);
        }
    }
    free(ev);
}

int main(int argc, char **argv)
{
    struct event *ev;
    size_t n_ev = 0, cur = 0, wpos = 0;
    const char *outfile = "-", *rest;
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    int modes = 0, master, slave, out, c, status = 0;
    long timeout_ms = 10000, deadline, phase;
    pid_t child;

    ev = calloc((size_t)argc, sizeof(*ev));
    if (ev == NULL) {
        die("calloc");
    }
    while ((c = getopt(argc, argv, "+s:o:t:Tk:c:S:r:w:x:")) != -1) {
        struct event *e = &ev[n_ev];
        int rows, cols;

        switch (c) {
        case 's':
            if (parse_size(optarg, &rows, &cols) != 0) {
                usage();
            }
            ws.ws_row = (unsigned short)rows;
            ws.ws_col = (unsigned short)cols;
            break;
        case 'o': outfile = optarg; break;
        case 't': timeout_ms = (long)(atof(optarg) * 1000); break;
        case 'T': modes = 1; break;
        case 'k':
        case 'c':
        case 'S':
        case 'r':
            if (parse_delay(optarg, &e->ms, &rest) != 0) {
                usage();
            }
            if ((c == 'k' || c == 'r') && rest == NULL) {
                usage();
            }
            if (c == 'k') {
                e->len = unescape(rest, &e->text);
            } else if (c == 'c') {
                e->len = unescape("\\x03", &e->text);
            } else if (c == 'S') {
                e->sig = rest != NULL ? atoi(rest) : SIGTERM;
            } else if (parse_size(rest, &e->rows, &e->cols) != 0) {
                usage();
            }
            e->opt = c;
            n_ev++;
            break;
        case 'w':
            e->len = unescape(optarg, &e->text);
            e->opt = c;
            n_ev++;
            break;
        case 'x':
            e->text = optarg;
            e->opt = c;
            n_ev++;
            break;
        default: usage();
        }
    }
    if (optind >= argc) {
        usage();
    }
    out = strcmp(outfile, "-") == 0
              ? STDOUT_FILENO
              : open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) {
        die(outfile);
    }
    if (openpty(&master, &slave, NULL, NULL, &ws) != 0) {
        die("openpty");
    }
    if (modes) {
        print_modes(slave, "before");
    }
    fflush(NULL);
    child = fork();
    if (child < 0) {
        die("fork");
    }
    if (child == 0) {
        sigset_t none;
        int sig;

        /* A program started from a script's background job would find
         * SIGINT ignored; a user's terminal gives it the default. */
        for (sig = 1; sig < NSIG; sig++) {
            signal(sig, SIG_DFL);
        }
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        close(master);
        if (out != STDOUT_FILENO) {
            close(out);
        }
        if (login_tty(slave) != 0) {
            _exit(EXIT_FAIL);
        }
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "%s: %s: %s\n", me, argv[optind], strerror(errno));
        _exit(127);
    }
    /* Our own end of the slave stays open: the terminal then outlives the
     * program, for -T to read its modes after. */
    signal(SIGPIPE, SIG_IGN);
    deadline = now_ms() + timeout_ms;
    phase = now_ms();
    for (;;) {
        long now = now_ms();

        if (waitpid(child, &status, WNOHANG) == child) {
            break;
        }
        if (now > deadline) {
            fprintf(stderr, "%s: timed out after %.1fs\n", me,
                    timeout_ms / 1000.0);
            if (cur < n_ev) {
                describe(&ev[cur]);
            }
            stop_child(child);
            free_events(ev, n_ev);
            return EXIT_TIMEOUT;
        }
        if (cur < n_ev) {
            struct event *e = &ev[cur];
            const char *hit;
            int done = 0;

            if (e->opt == 'w') {
                hit =
                    seen_len >= wpos + e->len
                        ? memmem(seen + wpos, seen_len - wpos, e->text, e->len)
                        : NULL;
                if (hit != NULL) {
                    wpos = (size_t)(hit - seen) + e->len;
                    done = 1;
                }
            } else if (e->opt == 'x') {
                if (system(e->text) != 0) {
                    fprintf(stderr, "%s: -x '%s' failed\n", me, e->text);
                    stop_child(child);
                    free_events(ev, n_ev);
                    return EXIT_FAIL;
                }
                done = 1;
            } else if (now - phase >= e->ms) {
                if (e->opt == 'k' || e->opt == 'c') {
                    write_all(master, e->text, e->len);
                } else if (e->opt == 'S') {
                    kill(child, e->sig);
                } else {
                    struct winsize size = {.ws_row = (unsigned short)e->rows,
                                           .ws_col = (unsigned short)e->cols};

                    if (ioctl(master, TIOCSWINSZ, &size) != 0) {
                        die("TIOCSWINSZ");
                    }
                }
                done = 1;
            }
            if (done) {
                cur++;
                phase = now_ms();
                continue;
            }
        }
        pump(master, out, TICK_MS);
    }
    /* What the program wrote last may still be in the terminal. */
    while (pump(master, out, 50) > 0 && now_ms() < deadline + 1000) {
    }
    if (modes) {
        print_modes(slave, "after");
    }
    if (cur < n_ev) {
        fprintf(stderr, "%s: the program ended before the script did\n", me);
        describe(&ev[cur]);
        free_events(ev, n_ev);
        return EXIT_FAIL;
    }
    free_events(ev, n_ev);
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}
