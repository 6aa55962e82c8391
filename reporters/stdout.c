/* SPDX-License-Identifier: MIT */
/*
 * reporters/stdout.c: one line per finished task on standard output,
 *
 *   ok 42 attempt=1 0.003s
 *   failed 42 attempt=1 0.010s exit=3: exit status 3
 *
 * status, task id, attempt, duration, the exit code when it is neither 0 nor
 * unknown, and the error. Each line goes out in one write(2) so lines from
 * this reporter never interleave with task output mid-line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <minionize/plugin.h>

/* Long enough for any sane id and error; longer lines end with "...". */
#define LINE_MAX_BYTES 4096

static void stdout_on_report(struct minion_instance *inst,
                             const struct minion_report *r)
{
    char line[LINE_MAX_BYTES];
    size_t len, i, off = 0;
    double duration = r->end - r->start;
    int n;

    if (!(duration >= 0)) {
        duration = 0;
    }
    n = snprintf(line, sizeof(line), "%s %s attempt=%u %.3fs",
                 minion_status_name(r->status), r->task_id ? r->task_id : "-",
                 r->attempt, duration);
    len = n < 0 ? 0 : (size_t)n;
    if (len < sizeof(line) && r->exit_code != 0 && r->exit_code != -1) {
        n = snprintf(line + len, sizeof(line) - len, " exit=%d", r->exit_code);
        len += n < 0 ? 0 : (size_t)n;
    }
    if (len < sizeof(line) && r->error != NULL) {
        n = snprintf(line + len, sizeof(line) - len, ": %s", r->error);
        len += n < 0 ? 0 : (size_t)n;
    }
    /* Room for the newline, marking a cut line. */
    if (len >= sizeof(line) - 1) {
        len = sizeof(line) - 4;
        memcpy(line + len - 3, "...", 3);
    }
    /* One task, one line, whatever an id or error holds. */
    for (i = 0; i < len; i++) {
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) {
            line[i] = ' ';
        }
    }
    line[len++] = '\n';

    /* Task output may sit in stdio's buffer: it belongs before this line. */
    fflush(stdout);
    while (off < len) {
        ssize_t w = write(STDOUT_FILENO, line + off, len - off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return; /* stdout is gone: nothing useful left to do */
        }
        off += (size_t)w;
    }
}

static const struct minion_reporter_ops stdout_ops = {
    MINION_OPS_HEADER(struct minion_reporter_ops),
    .on_report = stdout_on_report,
};

const struct minion_plugin minion_plugin_stdout = {
    MINION_PLUGIN_HEADER(MINION_KIND_REPORTER),
    .name = "stdout",
    .summary = "Write one line per finished task to standard output",
    .reporter = &stdout_ops,
};
