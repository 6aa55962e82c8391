#!/bin/bash
# SPDX-License-Identifier: MIT
# MINION_RETRY_DELAY with Pulsar: a failed message waits here, unacked, and
# is nacked once its delay is over (doubling per attempt), while the other
# messages run; then dead-lettered after MINION_MAX_ATTEMPTS as usual.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pulsar_lib.sh"
t_init
p_start_broker --topic "$P_TOPIC"

cat >prog.sh <<'EOS'
echo "$MINION_PARAM $MINION_ATTEMPT $(date +%s.%N)" >>"$RUNS"
case "$MINION_PARAM" in
bad) exit 3 ;;
esac
sleep 0.1
EOS
"$SUBMIT" -q -e pulsar --topic "$P_TOPIC" bad $(seq 1 12) || t_fail "submit"
p_minion m1 RUNS="$T_DIR/runs" MINION_MAX_ATTEMPTS=3 MINION_RETRY_DELAY=0.6 \
    MINION_EXIT_WHEN_EMPTY=1 -- -- sh prog.sh
p_wait_exit "$P_MINION" 30
[ "$P_RC" -eq 4 ] || t_fail "minion exited $P_RC, not 4: $(cat m1.err)"
grep -q "done: 12 ok, 2 failed, 1 dead" m1.err ||
    t_fail "counts: $(tail -n 1 m1.err)"
"$P_PY" - runs <<'PY' || t_fail "delays: $(cat runs)"
import sys
runs = [l.split() for l in open(sys.argv[1])]
bad = [float(t) for p, a, t in runs if p == "bad"]
assert [a for p, a, t in runs if p == "bad"] == ["1", "2", "3"], runs
gaps = [b - a for a, b in zip(bad, bad[1:])]
# 0.6 s, then 1.2 s; the broker's redelivery and a run add a little.
assert 0.55 <= gaps[0] <= 1.4, gaps
assert 1.15 <= gaps[1] <= 2.0, gaps
good = [float(t) for p, a, t in runs if p != "bad"]
assert any(bad[0] < t < bad[1] for t in good), "nothing ran in the wait"
PY
t_ok "a failed message waited 0.6 s then 1.2 s, others ran meanwhile"
