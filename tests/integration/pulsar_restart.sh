# SPDX-License-Identifier: MIT
# The broker dies mid-run (kill -9) and comes back on the same port with its
# data (--state): the minion logs the loss, keeps its tasks running, sends
# their acks once reconnected, and every param is run and acked; none lost.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pulsar_lib.sh"
t_init
p_start_broker --topic "$P_TOPIC" --state "$T_DIR/broker.state"

N=400
seq 1 $N | sed 's/^/p/' >params
"$SUBMIT" -q -e pulsar --topic "$P_TOPIC" <params || t_fail "submit"
p_minion m1 MINION_EXIT_WHEN_EMPTY=1 -- -j4 -- sh -c 'sleep 0.02; echo "$MINION_PARAM"'
minion=$P_MINION
t_wait_until 30 sh -c "[ \$(wc -l <m1.out) -ge 40 ]" ||
    t_fail "no progress before the crash: $(cat m1.err)"

p_restart_broker
kill -0 "$minion" 2>/dev/null || t_fail "the minion died with the broker: $(cat m1.err)"
p_wait_exit "$minion" 90
[ "$P_RC" -eq 0 ] || t_fail "minion exited $P_RC: $(tail -n 5 m1.err)"
grep -q "lost" m1.err || t_fail "the crash was not logged: $(cat m1.err)"
grep -q "reconnected" m1.err || t_fail "the reconnect was not logged: $(cat m1.err)"

sort -u m1.out >ran
sort params >want
cmp -s want ran || t_fail "$(comm -23 want ran | wc -l) params never ran"
p_messages >msgs
[ "$(wc -l <msgs)" -eq $N ] || t_fail "the broker holds $(wc -l <msgs) messages"
awk '$2 != 1' msgs | grep -q . && t_fail "unacked: $(awk '$2 != 1' msgs | head -3)"
t_ok "every param ran and was acked across a broker crash ($(wc -l <m1.out) runs for $N params)"
