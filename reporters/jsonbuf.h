/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer for building one JSON line, and the string escaper
 * of the json reporter. Pure code with no core dependency, so it is unit
 * tested on its own (tests/reporters/test_jsonbuf.c).
 */
#ifndef MINION_JSONBUF_H
#define MINION_JSONBUF_H

#include <stddef.h>

struct jsonbuf {
    char *data; /* not NUL-terminated */
    size_t len;
    size_t cap;
    int oom; /* set once an allocation failed; later appends do nothing */
};

/* Ready an embedded buffer (empty, nothing allocated). */
void jsonbuf_init(struct jsonbuf *b);
/* Free the buffer's memory; accepts a buffer never written to. */
void jsonbuf_fini(struct jsonbuf *b);
/* Forget the contents, keep the memory for the next line. */
void jsonbuf_reset(struct jsonbuf *b);

/* Append bytes as they are. Borrows: s. */
void jsonbuf_append(struct jsonbuf *b, const char *s, size_t len);
/* Append a NUL-terminated string as it is. Borrows: s. */
void jsonbuf_puts(struct jsonbuf *b, const char *s);
/* Append a number in a form JSON accepts: %.6f, and 0 for NaN/infinity. */
void jsonbuf_double(struct jsonbuf *b, double v);
void jsonbuf_llong(struct jsonbuf *b, long long v);

/*
 * Append @s as one JSON string, quotes included. Valid UTF-8 is kept as it
 * is; '"', '\\' and control bytes (NUL included) are escaped (\n, \t, ...,
 * else \u00XX), DEL too. A byte that is not part of valid UTF-8 (a stray
 * continuation byte, a truncated or overlong sequence, a surrogate or a code
 * point above U+10FFFF) becomes \uefXX, a private-use code point U+EF80 to
 * U+EFFF whose low byte is the raw byte (0x80-0xFF): every such line stays
 * valid JSON, and the original bytes can be recovered by mapping those code
 * points back, which is lossless unless the input itself held them.
 * Borrows: s (len bytes, NULs allowed).
 */
void jsonbuf_string(struct jsonbuf *b, const char *s, size_t len);
/* The same without the quotes, to build a string from parts. */
void jsonbuf_escape(struct jsonbuf *b, const char *s, size_t len);

#endif
