# SPDX-License-Identifier: MIT
# The task flow: concurrency, retries then dead, timeouts, max tasks, and
# the orderly stop on SIGTERM.
. "$top_srcdir/tests/integration/lib.sh"
t_init

# -j4 really runs four at once: 8 tasks of 0.5 s take about 1 s, not 4.
start=$(date +%s%N)
seq 8 | "$MINIONIZE" -j4 sh -c 'sleep 0.5' {} 2>err || t_fail "-j4 run: $(cat err)"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 3000 ] || t_fail "-j4 did not run in parallel (${ms} ms)"
t_ok "-j4 runs in parallel (${ms} ms)"

# A failing program runs MINION_MAX_ATTEMPTS times, then is dead.
cat >fail.sh <<'SH'
#!/bin/sh
echo "$MINION_PARAM $MINION_ATTEMPT" >>runs
[ "$1" = good ]
SH
chmod +x fail.sh
# Like xargs' 123: a dead param makes the exit status 4, so that
# `seq 10 | minionize ./a.out && echo all good` does not say all good.
printf 'bad\ngood\n' | MINION_MAX_ATTEMPTS=4 "$MINIONIZE" ./fail.sh 2>err
rc=$?
[ "$rc" -eq 4 ] || t_fail "exit status with a dead param should be 4, not $rc"
[ "$(grep -c '^bad ' runs)" -eq 4 ] || t_fail "bad ran $(grep -c '^bad ' runs) times"
[ "$(grep -c '^good ' runs)" -eq 1 ] || t_fail "good ran more than once"
grep -q '^bad 4$' runs || t_fail "attempt numbers: $(cat runs)"
grep -q "task 1 dead after 4 attempts: exit status 1" err ||
    t_fail "dead log line: $(cat err)"
tail -n 1 err | grep -q "done: 1 ok, 3 failed, 1 dead" ||
    t_fail "last line: $(tail -n 1 err)"
t_ok "retries then dead"

# MINION_TIMEOUT stops a task and counts it failed.
start=$(date +%s%N)
echo 30 | MINION_TIMEOUT=0.5 MINION_MAX_ATTEMPTS=1 "$MINIONIZE" sleep 2>err
[ $? -eq 4 ] || t_fail "timeout run: dead is exit 4"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 5000 ] || t_fail "timeout took ${ms} ms"
grep -q "timed out after 0.5s" err || t_fail "timeout error: $(cat err)"
t_ok "timeout (${ms} ms)"

# MINION_MAX_TASKS stops after that many runs and leaves the rest.
seq 100 | MINION_MAX_TASKS=7 "$MINIONIZE" -j3 echo >out 2>err ||
    t_fail "max tasks"
[ "$(wc -l <out)" -eq 7 ] || t_fail "max tasks ran $(wc -l <out)"
t_ok "max tasks"

# SIGTERM: no new params, the task in flight finishes, exit 0.
mkfifo feed
"$MINIONIZE" -j1 sh -c 'sleep 1; echo finished $0' <feed >out 2>err &
pid=$!
t_track $pid
exec 3>feed
echo first >&3
t_wait_until 5 pgrep -f "finished" -P $pid || true
sleep 0.3
kill -TERM $pid
echo second >&3
exec 3>&-
t_wait_until 10 sh -c "! kill -0 $pid" || t_fail "minion did not stop"
wait $pid
rc=$?
[ "$rc" -eq 0 ] || t_fail "graceful stop exit $rc: $(cat err)"
grep -q "finished first" out || t_fail "in-flight task did not finish"
grep -q "second" out && t_fail "a param was taken after SIGTERM"
t_ok "SIGTERM lets the task in flight finish"

# Grace over: the task is stopped and left unacked; exit 1.
echo 30 | MINION_GRACE=0.3 "$MINIONIZE" sleep 2>err &
pid=$!
t_track $pid
sleep 0.5
kill -TERM $pid
t_wait_until 10 sh -c "! kill -0 $pid" || t_fail "minion ignored its grace"
wait $pid
rc=$?
[ "$rc" -eq 1 ] || t_fail "forced stop should exit 1, got $rc"
grep -q "left unacked" err || t_fail "no unacked count: $(cat err)"
t_ok "grace expiry releases the task"
