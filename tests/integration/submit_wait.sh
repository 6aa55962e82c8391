#!/bin/bash
# SPDX-License-Identifier: MIT
# minion-submit --wait: results are gathered for exactly the submitted ids and
# printed in submission order. The minion side is played by redis-cli XADD on
# the results stream: what is under test is --wait, not the engine.
. "$top_srcdir/tests/integration/lib.sh"
t_init
unset REDIS_STREAM REDIS_RESULTS
t_start_redis

# ids STREAM N: wait until STREAM holds N entries, print their ids in order.
ids() {
    local want=$2
    xlen_at_least() { [ "$(rcli XLEN "$1")" -ge "$2" ]; }
    t_wait_until 10 xlen_at_least "$1" "$want" ||
        t_fail "$1 never reached $want entries"
    rcli --raw XRANGE "$1" - + | awk 'NR % 3 == 1'
}

# result KEY TASK STATUS OUTPUT [ERROR]: what a minion adds per finished task.
result() {
    rcli XADD "$1" '*' task "$2" status "$3" attempt 1 minion fake \
        duration_ms 5 exit_code 0 output "$4" error "${5:-}" >/dev/null
}

# A result of an earlier run, for an id that is not ours: never counted.
result minionize:results 1-1 dead 'stale' 'old'

timeout 30 "$SUBMIT" -e redis --wait --timeout 20 a b c >out 2>err &
pid=$!
t_track $pid
set -- $(ids minionize 3)
[ $# -eq 3 ] || t_fail "ids: $*"
# Out of order, with a retry of b, a noise entry and a duplicate of c.
result minionize:results "$3" ok 'out-c'
result minionize:results "$2" failed '' 'flaky'
sleep 0.3
# Nothing may be printed while the first param is unsettled.
[ -s out ] && t_fail "printed before a was final: $(cat out)"
rcli XADD minionize:results '*' hello world >/dev/null
result minionize:results "$1" ok "$(printf 'out-a\nline 2\n')"
result minionize:results "$3" dead 'late duplicate' 'ignored'
result minionize:results "$2" ok 'out-b'
wait $pid
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "--wait all ok exited $rc"; }
printf '%s\n' out-a 'line 2' out-b out-c >want
cmp -s want out || { diff want out >&2; t_fail "output order"; }
grep -qx 'minion-submit: submitted 3 params to redis stream minionize' err ||
    t_fail "stderr: $(cat err)"
t_ok "outputs in submission order, newline added, retries and noise skipped"

# Dead params: exit 1, their count and the first error; ok ones still print.
REDIS_RESULTS=res timeout 30 "$SUBMIT" -q -e redis --stream s2 --wait x y z \
    >out 2>err &
pid=$!
t_track $pid
set -- $(ids s2 3)
result res "$3" dead '' 'z broke'
result res "$2" dead '' 'y broke'
result res "$1" ok 'X'
wait $pid
rc=$?
[ "$rc" -eq 1 ] || { cat err >&2; t_fail "dead params: exit $rc"; }
[ "$(cat out)" = X ] || t_fail "stdout: $(cat out)"
[ "$(wc -l <err)" -eq 1 ] || { cat err >&2; t_fail "stderr lines"; }
grep -qx 'minion-submit: 2 of 3 params dead; first (param 2): y broke' err ||
    t_fail "dead message: $(cat err)"
t_ok "dead params: exit 1, N of M dead with the first error"

# --timeout: what is missing is counted, what came in order is printed.
start=$(date +%s)
timeout 30 "$SUBMIT" -q -e redis --stream s3 --wait --timeout 2 p q >out \
    2>err &
pid=$!
t_track $pid
set -- $(ids s3 2)
result minionize:results "$1" ok 'first' # another results stream: unseen
result s3:results "$1" ok 'P'
wait $pid
rc=$?
elapsed=$(($(date +%s) - start))
[ "$rc" -eq 1 ] || { cat err >&2; t_fail "timeout: exit $rc"; }
[ "$elapsed" -le 10 ] || t_fail "--timeout 2 took ${elapsed}s"
[ "$(cat out)" = P ] || t_fail "stdout: $(cat out)"
grep -qx 'minion-submit: timed out: 1 of 2 results missing' err ||
    t_fail "timeout message: $(cat err)"
t_ok "--timeout: exit 1, K of M missing"

# Usage around --wait.
t_expect_exit 2 "$SUBMIT" -e redis --wait --timeout -1 a 2>err
t_expect_exit 2 "$SUBMIT" -e redis --wait --timeout soon a 2>err
REDIS_RESULTS= t_expect_exit 2 "$SUBMIT" -e redis --wait a 2>err
grep -q 'REDIS_RESULTS' err || t_fail "empty REDIS_RESULTS: $(cat err)"
"$SUBMIT" -q -e redis --stream s4 --wait </dev/null >out 2>err ||
    t_fail "--wait with no params must exit 0"
t_ok "--wait usage errors exit 2; nothing to wait for exits 0"
