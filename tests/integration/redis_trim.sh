# SPDX-License-Identifier: MIT
# REDIS_TRIM and REDIS_RESULTS_MAXLEN: 200,000 params through two minions,
# fed over a few seconds, keep the params stream bounded while they run (it never holds entries
# acked more than a few trim periods ago), every param runs exactly once
# and nothing pending is trimmed; REDIS_TRIM=0 keeps every entry; a second
# group holds the trim back to what it has not read or still has pending;
# REDIS_RESULTS_MAXLEN=1000 keeps the results stream near 1000.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

WORDCOUNT="$top_builddir/plugins/examples/.libs/wordcount.so"
[ -f "$WORDCOUNT" ] || t_fail "wordcount.so not built: $WORDCOUNT"
export MINION_FUNCTION="$WORDCOUNT:minion_noop"
N=200000

# One atomic sample: ms since the start, XLEN, entries ever added, and
# the group's entries read and pending.
sample() {
    rcli EVAL "local len = redis.call('XLEN', KEYS[1])
        local added, read, pend = 0, 0, 0
        local s = redis.pcall('XINFO', 'STREAM', KEYS[1])
        if type(s) == 'table' then
            for i = 1, #s, 2 do
                if s[i] == 'entries-added' then added = s[i + 1] end
            end
        end
        local g = redis.pcall('XINFO', 'GROUPS', KEYS[1])
        if type(g) == 'table' and g[1] then
            local m = {}
            for i = 1, #g[1], 2 do m[g[1][i]] = g[1][i + 1] end
            read, pend = m['entries-read'] or 0, m['pending']
        end
        return {len, added, read, pend}" 1 "$R_STREAM" | paste -sd' '
}

# The params come in over about 5 s, as from a producer, so that the
# minions (which drain far faster) trim many times along the way; they
# stop once every param has a result.
start=$(date +%s%N)
r_minion a -- -c function -j8
a=$R_PID
r_minion b -- -c function -j8
b=$R_PID
(
    for _ in $(seq 20); do
        r_submit $((N / 20))
        sleep 0.25
    done
) &
producer=$!
t_track $producer
: >samples
while [ "$(rcli XLEN "$R_STREAM:results")" -lt "$N" ]; do
    echo "$((($(date +%s%N) - start) / 1000000)) $(sample)" >>samples
    sleep 0.1
    [ $((($(date +%s%N) - start) / 1000000000)) -lt 60 ] ||
        t_fail "the params did not run within 60 s: $(tail -n 3 a.err b.err)"
done
echo "$((($(date +%s%N) - start) / 1000000)) $(sample)" >>samples
t_wait_exit "$producer" 10
kill -TERM "$a" "$b"
r_wait_exit "$a" 10
[ "$R_RC" -eq 0 ] || t_fail "minion a exited $R_RC: $(tail -n 3 a.err)"
r_wait_exit "$b" 10
[ "$R_RC" -eq 0 ] || t_fail "minion b exited $R_RC: $(tail -n 3 b.err)"

# Bounded: at every sample, the entries read and acked but still in the
# stream (XLEN - unread - pending) are at most those read in the last 3 s
# (a trim a second, slack for a loaded machine), plus one kept entry.
awk '
    { t[NR] = $1; len[NR] = $2; add[NR] = $3; rd[NR] = $4; pend[NR] = $5 }
    END {
        for (i = 1; i <= NR; i++) {
            kept = len[i] - (add[i] - rd[i]) - pend[i]
            old = 0
            for (j = 1; j <= i; j++) if (t[j] <= t[i] - 3000) old = rd[j]
            if (kept > rd[i] - old + 1) {
                printf "at %d ms: %d acked entries kept, %d read in the last 3 s\n",
                    t[i], kept, rd[i] - old
                bad = 1
            }
            if (len[i] > max) max = len[i]
        }
        printf "samples %d, largest XLEN %d\n", NR, max
        exit bad
    }' samples >bound.txt || t_fail "the params stream was not kept bounded: $(head -n 3 bound.txt)"
# And it was trimmed along the way, not only at the end.
trimmed=$(awk -v n="$N" '$3 >= n / 2 && $2 < n / 4 { k++ } END { print k + 0 }' samples)
[ "$trimmed" -gt 0 ] ||
    t_fail "the stream was never trimmed below $((N / 4)) once $((N / 2)) were added: $(tail -n 3 samples)"

# Exactly once, nothing trimmed while pending.
[ "$(rcli XLEN "$R_STREAM:dead")" = 0 ] ||
    t_fail "dead letters: $(r_stream_lines "$R_STREAM:dead" task error | head -n 3)"
grep -q "trimmed while pending" a.err b.err && t_fail "an entry was trimmed while pending"
[ "$(r_pending)" = 0 ] || t_fail "still pending: $(r_pending)"
counts=$(r_ok_counts "$R_STREAM:results")
[ "$counts" = "$N 0" ] || t_fail "want $N params ok once each, got (distinct, repeats): $counts"
t_ok "$N params ran once each through 2 minions; $(tail -n 1 bound.txt)"

