/* SPDX-License-Identifier: MIT */
/*
 * Test functions for the function callback (MINION_FUNCTION=testfn.so). The
 * param says what to do:
 *   fail...     print the attempt, return MINION_RETRY
 *   reject...   return MINION_REJECT
 *   weird...    return 42, which is no outcome
 *   sleep:MS    sleep MS milliseconds, then succeed
 *   mark-sleep:MS  create the file "mark" first
 *   thread      print "main" or "worker": which thread runs the function
 *   threads     print how many threads the process has
 *   anything    print "PARAM attempt=N" and succeed
 *
 * MINION_FUNCTION=testfn.so:hooked has setup and teardown hooks. Each hook,
 * and each call, appends one line to "hooks.log" in the working directory:
 *   setup main|worker argc=N [WORD]...   (the main thread runs the loop)
 *   call PARAM tid=N     (sleeps 2 ms to keep -j busy; sleep:MS as above)
 *   teardown main|worker calls=N
 * and "overlap ..." when a hook finds a call running, or a call finds no
 * setup done. Setup's first word may ask it to fail: "fail" writes why into
 * hooked_setup_error and returns 3; "fail-quiet" returns 7 and writes
 * nothing; "fail-lines" writes a message of several lines.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <minionize/plugin.h>

int minion_function(const minion_task *task, minion_output *out);
int hooked(const minion_task *task, minion_output *out);
int hooked_setup(int argc, char *const *argv);
void hooked_teardown(void);
extern char hooked_setup_error[128];

static int starts(const char *p, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(p, prefix, n) == 0;
}

int minion_function(const minion_task *task, minion_output *out)
{
    size_t len;
    const char *p = minion_task_param(task, &len);
    unsigned attempt = minion_task_attempt(task);

    if (starts(p, len, "fail")) {
        minion_output_printf(out, "%.*s failing attempt=%u\n", (int)len, p,
                             attempt);
        return MINION_RETRY;
    }
    if (starts(p, len, "reject")) {
        minion_output_printf(out, "%.*s rejected\n", (int)len, p);
        return MINION_REJECT;
    }
    if (starts(p, len, "weird")) {
        return 42;
    }
    if (starts(p, len, "mark-")) {
        FILE *f = fopen("mark", "w");
        if (f != NULL) {
            fclose(f);
        }
        p += 5;
        len -= 5;
    }
    if (starts(p, len, "sleep:")) {
        char ms[16] = "";
        struct timespec ts;
        long v;
        size_t n = len - 6 < sizeof(ms) - 1 ? len - 6 : sizeof(ms) - 1;
        memcpy(ms, p + 6, n);
        v = strtol(ms, NULL, 10);
        ts.tv_sec = v / 1000;
        ts.tv_nsec = (v % 1000) * 1000000L;
        nanosleep(&ts, NULL);
        minion_output_printf(out, "slept %ld\n", v);
        return MINION_OK;
    }
    if (len == 6 && memcmp(p, "thread", 6) == 0) {
        /* The loop runs on the main thread, whose id is the pid. */
        int main_thread = syscall(SYS_gettid) == getpid();
        minion_output_printf(out, "%s\n", main_thread ? "main" : "worker");
        return MINION_OK;
    }
    if (len == 7 && memcmp(p, "threads", 7) == 0) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *e;
        int n = 0;
        if (d == NULL) {
            return MINION_REJECT;
        }
        while ((e = readdir(d)) != NULL) {
            n += e->d_name[0] != '.';
        }
        closedir(d);
        minion_output_printf(out, "threads=%d\n", n);
        return MINION_OK;
    }
    minion_output_printf(out, "%.*s attempt=%u\n", (int)len, p, attempt);
    return MINION_OK;
}

/* ------------------------------------------------------------------------ */
/* hooked: a function with setup and teardown                                */

char hooked_setup_error[128];

static atomic_int hooked_ready;   /* between setup and teardown */
static atomic_int hooked_running; /* calls in progress */
static atomic_long hooked_calls;

/* One line to hooks.log; one write(2) with O_APPEND, so lines from
 * several threads never mix. */
static void hook_log(const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    int n, fd;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n > sizeof(line) - 2) {
        n = (int)sizeof(line) - 2;
    }
    line[n++] = '\n';
    fd = open("hooks.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return;
    }
    if (write(fd, line, (size_t)n) < 0) {
        /* Nothing to do: the test sees the line missing. */
    }
    close(fd);
}

static const char *which_thread(void)
{
    return syscall(SYS_gettid) == getpid() ? "main" : "worker";
}

int hooked_setup(int argc, char *const *argv)
{
    char words[2048] = "";
    size_t used = 0;
    int i;

    if (atomic_load(&hooked_running) != 0 || atomic_load(&hooked_ready)) {
        hook_log("overlap setup");
    }
    for (i = 0; i < argc && used < sizeof(words); i++) {
        int n = snprintf(words + used, sizeof(words) - used, " [%s]", argv[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    hook_log("setup %s argc=%d%s%s", which_thread(), argc, words,
             argv[argc] == NULL ? "" : " argv-not-null-terminated");
    if (argc > 0 && strcmp(argv[0], "fail") == 0) {
        snprintf(hooked_setup_error, sizeof(hooked_setup_error),
                 "cannot load %s: %s", argc > 1 ? argv[1] : "nothing",
                 "no such model\n");
        return 3;
    }
    if (argc > 0 && strcmp(argv[0], "fail-quiet") == 0) {
        return 7;
    }
    if (argc > 0 && strcmp(argv[0], "fail-lines") == 0) {
        snprintf(hooked_setup_error, sizeof(hooked_setup_error),
                 "first line\nsecond line\r\n\tthird\n\n");
        return -1;
    }
    atomic_store(&hooked_ready, 1);
    return 0;
}

void hooked_teardown(void)
{
    if (atomic_load(&hooked_running) != 0 || !atomic_load(&hooked_ready)) {
        hook_log("overlap teardown");
    }
    atomic_store(&hooked_ready, 0);
    hook_log("teardown %s calls=%ld", which_thread(),
             atomic_load(&hooked_calls));
}

int hooked(const minion_task *task, minion_output *out)
{
    struct timespec ts = {0, 2000000L};
    size_t len;
    const char *p = minion_task_param(task, &len);

    atomic_fetch_add(&hooked_running, 1);
    if (!atomic_load(&hooked_ready)) {
        hook_log("overlap call %.*s", (int)len, p);
    }
    hook_log("call %.*s tid=%ld", (int)len, p, (long)syscall(SYS_gettid));
    if (starts(p, len, "sleep:")) {
        minion_function(task, out);
    } else {
        nanosleep(&ts, NULL);
        minion_output_printf(out, "%.*s\n", (int)len, p);
    }
    atomic_fetch_add(&hooked_calls, 1);
    atomic_fetch_sub(&hooked_running, 1);
    return MINION_OK;
}
