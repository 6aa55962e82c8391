# SPDX-License-Identifier: MIT
# kill -9 of a minion in the middle of its tasks: its WebSocket connection
# dies with it, the broker gives its unacked messages to the other consumer
# of the subscription, which runs them (attempt 2: the broker counts the
# redelivery) and acks them.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pulsar_lib.sh"
t_init
p_start_broker --topic "$P_TOPIC"

cat >prog.sh <<'EOS'
if [ "$MINION_ID" = victim ]; then
    : >"started.$MINION_PARAM"
    exec sleep 60
fi
echo "$MINION_PARAM by $MINION_ID attempt $MINION_ATTEMPT"
EOS
# The victim subscribes first, and takes both.
p_minion victim -- -j2 -- sh prog.sh
victim=$P_MINION
t_wait_until 10 grep -q consuming victim.err || t_fail "victim did not start: $(cat victim.err)"
"$SUBMIT" -q -e pulsar --topic "$P_TOPIC" a b || t_fail "submit"
t_wait_until 10 sh -c '[ -e started.a ] && [ -e started.b ]' ||
    t_fail "the victim did not take both params: $(cat victim.err)"
p_minion survivor MINION_EXIT_WHEN_EMPTY=1 -- -j2 -- sh prog.sh
survivor=$P_MINION
t_wait_until 10 grep -q consuming survivor.err || t_fail "survivor did not start: $(cat survivor.err)"
sleep 0.5
[ -s survivor.out ] && t_fail "the survivor ran something before the kill: $(cat survivor.out)"

children=$(pgrep -P "$victim")
disown "$victim" # no "Killed" job notice
kill -9 "$victim"
for pid in $children; do
    t_track "$pid"
done
p_wait_exit "$survivor" 30
[ "$P_RC" -eq 0 ] || t_fail "survivor exited $P_RC: $(cat survivor.err)"
sort survivor.out >got
printf '%s\n' "a by survivor attempt 2" "b by survivor attempt 2" >want
cmp -s want got || t_fail "survivor ran: $(cat got)"
p_messages >msgs
[ "$(awk '$2 == 1' msgs | wc -l)" -eq 2 ] || t_fail "not both acked: $(cat msgs)"
t_ok "a killed minion's messages went to the other minion, which finished them"
