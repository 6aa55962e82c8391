#!/bin/bash
# SPDX-License-Identifier: MIT
# How a minion ends when the batch world stops it or its program is broken:
# the checkpoint signals stop it like SIGTERM, MINION_STOP_EXIT is the
# status a scheduler reads to resubmit, MINION_HALT_DEAD gives up early.
. "$top_srcdir/tests/integration/lib.sh"
t_init

# A task that says when it started, then sleeps until its param's time.
cat >task.sh <<'SH'
#!/bin/sh
echo "$MINION_PARAM" >>started
sleep "$1"
echo "$MINION_PARAM" >>finished
SH
chmod +x task.sh
started() { [ -f started ] && [ "$(wc -l <started)" -ge "$1" ]; }

# stop_with SIGNAL GRACE SLEEP [ENV=VALUE...]: a minion of sleeping tasks
# stopped once its first task started; T_RC is its exit status.
stop_with() {
    local sig=$1 grace=$2 nap=$3
    shift 3
    rm -f started finished
    printf '%s\n' "$nap" "$nap" "$nap" >params
    t_minion m MINION_FILE=params MINION_GRACE="$grace" "$@" -- ./task.sh
    t_wait_until 10 started 1 || t_fail "$sig: no task started"
    kill -"$sig" "$T_MINION"
    t_wait_exit "$T_MINION" 10
}

# Each checkpoint signal stops the minion, and a task that finishes within
# the grace is acked: exit 0 without MINION_STOP_EXIT.
for sig in USR1 USR2 TERM HUP INT; do
    stop_with "$sig" 10 0.3
    [ "$T_RC" -eq 0 ] || t_fail "SIG$sig, task finished: exit $T_RC"
    [ "$(wc -l <started)" -eq 1 ] ||
        t_fail "SIG$sig: a param was taken after the signal"
    [ "$(wc -l <finished)" -eq 1 ] || t_fail "SIG$sig: the task did not end"
    grep -q "taking no more params" "$T_DIR/m.err" ||
        t_fail "SIG$sig: no stop line: $(cat "$T_DIR/m.err")"
done
t_ok "SIGUSR1 and SIGUSR2 stop a minion like SIGTERM"

# MINION_STOP_EXIT: the status of any stop by signal before the queue was
# drained, whether the task finished in the grace or was killed after it.
stop_with USR2 10 0.3 MINION_STOP_EXIT=99
[ "$T_RC" -eq 99 ] || t_fail "finished in the grace: exit $T_RC, not 99"
stop_with USR2 0.2 30
[ "$T_RC" -eq 1 ] || t_fail "killed at the end of the grace: exit $T_RC, not 1"
[ -f finished ] && t_fail "the killed task finished"
grep -q "released unfinished (attempt 1)" "$T_DIR/m.err" ||
    t_fail "no released line: $(cat "$T_DIR/m.err")"
stop_with USR1 0.2 30 MINION_STOP_EXIT=99
[ "$T_RC" -eq 99 ] || t_fail "killed, MINION_STOP_EXIT=99: exit $T_RC"
# A drained queue is no stop: the usual statuses.
echo 0 | MINION_STOP_EXIT=99 "$MINIONIZE" ./task.sh >out 2>err ||
    t_fail "drained with MINION_STOP_EXIT set: exit $?"
t_expect_exit 2 "$MINIONIZE" --set MINION_STOP_EXIT=256 true </dev/null 2>err
grep -q "MINION_STOP_EXIT must be an exit status from 0 to 255" err ||
    t_fail "bad MINION_STOP_EXIT: $(cat err)"
t_ok "MINION_STOP_EXIT is the status of a stop before the queue drained"

# MINION_HALT_DEAD=N: after N dead params no new one is taken, those in
# flight finish, exit 3 and one line saying why.
cat >fail.sh <<'SH'
#!/bin/sh
echo "$MINION_PARAM" >>ran
sleep 0.05
exit 1
SH
chmod +x fail.sh
rm -f ran
seq 100 | MINION_HALT_DEAD=3 MINION_MAX_ATTEMPTS=1 "$MINIONIZE" -j2 ./fail.sh \
    >out 2>err
rc=$?
[ "$rc" -eq 3 ] || t_fail "MINION_HALT_DEAD=3: exit $rc: $(cat err)"
n=$(wc -l <ran)
[ "$n" -ge 3 ] && [ "$n" -le 4 ] || t_fail "MINION_HALT_DEAD=3 ran $n params"
[ "$(grep -c 'halting' err)" -eq 1 ] || t_fail "halt lines: $(cat err)"
grep -q "error: halting: 3 params ended dead (MINION_HALT_DEAD=3)" err ||
    t_fail "halt line: $(grep halting err)"
