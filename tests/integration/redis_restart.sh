# SPDX-License-Identifier: MIT
# redis-server crashes mid-run (kill -9; AOF with appendfsync always) and
# comes back on the same port: the minion logs it, reconnects, keeps its
# tasks, sends their acks late, and every param still finishes.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis --appendonly yes --appendfsync always

N=400
r_submit $N
# Noted now: REDIS_TRIM (on) trims the stream as the minion acks.
r_ids | sort >ids.txt
# By name: the reconnects look it up again (without blocking the loop).
r_minion m1 MINION_EXIT_WHEN_EMPTY=1 REDIS_URL=redis://localhost:$REDIS_PORT \
    -- -j4 -- sh -c "sleep 0.01"
minion=$R_PID
t_wait_until 30 sh -c "[ \$(redis-cli -p $REDIS_PORT XLEN $R_STREAM:results) -ge 40 ]" ||
    t_fail "no progress before the crash: $(cat m1.err)"

kill -9 "$REDIS_PID"
{ wait "$REDIS_PID"; } 2>/dev/null
sleep 1
kill -0 "$minion" 2>/dev/null || t_fail "the minion died with Redis: $(cat m1.err)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$T_DIR/redis" \
    --save '' --appendonly yes --appendfsync always --daemonize no \
    --logfile "$T_DIR/redis/log2" &
REDIS_PID=$!
t_track "$REDIS_PID"
t_wait_until 10 rcli ping || t_fail "redis-server did not come back"

r_wait_exit "$minion" 60
[ "$R_RC" -eq 0 ] || t_fail "minion exited $R_RC: $(cat m1.err)"
grep -q "lost" m1.err || t_fail "the crash was not logged: $(cat m1.err)"
grep -q "reconnected" m1.err || t_fail "the reconnect was not logged: $(cat m1.err)"

r_results task status | awk '$2 == "ok" { print $1 }' | sort -u >done.txt
cmp -s ids.txt done.txt ||
    t_fail "$(comm -23 ids.txt done.txt | wc -l) params never finished"
[ "$(r_pending)" = 0 ] || t_fail "still pending: $(r_pending)"
[ "$(rcli XLEN "$R_STREAM:dead")" = 0 ] || t_fail "dead letters written"
t_ok "every param finished across a Redis crash ($(r_results | wc -l) results for $N params)"
