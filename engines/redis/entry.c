/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "entry.h"

static int all_digits(const char *s, size_t len)
{
    if (len == 0 || len > 20) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

int rid_valid(const char *s, size_t len)
{
    const char *dash = s ? memchr(s, '-', len) : NULL;

    if (!dash) {
        return 0;
    }
    return all_digits(s, (size_t)(dash - s)) &&
           all_digits(dash + 1, len - (size_t)(dash - s) - 1);
}

static int is_string(const redisReply *r)
{
    return r &&
           (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

int entry_param(const redisReply *fields, const char **data, size_t *len,
                char **owned)
{
    cJSON *obj;
    char *text;

    *owned = NULL;
    if (!fields || fields->type != REDIS_REPLY_ARRAY || fields->elements == 0 ||
        fields->elements % 2 != 0) {
        return -EINVAL;
    }
    for (size_t i = 0; i < fields->elements; i++) {
        if (!is_string(fields->element[i])) {
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < fields->elements; i += 2) {
        const redisReply *k = fields->element[i];
        if (k->len == sizeof(STREAMS_FIELD_PARAM) - 1 &&
            memcmp(k->str, STREAMS_FIELD_PARAM, k->len) == 0) {
            *data = fields->element[i + 1]->str;
            *len = fields->element[i + 1]->len;
            return 0;
        }
    }
    /* No `param`: the whole entry is the param, as a JSON object. */
    obj = cJSON_CreateObject();
    if (!obj) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        /* Field names and values are binary-safe; cJSON wants C strings, so
         * an embedded NUL ends a value here. */
        cJSON *s = cJSON_CreateString(v->str);
        if (!s) {
            cJSON_Delete(obj);
            return -ENOMEM;
        }
        if (cJSON_GetObjectItemCaseSensitive(obj, k->str)) {
            cJSON_ReplaceItemInObjectCaseSensitive(obj, k->str, s);
        } else {
            cJSON_AddItemToObject(obj, k->str, s);
        }
    }
    text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!text) {
        return -ENOMEM;
    }
    *owned = text;
    *data = text;
    *len = strlen(text);
    return 0;
}

int read_entries(const redisReply *reply, const redisReply **entries)
{
    const redisReply *stream;

    *entries = NULL;
    if (!reply || reply->type == REDIS_REPLY_NIL) {
        return 0;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        return -EPROTO;
    }
    if (reply->elements == 0) {
        return 0;
    }
    stream = reply->element[0];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 ||
        stream->element[1]->type != REDIS_REPLY_ARRAY) {
        return -EPROTO;
    }
    if (stream->element[1]->elements > 0) {
        *entries = stream->element[1];
    }
    return 0;
}

int entry_split(const redisReply *entry, const char **id,
                const redisReply **fields)
{
    const redisReply *f;

    if (!entry || entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        !is_string(entry->element[0]) ||
        !rid_valid(entry->element[0]->str, entry->element[0]->len)) {
        return -EPROTO;
    }
    f = entry->element[1];
    if (f->type == REDIS_REPLY_NIL) {
        f = NULL;
    } else if (f->type != REDIS_REPLY_ARRAY) {
        return -EPROTO;
    }
    *id = entry->element[0]->str;
    *fields = f;
    return 0;
}

int take_row_parse(const redisReply *row, struct take_row *out)
{
    const redisReply *extra;

    memset(out, 0, sizeof(*out));
    if (!row || row->type != REDIS_REPLY_ARRAY ||
        (row->elements != 4 && row->elements != 5) ||
        !is_string(row->element[0]) ||
        !rid_valid(row->element[0]->str, row->element[0]->len) ||
        row->element[1]->type != REDIS_REPLY_INTEGER ||
        row->element[2]->type != REDIS_REPLY_INTEGER ||
        (row->elements == 5 && row->element[4]->type != REDIS_REPLY_INTEGER)) {
        return -EPROTO;
    }
    out->id = row->element[0]->str;
    out->count = row->element[2]->integer;
    out->released = row->elements == 5 ? row->element[4]->integer : 0;
    extra = row->element[3];
    switch (row->element[1]->integer) {
    case TAKE_GONE: out->status = TAKE_GONE; return 0;
    case TAKE_DELETED: out->status = TAKE_DELETED; return 0;
    case TAKE_OTHER:
        if (!is_string(extra)) {
            return -EPROTO;
        }
        out->status = TAKE_OTHER;
        out->owner = extra->str;
        return 0;
    case TAKE_OK:
        if (extra->type != REDIS_REPLY_ARRAY) {
            return -EPROTO;
        }
        out->status = TAKE_OK;
        out->fields = extra;
        return 0;
    case TAKE_DELAYED:
        if (extra->type != REDIS_REPLY_INTEGER) {
            return -EPROTO;
        }
        out->status = TAKE_DELAYED;
        out->wait_ms = extra->integer;
        return 0;
    default: return -EPROTO;
    }
}

int claim_reply_parse(const redisReply *reply, const char **cursor,
                      const redisReply **rows)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        !is_string(reply->element[0]) ||
        !rid_valid(reply->element[0]->str, reply->element[0]->len) ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
        return -EPROTO;
    }
    *cursor = reply->element[0]->str;
    *rows = reply->element[1];
    return 0;
}

/* One argument of a command being formatted. */
struct resp_arg {
    const char *s;
    size_t len;
};

/* Decimal digits of @v into the end of @buf; returns where they start. */
static char *utoa_end(size_t v, char *end)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

