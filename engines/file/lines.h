/* SPDX-License-Identifier: MIT */
/*
 * engines/file/lines.h: the file engine's line splitter and shard filter.
 *
 * Pure code (no core, no I/O) so the rules are unit-tested on their own:
 * one param per line, lines counted physically from 1 (blank ones too, so
 * ids and shards are stable), a trailing "\r" stripped, blank lines skipped,
 * and a shard "I/N" keeping the lines whose 0-based index modulo N is I-1.
 */
#ifndef ENGINES_FILE_LINES_H
#define ENGINES_FILE_LINES_H

#include <stddef.h>
#include <stdint.h>

/* Keep the lines whose 0-based physical index modulo @count is @index. */
struct lines_shard {
    uint64_t index; /* 0-based: I-1 */
    uint64_t count; /* N, at least 1 */
};

/* Parse "I/N" (1 <= I <= N) into @shard; NULL or "" keeps every line.
 * Returns 0, or -EINVAL when @text is malformed. */
int lines_shard_parse(const char *text, struct lines_shard *shard);

/*
 * A window on the input: bytes [pos, end) of @buf are read but not yet
 * consumed; buf[pos] is byte @offset of the input and starts physical line
 * @next (1-based).
 */
struct lines {
    char *buf;
    size_t cap, pos, end;
    uint64_t offset;
    uint64_t next;
    uint64_t phase; /* (next - 1) % shard count, kept without a division */
    int skip_nl;    /* the last line was taken unterminated at EOF: a "\n"
                       appended later ends it, and is not a new line */
};

/* One param line. */
struct lines_param {
    const char *data; /* in the window: valid until lines_space() */
    size_t len;       /* without "\n" and a trailing "\r" */
    uint64_t line;    /* physical line number, from 1 */
    uint64_t offset;  /* input offset of its first byte */
};

/* Set up an empty window of @cap bytes at offset 0, line 1.
 * Returns 0 or -ENOMEM. */
int lines_init(struct lines *l, size_t cap);
/* Free the window. Accepts a zeroed struct. */
void lines_fini(struct lines *l);

/* Empty the window and place it at input @offset, which starts line @line;
 * @skip_nl as in struct lines. */
void lines_reset(struct lines *l, const struct lines_shard *shard,
                 uint64_t offset, uint64_t line, int skip_nl);

/* Move to input @offset (line @line) when the window holds it, keeping the
 * bytes; else lines_reset(). Returns 1 when the bytes were kept. */
int lines_seek(struct lines *l, const struct lines_shard *shard,
               uint64_t offset, uint64_t line, int skip_nl);

/* Room to read more input into, making some by dropping consumed bytes or
 * growing the window. Invalidates earlier lines_param.data. Returns: the
 * free tail of the window (*room > 0 bytes); NULL on ENOMEM. */
char *lines_space(struct lines *l, size_t *room);

/* @n bytes were read into the room lines_space() gave. */
static inline void lines_added(struct lines *l, size_t n)
{
    l->end += n;
}

/* Input offset just past the window's bytes: where the next read goes. */
static inline uint64_t lines_end_offset(const struct lines *l)
{
    return l->offset + (l->end - l->pos);
}

/*
 * The next param in the window: blank lines and other shards' lines are
 * consumed and skipped. A last line without "\n" is taken only when @at_eof.
 * Returns 1 with @out filled, 0 when more input is needed (or, at EOF,
 * when there is nothing more).
 */
int lines_next(struct lines *l, const struct lines_shard *shard, int at_eof,
               struct lines_param *out);

/*
 * The params lines_next() would still give from the window with @at_eof,
 * without consuming any: a window that holds the end of the input counts
 * what is left to deliver, once, with no read of the input again.
 */
uint64_t lines_count(const struct lines *l, const struct lines_shard *shard,
                     int at_eof);

/*
 * The unterminated last line left in the window once lines_next() without
 * @at_eof has returned 0: consumes nothing. Returns 1 with @out filled when
 * that line is one of @shard's and not blank, else 0.
 */
int lines_tail(const struct lines *l, const struct lines_shard *shard,
               struct lines_param *out);

/* Write @v in decimal at @dst (room for 21 bytes), NUL-terminated.
 * Returns the number of digits. */
size_t lines_u64(char *dst, uint64_t v);

#endif
