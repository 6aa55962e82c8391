#!/bin/bash
# SPDX-License-Identifier: MIT
# process: SIGTERM to the minion stops the running programs' process groups
# once MINION_GRACE is over; a second SIGTERM escalates to SIGKILL at once,
# even for a program that ignores SIGTERM and a long MINION_KILL_AFTER.
. "$top_srcdir/tests/integration/lib.sh"
t_init

dead() {
    local state
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -z "$state" ] || [ "$state" = Z ] || [ "$state" = X ]
}

# minion_run SCRIPT: start a minion on one param running sh -c SCRIPT, and
# wait until the program has written its pid to prog.pid.
minion_run() {
    rm -f prog.pid
    echo p >in
    MINION_GRACE=0.5 MINION_KILL_AFTER=60s "$MINIONIZE" sh -c "$1" <in \
        >out 2>err &
    MPID=$!
    t_track "$MPID"
    t_wait_until 10 test -s prog.pid || t_fail "the program did not start"
    PPID_PROG=$(cat prog.pid)
}

# wait_exit SECONDS: the minion must be gone within SECONDS.
wait_exit() {
    t_wait_until "$1" dead "$MPID" || { cat err >&2; t_fail "minion still runs"; }
    wait "$MPID" 2>/dev/null
}

minion_run 'sleep 30 & echo $! >prog.pid; wait'
start=$(date +%s)
kill -TERM "$MPID"
wait_exit 8
t_wait_until 5 dead "$PPID_PROG" || t_fail "the program's sleep survived"
t_ok "SIGTERM: the program group stopped after the grace ($(($(date +%s) - start))s)"

# SIGTERM ignored by the shell and its sleep: the first signal's cancel
# cannot stop it, MINION_KILL_AFTER is 60s, the second signal kills now.
minion_run 'trap "" TERM; sleep 30 & echo $! >prog.pid; wait'
kill -TERM "$MPID"
sleep 1.5
dead "$PPID_PROG" && t_fail "SIGTERM should have been ignored"
start=$(date +%s)
kill -TERM "$MPID"
wait_exit 8
t_wait_until 5 dead "$PPID_PROG" || t_fail "the program survived"
t_ok "second SIGTERM: SIGKILL at once ($(($(date +%s) - start))s)"
