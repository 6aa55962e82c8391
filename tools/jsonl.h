/* SPDX-License-Identifier: MIT */
/* One line of the json reporter's files, scanned for the few fields
 * minion-status needs. A whole JSON parser would build a tree of every
 * param, output and atomic action only to throw it away: on a folder of a
 * million reports that is most of the time spent. Pure: the caller reads
 * the files. */
#ifndef TOOLS_JSONL_H
#define TOOLS_JSONL_H

#include <stddef.h>

/* A JSON string as it sits in the line, between its quotes. */
struct jsonl_str {
    const char *p; /* NULL: the field is absent, or null */
    size_t len;
    int escaped; /* holds a backslash: decode with jsonl_decode() */
};

struct jsonl_record {
    struct jsonl_str uid, minion, status, error, nodename;
    struct jsonl_str oar_job_id, slurm_job_id, slurm_array_task_id;
    double generation, start, end; /* NAN when absent or not a number */
};

/* Scan @len bytes of @line (no newline) into @r. Returns 0, or -1 when
 * the line is not one complete JSON object (a line cut short by a crash).
 * Borrows: line; @r's strings point into it. */
int jsonl_scan(const char *line, size_t len, struct jsonl_record *r);

/* Decode @s into @out, which has room for s->len + 1 bytes (a decoded
 * string is never longer), and NUL-terminate it. Returns its length. */
size_t jsonl_decode(const struct jsonl_str *s, char *out);

/* Whether @s, decoded, is the NUL-terminated @text. */
int jsonl_equals(const struct jsonl_str *s, const char *text);

#endif
