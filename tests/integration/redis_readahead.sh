# SPDX-License-Identifier: MIT
# Read-ahead (engines/redis/README.md): a minion fetches params beyond its
# free slots only as many as can start within a few milliseconds at its
# recent pace. 1. Slow tasks: two -j1 minions on a queue of 0.4 s tasks;
# the first never holds more than its running task, so the second,
# started later, gets its share at once and the queue takes about half
# the time. 2. Short tasks: a minion holding read-ahead params (more
# pending than its slots) is killed with -9; a live minion claims them
# after the claim idle time and every param runs.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

# 1. Slow tasks: no hoarding.
r_submit 10 slow
r_minion first -- -j1 -- sh -c 'sleep 0.4'
first=$R_PID
t_wait_until 10 sh -c "[ \"\$(redis-cli -p $REDIS_PORT XLEN $R_STREAM:results)\" -ge 2 ]" ||
    t_fail "the first minion ran nothing: $(tail -n 3 first.err)"
r_minion second -- -j1 -- sh -c 'sleep 0.4'
second=$R_PID
: >held
while [ "$(rcli XLEN "$R_STREAM:results")" -lt 10 ]; do
    echo "$(r_pending_of first) $(r_pending_of second)" >>held
    sleep 0.05
    [ "$(wc -l <held)" -lt 200 ] || t_fail "10 slow tasks did not finish: $(tail -n 3 first.err second.err)"
done
# Two in one sample can be the task that just ended, its ack still on its
# way (acks wait up to 10 ms for company): holding is two samples in a row.
awk '($1 > 1 && p1 > 1) || ($2 > 1 && p2 > 1) { bad = 1 } { p1 = $1; p2 = $2 }
    END { exit bad }' held ||
    t_fail "a -j1 minion held more than its running task: $(sort -u held | paste -sd,)"
n2=$(r_results minion | grep -cx second)
[ "$n2" -ge 3 ] || t_fail "the second minion ran $n2 of the 10 slow tasks"
kill -TERM "$first" "$second"
r_wait_exit "$first" 10
r_wait_exit "$second" 10
t_ok "slow tasks are not read ahead: the later minion ran $n2 of 10"

# 2. kill -9 of a minion holding read-ahead params, while another minion
#    is busy with the backlog: that one claims them before the backlog
#    is gone (its slots refill from its own read-ahead, yet it claims).
#    The victim's tasks wait 2 ms on a timer (the sleeper example): a pace
#    a loaded machine keeps, so it holds at least 16 slots + half of about
#    16 × 5 ms / 2 ms read ahead; the survivor runs `true`, slowly enough
#    that the backlog outlasts the claim idle time.
R_STREAM=short
N=10000
SLEEPER="$top_builddir/plugins/examples/.libs/sleeper.so"
[ -f "$SLEEPER" ] || t_fail "sleeper.so not built: $SLEEPER"
awk -v n=$N 'BEGIN {
    for (i = 1; i <= n; i++)
        printf "*5\r\n$4\r\nXADD\r\n$5\r\nshort\r\n$1\r\n*\r\n$5\r\nparam\r\n$1\r\n2\r\n"
}' | rcli --pipe >/dev/null || t_fail "redis-cli --pipe failed"
r_minion victim REDIS_STREAM=short REDIS_CLAIM_IDLE_MS=1000 -- -j16 -c "$SLEEPER"
victim=$R_PID
r_minion survivor REDIS_STREAM=short REDIS_CLAIM_IDLE_MS=1000 MINION_EXIT_WHEN_EMPTY=1 -- -j2 -- true
survivor=$R_PID
# Far more pending than its 16 slots: read ahead.
t_wait_until 20 sh -c "[ \"\$(redis-cli -p $REDIS_PORT XPENDING short minions - + 1000 victim | grep -c '^victim$')\" -gt 24 ]" ||
    t_fail "the victim never read ahead: $(tail -n 3 victim.err)"
disown "$victim"
kill -9 "$victim"
held=$(rcli XPENDING short minions - + 1000 victim | grep -c '^victim$')
[ "$held" -gt 24 ] || t_fail "the victim held $held entries when killed"
t_wait_until 30 sh -c "[ \"\$(redis-cli -p $REDIS_PORT XPENDING short minions - + 1000 victim | grep -c '^victim$')\" = 0 ]" ||
    t_fail "the victim's entries were never claimed"
lag=$(rcli XINFO GROUPS short | awk 'prev == "lag" { print; exit } { prev = $0 }')
[ "${lag:-0}" -gt 0 ] ||
    t_fail "the victim's entries were claimed only once the backlog was gone"
r_wait_exit "$survivor" 60
[ "$R_RC" -eq 0 ] || t_fail "survivor exited $R_RC: $(tail -n 3 survivor.err)"
grep -q "claimed" survivor.err || t_fail "nothing claimed: $(cat survivor.err)"
set -- $(r_ok_counts short:results)
missing=$((N - $1))
[ "$missing" = 0 ] || t_fail "$missing of $N params never ran ok"
[ "$(rcli XLEN short:dead)" = 0 ] || t_fail "dead letters written"
[ "$(rcli XPENDING short minions | head -n 1)" = 0 ] || t_fail "still pending"
t_ok "a minion killed holding $held read-ahead entries lost none; they were claimed with $lag params still to read"
