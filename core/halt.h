/* SPDX-License-Identifier: MIT */
/* MINION_HALT_DEAD: when too many params ended dead, the minion stops
 * taking more (like GNU parallel's --halt soon,fail=N). */
#ifndef CORE_HALT_H
#define CORE_HALT_H

/* Below this many finished params a share is not judged: one dead param
 * out of two is no sign of a broken program. */
#define HALT_MIN_FINISHED 10

struct halt_policy {
    unsigned long long count; /* N: halt at N dead; 0: not by count */
    double percent;           /* N%: halt at that share; 0: not by share */
};

/* Parse "N" or "N%" ("0" and NULL: never). Returns 0, or -1 on bad text. */
int halt_parse(const char *text, struct halt_policy *out);

/* Whether @dead params among @finished (ok + dead: settled for good) reach
 * the policy. */
int halt_reached(const struct halt_policy *p, unsigned long long dead,
                 unsigned long long finished);

/* One line saying why, for the log: "5 params ended dead (MINION_HALT_DEAD=5)".
 */
void halt_describe(const struct halt_policy *p, unsigned long long dead,
                   unsigned long long finished, char *buf, unsigned len);

#endif
