# SPDX-License-Identifier: MIT
# Dead consumers do not pile up: a live minion removes from the group (and
# from <stream>:minions) every consumer whose heartbeat is long stale (an
# hour, or 10 x REDIS_CLAIM_IDLE_MS if longer) and that holds nothing, in
# bounded passes, also among a thousand of them. It never removes one that
# still holds entries, one whose beat is recent, itself, or a consumer that
# has no heartbeat at all (another tool's).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

rcli XGROUP CREATE "$R_STREAM" "$R_GROUP" 0 MKSTREAM >/dev/null
r_submit 4
# Redis's clock: heartbeats are on it.
now=$(rcli EVAL "local t = redis.call('TIME')
    return t[1] * 1000 + math.floor(t[2] / 1000)" 0)
old=$((now - 2 * 3600 * 1000))
recent=$((now - 10 * 60 * 1000))
H="$R_STREAM:minions"

consumer() {
    rcli XGROUP CREATECONSUMER "$R_STREAM" "$R_GROUP" "$1" >/dev/null
}
# busy: long dead, but holds two entries (not claimed: the idle is long).
rcli XREADGROUP GROUP "$R_GROUP" busy COUNT 2 STREAMS "$R_STREAM" '>' >/dev/null
rcli HSET "$H" busy "$old" >/dev/null
consumer gone
rcli HSET "$H" gone "$old" >/dev/null
consumer recent
rcli HSET "$H" recent "$recent" >/dev/null
consumer live
rcli HSET "$H" live "$now" >/dev/null
consumer foreign # no heartbeat: made by another tool
consumer odd
rcli HSET "$H" odd "not-a-time" >/dev/null
rcli HSET "$H" orphan "$old" >/dev/null # a beat without a consumer
# A thousand dead ones from an earlier fleet.
rcli EVAL "for i = 1, 1000 do
        local name = 'pod-' .. i
        redis.call('XGROUP', 'CREATECONSUMER', KEYS[1], ARGV[1], name)
        redis.call('HSET', KEYS[2], name, ARGV[2])
    end" 2 "$R_STREAM" "$H" "$R_GROUP" "$old" >/dev/null
[ "$(rcli XINFO GROUPS "$R_STREAM" | awk 'prev == "consumers" { print } { prev = $0 }')" = 1006 ] ||
    t_fail "setup: $(rcli XINFO GROUPS "$R_STREAM")"

consumers() {
    rcli XINFO CONSUMERS "$R_STREAM" "$R_GROUP" |
        awk 'prev == "name" { print } { prev = $0 }' | sort | paste -sd ' '
}
r_minion m1 REDIS_CLAIM_IDLE_MS=60000 MINION_LOG_LEVEL=debug -- -- true
want="busy foreign live m1 odd recent"
t_wait_until 20 sh -c "[ \"\$(redis-cli -p $REDIS_PORT XINFO CONSUMERS $R_STREAM $R_GROUP |
    awk 'prev == \"name\" { print } { prev = \$0 }' | sort | paste -sd ' ')\" = '$want' ]" ||
    t_fail "consumers left: $(consumers | cut -c 1-300); log: $(grep -i consumer m1.err | tail -n 3)"
[ "$(r_pending_of busy)" -eq 2 ] || t_fail "busy lost its entries"
[ "$(r_pending)" -eq 2 ] || t_fail "pending: $(r_pending)"
fields=$(rcli HKEYS "$H" | sort | paste -sd ' ')
[ "$fields" = "busy live m1 odd recent" ] || t_fail "heartbeats: $(echo "$fields" | cut -c 1-300)"
grep -q "removed 1002 dead consumers from group $R_GROUP" m1.err ||
    t_fail "no summary: $(grep -i consumer m1.err | tail -n 3)"
passes=$(sed -n 's/.*removed 1002 dead consumers.*; \([0-9]*\) passes.*/\1/p' m1.err)
[ "${passes:-0}" -ge 5 ] || t_fail "one pass did it all ($passes): unbounded"
t_ok "1000 dead consumers, one more and an orphan beat removed in $passes passes; busy, recent, live, foreign kept"

# The minion still works: it ran the two free params.
t_wait_until 20 sh -c "[ \$(redis-cli -p $REDIS_PORT XLEN $R_STREAM:results) -ge 2 ]" ||
    t_fail "m1 ran nothing: $(tail -n 3 m1.err)"
kill -TERM "$R_PID"
r_wait_exit "$R_PID" 20
[ "$R_RC" -eq 0 ] || t_fail "m1 exit $R_RC: $(tail -n 3 m1.err)"
t_ok "the sweep runs beside the work"
