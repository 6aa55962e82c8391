/* SPDX-License-Identifier: MIT */
/* For the adapters' cmocka tests: run a libevent loop until a counter the
 * callbacks bump reaches a target, with a deadline, so no test can hang. */
#ifndef TESTS_LOOP_UNTIL_H
#define TESTS_LOOP_UNTIL_H

#include <event2/event.h>

static void loop_until_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

/* Run @base until *@counter reaches @target, @limit_s seconds at most;
 * past that, fail the test naming @what. */
static void loop_until(struct event_base *base, const int *counter, int target,
                       int limit_s, const char *what)
{
    const struct timeval limit = {limit_s, 0};
    int timed_out = 0;
    struct event *deadline = evtimer_new(base, loop_until_deadline, &timed_out);

    assert_non_null(deadline);
    evtimer_add(deadline, &limit);
    while (*counter < target && !timed_out) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    event_free(deadline);
    if (*counter < target) {
        fail_msg("timed out after %d s waiting for %s: %d of %d", limit_s, what,
                 *counter, target);
    }
}

#endif
