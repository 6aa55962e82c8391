/* SPDX-License-Identifier: MIT */
/*
 * The classic parallel word count, as a minionize function: each param is
 * the path of a text file, and the task prints
 *
 *   PATH LINES WORDS LETTERS
 *
 * (lines are newline bytes, words are runs of non-space bytes as POSIX wc
 * counts them, letters are isalpha() bytes in the C locale). A file that cannot
 * be read is rejected (dead-lettered at once: retrying would not help) with the
 * reason as its output.
 *
 * Build it out of the tree and run four counts at a time:
 *
 *   cc -shared -fPIC wordcount.c -o wordcount.so \
 *       $(pkg-config --cflags --libs minionize)
 *   ls *.txt | MINION_FUNCTION=./wordcount.so minionize -c function -j4
 *
 * The file also exports minion_noop, which does nothing and succeeds: it
 * measures the minion's own cost per task
 * (MINION_FUNCTION=./wordcount.so:minion_noop).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <minionize/plugin.h>

int minion_function(const minion_task *task, minion_output *out);
int minion_noop(const minion_task *task, minion_output *out);

int minion_function(const minion_task *task, minion_output *out)
{
    size_t len, i;
    const char *param = minion_task_param(task, &len);
    unsigned long long lines = 0, words = 0, letters = 0;
    char buf[65536], *path;
    int fd, in_word = 0;
    ssize_t n;

    /* The param is not NUL-terminated; open() needs a C string. */
    if (memchr(param, '\0', len) != NULL) {
        minion_output_printf(out, "%.*s: path holds a NUL byte\n", (int)len,
                             param);
        return MINION_REJECT;
    }
    path = malloc(len + 1);
    if (path == NULL) {
        return MINION_RETRY; /* might work on a less busy node */
    }
    memcpy(path, param, len);
    path[len] = '\0';

    /* strerror() below: glibc's is thread-safe for valid error numbers. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        minion_output_printf(out, "%s: %s\n", path, strerror(errno));
        free(path);
        return MINION_REJECT;
    }
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            minion_output_printf(out, "%s: %s\n", path, strerror(errno));
            close(fd);
            free(path);
            return MINION_REJECT;
        }
        for (i = 0; i < (size_t)n; i++) {
            unsigned char c = (unsigned char)buf[i];
            if (c == '\n') {
                lines++;
            }
            if (isspace(c)) {
                in_word = 0;
            } else if (!in_word) {
                in_word = 1;
                words++;
            }
            if (isalpha(c)) {
                letters++;
            }
        }
    }
    close(fd);
    minion_output_printf(out, "%s %llu %llu %llu\n", path, lines, words,
                         letters);
    free(path);
    return MINION_OK;
}

int minion_noop(const minion_task *task, minion_output *out)
{
    (void)task;
    (void)out;
    return MINION_OK;
}
