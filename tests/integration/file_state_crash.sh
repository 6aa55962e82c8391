#!/bin/bash
# SPDX-License-Identifier: MIT
# MINION_FILE_STATE: a param whose run dies with its minion (kill -9, each
# time) counts that run as an attempt, whether a restart with the same
# MINION_ID replays the journal or a new minion adopts it; after
# MINION_MAX_ATTEMPTS deliveries it is dead-lettered with the redis
# engine's words and the lines after it run. A run released at a stop
# (SIGTERM, the grace over) does not count.
. "$top_srcdir/tests/integration/lib.sh"
t_init
[ -e "$top_builddir/callbacks/.libs/process.so" ] ||
    t_skip "the process callback is not built"

export MINION_FILE=in MINION_FILE_STATE=st MINION_MAX_ATTEMPTS=3
# "boom" stands for a param that kills its minion: it says it runs, then
# hangs until the test kills the minion (and it) with kill -9.
prog='echo "$1 $MINION_ATTEMPT" >>runs
      [ "$1" = boom ] || exit 0
      echo $$ >boom.pid; exec sleep 60'

# crash ID: run a minion until "boom" runs, then kill -9 it and its task.
crash() {
    local minion
    rm -f boom.pid
    env MINION_ID="$1" "$MINIONIZE" -q sh -c "$prog" sh 2>>err &
    minion=$!
    t_track "$minion"
    t_wait_until 30 test -s boom.pid || t_fail "boom did not run ($1)"
    kill -9 "$minion"
    wait "$minion" 2>/dev/null
    kill -9 "$(cat boom.pid)" 2>/dev/null
}

printf 'one\nboom\nthree\n' >in
crash m1 # attempt 1
crash m1 # attempt 2: the same MINION_ID replays its journal
crash m2 # attempt 3: a new minion adopts m1's journal
printf 'one 1\nboom 1\nboom 2\nboom 3\n' >want
cmp -s want runs || { diff want runs >&2; t_fail "attempts across crashes"; }
t_ok "each run cut short by kill -9 counts: attempts 1, 2, 3"

# The fourth minion must not run it again: dead-lettered, then "three".
rm -f boom.pid
MINION_ID=m3 "$MINIONIZE" -q sh -c "$prog" sh 2>err &
minion=$!
t_track "$minion"
t_wait_until 30 eval '! kill -0 "$minion" 2>/dev/null || test -e boom.pid' ||
    t_fail "the last minion did not end"
[ -e boom.pid ] && t_fail "boom ran a fourth time: $(cat runs)"
wait "$minion"
rc=$?
# Drained with a dead param, the one the engine reported: exit status 4
# (contract v2).
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "the last minion exited $rc"; }
printf 'one 1\nboom 1\nboom 2\nboom 3\nthree 1\n' >want
cmp -s want runs || { diff want runs >&2; t_fail "after the dead letter"; }
[ "$(wc -l <st/dead.jsonl)" -eq 1 ] || t_fail "dead.jsonl: $(cat st/dead.jsonl)"
grep -q '^{"line":2,"param":"boom","error":"delivered 3 times without finishing","attempts":3,"minion":"m3",' \
    st/dead.jsonl || t_fail "dead letter: $(cat st/dead.jsonl)"
grep -q 'task 2: delivered 3 times without finishing; dead-lettered' err ||
    t_fail "not logged: $(cat err)"
[ -z "$(ls st/journal)" ] || t_fail "journals left: $(ls st/journal)"
t_ok "after 3 deliveries: a dead letter with the redis engine's words"

# SIGTERM with the grace over kills the run and releases it: not counted,
# even with a single attempt allowed.
rm -rf st runs err
printf 'boom\n' >in
for run in 1 2; do
    rm -f boom.pid
    MINION_ID=s MINION_MAX_ATTEMPTS=1 MINION_GRACE=0.2 "$MINIONIZE" -q \
        sh -c "$prog" sh 2>>err &
    minion=$!
    t_track "$minion"
    t_wait_until 30 test -s boom.pid || t_fail "boom did not run (stop $run)"
    kill -TERM "$minion"
    t_wait_until 30 eval '! kill -0 "$minion" 2>/dev/null' ||
        t_fail "SIGTERM: still running"
    wait "$minion"
    kill -9 "$(cat boom.pid)" 2>/dev/null
done
printf 'boom 1\nboom 1\n' >want
cmp -s want runs || { diff want runs >&2; t_fail "a released run counted"; }
[ -s st/dead.jsonl ] && t_fail "dead after a stop: $(cat st/dead.jsonl)"
t_ok "a run released at a stop is not an attempt"
