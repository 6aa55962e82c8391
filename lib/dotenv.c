/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dotenv.h"

struct parser {
    const char *p, *end;
    int line;
    char *value; /* the value being built */
    size_t len, cap;
};

static int push(struct parser *ps, char c)
{
    if (ps->len + 1 >= ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 64;
        char *v = realloc(ps->value, cap);
        if (!v) {
            return -1;
        }
        ps->value = v;
        ps->cap = cap;
    }
    ps->value[ps->len++] = c;
    ps->value[ps->len] = '\0';
    return 0;
}

static void skip_blanks(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t')) {
        ps->p++;
    }
}

static void skip_to_eol(struct parser *ps)
{
    while (ps->p < ps->end && *ps->p != '\n') {
        ps->p++;
    }
}

static int is_key_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static int is_key_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.';
}

/* Double quotes: escapes, and the value may span lines. */
static const char *parse_double(struct parser *ps)
{
    ps->p++;
    while (ps->p < ps->end && *ps->p != '"') {
        char c = *ps->p++;
        if (c == '\n') {
            ps->line++;
        } else if (c == '\\' && ps->p < ps->end) {
            char e = *ps->p++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '"':
            case '\\':
            case '$':
            case '`': c = e; break;
            default:
                if (push(ps, '\\') < 0) {
                    return "out of memory";
                }
                c = e;
            }
        }
        if (push(ps, c) < 0) {
            return "out of memory";
        }
    }
    if (ps->p >= ps->end) {
        return "unterminated double quote";
    }
    ps->p++;
    return NULL;
}

static const char *parse_single(struct parser *ps)
{
    ps->p++;
    while (ps->p < ps->end && *ps->p != '\'') {
        if (*ps->p == '\n') {
            ps->line++;
        }
        if (push(ps, *ps->p++) < 0) {
            return "out of memory";
        }
    }
    if (ps->p >= ps->end) {
        return "unterminated single quote";
    }
    ps->p++;
    return NULL;
}

/* Unquoted: up to the end of the line or a " #" comment, trailing blanks
 * trimmed. */
static const char *parse_bare(struct parser *ps)
{
    while (ps->p < ps->end && *ps->p != '\n' && *ps->p != '\r') {
        if (*ps->p == '#' && ps->len > 0 &&
            (ps->value[ps->len - 1] == ' ' || ps->value[ps->len - 1] == '\t')) {
            break;
        }
        if (push(ps, *ps->p++) < 0) {
            return "out of memory";
        }
    }
    while (ps->len > 0 &&
           (ps->value[ps->len - 1] == ' ' || ps->value[ps->len - 1] == '\t')) {
        ps->value[--ps->len] = '\0';
    }
    return NULL;
}

/* One non-blank line. Returns NULL or the reason it is malformed. */
static const char *parse_assignment(struct parser *ps, char *key, size_t keycap)
{
    const char *why;
    size_t klen = 0;

    if ((size_t)(ps->end - ps->p) > 7 && strncmp(ps->p, "export", 6) == 0 &&
        (ps->p[6] == ' ' || ps->p[6] == '\t')) {
        ps->p += 6;
        skip_blanks(ps);
    }
    if (ps->p >= ps->end || !is_key_start(*ps->p)) {
        return "expected KEY=VALUE";
    }
    while (ps->p < ps->end && is_key_char(*ps->p)) {
        if (klen + 1 >= keycap) {
            return "key too long";
        }
        key[klen++] = *ps->p++;
    }
    key[klen] = '\0';
    skip_blanks(ps);
    if (ps->p >= ps->end || *ps->p != '=') {
        return "expected '=' after the key";
    }
    ps->p++;
    skip_blanks(ps);
    ps->len = 0;
    if (push(ps, 'x') < 0) { /* make sure value is a valid string */
        return "out of memory";
    }
    ps->len = 0;
    ps->value[0] = '\0';
    if (ps->p < ps->end && *ps->p == '"') {
        why = parse_double(ps);
    } else if (ps->p < ps->end && *ps->p == '\'') {
        why = parse_single(ps);
    } else {
        return parse_bare(ps);
    }
    if (why) {
        return why;
    }
    /* After a closing quote only blanks or a comment may follow. */
    skip_blanks(ps);
    if (ps->p < ps->end && *ps->p == '\r') {
        ps->p++;
    }
    if (ps->p < ps->end && *ps->p != '\n' && *ps->p != '#') {
        return "unexpected text after the closing quote";
    }
    return NULL;
}

int dotenv_parse(const char *text, size_t len, dotenv_fn fn, void *arg,
                 char *err, size_t errlen)
{
    struct parser ps = {.p = text, .end = text + len, .line = 1};
    char key[256];
    int rc = 0;

    /* Editors on some systems start a UTF-8 file with a byte-order mark. */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        ps.p += 3;
    }

    while (ps.p < ps.end) {
        int line = ps.line;
        skip_blanks(&ps);
        if (ps.p >= ps.end) {
            break;
        }
        if (*ps.p == '#' || *ps.p == '\n' || *ps.p == '\r') {
            skip_to_eol(&ps);
        } else {
            const char *why = parse_assignment(&ps, key, sizeof(key));
            if (why) {
                snprintf(err, errlen, "line %d: %s", line, why);
                rc = -1;
                break;
            }
            if (fn(key, ps.value, arg) != 0) {
                break;
            }
            skip_to_eol(&ps);
        }
        if (ps.p < ps.end) { /* the newline */
            ps.p++;
            ps.line++;
        }
    }
    free(ps.value);
    return rc;
}
