# SPDX-License-Identifier: MIT
# A stop signal with the pulsar engine. A task that ends within
# MINION_GRACE is acked as usual; one that does not is killed, and its
# param is put back at the end of the topic with the attempts it had used
# (then the original is acked): the run the stop cut short is not counted,
# whoever runs it next (engines/pulsar/README.md).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pulsar_lib.sh"
t_init
p_start_broker --topic "$P_TOPIC"

cat >prog.sh <<'EOS'
case "$MINION_ID:$MINION_PARAM" in
stopper:long) : >started.long; exec sleep 60 ;;
stopper:short) : >started.short; sleep 1 ;;
esac
echo "$MINION_PARAM by $MINION_ID attempt $MINION_ATTEMPT"
EOS
p_minion stopper MINION_GRACE=3 -- -j2 -- sh prog.sh
stopper=$P_MINION
t_wait_until 10 grep -q consuming stopper.err || t_fail "stopper did not start: $(cat stopper.err)"
"$SUBMIT" -q -e pulsar --topic "$P_TOPIC" long short || t_fail "submit"
t_wait_until 10 sh -c '[ -e started.long ] && [ -e started.short ]' ||
    t_fail "the stopper did not take both: $(cat stopper.err)"
p_minion other MINION_EXIT_WHEN_EMPTY=1 -- -j2 -- sh prog.sh
other=$P_MINION
t_wait_until 10 grep -q consuming other.err || t_fail "other did not start: $(cat other.err)"

kill -TERM "$stopper"
p_wait_exit "$stopper" 20
[ "$P_RC" -eq 1 ] || t_fail "stopper exited $P_RC, not 1 (a task was killed): $(cat stopper.err)"
grep -q "short by stopper attempt 1" stopper.out || t_fail "short did not finish in the grace: $(cat stopper.out)"
p_wait_exit "$other" 20
[ "$P_RC" -eq 0 ] || t_fail "other exited $P_RC: $(cat other.err)"
grep -qx "long by other attempt 1" other.out || t_fail "long was not run by the other at attempt 1: $(cat other.out)"
grep -q short other.out && t_fail "short ran twice: $(cat other.out)"
p_messages >msgs
[ "$(wc -l <msgs)" -eq 3 ] || t_fail "not long, short and long's copy: $(cat msgs)"
[ "$(awk '$2 == 1' msgs | wc -l)" -eq 3 ] || t_fail "not all acked: $(cat msgs)"
p_props "$P_TOPIC" | grep '"minionize_attempts": "0"' | grep -q '"payload": "long"' ||
    t_fail "the copy does not carry the attempts used: $(p_props "$P_TOPIC")"
t_ok "SIGTERM: the task within the grace was acked, the killed one went to the other minion uncounted ($(cat other.out))"

# The stopping minion is the subscription's last consumer: the broker
# forgets the redelivery counts, and the next minion runs it at attempt 1.
"$SUBMIT" -q -e pulsar --topic "$P_TOPIC" long || t_fail "submit"
rm -f started.long
p_minion stopper MINION_GRACE=1 -- -- sh prog.sh
stopper=$P_MINION
t_wait_until 10 test -e started.long || t_fail "the stopper did not take it: $(cat stopper.err)"
kill -TERM "$stopper"
p_wait_exit "$stopper" 20
[ "$P_RC" -eq 1 ] || t_fail "stopper exited $P_RC, not 1: $(cat stopper.err)"
p_minion after MINION_EXIT_WHEN_EMPTY=1 -- -- sh prog.sh
p_wait_exit "$P_MINION" 20
[ "$P_RC" -eq 0 ] || t_fail "after exited $P_RC: $(cat after.err)"
grep -qx "long by after attempt 1" after.out || t_fail "after ran: $(cat after.out)"
t_ok "SIGTERM of the last consumer: the killed task's message came back at attempt 1"

# SIGUSR2 (a checkpoint) in a param's second attempt, after a failure: the
# next run, by a new minion, is attempt 2 again; MINION_STOP_EXIT is the
# status.
cat >flaky.sh <<'EOS'
case "$MINION_ID:$MINION_ATTEMPT" in
stopper:1) exit 1 ;;
stopper:2) : >started.flaky; exec sleep 60 ;;
esac
echo "$MINION_PARAM by $MINION_ID attempt $MINION_ATTEMPT"
EOS
"$SUBMIT" -q -e pulsar --topic "$P_TOPIC" flaky || t_fail "submit"
p_minion stopper MINION_GRACE=0.5 MINION_STOP_EXIT=99 -- -- sh flaky.sh
stopper=$P_MINION
t_wait_until 10 test -e started.flaky || t_fail "no second attempt: $(cat stopper.err)"
kill -USR2 "$stopper"
p_wait_exit "$stopper" 20
[ "$P_RC" -eq 99 ] || t_fail "stopper exited $P_RC, not 99: $(cat stopper.err)"
p_minion after2 MINION_EXIT_WHEN_EMPTY=1 -- -- sh flaky.sh
p_wait_exit "$P_MINION" 20
[ "$P_RC" -eq 0 ] || t_fail "after2 exited $P_RC: $(cat after2.err)"
grep -qx "flaky by after2 attempt 2" after2.out || t_fail "after2 ran: $(cat after2.out)"
t_ok "SIGUSR2 in attempt 2: the next run is attempt 2, exit MINION_STOP_EXIT"
