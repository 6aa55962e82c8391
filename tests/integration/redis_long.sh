# SPDX-License-Identifier: MIT
# A task that runs three times REDIS_CLAIM_IDLE_MS while another minion is
# live and idle: the refresh keeps it from being claimed, it runs once.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

cat >prog.sh <<'EOS'
echo "$MINION_PARAM $MINION_ID $MINION_ATTEMPT" >>runs.txt
[ "$MINION_PARAM" = long ] && sleep 3
exit 0
EOS
rcli XADD "$R_STREAM" '*' param long >/dev/null

r_minion a REDIS_CLAIM_IDLE_MS=1000 MINION_EXIT_WHEN_EMPTY=1 -- -j1 -- sh prog.sh
a=$R_PID
t_wait_until 10 test -s runs.txt || t_fail "the long task did not start: $(cat a.err)"
r_minion b REDIS_CLAIM_IDLE_MS=1000 MINION_EXIT_WHEN_EMPTY=1 -- -j1 -- sh prog.sh
b=$R_PID
# While it runs, b keeps claiming (every 500 ms) and finds nothing.
sleep 1.5
r_submit 3 quick
r_wait_exit "$a" 20
[ "$R_RC" -eq 0 ] || t_fail "a exited $R_RC: $(cat a.err)"
r_wait_exit "$b" 20
[ "$R_RC" -eq 0 ] || t_fail "b exited $R_RC: $(cat b.err)"

[ "$(grep -c '^long ' runs.txt)" -eq 1 ] || t_fail "long ran $(grep -c '^long ' runs.txt) times: $(cat runs.txt)"
grep -qx 'long a 1' runs.txt || t_fail "long did not run in a at attempt 1: $(cat runs.txt)"
[ "$(grep -c '^quick' runs.txt)" -eq 3 ] || t_fail "quick params: $(cat runs.txt)"
[ "$(r_results status | grep -c ok)" -eq 4 ] || t_fail "results: $(r_results)"
[ "$(r_pending)" = 0 ] || t_fail "still pending: $(r_pending)"
grep -q claimed b.err && t_fail "b claimed something: $(cat b.err)"
t_ok "a task running 3x the claim idle ran exactly once"
