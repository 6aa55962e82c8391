# SPDX-License-Identifier: MIT
# A minion that reuses its MINION_ID runs what it held in its last life
# first, at once (no claim idle wait), counting the earlier delivery.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

rcli XGROUP CREATE "$R_STREAM" "$R_GROUP" 0 MKSTREAM >/dev/null
r_submit 3
# m1's last life: it got two entries and died.
rcli XREADGROUP GROUP "$R_GROUP" m1 COUNT 2 STREAMS "$R_STREAM" '>' >/dev/null
[ "$(r_pending_of m1)" -eq 2 ] || t_fail "setup: m1 holds $(r_pending_of m1)"

start=$(date +%s)
r_minion m1 MINION_EXIT_WHEN_EMPTY=1 -- -- sh -c 'echo "$MINION_PARAM $MINION_ATTEMPT"'
r_wait_exit "$R_PID" 20
[ "$R_RC" -eq 0 ] || t_fail "exit $R_RC: $(cat m1.err)"
[ $(($(date +%s) - start)) -lt 10 ] || t_fail "waited for the claim idle time"
grep -q "took back 2 pending entries" m1.err || t_fail "no resume logged: $(cat m1.err)"
printf 'p1 2\np2 2\np3 1\n' >want.txt
cmp -s want.txt m1.out || t_fail "ran: $(cat m1.out)"
[ "$(r_pending)" = 0 ] || t_fail "still pending: $(r_pending)"

# The heartbeat: last seen, and the counters of the stopped minion.
[ -n "$(rcli HGET "$R_STREAM:minions" m1)" ] || t_fail "no heartbeat"
[ "$(rcli HGET "$R_STREAM:minion:m1" state)" = stopped ] ||
    t_fail "state: $(rcli HGETALL "$R_STREAM:minion:m1")"
[ "$(rcli HGET "$R_STREAM:minion:m1" ok)" = 3 ] ||
    t_fail "stats: $(rcli HGETALL "$R_STREAM:minion:m1")"
t_ok "own pending entries re-run first, attempt 2"
