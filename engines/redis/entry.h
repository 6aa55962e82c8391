/* SPDX-License-Identifier: MIT */
/* Pure helpers of the redis engine: reading stream entries and script rows
 * out of hiredis replies, and formatting the commands the engine writes.
 * No I/O and no core API, so the unit tests exercise them on their own. */
#ifndef REDIS_ENTRY_H
#define REDIS_ENTRY_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "streams.h"

/* "<ms>-<seq>": two 20-digit numbers, a dash and the NUL. */
#define RID_MAX 42

/* Is @s (@len bytes) a stream entry id? */
int rid_valid(const char *s, size_t len);

/* The param of an entry whose field/value list is @fields: the value of the
 * field `param`, else a JSON object of every field (values as strings).
 * Returns 0 with *data and *len set, -EINVAL when @fields is no flat list of
 * strings, -ENOMEM. Returns: *owned is NULL when *data points into
 * @fields, else the new string *data points to; caller frees it. */
int entry_param(const redisReply *fields, const char **data, size_t *len,
                char **owned);

/* The entry list of a one-stream XREADGROUP reply. Returns 0 with *entries
 * set (NULL when the read timed out or found nothing), or -EPROTO. */
int read_entries(const redisReply *reply, const redisReply **entries);

/* One entry `[id, fields]` of a read or claim. Returns 0 with *id (a valid
 * id, NUL-terminated inside the reply) and *fields (NULL when the entry was
 * deleted while pending), or -EPROTO. */
int entry_split(const redisReply *entry, const char **id,
                const redisReply **fields);

/* One row of the take/claim scripts: what became of one pending entry.
 * {id, status, count, fields | owner | wait ms, released runs}; rows
 * without the fifth element have no released runs. */
enum take_status {
    TAKE_GONE = 0,    /* not pending any more: acked by someone */
    TAKE_OTHER = 1,   /* pending, owned by another consumer (owner) */
    TAKE_DELETED = 2, /* pending, but the entry was deleted or trimmed */
    TAKE_OK = 3,      /* now ours: fields, attempt */
    TAKE_DELAYED = 4, /* now ours, waiting out a retry delay (wait_ms) */
};

struct take_row {
    const char *id;
    enum take_status status;
    /* Attempts: Redis's delivery count less the released runs; for
     * TAKE_OK, after taking, so the attempt of the run to come. */
    long long count;
    const redisReply *fields; /* TAKE_OK */
    const char *owner;        /* TAKE_OTHER */
    long long wait_ms;        /* TAKE_DELAYED: until it is due */
    long long released;       /* runs of it released unfinished */
};

/* Returns 0 with @out filled from one script row, or -EPROTO. */
int take_row_parse(const redisReply *row, struct take_row *out);

/* The claim script's reply `[cursor, rows]`; entries found deleted while
 * pending are rows too (TAKE_DELETED, with their delivery count). Returns
 * 0, or -EPROTO. Borrows: everything points into @reply. */
int claim_reply_parse(const redisReply *reply, const char **cursor,
                      const redisReply **rows);

/* One entry of the results stream. */
struct result_fields {
    const char *task;   /* the param's entry id */
    const char *status; /* ok, failed, dead */
    unsigned attempt;
    const char *minion;
    long long duration_ms;
    int exit_code;      /* -1: none */
    const char *output; /* not NUL-terminated; may be NULL */
    size_t output_len;
    const char *error; /* NULL: none */
    /* The task process's resources (struct minion_usage); without
     * has_usage (a function, no process of its own) the four fields are
     * left out, as a report writes them null: four fewer fields are a
     * sixth less work for Redis per result. signal 0 (it exited) is
     * written empty. */
    int has_usage;
    int signal;
    long maxrss_kb;
    double user_s, sys_s;
};

/* Format `XADD <stream> [MAXLEN ~ @maxlen] * task .. sys_s ..`, capped
 * only when @maxlen > 0 (REDIS_RESULTS_MAXLEN). Returns the length of the
 * command, or -ENOMEM. Returns: *out, freed with redisFreeCommand(). */
int format_result(const char *stream, long long maxlen,
                  const struct result_fields *f, char **out);

/* Format the command @head (@nhead arguments) followed by @n ids (@ids:
 * NUL-terminated strings RID_MAX bytes apart): XACK, the scripts. Returns
 * the length, or -ENOMEM. Returns: *out, freed with redisFreeCommand(). */
int format_with_ids(const char *const *head, size_t nhead, const char *ids,
                    size_t n, char **out);

#endif