/* "$<len>\r\n" at @p; returns the byte after it. */
static char *put_header(char *p, char kind, size_t n)
{
    char digits[24];
    char *d = utoa_end(n, digits + sizeof(digits));
    size_t k = (size_t)(digits + sizeof(digits) - d);

    *p++ = kind;
    memcpy(p, d, k);
    p += k;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* The RESP form of @argc arguments, as redisFormatCommandArgv() makes it,
 * without its sprintf per argument: a results entry is written for every
 * task, so this is on the hot path. Returns the length, or -ENOMEM. */
static int resp_format(const struct resp_arg *argv, size_t argc, char **out)
{
    size_t total = 1 + 22 + 2;
    char *buf, *p;

    for (size_t i = 0; i < argc; i++) {
        total += 1 + 22 + 2 + argv[i].len + 2;
    }
    buf = malloc(total);
    if (!buf) {
        *out = NULL;
        return -ENOMEM;
    }
    p = put_header(buf, '*', argc);
    for (size_t i = 0; i < argc; i++) {
        p = put_header(p, '$', argv[i].len);
        memcpy(p, argv[i].s, argv[i].len);
        p += argv[i].len;
        *p++ = '\r';
        *p++ = '\n';
    }
    *out = buf;
    return (int)(p - buf);
}

#define RESP_TEXT(text) ((struct resp_arg){(text), sizeof(text) - 1})
#define RESP_STR(str) ((struct resp_arg){(str), strlen(str)})

int format_result(const char *stream, long long maxlen,
                  const struct result_fields *f, char **out)
{
    char attempt[16], duration[24], exit_code[16], cap[24];
    char sig[16] = "", rss[24] = "", user[32] = "", sys[32] = "";
    struct resp_arg argv[32];
    size_t argc = 0;

    snprintf(attempt, sizeof(attempt), "%u", f->attempt);
    snprintf(duration, sizeof(duration), "%lld",
             f->duration_ms < 0 ? 0 : f->duration_ms);
    snprintf(exit_code, sizeof(exit_code), "%d", f->exit_code);
    if (f->has_usage) {
        if (f->signal > 0) {
            snprintf(sig, sizeof(sig), "%d", f->signal);
        }
        snprintf(rss, sizeof(rss), "%ld", f->maxrss_kb);
        snprintf(user, sizeof(user), "%.6f", f->user_s);
        snprintf(sys, sizeof(sys), "%.6f", f->sys_s);
    }
    argv[argc++] = RESP_TEXT("XADD");
    argv[argc++] = RESP_STR(stream);
    if (maxlen > 0) {
        snprintf(cap, sizeof(cap), "%lld", maxlen);
        argv[argc++] = RESP_TEXT("MAXLEN");
        argv[argc++] = RESP_TEXT("~");
        argv[argc++] = RESP_STR(cap);
    }
    argv[argc++] = RESP_TEXT("*");
    argv[argc++] = RESP_TEXT(STREAMS_FIELD_TASK);
    argv[argc++] = RESP_STR(f->task);
    argv[argc++] = RESP_TEXT(STREAMS_FIELD_STATUS);
    argv[argc++] = RESP_STR(f->status);
    argv[argc++] = RESP_TEXT(STREAMS_FIELD_ATTEMPT);
    argv[argc++] = RESP_STR(attempt);
    argv[argc++] = RESP_TEXT(STREAMS_FIELD_MINION);
    argv[argc++] = RESP_STR(f->minion);
    argv[argc++] = RESP_TEXT(STREAMS_FIELD_DURATION_MS);
    argv[argc++] = RESP_STR(duration);
    argv[argc++] = RESP_TEXT(STREAMS_FIELD_EXIT_CODE);
    argv[argc++] = RESP_STR(exit_code);
    argv[argc++] = RESP_TEXT(STREAMS_FIELD_OUTPUT);
    /* The output is binary-safe and not NUL-terminated. */
    argv[argc++] = (struct resp_arg){f->output ? f->output : "",
                                     f->output ? f->output_len : 0};
    argv[argc++] = RESP_TEXT(STREAMS_FIELD_ERROR);
    argv[argc++] = RESP_STR(f->error ? f->error : "");
    if (!f->has_usage) {
        return resp_format(argv, argc, out); /* no process: no resources */
    }
    argv[argc++] = RESP_TEXT(STREAMS_FIELD_SIGNAL);
    argv[argc++] = RESP_STR(sig);
    argv[argc++] = RESP_TEXT(STREAMS_FIELD_MAXRSS_KB);
    argv[argc++] = RESP_STR(rss);
    argv[argc++] = RESP_TEXT(STREAMS_FIELD_USER_S);
    argv[argc++] = RESP_STR(user);
    argv[argc++] = RESP_TEXT(STREAMS_FIELD_SYS_S);
    argv[argc++] = RESP_STR(sys);
    return resp_format(argv, argc, out);
}

int format_with_ids(const char *const *head, size_t nhead, const char *ids,
                    size_t n, char **out)
{
    const char **argv = malloc((nhead + n) * sizeof(*argv));
    int len;

    *out = NULL;
    if (!argv) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < nhead; i++) {
        argv[i] = head[i];
    }
    for (size_t i = 0; i < n; i++) {
        argv[nhead + i] = ids + i * RID_MAX;
    }
    len = redisFormatCommandArgv(out, (int)(nhead + n), argv, NULL);
    free(argv);
    return len < 0 ? -ENOMEM : len;
}
