# SPDX-License-Identifier: MIT
# /metrics and /stats (MINION_STATS_ADDR) and the json reporter with the
# pulsar engine, as with the others: task counts, the subscription's figures
# (lag, pending from the admin API's stats), one report per run whose
# task_id is the message id.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pulsar_lib.sh"
t_init
command -v curl >/dev/null || t_skip "curl not installed"
p_start_broker --topic "$P_TOPIC"

cat >prog.sh <<'EOS'
case "$MINION_PARAM" in
hold*) while [ ! -e go ]; do sleep 0.05; done ;;
esac
echo "$MINION_PARAM"
EOS
port=$(t_free_port) || t_fail "no free port"
addr=127.0.0.1:$port
"$SUBMIT" -q -e pulsar --topic "$P_TOPIC" a b c hold1 hold2 d || t_fail "submit"
p_minion m1 MINION_STATS_ADDR="$addr" REPORTER_JSON_DIRECTORY=reports \
    -- -j2 -r json -- sh prog.sh
held() { [ -e reports ] && [ "$(wc -l <m1.out)" -ge 3 ]; }
t_wait_until 20 held || t_fail "a, b, c did not run: $(cat m1.err)"
scrape() { curl -s --max-time 5 "http://$addr/$1"; }
# While hold1 and hold2 run: 3 ok, 2 in flight, d waits (lag 1, pending 2).
figures() {
    scrape metrics >metrics.txt &&
        grep -q '^minionize_tasks_total{status="ok"} 3$' metrics.txt &&
        grep -q '^minionize_tasks_in_flight 2$' metrics.txt &&
        grep -q '^minionize_queue_lag 1$' metrics.txt &&
        grep -q '^minionize_queue_pending 2$' metrics.txt
}
t_wait_until 20 figures || t_fail "metrics: $(grep -v '^#' metrics.txt | grep -E 'tasks_total|in_flight|queue')"
scrape stats | grep -q '"queue":{"lag":1,"pending":2' || t_fail "stats: $(scrape stats)"
t_ok "/metrics and /stats: task counts, lag and pending from the broker"

touch go
t_wait_until 20 sh -c "[ \$(wc -l <m1.out) -eq 6 ]" || t_fail "not all ran: $(cat m1.out)"
drained() {
    scrape metrics >metrics.txt &&
        grep -q '^minionize_queue_lag 0$' metrics.txt &&
        grep -q '^minionize_queue_pending 0$' metrics.txt
}
t_wait_until 20 drained || t_fail "after: $(grep queue metrics.txt)"
kill -TERM "$P_MINION"
p_wait_exit "$P_MINION" 20
[ "$P_RC" -eq 0 ] || t_fail "exit $P_RC: $(cat m1.err)"

cat reports/*.jsonl >all.jsonl 2>/dev/null || cat reports/* >all.jsonl
"$P_PY" - all.jsonl <<'PY' || t_fail "reports: $(head -3 all.jsonl)"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(recs) == 6, len(recs)
assert sorted(r["param"] for r in recs) == ["a", "b", "c", "d", "hold1", "hold2"]
assert all(r["status"] == "ok" and r["attempt"] == 1 for r in recs), recs
assert len({r["task_id"] for r in recs}) == 6 and all(r["task_id"] for r in recs)
assert len({r["uid"] for r in recs}) == 1
PY
t_ok "the json reporter: one record per run, the message id as task_id"
