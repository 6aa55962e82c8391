# SPDX-License-Identifier: MIT
# Checkpoint signals (SIGUSR2, SIGUSR1) stop a redis minion like SIGTERM; a
# task still running after MINION_GRACE is killed and released: not an
# attempt. Its count of released runs is in <stream>:released:<group>, a live
# minion claims it at once (not after REDIS_CLAIM_IDLE_MS) and runs it with
# the attempt number it had; the exit status is 1, or MINION_STOP_EXIT.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis
RELEASED="$R_STREAM:released:$R_GROUP"

# Slow only where told (SLOW=minion id[:attempt] or param); fails its
# first attempt when the param starts with "f".
cat >prog.sh <<'EOS'
echo "$MINION_PARAM $MINION_ATTEMPT $MINION_ID $MINION_TASK_ID" >>runs.txt
case "$SLOW" in
"$MINION_ID" | "$MINION_ID:$MINION_ATTEMPT" | "$MINION_PARAM") exec sleep 30 ;;
esac
case "$MINION_PARAM" in f*) [ "$MINION_ATTEMPT" -gt 1 ] || exit 1 ;; esac
exit 0
EOS
runs() { cat runs.txt 2>/dev/null | wc -l; }

# 1. SIGUSR2 mid-task, grace 0.5 s: killed, released, exit 1; a minion that
#    is already up claims it within its next claim pass (every 2.5 s here).
r_submit 1 a
r_minion m1 REDIS_CLAIM_IDLE_MS=5000 MINION_GRACE=0.5 SLOW=m1 -- -- sh prog.sh
m1=$R_PID
t_wait_until 10 sh -c '[ -s runs.txt ]' || t_fail "m1 did not start: $(cat m1.err)"
r_minion m2 REDIS_CLAIM_IDLE_MS=5000 MINION_EXIT_WHEN_EMPTY=1 -- -- sh prog.sh
m2=$R_PID
t_wait_until 10 grep -q consuming m2.err || t_fail "m2 did not start: $(cat m2.err)"
id=$(awk '{ print $4 }' runs.txt)
kill -USR2 "$m1"
r_wait_exit "$m1" 10
[ "$R_RC" -eq 1 ] || t_fail "m1 exited $R_RC, not 1: $(cat m1.err)"
grep -q "left unacked" m1.err || t_fail "m1 released nothing: $(cat m1.err)"
stopped=$(date +%s%N)
[ "$(rcli HGET "$RELEASED" "$id")" = 1 ] ||
    t_fail "released count of $id: '$(rcli HGET "$RELEASED" "$id")'"
t_wait_until 10 sh -c '[ "$(wc -l <runs.txt)" -eq 2 ]' ||
    t_fail "m2 did not run the released task: $(cat m2.err)"
ms=$((($(date +%s%N) - stopped) / 1000000))
[ "$ms" -le 3500 ] || t_fail "the released task waited ${ms} ms (claim idle 5000)"
r_wait_exit "$m2" 15
[ "$R_RC" -eq 0 ] || t_fail "m2 exited $R_RC: $(cat m2.err)"
[ "$(tail -n 1 runs.txt | cut -d' ' -f1-3)" = "a1 1 m2" ] ||
    t_fail "m2 ran: $(cat runs.txt)"
[ "$(r_results task status attempt minion)" = "$id ok 1 m2" ] ||
    t_fail "results: $(r_results)"
[ "$(rcli HEXISTS "$RELEASED" "$id")" = 0 ] || t_fail "count kept after the ack"

# 2. Failed once, then released in attempt 2 (SIGUSR1, MINION_STOP_EXIT):
#    the next run is attempt 2 again.
: >runs.txt
rcli DEL "$R_STREAM:results" >/dev/null
r_submit 1 f
r_minion m3 REDIS_CLAIM_IDLE_MS=5000 MINION_GRACE=0.5 MINION_STOP_EXIT=99 \
    SLOW=m3:2 -- -- sh prog.sh
t_wait_until 10 sh -c '[ "$(wc -l <runs.txt)" -eq 2 ]' ||
    t_fail "m3 did not retry: $(cat m3.err)"
kill -USR1 "$R_PID"
r_wait_exit "$R_PID" 10
[ "$R_RC" -eq 99 ] || t_fail "m3 exited $R_RC, not 99: $(cat m3.err)"
r_minion m4 REDIS_CLAIM_IDLE_MS=5000 MINION_EXIT_WHEN_EMPTY=1 -- -- sh prog.sh
r_wait_exit "$R_PID" 10
[ "$R_RC" -eq 0 ] || t_fail "m4 exited $R_RC: $(cat m4.err)"
[ "$(cut -d' ' -f1-3 runs.txt | tr '\n' ,)" = "f1 1 m3,f1 2 m3,f1 2 m4," ] ||
    t_fail "runs: $(cat runs.txt)"
[ "$(r_results status attempt minion | tr '\n' ,)" = "failed 1 m3,ok 2 m4," ] ||
    t_fail "results: $(r_results)"

# 3. -j1 over several params, b3 slow: b3 is released, and so is what was
#    fetched but never started (the read-ahead, if any after two quick
#    tasks): all run at attempt 1 in the next minion.
: >runs.txt
rcli DEL "$R_STREAM:results" >/dev/null
r_submit 6 b
r_minion m5 REDIS_CLAIM_IDLE_MS=5000 MINION_GRACE=0.2 MINION_STOP_EXIT=99 \
    SLOW=b3 -- -- sh prog.sh
t_wait_until 10 grep -q '^b3 ' runs.txt || t_fail "m5 did not start b3: $(cat m5.err)"
kill -USR2 "$R_PID"
r_wait_exit "$R_PID" 10
[ "$R_RC" -eq 99 ] || t_fail "m5 exited $R_RC, not 99: $(cat m5.err)"
held=$(r_pending_of m5)
[ "$(rcli HLEN "$RELEASED")" -eq "$held" ] ||
    t_fail "m5 holds $held entries, released $(rcli HLEN "$RELEASED")"
r_minion m6 REDIS_CLAIM_IDLE_MS=5000 MINION_EXIT_WHEN_EMPTY=1 -- -j2 -- sh prog.sh
r_wait_exit "$R_PID" 10
[ "$R_RC" -eq 0 ] || t_fail "m6 exited $R_RC: $(cat m6.err)"
[ "$(grep -c ' ok 1 m6$' <<<"$(r_results task status attempt minion)")" -eq 4 ] ||
    t_fail "results: $(r_results)"
[ "$(r_pending)" = 0 ] || t_fail "still pending: $(r_pending)"
[ "$(rcli EXISTS "$RELEASED")" = 0 ] || t_fail "released counts left: $(rcli HGETALL "$RELEASED")"
t_ok "released runs are no attempts (claimed ${ms} ms after the stop; m5 held $held)"
