#!/bin/bash
# SPDX-License-Identifier: MIT
# process: a task's processes, its whole group and not only the child the
# minion started, die with their minion, also when the minion is killed
# with SIGKILL; SIGHUP stops a minion like SIGTERM.
. "$top_srcdir/tests/integration/lib.sh"
t_init

# A marker only this test's task processes carry in their command line:
# sleep under another name. The pattern [g]uarded... matches the marker
# but not the command lines that search for it.
mark="guarded-$$-$RANDOM"
pattern="[g]${mark#g}"
ln -s "$(command -v sleep)" "$mark"
# Each task starts a grandchild in the background and waits on a second
# one: both must go with the minion.
cat >task.sh <<SH
#!/bin/sh
./$mark 300 &
echo started \$MINION_PARAM >>started
./$mark 301
SH
chmod +x task.sh

seq 3 >in
"$MINIONIZE" -j3 ./task.sh <in >out 2>err &
pid=$!
t_track $pid
t_wait_until 10 sh -c '[ "$(wc -l <started 2>/dev/null)" -eq 3 ]' ||
    t_fail "the tasks did not start: $(cat err)"
t_wait_until 5 sh -c "[ \$(pgrep -f '$pattern' | wc -l) -eq 6 ]" ||
    t_fail "expected 6 grandchildren, found $(pgrep -f "$pattern" | wc -l)"
kill -9 $pid
wait $pid 2>/dev/null
t_wait_until 5 sh -c "! pgrep -f '$pattern'" || {
    pgrep -af "$pattern" >&2
    pkill -9 -f "$pattern"
    t_fail "tasks outlived a minion killed by SIGKILL"
}
t_ok "kill -9 of the minion takes its tasks' whole process groups"

# The same with a state directory, where the restart must then run the
# params again, without the old runs still going.
rm -f started
MINION_FILE=in MINION_FILE_STATE=state MINION_ID=m1 "$MINIONIZE" -j3 \
    ./task.sh >out 2>err &
pid=$!
t_track $pid
t_wait_until 10 sh -c '[ "$(wc -l <started 2>/dev/null)" -eq 3 ]' ||
    t_fail "state dir: the tasks did not start: $(cat err)"
kill -9 $pid
wait $pid 2>/dev/null
t_wait_until 5 sh -c "! pgrep -f '$pattern'" ||
    { pkill -9 -f "$pattern"; t_fail "state dir: tasks outlived the minion"; }
t_ok "the same with a file state directory"

# SIGHUP is a stop signal: no new param, the task in flight finishes.
cat >quick.sh <<'SH'
#!/bin/sh
echo "began $1" >>runs
sleep 1
echo "finished $1" >>runs
SH
chmod +x quick.sh
mkfifo feed
"$MINIONIZE" -j1 ./quick.sh <feed >out 2>err &
pid=$!
t_track $pid
exec 3>feed
echo first >&3
t_wait_until 10 grep -q "began first" runs || t_fail "SIGHUP: no start"
kill -HUP $pid
echo second >&3
exec 3>&-
t_wait_until 10 sh -c "! kill -0 $pid" || t_fail "SIGHUP did not stop it"
wait $pid
rc=$?
[ "$rc" -eq 0 ] || t_fail "SIGHUP stop should exit 0, got $rc: $(cat err)"
grep -q "finished first" runs || t_fail "SIGHUP killed the task in flight"
grep -q "second" runs && t_fail "a param was taken after SIGHUP"
grep -q "Hangup: taking no more params" err || t_fail "SIGHUP log: $(cat err)"
t_ok "SIGHUP stops like SIGTERM"

# A timed-out task whose program dies of the SIGTERM, leaving in its group
# a process that ignores SIGTERM: that process is killed too, at once.
cat >stubborn.sh <<SH
#!/bin/sh
(trap "" TERM; exec ./$mark 302) &
./$mark 303
SH
chmod +x stubborn.sh
echo x | MINION_TIMEOUT=1 MINION_MAX_ATTEMPTS=1 timeout 30 "$MINIONIZE" \
    ./stubborn.sh >out 2>err
[ $? -eq 4 ] || t_fail "the timed-out task should end dead: $(cat err)"
t_wait_until 3 sh -c "! pgrep -f '$pattern'" || {
    pkill -9 -f "$pattern"
    t_fail "a process of a timed-out task ignored SIGTERM and lived on"
}
t_ok "a cancelled task's whole group dies, also what ignores SIGTERM"
