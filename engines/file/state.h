/* SPDX-License-Identifier: MIT */
/*
 * engines/file/state.h: the file engine's state directory (MINION_FILE_STATE).
 *
 * Plain POSIX, no core and no event loop, so it is unit-tested on its own.
 * Every lock is a non-blocking fcntl() record lock (open file description
 * locks where the kernel has them): they work on NFS, vanish with their
 * process, and never stall the caller.
 *
 * Layout of DIR:
 *
 *   cursor          "OFFSET LINE PARTIAL\n", fixed width: the byte offset in
 *                   MINION_FILE where the first unclaimed line starts, and
 *                   that line's number. PARTIAL is 1 only in a cursor left
 *                   by an older minionize, which took a last line without
 *                   its newline: a "\n" found at OFFSET then ends that line
 *                   rather than starting a new one. Its fcntl write lock is
 *                   the directory's global lock: claims, adoptions and
 *                   dead-letter appends happen under it.
 *   dead.jsonl      dead letters, one JSON object per line: {"line", "param",
 *                   "error", "attempts", "minion", "time"}.
 *   journal/ID.lock held (fcntl write lock) by the live minion ID for its
 *                   whole life: whoever can lock it knows ID is dead.
 *   journal/ID.journal
 *                   minion ID's append-only log, one write(2) per record so a
 *                   kill -9 loses nothing written:
 *                     C LINE OFFSET LEN ATTEMPT   claimed; ATTEMPT is the
 *                                                 delivery it will be
 *                     S LINE ATTEMPT              that delivery starts now
 *                     R LINE ATTEMPT              it was released unfinished
 *                                                 (a stop): it does not count
 *                     F LINE ATTEMPT ERROR        that attempt failed
 *                     W LINE ATTEMPT TIME         the run after failed
 *                                                 attempt ATTEMPT may not
 *                                                 start before TIME (epoch
 *                                                 seconds, "%.3f"), written
 *                                                 with its F in one write
 *                     Z LINE ATTEMPTS ERROR       dead, letter not yet written
 *                     D LINE                      done (acked)
 *                     X LINE                      dead letter written
 *                   ERROR is percent-encoded (%XX for "%" and control bytes).
 *   journal/ID.tmp  a compaction of ID.journal in progress.
 *
 * New record types are how the format grows: a replay skips a type it does
 * not know, so an older minionize reads a newer journal (it only runs a
 * delayed retry early, as it ignores W), and a journal without W records
 * (an older state directory) simply has no delays.
 *
 * MINION_RETRY_DELAY: a failed line's W record holds the wall-clock time
 * before which no minion runs it again: its owner keeps it in a waiting
 * heap until then (and drains only once it has run), and a restart or an
 * adopter that replays the journal keeps the wait. Wall-clock time, as the
 * minions sharing the directory may run on several hosts: their clocks
 * are assumed to agree to well within a delay.
 *
 * A line is claimed only once its "\n" is in the file: a writer that
 * appends a line in several write(2)s never has it split, and an
 * unterminated last line waits at the cursor (fstate_tail) until its
 * newline comes, keeping its physical line number.
 *
 * A claim writes its C records before it advances the cursor: a kill -9
 * between the two leaves lines claimed in the journal but ahead of the
 * cursor, and replay drops claims at or past the cursor, so nothing is lost
 * and nothing runs twice. A minion that can lock a dead minion's ID.lock
 * adopts its journal under the global lock: the lines not done (with their
 * attempt counts and last error) are copied into its own journal, then the
 * dead journal is removed.
 *
 * A delivery that started (S) and never ended (no F, Z, D or R after it)
 * died with its minion, maybe because the param itself kills it: replay
 * counts it as a failed attempt, as Redis counts a delivery, so a param
 * that keeps crashing its minions is dead-lettered ("delivered N times
 * without finishing") after MINION_MAX_ATTEMPTS deliveries instead of
 * blocking the lines after it forever. A run released at a stop (R) runs
 * again with the same attempt number.
 *
 * The minion's own shortage of descriptors or memory is never fatal here:
 * a call that fails with -EMFILE, -ENFILE or -ENOMEM wrote nothing it
 * would have to take back (no record, no cursor move, no letter) and
 * leaves every line where it was, so the caller may simply call again
 * later. What an adoption finished before it failed stays done: those
 * journals are in ours and gone. A failed write is never reported so,
 * whatever its errno (it may have left part of its bytes): it is -EIO or
 * the write's own error, such as -ENOSPC. Settling (ack, fail, dead,
 * release) cannot fail for want of memory: records are built in a buffer
 * reserved at fstate_new, and an error text there is no memory to keep is
 * replaced by a short one.
 */
#ifndef ENGINES_FILE_STATE_H
#define ENGINES_FILE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "lines.h"

struct fstate;

/* One line this minion owns: claimed, adopted or replayed, not yet done. */
struct fline {
    uint64_t line;
    uint64_t offset;     /* in MINION_FILE */
    size_t len;          /* param bytes, without "\r\n" */
    unsigned attempt;    /* of its current or next delivery, from 1 */
    unsigned failed;     /* the last failed attempt; 0: none */
    unsigned running;    /* the delivery started and not settled; 0: none */
    char *error;         /* that failure's error, or NULL */
    double not_before;   /* retry delay: epoch seconds its next run waits
                            for (W record); 0: none */
    int dead;            /* dead: waiting for its letter to be written */
    int report;          /* dead by replay, not by a verdict of the core:
                            fstate_flush_dead hands it to the report hook */
    const char *data;    /* its bytes, set by fstate_claim / fstate_next; valid
                            until the next call of either */
    struct fline *hnext; /* owned-set chain */
    struct fline *qnext; /* ready or dead queue */
};

