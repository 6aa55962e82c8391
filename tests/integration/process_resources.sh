#!/bin/bash
# SPDX-License-Identifier: MIT
# process: the minion's own lack of descriptors is never charged to a
# param. A -j that cannot fit under the descriptor limit is refused at
# start; tasks that meet EMFILE anyway are held and started again later,
# not failed, and nothing is dead-lettered.
. "$top_srcdir/tests/integration/lib.sh"
t_init

FDHOG="$top_builddir/tests/plugins/.libs/fdhog.so"
[ -f "$FDHOG" ] || t_fail "fdhog.so not built: $FDHOG"

# -j 60 under a hard limit of 40 descriptors: one line, exit 2, and the
# params are still in their file (nothing was taken).
seq 100 >in
(ulimit -n 40 && MINION_FILE=in MINION_FILE_STATE=state \
    "$MINIONIZE" -j 60 true) >out 2>err
rc=$?
[ "$rc" -eq 2 ] || t_fail "-j 60 under ulimit -n 40: exit $rc, not 2: $(cat err)"
[ "$(wc -l <err)" -eq 1 ] || t_fail "more than one line: $(cat err)"
grep -q -- "-j 60 needs about .* over the limit of 40 (ulimit -n)" err ||
    t_fail "the refusal does not name the limit: $(cat err)"
t_ok "a -j that cannot fit is refused: $(cat err)"

# A soft limit below the hard one is raised: -j 60 runs under a soft
# limit of 40 when the hard limit allows it.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 200 ]; then
    (ulimit -Sn 40 && seq 120 | "$MINIONIZE" -j 60 true) >out 2>err ||
        t_fail "soft limit not raised: $(cat err)"
    # ... for the minion only: its tasks get the limit it was given.
    (ulimit -Sn 40 && echo x | "$MINIONIZE" sh -c 'ulimit -Sn') >out 2>err ||
        t_fail "limit run: $(cat err)"
    [ "$(cat out)" = 40 ] || t_fail "a task saw a soft limit of $(cat out), not 40"
    t_ok "the soft descriptor limit is raised to the hard one, not for tasks"
fi

# Every free descriptor taken for 0.5 s after the first task: the tasks
# that start meanwhile meet EMFILE and must wait, not fail.
seq 40 | FDHOG_MS=500 MINION_MAX_ATTEMPTS=1 timeout 60 \
    "$MINIONIZE" -j4 -r "$FDHOG,stdout" sh -c 'sleep 0.05' >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "EMFILE run exited $rc"; }
grep -q "took [1-9][0-9]* descriptors" err || t_fail "fdhog took nothing: $(cat err)"
grep -qE "cannot start task .*: (pipe|spawn [^:]*): Too many open files; holding it" err ||
    t_fail "no task met EMFILE (the test proves nothing): $(cat err)"
[ "$(grep -c "cannot start task" err)" -eq 1 ] ||
    t_fail "the hold is logged more than once: $(grep -c "cannot start task" err)"
[ "$(grep -c '^ok ' out)" -eq 40 ] || { cat out err >&2; t_fail "40 ok expected"; }
grep -qE '^(failed|dead) ' out && t_fail "a param was charged: $(grep -E '^(failed|dead) ' out)"
grep -q "done: 40 ok, 0 failed, 0 dead" err || t_fail "summary: $(tail -1 err)"
t_ok "EMFILE holds the tasks; 40 ok, none failed"
