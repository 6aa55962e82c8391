#!/bin/bash
# SPDX-License-Identifier: MIT
# MINION_FILE_STATE survives kill -9: a restarted minion (a new MINION_ID,
# which adopts the dead one's journal, or the same MINION_ID, which replays
# its own) finishes the rest; nothing is lost, and only lines in flight at
# the kill (at most -j of them) may run twice.
. "$top_srcdir/tests/integration/lib.sh"
t_init
[ -e "$top_builddir/callbacks/.libs/process.so" ] ||
    t_skip "the process callback is not built"

J=3
seq 300 >in
export MINION_FILE=in

# has_lines N: out has at least N lines (for t_wait_until).
has_lines() {
    [ "$(cat out 2>/dev/null | wc -l)" -ge "$1" ]
}

# kill_and_resume ID1 ID2: run ID1 until some lines are done, kill -9 it,
# then run ID2 to the end. Empty ids take the default (HOSTNAME-PID).
kill_and_resume() {
    local id1=$1 id2=$2 minion dups n
    rm -rf st out
    # One O_APPEND write per line: a line is either fully in out or absent.
    # No timeout(1) wrapper: the kill must hit minionize itself.
    env ${id1:+"MINION_ID=$id1"} MINION_FILE_STATE=st "$MINIONIZE" -q -j$J \
        sh -c 'sleep 0.02; echo "$1" >>out' sh 2>err1 &
    minion=$!
    t_track "$minion"
    t_wait_until 60 has_lines 60 ||
        t_fail "the first minion did not get going"
    kill -9 "$minion"
    wait "$minion" 2>/dev/null
    n=$(wc -l <out)
    [ "$n" -lt 300 ] || t_fail "the first minion finished before the kill"
    # Its children run on in their own process group: let them end.
    sleep 0.5
    [ -n "$(ls st/journal/*.journal 2>/dev/null)" ] ||
        t_fail "no journal left by the killed minion"
    env ${id2:+"MINION_ID=$id2"} MINION_FILE_STATE=st timeout 120 "$MINIONIZE" -q -j$J \
        sh -c 'echo "$1" >>out' sh 2>err2
    rc=$?
    [ "$rc" -eq 0 ] || { cat err2 >&2; t_fail "the restart exited $rc"; }
    sort -n out | uniq >got
    cmp -s in got || t_fail "lines lost: $(comm -23 in got | head)"
    dups=$(sort -n out | uniq -d | wc -l)
    [ "$dups" -le "$J" ] ||
        t_fail "$dups lines ran twice (at most $J were in flight)"
    [ -z "$(ls st/journal)" ] || t_fail "journals left: $(ls st/journal)"
    echo "killed after $n lines, $dups ran twice"
}

kill_and_resume "" ""
t_ok "kill -9, restart with a new MINION_ID: adopted, nothing lost"
kill_and_resume fixed fixed
t_ok "kill -9, restart with the same MINION_ID: replayed, nothing lost"

# SIGTERM: in-flight lines finish (or stay claimed), the rest resumes.
rm -rf st out
MINION_FILE_STATE=st "$MINIONIZE" -q -j$J \
    sh -c 'sleep 0.02; echo "$1" >>out' sh 2>err1 &
minion=$!
t_track "$minion"
t_wait_until 60 has_lines 30 ||
    t_fail "the minion did not get going"
kill -TERM "$minion"
t_wait_until 30 eval '! kill -0 "$minion"' || t_fail "SIGTERM: still running"
wait "$minion"
rc=$?
[ "$rc" -eq 0 ] || { cat err1 >&2; t_fail "SIGTERM: exit $rc"; }
MINION_FILE_STATE=st timeout 120 "$MINIONIZE" -q -j$J \
    sh -c 'echo "$1" >>out' sh 2>err2 ||
    t_fail "resume after SIGTERM failed: $(cat err2)"
sort -n out >got
cmp -s in got || t_fail "after SIGTERM: lost or repeated lines"
t_ok "SIGTERM then restart: every line exactly once"
