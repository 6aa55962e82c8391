# SPDX-License-Identifier: MIT
# function: MINION_RETRY runs MINION_MAX_ATTEMPTS times then dead, REJECT is
# dead at once, another return value is a failure naming it; a timed-out
# function is failed when it returns; SIGTERM waits for a running function.
. "$top_srcdir/tests/integration/lib.sh"
t_init

TESTFN="$top_builddir/tests/plugins/.libs/testfn.so"
[ -f "$TESTFN" ] || t_fail "testfn.so not built: $TESTFN"
export MINION_FUNCTION="$TESTFN"

printf '%s\n' fail-one reject-me hello weird >params
MINION_MAX_ATTEMPTS=3 timeout 20 "$MINIONIZE" -c function -j2 -r stdout \
    <params >out 2>err
rc=$?
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "minionize exited $rc"; }
for a in 1 2 3; do
    grep -qx "fail-one failing attempt=$a" out ||
        { cat out >&2; t_fail "fail-one attempt $a did not run"; }
done
[ "$(grep -c '^fail-one failing' out)" -eq 3 ] ||
    { cat out >&2; t_fail "fail-one ran more than 3 times"; }
grep -qE '^dead 1 attempt=3 [0-9.]+s: failed$' out ||
    { cat out >&2; t_fail "fail-one not dead at attempt 3"; }
[ "$(grep -c '^reject-me rejected' out)" -eq 1 ] ||
    { cat out >&2; t_fail "reject-me must run once"; }
grep -qE '^dead 2 attempt=1 ' out || t_fail "reject-me not dead at once"
grep -qx "hello attempt=1" out && grep -qE '^ok 3 attempt=1 ' out ||
    { cat out >&2; t_fail "hello not ok"; }
[ "$(grep -cE '^(failed|dead) 4 attempt=[123] [0-9.]+s: function returned 42$' out)" \
    -eq 3 ] || { cat out >&2; t_fail "weird: 3 runs failing with its value"; }
tail -n 1 err | grep -q "done: 1 ok, 4 failed, 3 dead" ||
    t_fail "last log line: $(tail -n 1 err)"
t_ok "retry, reject and odd return values"

# No cancel for a thread: the timed-out task is failed once it returns.
start=$(date +%s%N)
echo sleep:1000 | MINION_TIMEOUT=0.2 MINION_MAX_ATTEMPTS=1 timeout 20 \
    "$MINIONIZE" -c function -r stdout >out 2>err
[ $? -eq 4 ] || { cat err >&2; t_fail "timeout run: dead is exit 4"; }
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -ge 900 ] || t_fail "the function cannot have finished (${ms} ms)"
grep -qE '^dead 1 attempt=1 [0-9.]+s: timed out after 0.2s$' out ||
    { cat out err >&2; t_fail "timed-out task not reported failed"; }
t_ok "timeout reported when the function returns (${ms} ms)"

# SIGTERM: the running function finishes and is acked; exit 0. No
# timeout(1) around it: it would pass the signal on twice.
mkfifo feed
"$MINIONIZE" -c function -r stdout <feed >out 2>err &
pid=$!
t_track $pid
exec 3>feed
echo mark-sleep:1000 >&3
t_wait_until 10 test -e mark || t_fail "the function did not start"
kill -TERM $pid
exec 3>&-
t_wait_until 20 sh -c "! kill -0 $pid" || t_fail "the minion did not stop"
wait $pid
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "SIGTERM exit $rc"; }
grep -qx "slept 1000" out && grep -qE '^ok 1 attempt=1 ' out ||
    { cat out err >&2; t_fail "the running function was not let finish"; }
t_ok "SIGTERM lets the running function finish"

# Grace over while the function runs: a function cannot be interrupted, so
# the log says it waits; the function finishes and is acked, and that is a
# clean stop (exit 0), not "left unacked" (exit 1).
rm -f mark
mkfifo feed2
MINION_GRACE=0.2 "$MINIONIZE" -c function -r stdout <feed2 >out 2>err &
pid=$!
t_track $pid
exec 3>feed2
echo mark-sleep:1000 >&3
t_wait_until 10 test -e mark || t_fail "grace: the function did not start"
kill -TERM $pid
exec 3>&-
t_wait_until 20 sh -c "! kill -0 $pid" || t_fail "grace: the minion did not stop"
wait $pid
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "grace over, function finished: exit $rc"; }
grep -q "cannot be interrupted (callback function); waiting up to" err ||
    t_fail "grace: the log does not say what happens: $(cat err)"
grep -q "they stay unacked" err && t_fail "grace: the log says unacked: $(cat err)"
grep -qE '^ok 1 attempt=1 ' out || t_fail "grace: the function's task not acked"
t_ok "grace over: the function finishes, is acked, exit 0"
