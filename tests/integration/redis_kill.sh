# SPDX-License-Identifier: MIT
# kill -9 of a minion holding tasks: a live minion claims them once idle for
# REDIS_CLAIM_IDLE_MS and finishes them within REDIS_CLAIM_IDLE_MS + 1 s
# (the program is slow only in the minion that gets killed).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

cat >prog.sh <<'EOS'
[ "$MINION_ID" = victim ] && exec sleep 60
echo "$MINION_PARAM by $MINION_ID attempt $MINION_ATTEMPT"
EOS
r_submit 2

r_minion victim REDIS_CLAIM_IDLE_MS=1000 -- -j2 -- sh prog.sh
victim=$R_PID
t_wait_until 10 sh -c "[ \$(redis-cli -p $REDIS_PORT XPENDING $R_STREAM $R_GROUP - + 10 victim | grep -c victim) -eq 2 ]" ||
    t_fail "the victim did not take both params: $(cat victim.err)"
# The survivor is up (and idle) before the kill: only the claim is timed.
r_minion survivor REDIS_CLAIM_IDLE_MS=1000 MINION_EXIT_WHEN_EMPTY=1 -- -j2 -- sh prog.sh
survivor=$R_PID
t_wait_until 10 grep -q consuming survivor.err || t_fail "survivor did not start: $(cat survivor.err)"
sleep 0.5
[ "$(rcli XLEN "$R_STREAM:results")" = 0 ] || t_fail "something finished before the kill"

children=$(pgrep -P "$victim")
disown "$victim" # no "Killed" job notice
kill -9 "$victim"
start=$(date +%s%N)
# Its programs outlive it (as they would on a lost machine): end them too.
for pid in $children; do
    t_track "$pid"
done
t_wait_until 10 sh -c "[ \$(redis-cli -p $REDIS_PORT XLEN $R_STREAM:results) -eq 2 ]" ||
    t_fail "the victim's tasks were not finished: $(cat survivor.err)"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -le 2000 ] || t_fail "took ${ms} ms after the kill (claim idle 1000 ms)"

r_wait_exit "$survivor" 20
[ "$R_RC" -eq 0 ] || t_fail "survivor exited $R_RC: $(cat survivor.err)"
r_results task status attempt minion | sort >res.txt
[ "$(grep -c ' ok 2 survivor$' res.txt)" -eq 2 ] ||
    t_fail "want 2 ok results, attempt 2, by the survivor: $(cat res.txt)"
[ "$(r_pending)" = 0 ] || t_fail "still pending: $(r_pending)"
grep -q "claimed 2 entries" survivor.err || t_fail "no claim logged: $(cat survivor.err)"
t_ok "a killed minion's tasks were claimed and finished in ${ms} ms"
