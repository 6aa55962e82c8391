# SPDX-License-Identifier: MIT
# One MINION_ID, one live minion. A second minion with the id of a live one
# is refused at start-up (exit 2, one line, nothing consumed), also long
# after the claim idle time; a restart after kill -9 is refused while the
# dead minion's heartbeat is fresh and works once it is REDIS_CLAIM_IDLE_MS
# old (taking back what the dead one held); a restart after a clean stop
# works at once.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

IDLE=3000
cat >prog.sh <<'EOS'
echo "$MINION_PARAM $MINION_ATTEMPT" >>runs.txt
# Held until the test removes the file: an orphan of a killed minion ends.
while [ -f hold ]; do sleep 0.1; done
echo "ran $MINION_PARAM"
EOS
touch hold
r_submit 6
r_minion m1 REDIS_CLAIM_IDLE_MS=$IDLE -- -j2 -- sh prog.sh
first=$R_PID
t_wait_until 20 sh -c "[ \$(wc -l <runs.txt 2>/dev/null || echo 0) -ge 2 ]" ||
    t_fail "m1 started nothing: $(cat m1.err)"

# What the group looks like: a refused minion must leave it as it is.
group_state() {
    rcli XINFO GROUPS "$R_STREAM" | paste -sd ' '
    rcli XPENDING "$R_STREAM" "$R_GROUP" | paste -sd ' '
    rcli XINFO CONSUMERS "$R_STREAM" "$R_GROUP" |
        awk 'prev == "name" { print } { prev = $0 }' | paste -sd ' '
}

# refused NAME: a second m1 must exit 2 with one line and consume nothing.
refused() {
    local before after
    before=$(group_state)
    env MINION_ENGINE=redis MINION_ID=m1 REDIS_CLAIM_IDLE_MS=$IDLE \
        timeout 20 "$MINIONIZE" -j2 -- sh prog.sh >"$1.out" 2>"$1.err"
    rc=$?
    [ "$rc" -eq 2 ] || t_fail "$1: exit $rc, not 2: $(cat "$1.err")"
    [ "$(wc -l <"$1.err")" -eq 1 ] || t_fail "$1: stderr: $(cat "$1.err")"
    grep -q "MINION_ID m1 is in use by a live minion" "$1.err" ||
        t_fail "$1: message: $(cat "$1.err")"
    after=$(group_state)
    [ "$before" = "$after" ] ||
        t_fail "$1: the group changed: $before / $after"
    [ "$(wc -l <runs.txt)" -eq 2 ] || t_fail "$1: ran: $(cat runs.txt)"
}

refused second
t_ok "a second minion with a live minion's id: exit 2, nothing consumed"
# Well past the claim idle time the first one is still alive, still its.
sleep $((IDLE / 1000 + 1))
refused later
kill -0 "$first" 2>/dev/null || t_fail "m1 died: $(cat m1.err)"
t_ok "a live minion keeps its id past REDIS_CLAIM_IDLE_MS"

# A crash: refused while the last beat is fresh, free once it is stale.
kill -9 "$first"
wait "$first" 2>/dev/null
crashed=$(date +%s%N)
refused fresh
rm hold
# The dead minion beat at most IDLE/3 before it died.
sleep $((IDLE / 1000)).2
r_minion m1 REDIS_CLAIM_IDLE_MS=$IDLE MINION_EXIT_WHEN_EMPTY=1 -- -j2 -- \
    sh prog.sh
r_wait_exit "$R_PID" 30
[ "$R_RC" -eq 0 ] || t_fail "restart after the crash: exit $R_RC: $(cat m1.err)"
waited=$((($(date +%s%N) - crashed) / 1000000))
grep -q "took back 2 pending entries" m1.err ||
    t_fail "the restart did not take back what m1 held: $(cat m1.err)"
r_results task status attempt | awk '$2 == "ok"' >ok.txt
[ "$(wc -l <ok.txt)" -eq 6 ] || t_fail "ok results: $(cat ok.txt)"
[ "$(awk '$3 == 2' ok.txt | wc -l)" -eq 2 ] ||
    t_fail "the two held entries were not re-run as attempt 2: $(cat ok.txt)"
[ "$(r_pending)" = 0 ] || t_fail "still pending: $(r_pending)"
t_ok "a restart after kill -9 works once the heartbeat is stale (${waited} ms)"

# A clean stop frees the id at once.
r_submit 1 q
r_minion m1 REDIS_CLAIM_IDLE_MS=$IDLE MINION_EXIT_WHEN_EMPTY=1 -- -- \
    sh prog.sh
r_wait_exit "$R_PID" 30
[ "$R_RC" -eq 0 ] || t_fail "restart after a clean stop: exit $R_RC: $(cat m1.err)"
grep -q "ran q1" m1.out || t_fail "q1 did not run: $(cat m1.out)"
t_ok "a restart after a clean stop works at once"
