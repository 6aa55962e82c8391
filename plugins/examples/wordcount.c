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
 * Load once, run many: give a dictionary file (words separated by spaces or
 * newlines) as the one word after the options, and WORDS counts only the
 * words the dictionary holds:
 *
 *   ls *.txt | MINION_FUNCTION=./wordcount.so minionize -c function -j4 \
 *       /usr/share/dict/words
 *
 * minion_function_setup loads it once, before the first param, and
 * minion_function_teardown frees it after the last; the calls only read it,
 * so the worker threads share it without a lock. A dictionary that cannot
 * be read stops the minion at start-up (exit 2) with the reason, which
 * setup writes into minion_function_setup_error. Words match byte for byte
 * (case and punctuation count); change known() to fold case or the like.
 *
 * The file also exports minion_noop, which does nothing and succeeds: it
 * measures the minion's own cost per task
 * (MINION_FUNCTION=./wordcount.so:minion_noop; it has no setup).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <minionize/plugin.h>

int minion_function(const minion_task *task, minion_output *out);
int minion_function_setup(int argc, char *const *argv);
void minion_function_teardown(void);
int minion_noop(const minion_task *task, minion_output *out);

/* Why setup failed, read by the minion when setup returns non-zero. */
char minion_function_setup_error[256];

/* Longer words are never known (a dictionary word this long is ignored). */
#define WORD_MAX 256

/* The dictionary: a hash set of words pointing into the file's text, with
 * open addressing. Written by setup only; NULL: count every word. */
struct word {
    const char *s; /* NULL: an empty slot */
    size_t len;
};
static char *dict_text;
static struct word *dict;
static size_t dict_mask; /* slots - 1, a power of two less one */

static uint64_t hash(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    size_t i;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    }
    return h;
}

/* The slot holding @s, or the empty one where it would go. */
static struct word *slot(const char *s, size_t len)
{
    size_t i = (size_t)hash(s, len) & dict_mask;

    while (dict[i].s != NULL &&
           !(dict[i].len == len && memcmp(dict[i].s, s, len) == 0)) {
        i = (i + 1) & dict_mask;
    }
    return &dict[i];
}

/* Whether the word @s counts: always, without a dictionary. */
static int known(const char *s, size_t len)
{
    return dict == NULL || (len <= WORD_MAX && slot(s, len)->s != NULL);
}

/* Read all of @path. Returns: new NUL-terminated buffer (caller frees with
 * free()), or NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
    struct stat sb;
    char *text = NULL;
    size_t got = 0;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC), err;

    if (fd < 0) {
        return NULL;
    }
    if (fstat(fd, &sb) < 0) {
        goto fail;
    }
    text = malloc((size_t)sb.st_size + 1);
    if (text == NULL) {
        goto fail;
    }
    while (got < (size_t)sb.st_size &&
           (n = read(fd, text + got, (size_t)sb.st_size - got)) != 0) {
        if (n < 0 && errno != EINTR) {
            goto fail;
        }
        got += n > 0 ? (size_t)n : 0;
    }
    close(fd);
    text[got] = '\0';
    *len = got;
    return text;

fail:
    err = errno;
    free(text);
    close(fd);
    errno = err;
    return NULL;
}

int minion_function_setup(int argc, char *const *argv)
{
    size_t len, i, n = 0, slots = 16, wlen;
    char *p;

    if (argc == 0) {
        return 0; /* no dictionary: count every word */
    }
    if (argc > 1) {
        snprintf(minion_function_setup_error,
                 sizeof(minion_function_setup_error),
                 "give one dictionary file, not %d words", argc);
        return 1;
    }
    dict_text = read_file(argv[0], &len);
    if (dict_text == NULL) {
        snprintf(minion_function_setup_error,
                 sizeof(minion_function_setup_error), "%s: %s", argv[0],
                 strerror(errno));
        return 1;
    }
    /* Words are runs of non-space bytes, as in the counts: cut them in
     * place, then size the table for a load of one half at most. */
    for (i = 0; i < len; i++) {
        if (isspace((unsigned char)dict_text[i])) {
            dict_text[i] = '\0';
        } else if (i == 0 || dict_text[i - 1] == '\0') {
            n++;
        }
    }
    while (slots < 2 * n) {
        slots *= 2;
    }
    dict = calloc(slots, sizeof(*dict));
    if (dict == NULL) {
        snprintf(minion_function_setup_error,
                 sizeof(minion_function_setup_error),
                 "%s: no memory for %zu words", argv[0], n);
        free(dict_text);
        dict_text = NULL;
        return 1;
    }
    dict_mask = slots - 1;
    for (p = dict_text; p < dict_text + len; p += wlen + 1) {
        struct word *w;

        wlen = strlen(p);
        if (wlen == 0 || wlen > WORD_MAX) {
            continue;
        }
        w = slot(p, wlen);
        w->s = p; /* a duplicate lands on itself */
        w->len = wlen;
    }
    return 0;
}

void minion_function_teardown(void)
{
    free(dict);
    free(dict_text);
    dict = NULL;
    dict_text = NULL;
}

int minion_function(const minion_task *task, minion_output *out)
{
    size_t len, i;
    const char *param = minion_task_param(task, &len);
    unsigned long long lines = 0, words = 0, letters = 0;
    char buf[65536], *path, word[WORD_MAX];
    size_t wlen = 0; /* the word so far; only WORD_MAX bytes are kept */
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
                if (in_word) {
                    words += known(word, wlen);
                }
                in_word = 0;
            } else {
                if (!in_word) {
                    in_word = 1;
                    wlen = 0;
                }
                if (wlen < WORD_MAX) {
                    word[wlen] = (char)c;
                }
                wlen++;
            }
            if (isalpha(c)) {
                letters++;
            }
        }
    }
    close(fd);
    if (in_word) {
        words += known(word, wlen); /* the last word, without a newline */
    }
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