# REDIS_TRIM=0 keeps every entry.
R_STREAM=keep
r_submit 2000
r_minion keep REDIS_STREAM=keep REDIS_TRIM=0 MINION_EXIT_WHEN_EMPTY=1 -- -c function -j8
keep=$R_PID
t_wait_until 20 sh -c "[ \"\$(redis-cli -p $REDIS_PORT XLEN keep:results)\" = 2000 ]" ||
    t_fail "REDIS_TRIM=0: the params did not run: $(tail -n 3 keep.err)"
r_wait_exit "$keep" 10
[ "$(rcli XLEN keep)" = 2000 ] || t_fail "REDIS_TRIM=0 trimmed: XLEN $(rcli XLEN keep)"
t_ok "REDIS_TRIM=0 keeps all 2000 entries"

# A second group holds the trim back: it read 500 entries and acked all
# but the 100th, so the trim keeps the 100th and everything after it.
R_STREAM=two
rcli XGROUP CREATE two other 0 MKSTREAM >/dev/null
r_submit 2000
rcli XREADGROUP GROUP other c COUNT 500 STREAMS two '>' >/dev/null
ids=$(rcli EVAL "local o = {}
    for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 500)) do
        o[#o + 1] = e[1]
    end
    return o" 1 two)
held=$(echo "$ids" | sed -n 100p)
# shellcheck disable=SC2046
rcli XACK two other $(echo "$ids" | sed 100d) >/dev/null
r_minion two REDIS_STREAM=two -- -c function -j8
two=$R_PID
t_wait_until 20 sh -c "[ \"\$(redis-cli -p $REDIS_PORT XLEN two)\" = 1901 ]" ||
    t_fail "want the trim to stop at the other group's pending entry (1901 kept), XLEN $(rcli XLEN two): $(tail -n 3 two.err)"
[ "$(rcli XRANGE two - + COUNT 1 | head -n 1)" = "$held" ] ||
    t_fail "the first kept entry is not the other group's pending one"
# Acked now: the bound moves up to what it read last (its 500th, kept).
rcli XACK two other "$held" >/dev/null
t_wait_until 20 sh -c "[ \"\$(redis-cli -p $REDIS_PORT XLEN two)\" = 1501 ]" ||
    t_fail "want the trim to stop at the other group's last read entry (1501 kept), XLEN $(rcli XLEN two)"
[ "$(rcli XRANGE two - + COUNT 1 | head -n 1)" = "$(echo "$ids" | sed -n 500p)" ] ||
    t_fail "the first kept entry is not the other group's last read one"
kill -TERM "$two"
r_wait_exit "$two" 10
t_ok "a second group holds the trim to its oldest pending, then its last read entry"

# REDIS_RESULTS_MAXLEN=1000: about 1000 results kept (MAXLEN ~ trims
# whole nodes of 100 entries).
R_STREAM=capped
r_submit 5000
r_minion capped REDIS_STREAM=capped REDIS_RESULTS_MAXLEN=1000 MINION_EXIT_WHEN_EMPTY=1 -- -c function -j8
capped=$R_PID
r_wait_exit "$capped" 20
[ "$R_RC" -eq 0 ] || t_fail "REDIS_RESULTS_MAXLEN: exited $R_RC: $(tail -n 3 capped.err)"
results=$(rcli XLEN capped:results)
[ "$results" -ge 1000 ] && [ "$results" -le 1200 ] ||
    t_fail "REDIS_RESULTS_MAXLEN=1000: $results results kept"
t_ok "REDIS_RESULTS_MAXLEN=1000 kept $results of 5000 results"

# A --wait that falls behind a capped results stream says what it missed
# instead of waiting silently: stopped (SIGSTOP) while 1000 results are
# written with REDIS_RESULTS_MAXLEN=100, then let go.
seq 1000 | "$SUBMIT" -e redis --stream late --wait --timeout 10 >late.out 2>late.err &
waiter=$!
t_track "$waiter"
t_wait_until 10 grep -q submitted late.err || t_fail "minion-submit did not submit: $(cat late.err)"
kill -STOP "$waiter"
r_minion laterun REDIS_STREAM=late REDIS_RESULTS_MAXLEN=100 MINION_EXIT_WHEN_EMPTY=1 -- -c function -j8
r_wait_exit "$R_PID" 20
kill -CONT "$waiter"
t_wait_until 20 sh -c "! kill -0 $waiter 2>/dev/null" || t_fail "minion-submit --wait still waits"
wait "$waiter"
rc=$?
[ "$rc" -eq 1 ] || t_fail "minion-submit --wait exited $rc, not 1: $(cat late.err)"
grep -q "results were trimmed from late:results before --wait read them" late.err ||
    t_fail "the trimmed results were not reported: $(cat late.err)"
t_ok "--wait behind a capped results stream: $(grep trimmed late.err)"
