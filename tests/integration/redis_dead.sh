# SPDX-License-Identifier: MIT
# Dead letters: a param whose program always fails (after MINION_MAX_ATTEMPTS
# runs, attempts counted by Redis's delivery count), a param the JSON decoder
# rejects (at once), an entry whose minions kept dying (delivered more than
# MINION_MAX_ATTEMPTS times), an entry deleted while pending (lost, with the
# deliveries it had). Each goes to <stream>:dead with param, task, error,
# attempts, and nothing stays pending.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

cat >prog.sh <<'EOS'
case "$MINION_PARAM" in
*bad*) echo "failing on purpose" >&2; exit 3 ;;
esac
echo "ran $MINION_PARAM"
EOS

# Two entries a dead minion "ghost" holds: one it got four times (the
# count a fourth delivery would have), one it got twice and that was
# deleted from the stream since.
rcli XGROUP CREATE "$R_STREAM" "$R_GROUP" 0 MKSTREAM >/dev/null
ghostly=$(rcli XADD "$R_STREAM" '*' param ghostly)
vanish=$(rcli XADD "$R_STREAM" '*' param vanish)
rcli XREADGROUP GROUP "$R_GROUP" ghost COUNT 2 STREAMS "$R_STREAM" '>' >/dev/null
rcli XCLAIM "$R_STREAM" "$R_GROUP" ghost 0 "$ghostly" RETRYCOUNT 3 JUSTID >/dev/null
rcli XCLAIM "$R_STREAM" "$R_GROUP" ghost 0 "$vanish" RETRYCOUNT 2 JUSTID >/dev/null
rcli XDEL "$R_STREAM" "$vanish" >/dev/null
good=$(rcli XADD "$R_STREAM" '*' param '"good"')
bad=$(rcli XADD "$R_STREAM" '*' param '"bad"')
oops=$(rcli XADD "$R_STREAM" '*' param '{oops')

r_minion m1 REDIS_CLAIM_IDLE_MS=1000 MINION_EXIT_WHEN_EMPTY=1 \
    MINION_DECODER=json -- -- sh prog.sh
r_wait_exit "$R_PID" 20
# Drained with dead params: 4, as contract v2 says (like xargs' 123).
[ "$R_RC" -eq 4 ] || t_fail "minion exited $R_RC, not 4: $(cat m1.err)"
# bad (3 runs) and {oops ran here; ghostly and vanish were dead-lettered by
# the engine itself, and count too.
grep -q "done: 1 ok, 2 failed, 4 dead" m1.err || t_fail "counts: $(tail -1 m1.err)"

r_results task status attempt >res.txt
want() {
    grep -qx "$1" res.txt || t_fail "no result '$1' in: $(cat res.txt)"
}
want "$good ok 1"
want "$bad failed 1"
want "$bad failed 2"
want "$bad dead 3"
want "$oops dead 1"
want "$ghostly dead 3"
want "$vanish dead 2"
[ "$(wc -l <res.txt)" -eq 7 ] || t_fail "results: $(cat res.txt)"

r_stream_lines "$R_STREAM:dead" task attempts param error >dead.txt
dead() {
    grep -q "^$1" dead.txt || t_fail "no dead letter '$1' in: $(cat dead.txt)"
}
dead "$bad 3 \"bad\" "
dead "$oops 1 {oops param_is_not_valid_JSON"
dead "$ghostly 3 ghostly delivered_3_times_without_finishing"
dead "$vanish 2 - entry_was_deleted_or_trimmed_while_pending"
[ "$(wc -l <dead.txt)" -eq 4 ] || t_fail "dead letters: $(cat dead.txt)"
[ "$(r_pending)" = 0 ] || t_fail "still pending: $(r_pending)"
t_ok "failed, undecodable, crash-looping and deleted params were dead-lettered"

# The task process's resources: in the result of each run of a process,
# left out (a report says null) of the dead results of entries that never
# ran here.
r_results task signal maxrss_kb user_s sys_s >usage.txt
grep -Eq "^$good - [0-9]+ [0-9.]+ [0-9.]+\$" usage.txt ||
    t_fail "resources of a run: $(grep "^$good" usage.txt)"
grep -Eq "^$bad - [0-9]+ [0-9.]+ [0-9.]+\$" usage.txt ||
    t_fail "resources of a failed run: $(grep "^$bad" usage.txt)"
# Per result of the two: does it have any of the four fields at all?
fields=$(rcli EVAL "local o = {}
    for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
        local m = {}
        for i = 1, #e[2], 2 do m[e[2][i]] = e[2][i + 1] end
        if m.task == ARGV[1] or m.task == ARGV[2] then
            o[#o + 1] = tostring(m.signal ~= nil or m.maxrss_kb ~= nil or
                m.user_s ~= nil or m.sys_s ~= nil)
        end
    end
    return o" 1 "$R_STREAM:results" "$ghostly" "$vanish" | sort | uniq -c |
    awk '{ print $1, $2 }')
[ "$fields" = "2 false" ] ||
    t_fail "resource fields in results that never ran: $fields"
t_ok "results carry the process's resources, and none for runs without one"

# A draining minion whose last params were held back (a placeholder none
# has filled yet: arguments or params at fault?) ends once they are let go
# as the params' fault, about a second later, not at the next claim tick
# (REDIS_CLAIM_IDLE_MS/2, 15 s by default): their end frees no slot, so
# no credit asks for the read that finds the stream empty.
R_STREAM=held
rcli XADD held '*' param '{"a":1}' >/dev/null
rcli XADD held '*' param '"str"' >/dev/null
r_minion held REDIS_STREAM=held MINION_EXIT_WHEN_EMPTY=1 MINION_DECODER=json \
    -- -j1 echo '{name}'
r_wait_exit "$R_PID" 8
[ "$R_RC" -eq 4 ] || t_fail "held: exit $R_RC, not 4: $(tail -n 3 held.err)"
[ "$(rcli XLEN held:dead)" = 2 ] || t_fail "held: dead letters: $(rcli XLEN held:dead)"
t_ok "a drain ends within seconds after params held back are let go"
