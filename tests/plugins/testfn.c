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
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <minionize/plugin.h>

int minion_function(const minion_task *task, minion_output *out);

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
