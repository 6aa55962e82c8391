/* SPDX-License-Identifier: MIT */
/*
 * The Redis Streams schema: every key, field name and default that the
 * redis engine writes and minion-submit and minion-status read, spelled
 * once. engines/redis/README.md describes what each holds.
 *
 *   <stream>                 params: one entry per param, field "param"
 *                            (or any fields: the entry is then the param,
 *                            as a JSON object)
 *   <stream>:results         one entry per finished run (REDIS_RESULTS)
 *   <stream>:dead            params that failed for good (REDIS_DEAD)
 *   <stream>:minions         hash: minion id -> last heartbeat (epoch ms)
 *   <stream>:minion:<id>     hash: one minion's state and counts
 *   <stream>:trim            string: whose turn it is to trim (1 s)
 */
#ifndef LIB_STREAMS_H
#define LIB_STREAMS_H

#include <stddef.h>

/* Defaults of the settings (as text: they go through the option parser). */
#define STREAMS_DEFAULT_URL "redis://localhost:6379"
#define STREAMS_DEFAULT_STREAM "minionize"
#define STREAMS_DEFAULT_GROUP "minions"
#define STREAMS_DEFAULT_CLAIM_IDLE_MS "30000"

/* Keys derived from the params stream's name. */
#define STREAMS_SUFFIX_RESULTS ":results"
#define STREAMS_SUFFIX_DEAD ":dead"
#define STREAMS_SUFFIX_MINIONS ":minions"
#define STREAMS_SUFFIX_MINION ":minion:" /* then the minion id */

/* A params entry. */
#define STREAMS_FIELD_PARAM "param"

/* A results entry, in the order the engine writes them. */
#define STREAMS_FIELD_TASK "task"     /* the param's entry id */
#define STREAMS_FIELD_STATUS "status" /* ok, failed, dead */
#define STREAMS_FIELD_ATTEMPT "attempt"
#define STREAMS_FIELD_MINION "minion"
#define STREAMS_FIELD_DURATION_MS "duration_ms"
#define STREAMS_FIELD_EXIT_CODE "exit_code"
#define STREAMS_FIELD_OUTPUT "output"
#define STREAMS_FIELD_ERROR "error"
/* The task process's resources; empty without a process of its own. */
#define STREAMS_FIELD_SIGNAL "signal" /* empty: it exited */
#define STREAMS_FIELD_MAXRSS_KB "maxrss_kb"
#define STREAMS_FIELD_USER_S "user_s"
#define STREAMS_FIELD_SYS_S "sys_s"

/* A dead letter: param, task and error as above, and the runs it had. */
#define STREAMS_FIELD_ATTEMPTS "attempts"

/* A minion's hash (<stream>:minion:<id>). */
#define STREAMS_FIELD_STATE "state" /* running, stopped */
#define STREAMS_FIELD_NODENAME "nodename"
#define STREAMS_FIELD_CONCURRENCY "concurrency"
#define STREAMS_FIELD_IN_FLIGHT "in_flight"
#define STREAMS_FIELD_OK "ok"
#define STREAMS_FIELD_FAILED "failed"
#define STREAMS_FIELD_DEAD "dead"
#define STREAMS_FIELD_STARTED "started"     /* epoch ms */
#define STREAMS_FIELD_LAST_SEEN "last_seen" /* epoch ms, Redis's clock */

/* REDIS_TRIM: trim the params stream below what every group still needs.
 * REDIS_RESULTS_MAXLEN: cap the results stream (approximately) at this
 * many entries; 0: no cap. */
#define STREAMS_DEFAULT_TRIM "1"
#define STREAMS_DEFAULT_RESULTS_MAXLEN "0"
/* Key of the once-a-second trim token: "<stream>:trim". */
#define STREAMS_SUFFIX_TRIM ":trim"
/* A minion's hash outlives its last beat by this many milliseconds. */
#define STREAMS_STATS_TTL_MS "86400000"

/* The keys of one params stream, defaults applied. */
struct streams_keys {
    char *stream;  /* the params */
    char *results; /* NULL when results are off (REDIS_RESULTS empty) */
    char *dead;
    char *minions; /* the heartbeat hash */
    char *trim;    /* the trim token (REDIS_TRIM) */
};

/* Fill @k for @stream. @results and @dead are the settings as given: NULL
 * for the default, "" for results off (dead letters cannot be off). Checks
 * that no key the engine writes feeds it or another one. Returns 0, or
 * -EINVAL / -ENOMEM with one line in @err (@k then holds nothing).
 * Returns: @k's strings; free them with streams_keys_fini(). */
int streams_keys_init(struct streams_keys *k, const char *stream,
                      const char *results, const char *dead, char *err,
                      size_t errlen);
/* Free @k's strings and zero it. Accepts a zeroed struct. */
void streams_keys_fini(struct streams_keys *k);

/* "<stream>:minion:<id>". Returns: new string, caller frees; NULL. */
char *streams_minion_key(const char *stream, const char *minion_id);

#endif
