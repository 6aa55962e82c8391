#!/bin/bash
# SPDX-License-Identifier: MIT
# minion-status --redis --json over a queue put in a known state by hand
# (delivered and acked, pending with a minion gone quiet, not delivered,
# known results and dead letters), without its results stream, then over
# one a real minion drained; a stream that does not exist, an unreachable
# server, a bad setting, a password (used, never shown) and a wrong one.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

# The JSON is checked with sed and awk: no jq or python on a bare CI image.
# Pretty or not, the figures end up on one line.
status_json() {
    local rc=0
    "$STATUS" --redis --json >out.raw 2>err || rc=$?
    [ "$rc" -eq 0 ] || t_fail "--redis --json $*: exit $rc: $(cat err)"
    [ -s err ] && t_fail "stderr: $(cat err)"
    tr -d '\n\t' <out.raw >out
}

# t_num NAME GOT WANT: a number equal to WANT, or "null". Within 5e-4: a
# view may round to 3 decimals.
t_num() {
    if [ "$3" = null ]; then
        [ "$2" = null ] || t_fail "$1 is '$2', not null"
        return
    fi
    awk -v a="$2" -v b="$3" 'BEGIN {
        exit !(a ~ /^-?[0-9.eE+-]+$/ && a - b < 5e-4 && b - a < 5e-4) }' ||
        t_fail "$1 is '$2', not $3"
}

# A key's value in a flat JSON object (no nested objects or arrays).
j_get() {
    printf '%s\n' "$1" |
        sed -n "s/.*[{,] *\"$2\" *: *\\([^,}]*\\).*/\\1/p" | tr -d ' '
}

totals() {
    sed -n 's/.*"totals" *: *\({[^}]*}\).*/\1/p' out
}

# The object of minion ID in "minions".
minion() {
    grep -o "{[^{}]*\"id\" *: *\"$1\"[^{}]*}" out
}

want_total() {
    t_num "totals.$1" "$(j_get "$(totals)" "$1")" "$2"
}

want_minion() {
    local m
    m=$(minion "$1") || t_fail "no minion $1 in $(cat out)"
    t_num "$1.$2" "$(j_get "$m" "$2")" "$3"
}

want_dead() {
    local m
    m=$(minion "$1") || t_fail "no minion $1 in $(cat out)"
    [ "$(j_get "$m" probably_dead)" = "$2" ] ||
        t_fail "$1.probably_dead is not $2: $m"
}

# The params: 10 entries; m1 took 4 and acked them, m2 took 3 and holds
# them, 3 were never delivered.
r_submit 10
rcli XGROUP CREATE "$R_STREAM" "$R_GROUP" 0 >/dev/null
ids=$(rcli XREADGROUP GROUP "$R_GROUP" m1 COUNT 4 STREAMS "$R_STREAM" '>' |
    grep -E '^[0-9]+-[0-9]+$')
[ "$(echo "$ids" | wc -l)" -eq 4 ] || t_fail "m1 read: $ids"
# shellcheck disable=SC2086
[ "$(rcli XACK "$R_STREAM" "$R_GROUP" $ids)" = 4 ] || t_fail "XACK"
rcli XREADGROUP GROUP "$R_GROUP" m2 COUNT 3 STREAMS "$R_STREAM" '>' >/dev/null
# m3: a consumer made by another tool (no heartbeat), just now.
rcli XGROUP CREATECONSUMER "$R_STREAM" "$R_GROUP" m3 >/dev/null

# Heartbeats on Redis's clock: m1 beat now; m2 and m4 ten minutes ago, far
# past 3 x the default claim idle (30 s). m4 stopped cleanly (its hash says
# so); m2 has no hash, as one whose hash expired.
now=$(rcli TIME | head -n 1)000
old=$((now - 600000))
rcli HSET "$R_STREAM:minions" m1 "$now" m2 "$old" m4 "$old" >/dev/null
rcli HSET "$R_STREAM:minion:m1" state running nodename node-a concurrency 2 \
    in_flight 1 ok 7 failed 1 dead 0 started $((now - 5000)) \
    last_seen "$now" >/dev/null
rcli HSET "$R_STREAM:minion:m4" state stopped nodename node-b in_flight 0 \
    ok 0 failed 0 dead 0 started $((old - 5000)) last_seen "$old" >/dev/null

# Results: m1 3 ok and 1 failed (100..400 ms), m2 1 ok (1 s), 1 dead (2 s).
result() {
    rcli XADD "$R_STREAM:results" '*' task 1-0 status "$1" attempt 1 \
        minion "$2" duration_ms "$3" exit_code 0 output '' error "$4" >/dev/null
}
result ok m1 100
result ok m1 200
result ok m1 300
result failed m1 400 'exit status 1'
result ok m2 1000
result dead m2 2000 'exit status 2'
rcli XADD "$R_STREAM:dead" '*' param p9 task 1-0 error 'exit status 2' \
    attempts 3 >/dev/null
rcli XADD "$R_STREAM:dead" '*' param p10 task 1-1 error 'killed by signal 9' \
    attempts 1 >/dev/null

status_json
grep -q '"source" *: *"redis"' out || t_fail "source: $(cat out)"
grep -q "\"where\" *: *\"redis://127.0.0.1:$REDIS_PORT\"" out ||
    t_fail "where: $(cat out)"
