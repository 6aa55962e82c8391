# SPDX-License-Identifier: MIT
# A param that always fails: run MINION_MAX_ATTEMPTS=3 times (attempt =
# redeliveryCount + 1, a negative ack between runs), then published to the
# dead-letter topic <topic>-<subscription>-DLQ with why, and acked on the
# params topic. The minion drains with exit status 4. The DLQ topic does not
# exist beforehand: the engine makes it.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pulsar_lib.sh"
t_init
p_start_broker --topic "$P_TOPIC"
DLQ=$P_TOPIC-$P_SUB-DLQ

cat >prog.sh <<'EOS'
echo "$MINION_PARAM attempt $MINION_ATTEMPT"
case "$MINION_PARAM" in
*bad*) echo "failing on purpose" >&2; exit 3 ;;
esac
EOS
"$SUBMIT" -q -e pulsar --topic "$P_TOPIC" good bad || t_fail "submit"
p_minion m1 MINION_MAX_ATTEMPTS=3 MINION_EXIT_WHEN_EMPTY=1 -- -- sh prog.sh
p_wait_exit "$P_MINION" 30
[ "$P_RC" -eq 4 ] || t_fail "minion exited $P_RC, not 4: $(cat m1.err)"
grep -q "done: 1 ok, 2 failed, 1 dead" m1.err || t_fail "counts: $(tail -n 1 m1.err)"
printf '%s\n' "good attempt 1" "bad attempt 1" "bad attempt 2" "bad attempt 3" |
    sort >want
sort m1.out >got
cmp -s want got || t_fail "runs: $(cat m1.out)"

p_messages >msgs
[ "$(awk '$2 == 1' msgs | wc -l)" -eq 2 ] || t_fail "not both acked: $(cat msgs)"
p_props "$DLQ" >dead
[ "$(wc -l <dead)" -eq 1 ] || t_fail "dead letters: $(cat dead)"
"$P_PY" - dead "$P_TOPIC" <<'PY' || t_fail "dead letter: $(cat dead)"
import json, sys
d = json.loads(open(sys.argv[1]).read())
p = d["properties"]
assert d["payload"] == "bad", d
assert p["REAL_TOPIC"] == sys.argv[2], p
assert p["attempts"] == "3", p
assert p["ORIGIN_MESSAGE_ID"], p
assert "exit" in p["error"] or "status" in p["error"], p
PY
grep -q "dead-lettered to $DLQ" m1.err || t_fail "not logged: $(cat m1.err)"
t_ok "a failing param ran 3 times, went to $DLQ and was acked"
