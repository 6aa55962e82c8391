# SPDX-License-Identifier: MIT
# SIGTERM: the minion stops reading at once, lets its tasks finish within
# MINION_GRACE and acks them; tasks still running after the grace are
# stopped and left pending (never acked), and another minion claims them.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

cat >prog.sh <<'EOS'
echo "$MINION_PARAM $MINION_ID" >>started.txt
sleep "$1"
echo "$MINION_PARAM"
EOS
r_submit 4

# Grace long enough: the two running tasks finish and are acked; the two
# other params were never taken.
r_minion m1 REDIS_CLAIM_IDLE_MS=1000 MINION_GRACE=10 -- -j2 -- sh prog.sh 1
t_wait_until 10 sh -c '[ "$(wc -l <started.txt 2>/dev/null)" -eq 2 ]' ||
    t_fail "m1 did not start 2 tasks: $(cat m1.err)"
kill -TERM "$R_PID"
r_wait_exit "$R_PID" 15
[ "$R_RC" -eq 0 ] || t_fail "m1 exited $R_RC: $(cat m1.err)"
[ "$(r_results status | grep -c ok)" -eq 2 ] || t_fail "results: $(r_results)"
[ "$(r_pending)" = 0 ] || t_fail "m1 left $(r_pending) pending"
[ "$(wc -l <started.txt)" -eq 2 ] || t_fail "m1 started more after SIGTERM"

# Grace too short: the tasks are stopped and stay pending for a claim.
r_minion m2 REDIS_CLAIM_IDLE_MS=1000 MINION_GRACE=0.3 -- -j2 -- sh prog.sh 30
t_wait_until 10 sh -c '[ "$(wc -l <started.txt)" -eq 4 ]' ||
    t_fail "m2 did not start 2 tasks: $(cat m2.err)"
kill -TERM "$R_PID"
r_wait_exit "$R_PID" 20
# Work cut short: the core's exit status says so (0 or 1), nothing worse.
[ "$R_RC" -le 1 ] || t_fail "m2 exited $R_RC: $(cat m2.err)"
grep -q "2 left unacked" m2.err || t_fail "m2: $(cat m2.err)"
[ "$(r_pending_of m2)" -eq 2 ] || t_fail "m2 holds $(r_pending_of m2), not 2"
[ "$(rcli XLEN "$R_STREAM:results")" -eq 2 ] || t_fail "m2 wrote results"

r_minion m3 REDIS_CLAIM_IDLE_MS=1000 MINION_EXIT_WHEN_EMPTY=1 -- -j2 -- sh prog.sh 0
r_wait_exit "$R_PID" 20
[ "$R_RC" -eq 0 ] || t_fail "m3 exited $R_RC: $(cat m3.err)"
# Released runs are no attempts: m3 runs them as attempt 1 again.
[ "$(r_results task status attempt minion | grep -c ' ok 1 m3$')" -eq 2 ] ||
    t_fail "m3 did not finish m2's tasks: $(r_results)"
[ "$(r_pending)" = 0 ] || t_fail "still pending: $(r_pending)"
t_ok "SIGTERM finished or released the tasks in flight"