want_total ok 4
want_total failed 1
want_total dead 1
want_total pending 3
want_total lag 3
want_total stream_length 10
want_total added 10
want_total dead_letters 2
# Done: 7 delivered - 3 pending, out of 10 added.
want_total percent 40
# 6 durations: nearest-rank p50 is the 3rd (300 ms), p95 the 6th (2 s).
want_total p50_s 0.3
want_total p95_s 2
want_total mean_s 0.666667
# The 6 results are a few seconds old: 6 in the last minute.
want_total rate_1m 0.1
# Only m1 is alive and running one: m2's hash is gone, m4 stopped.
want_total in_flight 1
# Left: 6; acked in the last minute (ok and dead results): 5, 1 per 12 s.
want_total eta_s 72
t_ok "totals: results, pending, lag, length, dead letters, percent, ETA"

want_minion m1 pending 0
want_minion m2 pending 3
want_minion m3 pending 0
# m1's counts are its hash's; m2 has none, so its results count.
want_minion m1 ok 7
want_minion m1 failed 1
want_minion m2 ok 1
want_minion m2 dead 1
want_minion m2 p50_s 1
want_minion m2 p95_s 2
want_minion m1 in_flight 1
want_dead m1 false
want_dead m2 true
want_dead m3 false
want_dead m4 false
idle=$(j_get "$(minion m2)" idle_ms)
if [ "${idle%.*}" -lt 600000 ] || [ "${idle%.*}" -ge 700000 ]; then
    t_fail "m2 idle_ms $idle"
fi
t_num m2.last_seen "$(j_get "$(minion m2)" last_seen)" "$((old / 1000))"
minion m1 | grep -q '"nodename" *: *"node-a"' || t_fail "m1 nodename"
[ "$(grep -o '"id" *: *"m[0-9]"' out | tr -d ' "' | tr '\n' ' ')" = \
    "id:m1 id:m2 id:m3 id:m4 " ] || t_fail "minions: $(cat out)"
t_ok "per minion: pending, counts, idle, probably dead (m2 only)"

# The latest dead letters first.
[ "$(grep -o '"text" *: *"[^"]*"' out | sed 's/.*: *//' | tr '\n' ' ')" = \
    '"killed by signal 9" "exit status 2" ' ] ||
    t_fail "errors: $(cat out)"
t_ok "errors: the dead letters', newest first"

# Without a results stream, the minions' hashes are what counts runs.
REDIS_RESULTS='' status_json "(no results)"
want_total ok 7
want_total failed 1
want_total dead 0
want_total p50_s null
want_total pending 3
t_ok "no results stream: the hashes' counts"

# A real minion drains another stream: what the engine itself writes.
R_STREAM=real r_submit 20
r_minion w1 REDIS_STREAM=real MINION_EXIT_WHEN_EMPTY=1 -- -- /bin/true
r_wait_exit "$R_PID" 30
[ "$R_RC" -eq 0 ] || t_fail "minion exited $R_RC: $(cat w1.err)"
REDIS_STREAM=real status_json "(stream real)"
want_total ok 20
want_total failed 0
want_total dead 0
want_total pending 0
want_total lag 0
want_total percent 100
want_total eta_s 0
want_total dead_letters 0
want_minion w1 ok 20
want_minion w1 pending 0
want_dead w1 false
minion w1 | grep -q '"nodename" *: *"[^"]' || t_fail "w1 nodename"
[ "$(grep -o '"id" *: *"[^"]*"' out | wc -l)" -eq 1 ] ||
    t_fail "minions: $(cat out)"
t_ok "a drained stream: 100%, the minion's own hash"

REDIS_STREAM=nothing-here status_json "(no such stream)"
for k in ok failed dead pending lag stream_length added dead_letters \
    percent; do
    want_total "$k" 0
done
grep -Eq '"minions" *: *\[ *\]' out || t_fail "minions: $(cat out)"
grep -Eq '"errors" *: *\[ *\]' out || t_fail "errors: $(cat out)"
t_ok "a stream that does not exist: zeros"

port=$(t_free_port) || t_fail "no free port"
REDIS_URL=redis://127.0.0.1:$port t_expect_exit 2 "$STATUS" --redis --json \
    >out 2>err
[ -s out ] && t_fail "output despite the error: $(cat out)"
[ "$(wc -l <err)" -eq 1 ] || t_fail "not one line: $(cat err)"
grep -q "^minion-status: .*redis://127.0.0.1:$port" err ||
    t_fail "unreachable: $(cat err)"
REDIS_URL=redis://127.0.0.1:$port REDIS_CLAIM_IDLE_MS=soon \
    t_expect_exit 2 "$STATUS" --redis --json >out 2>err
grep -q "REDIS_CLAIM_IDLE_MS" err || t_fail "bad setting: $(cat err)"
t_ok "unreachable Redis, a bad setting: exit 2, one line"

# The password never shows; a wrong one is one line naming the server.
rcli CONFIG SET requirepass 'se cret' >/dev/null
REDIS_URL="redis://:se%20cret@127.0.0.1:$REDIS_PORT" status_json "(password)"
grep -q "\"where\" *: *\"redis://127.0.0.1:$REDIS_PORT\"" out ||
    t_fail "where: $(cat out)"
grep -q cret out && t_fail "the password shows: $(cat out)"
want_total dead_letters 2
REDIS_URL="redis://:bad-pw-42@127.0.0.1:$REDIS_PORT" t_expect_exit 2 "$STATUS" \
    --redis --json >out 2>err
[ "$(wc -l <err)" -eq 1 ] || t_fail "not one line: $(cat err)"
grep -q "^minion-status: .*redis://127.0.0.1:$REDIS_PORT.*WRONGPASS" err ||
    t_fail "wrong password: $(cat err)"
grep -q bad-pw-42 err && t_fail "the password shows: $(cat err)"
t_ok "a password: used, never shown; a wrong one: exit 2, one line"