# Attempts left: failures that will be retried are not dead.
rm -f ran
seq 100 | MINION_HALT_DEAD=2 MINION_MAX_ATTEMPTS=3 "$MINIONIZE" ./fail.sh \
    >out 2>err
[ $? -eq 3 ] || t_fail "MINION_HALT_DEAD=2 with retries: exit not 3"
[ "$(wc -l <ran)" -eq 6 ] || t_fail "2 dead after 3 attempts: $(wc -l <ran) runs"
t_ok "MINION_HALT_DEAD=N: in-flight tasks finish, exit 3, one line"

# MINION_HALT_DEAD=N%: judged once 10 params are finished.
cat >some.sh <<'SH'
#!/bin/sh
echo "$1" >>ran
[ $(( $1 % 4 )) -ne 0 ]
SH
chmod +x some.sh
rm -f ran
seq 1000 | MINION_HALT_DEAD=30% MINION_MAX_ATTEMPTS=1 "$MINIONIZE" ./some.sh \
    >out 2>err
[ $? -eq 4 ] || t_fail "25% dead under a 30% policy should drain (exit 4)"
rm -f ran
seq 1000 | MINION_HALT_DEAD=20% MINION_MAX_ATTEMPTS=1 "$MINIONIZE" ./some.sh \
    >out 2>err
[ $? -eq 3 ] || t_fail "25% dead under a 20% policy: not halted"
[ "$(wc -l <ran)" -eq 10 ] || t_fail "20%: $(wc -l <ran) runs, not 10"
grep -q "halting: 2 of 10 finished params ended dead, 20.0% (MINION_HALT_DEAD=20%)" err ||
    t_fail "share line: $(grep halting err)"
# One dead param of the first two is no sign of a broken program.
rm -f ran
seq 20 | MINION_HALT_DEAD=10% MINION_MAX_ATTEMPTS=1 "$MINIONIZE" sh -c \
    '[ "$0" != 2 ]' >out 2>err
[ $? -eq 3 ] || t_fail "10% policy: 1 dead of 10 should halt at 10"
grep -q "1 of 10 finished" err || t_fail "judged before 10: $(grep halting err)"
for bad in x 5x -1 101% %; do
    t_expect_exit 2 "$MINIONIZE" --set MINION_HALT_DEAD="$bad" true \
        </dev/null 2>err
    grep -q "MINION_HALT_DEAD must be a count" err || t_fail "bad $bad: $(cat err)"
done
t_ok "MINION_HALT_DEAD=N%: a share, judged after 10 finished params"

# A scheduler that stops a job (scancel) signals every process of it: the
# task's process may die of the SIGTERM before the minion handles its own.
# That run is released with the minion, not charged as a failed attempt
# nor started again; a task killed by SIGTERM alone is a failure as usual.
cat >victim.sh <<'SH'
#!/bin/sh
echo "$MINION_PARAM $MINION_ATTEMPT" >>started
echo $$ >child.pid
exec sleep 30
SH
chmod +x victim.sh
rm -f started child.pid
echo p >params
t_minion m MINION_FILE=params MINION_GRACE=10 -- ./victim.sh
t_wait_until 10 test -s child.pid || t_fail "scancel: no task started"
kill -TERM "$(cat child.pid)" "$T_MINION"
t_wait_exit "$T_MINION" 10
[ "$T_RC" -eq 1 ] || t_fail "scancel: exit $T_RC, not 1: $(cat "$T_DIR/m.err")"
grep -q "task 1 released unfinished (attempt 1)" "$T_DIR/m.err" ||
    t_fail "scancel: not released: $(cat "$T_DIR/m.err")"
grep -q "task 1 failed" "$T_DIR/m.err" && t_fail "scancel: charged: $(cat "$T_DIR/m.err")"
[ "$(wc -l <started)" -eq 1 ] || t_fail "scancel: started again: $(cat started)"
rm -f started child.pid
t_minion m MINION_FILE=params MINION_MAX_ATTEMPTS=2 -- ./victim.sh
t_wait_until 10 test -s child.pid || t_fail "SIGTERM to a task: no task started"
child=$(cat child.pid)
rm -f child.pid
kill -TERM "$child"
t_wait_until 10 test -s child.pid || t_fail "a task killed alone was not retried: $(cat "$T_DIR/m.err")"
grep -qx "p 2" started || t_fail "the retry is not attempt 2: $(cat started)"
kill -TERM "$(cat child.pid)" "$T_MINION"
t_wait_exit "$T_MINION" 10
t_ok "a task killed with its minion is released, not charged"
