#!/bin/bash
# SPDX-License-Identifier: MIT
# The checkpoint signals with MINION_FILE_STATE: SIGUSR2 (OAR's
# --checkpoint) and SIGUSR1 stop a minion like SIGTERM. Tasks still running
# when MINION_GRACE ends are killed and released: the minion exits 1, or
# MINION_STOP_EXIT; a restarted minion runs them with the attempt number
# they had (the cut run is not an attempt), and every param runs to the end
# exactly once. Tasks that finish within the grace: exit 0, or
# MINION_STOP_EXIT, as the queue was not drained.
. "$top_srcdir/tests/integration/lib.sh"
t_init
[ -e "$top_builddir/callbacks/.libs/process.so" ] ||
    t_skip "the process callback is not built"

cat >task.sh <<'EOF'
echo "start $1 $MINION_ATTEMPT $MINION_ID" >>log
sleep "$NAP"
echo "done $1 $MINION_ATTEMPT $MINION_ID" >>log
EOF
seq 4 >in
export MINION_FILE=in MINION_FILE_STATE=st

started() {
    [ "$(grep -c '^start' log 2>/dev/null)" -ge "$1" ]
}

# stop_mid_task SIGNAL NAP WANT [ENV=VALUE...]: a minion at -j2 taking
# NAP-second tasks gets SIGNAL once two have started, with a grace of
# 0.5 s; it must exit WANT. Then a restarted minion finishes the rest.
stop_mid_task() {
    local sig=$1 nap=$2 want=$3
    shift 3
    rm -rf st log
    t_minion first NAP="$nap" MINION_GRACE=0.5 "$@" -- -j2 sh task.sh
    t_wait_until 10 started 2 || t_fail "$sig: no task started"
    kill -"$sig" "$T_MINION"
    t_wait_exit "$T_MINION" 10
    [ "$T_RC" -eq "$want" ] ||
        { cat first.err >&2; t_fail "$sig $*: exit $T_RC, not $want"; }
    t_minion again NAP=0.05 -- -j2 sh task.sh
    t_wait_exit "$T_MINION" 20
    [ "$T_RC" -eq 0 ] || { cat again.err >&2; t_fail "restart: exit $T_RC"; }
    [ "$(grep '^done' log | cut -d' ' -f2 | sort -n | tr '\n' ' ')" = \
        "1 2 3 4 " ] || { cat log >&2; t_fail "$sig: not each param once"; }
    grep '^start' log | grep -qv '^start [0-9]* 1 ' &&
        { cat log >&2; t_fail "$sig: a run was not attempt 1"; }
    [ -z "$(ls st/journal)" ] || t_fail "journals left: $(ls st/journal)"
}

# Killed at the end of the grace: released, run again as attempt 1.
stop_mid_task USR2 5 1
[ "$(grep -c '^start [12] 1 again$' log)" -eq 2 ] ||
    { cat log >&2; t_fail "the released params were not run again"; }
grep -q 'released' first.err || t_fail "no word of the release"
t_ok "SIGUSR2: tasks killed after the grace, exit 1, rerun as attempt 1"

stop_mid_task USR2 5 99 MINION_STOP_EXIT=99
t_ok "SIGUSR2 with MINION_STOP_EXIT=99: exit 99"

stop_mid_task USR1 5 1
t_ok "SIGUSR1 stops the same way"

stop_mid_task USR1 5 99 MINION_STOP_EXIT=99
t_ok "SIGUSR1 with MINION_STOP_EXIT=99: exit 99"

# Finished within the grace (0.3 s tasks, 0.5 s grace): acked, not rerun.
stop_mid_task USR2 0.3 0
[ "$(grep -c '^done [12] 1 first$' log)" -eq 2 ] ||
    { cat log >&2; t_fail "the tasks did not finish within the grace"; }
t_ok "tasks finished within the grace: exit 0"

stop_mid_task USR2 0.3 99 MINION_STOP_EXIT=99
t_ok "tasks finished within the grace, MINION_STOP_EXIT=99: exit 99"
