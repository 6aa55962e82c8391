# SPDX-License-Identifier: MIT
# The stream (UNBLOCKED) or the group (NOGROUP) deleted under a running
# minion: it recreates the group from id 0 and goes on; SIGTERM ends it
# cleanly.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

r_minion m1 -- -j2 -- echo
minion=$R_PID
t_wait_until 10 grep -q consuming m1.err || t_fail "no start: $(cat m1.err)"
sleep 0.3 # blocked in XREADGROUP
rcli DEL "$R_STREAM" >/dev/null
t_wait_until 10 grep -q "recreated group" m1.err || t_fail "no recreate: $(cat m1.err)"
r_submit 2 a
t_wait_until 10 sh -c "[ \$(wc -l <m1.out) -eq 2 ]" || t_fail "after DEL: $(cat m1.out) $(cat m1.err)"

rcli XGROUP DESTROY "$R_STREAM" "$R_GROUP" >/dev/null
t_wait_until 10 sh -c "[ \$(grep -c 'recreated group' m1.err) -eq 2 ]" ||
    t_fail "no second recreate: $(cat m1.err)"
# From id 0: what the stream still holds runs again (its acks went with
# the group), then the new entry.
r_submit 1 b
t_wait_until 10 sh -c "[ \$(wc -l <m1.out) -eq 5 ]" || t_fail "after DESTROY: $(cat m1.out) $(cat m1.err)"
printf 'a1\na1\na2\na2\nb1\n' >want.txt
sort m1.out | cmp -s want.txt - || t_fail "ran: $(cat m1.out)"

kill -TERM "$minion"
r_wait_exit "$minion" 10
[ "$R_RC" -eq 0 ] || t_fail "SIGTERM: exit $R_RC: $(cat m1.err)"
[ "$(rcli HGET "$R_STREAM:minion:m1" state)" = stopped ] || t_fail "no final heartbeat"
t_ok "recreated the group twice and went on"