/*
 * Open (creating what is missing) the state directory @dir for minion @id,
 * reading lines from @fd (a regular file, borrowed; it must stay open until
 * fstate_free). Locks the minion's own lock and replays its own journal, if
 * a previous run with the same @id left one. Lines of @shard only.
 * Returns: new state; NULL with one line in @err.
 */
struct fstate *fstate_new(const char *dir, const char *id, int fd,
                          const struct lines_shard *shard,
                          unsigned max_attempts, char *err, size_t errlen);

/* Close everything. When every line is settled, also remove this minion's
 * journal and lock; otherwise leave them for a restart or an adopter.
 * Accepts NULL. */
void fstate_free(struct fstate *st);

/* The last error, one line. */
const char *fstate_error(const struct fstate *st);

/* Take the global lock without waiting. Returns 0, -EAGAIN when another
 * minion holds it, or another negative errno. */
int fstate_lock(struct fstate *st);
void fstate_unlock(struct fstate *st);

/* Under the lock: adopt the journals of dead minions. Their lines join the
 * ready queue (or the dead queue when out of attempts).
 * Returns: the number of lines adopted, or a negative errno. */
int fstate_adopt(struct fstate *st);

/*
 * Under the lock: claim up to @max new lines from the cursor into @out (the
 * lines are owned by @st; their data is valid until the next claim). Lines
 * without their "\n" are never claimed. May claim fewer than @max even when
 * more lines exist: call again. The lines claimed are started (their S
 * records are written): deliver each, or give it back with fstate_release.
 * Returns: the number claimed (> 0); 0 at the end of the file (see
 * fstate_tail); -EAGAIN when a writer holds MINION_FILE and only its last,
 * unterminated line is left; or another negative errno.
 */
int fstate_claim(struct fstate *st, unsigned max, struct fline **out);

/* After a claim that returned 0: the number of bytes of the unterminated
 * last line waiting for its newline (a line of this shard, not blank), and
 * its number in *line; 0 when there is none. */
size_t fstate_tail(const struct fstate *st, uint64_t *line);

/* Called by fstate_flush_dead once the letter of a line marked "report"
 * (out of attempts when replayed or adopted, not by a verdict) is written.
 * Borrows: fl, its data included, valid until this returns. */
typedef void (*fstate_dead_fn)(void *arg, const struct fline *fl);
void fstate_on_dead(struct fstate *st, fstate_dead_fn fn, void *arg);

/* Under the lock: append the queued dead letters to dead.jsonl. Returns 0
 * or a negative errno. */
int fstate_flush_dead(struct fstate *st);

/* The next ready line (replayed, adopted, or failed and to be retried;
 * waiting lines whose time has come join the ready queue first),
 * with its data read back from the file, started as a claim is; NULL when
 * none. Sets *rc to 0, or to a negative errno (and returns NULL) when the
 * file cannot be read or the journal written. */
struct fline *fstate_next(struct fstate *st, int *rc);

/* Settle @fl. Each writes one journal record and returns 0 or a negative
 * errno. ack frees @fl; fail puts it back in the ready queue for attempt
 * @attempt + 1; dead queues its letter for fstate_flush_dead, which frees
 * it. Borrows: error (copied). */
int fstate_ack(struct fstate *st, struct fline *fl);
int fstate_fail(struct fstate *st, struct fline *fl, unsigned attempt,
                const char *error);
/* fstate_fail, with the next run held until @not_before (epoch seconds;
 * 0 or a time past: at once): the line waits apart (fstate_waiting), not
 * in the ready queue, until fstate_next finds its time has come. Needs no
 * memory either. */
int fstate_fail_until(struct fstate *st, struct fline *fl, unsigned attempt,
                      const char *error, double not_before);
int fstate_dead(struct fstate *st, struct fline *fl, unsigned attempts,
                const char *error);

/* Put @fl, taken but not run (or interrupted by a stop), back at the head
 * of the ready queue with the same attempt. It stays claimed; its start is
 * withdrawn with an R record, so the run is not counted. Returns 0 or a
 * negative errno (the line is back in the queue either way). */
int fstate_release(struct fstate *st, struct fline *fl);

/* Lines owned (delivered, ready, waiting out a retry delay or dead);
 * ready; waiting; dead letters waiting. */
size_t fstate_owned(const struct fstate *st);
size_t fstate_ready(const struct fstate *st);
size_t fstate_waiting(const struct fstate *st);
size_t fstate_dead_pending(const struct fstate *st);

/* The earliest time (epoch seconds) a waiting line is due; 0 when none
 * waits. */
double fstate_next_due(const struct fstate *st);

/* Rewrite the journal down to the lines still owned once it is larger than
 * @limit bytes. Returns 0 or a negative errno. */
int fstate_compact(struct fstate *st, uint64_t limit);

/* ---- exposed for the unit tests ---- */

/* Percent-encode @s (NUL-terminated) into @dst (room for 3 * strlen + 1). */
void fstate_pct_encode(char *dst, const char *s);
/* Decode @len bytes of @s in place-safe fashion into @dst (room for
 * len + 1). */
void fstate_pct_decode(char *dst, const char *s, size_t len);
/* Append @len bytes of @s as a JSON string (with quotes) to @dst (room for
 * 6 * len + 3); invalid UTF-8 becomes U+FFFD. Returns the bytes written. */
size_t fstate_json_string(char *dst, const char *s, size_t len);

#endif
