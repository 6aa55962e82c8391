# SPDX-License-Identifier: MIT
# The streams a minion writes must not feed it: REDIS_RESULTS or REDIS_DEAD
# equal to REDIS_STREAM would turn every result or dead letter into a new
# param (a loop without end), dead letters in the results stream would be
# trimmed away with old results, and <stream>:minions holds the heartbeats.
# Each is exit 2 with one line naming the setting, before anything is read
# or created; minion-submit --wait refuses a results stream that is the
# params stream.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
unset REDIS_STREAM REDIS_RESULTS REDIS_DEAD
t_start_redis

r_submit 2
rcli SET sentinel 1 >/dev/null
keys_before=$(rcli KEYS '*' | sort | paste -sd ' ')

# bad NAME WORD ENV...: exit 2, one line naming WORD, nothing touched.
bad() {
    local name=$1 word=$2
    shift 2
    env MINION_ENGINE=redis MINION_ID="$name" MINION_EXIT_WHEN_EMPTY=1 "$@" \
        timeout 20 "$MINIONIZE" -- echo >"$name.out" 2>"$name.err"
    rc=$?
    [ "$rc" -eq 2 ] || t_fail "$name: exit $rc, not 2: $(tail -n 3 "$name.err")"
    [ "$(wc -l <"$name.err")" -eq 1 ] || t_fail "$name: stderr: $(cat "$name.err")"
    grep -q "$word" "$name.err" || t_fail "$name: message: $(cat "$name.err")"
    [ ! -s "$name.out" ] || t_fail "$name: ran: $(cat "$name.out")"
    [ "$(rcli KEYS '*' | sort | paste -sd ' ')" = "$keys_before" ] ||
        t_fail "$name: keys changed: $(rcli KEYS '*' | paste -sd ' ')"
    [ "$(rcli XLEN "$R_STREAM")" = 2 ] || t_fail "$name: XLEN $(rcli XLEN "$R_STREAM")"
    t_ok "$name: exit 2: $(cat "$name.err")"
}

bad results-is-stream "REDIS_RESULTS must not be the params stream" \
    REDIS_RESULTS="$R_STREAM"
bad dead-is-stream "REDIS_DEAD must not be the params stream" \
    REDIS_DEAD="$R_STREAM"
bad other-stream "REDIS_RESULTS must not be the params stream" \
    REDIS_STREAM=jobs REDIS_RESULTS=jobs
bad results-is-dead "REDIS_RESULTS and REDIS_DEAD must differ" \
    REDIS_RESULTS=both REDIS_DEAD=both
bad results-is-default-dead "REDIS_RESULTS and REDIS_DEAD must differ" \
    REDIS_RESULTS="$R_STREAM:dead"
bad dead-is-default-results "REDIS_RESULTS and REDIS_DEAD must differ" \
    REDIS_DEAD="$R_STREAM:results"
bad dead-is-heartbeats "REDIS_DEAD must not be $R_STREAM:minions" \
    REDIS_DEAD="$R_STREAM:minions"
bad dry-run-too "REDIS_RESULTS must not be the params stream" DRY=1 \
    REDIS_RESULTS="$R_STREAM"

# Results off, and dead letters elsewhere, are fine.
env MINION_ENGINE=redis MINION_ID=ok MINION_EXIT_WHEN_EMPTY=1 REDIS_RESULTS= \
    REDIS_DEAD=elsewhere timeout 20 "$MINIONIZE" -- echo >ok.out 2>ok.err ||
    t_fail "results off: exit $?: $(cat ok.err)"
[ "$(wc -l <ok.out)" -eq 2 ] || t_fail "results off: ran $(cat ok.out)"
t_ok "REDIS_RESULTS= with REDIS_DEAD=elsewhere runs"

# minion-submit --wait would read its own params as results.
REDIS_RESULTS=jobs timeout 20 "$SUBMIT" -e redis --stream jobs --wait \
    --timeout 5 a >submit.out 2>submit.err
rc=$?
[ "$rc" -eq 2 ] || t_fail "submit: exit $rc: $(cat submit.err)"
[ "$(wc -l <submit.err)" -eq 1 ] || t_fail "submit: stderr: $(cat submit.err)"
grep -q "REDIS_RESULTS must not be the params stream" submit.err ||
    t_fail "submit: message: $(cat submit.err)"
[ "$(rcli EXISTS jobs)" = 0 ] || t_fail "submit: something was submitted"
t_ok "minion-submit --wait with REDIS_RESULTS = the stream: exit 2"
