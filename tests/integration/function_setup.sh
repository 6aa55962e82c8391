# SPDX-License-Identifier: MIT
# function: SYMBOL_setup runs once on the loop thread with the words after
# the options, before the first call, even with -j8; SYMBOL_teardown runs
# once after the last call (drained, stopped by a signal, or another plugin
# failing to start); neither overlaps a call. A failing setup is exit 2 with
# one line and nothing consumed. The wordcount example loads a dictionary in
# setup and counts only its words.
. "$top_srcdir/tests/integration/lib.sh"
t_init

TESTFN="$top_builddir/tests/plugins/.libs/testfn.so"
WORDCOUNT="$top_builddir/plugins/examples/.libs/wordcount.so"
[ -f "$TESTFN" ] || t_fail "testfn.so not built: $TESTFN"
[ -f "$WORDCOUNT" ] || t_fail "wordcount.so not built: $WORDCOUNT"

# check_log CALLS: hooks.log is one setup line, CALLS call lines, and one
# teardown line last that counted CALLS calls; nothing overlapped.
check_log() {
    local calls=$1
    [ "$(grep -c '^setup ' hooks.log)" -eq 1 ] ||
        { cat hooks.log >&2; t_fail "setup did not run exactly once"; }
    head -n 1 hooks.log | grep -q '^setup main ' ||
        { cat hooks.log >&2; t_fail "setup not first, or not on the loop"; }
    [ "$(grep -c '^call ' hooks.log)" -eq "$calls" ] ||
        t_fail "$(grep -c '^call ' hooks.log) calls, not $calls"
    [ "$(grep -c '^teardown ' hooks.log)" -eq 1 ] ||
        { tail -n 3 hooks.log >&2; t_fail "teardown did not run exactly once"; }
    tail -n 1 hooks.log | grep -qx "teardown main calls=$calls" ||
        t_fail "teardown not last after $calls calls: $(tail -n 1 hooks.log)"
    ! grep -q '^overlap' hooks.log ||
        t_fail "a hook overlapped a call: $(grep '^overlap' hooks.log)"
}

# --- both hooks, once each, with -j8 over many params -----------------------
seq 400 | MINION_FUNCTION="$TESTFN:hooked" timeout 30 "$MINIONIZE" \
    -c function -j8 alpha 'beta gamma' '' >out 2>err ||
    { cat err >&2; t_fail "hooked run failed"; }
[ "$(wc -l <out)" -eq 400 ] || t_fail "$(wc -l <out) results, not 400"
check_log 400
head -n 1 hooks.log | grep -qxF 'setup main argc=3 [alpha] [beta gamma] []' ||
    t_fail "setup did not get the words: $(head -n 1 hooks.log)"
tids=$(sed -n 's/^call .* tid=//p' hooks.log | sort -u | wc -l)
[ "$tids" -gt 1 ] || t_fail "all calls ran on one thread: -j8 not exercised"
t_ok "setup once with the words, teardown once after 400 calls on $tids threads"

rm -f hooks.log
echo one | MINION_FUNCTION="$TESTFN:hooked" timeout 20 "$MINIONIZE" \
    -c function >out 2>err || { cat err >&2; t_fail "run without words"; }
check_log 1
head -n 1 hooks.log | grep -qx 'setup main argc=0' ||
    t_fail "no words: $(head -n 1 hooks.log)"
t_ok "no words: setup gets argc=0"

# --- a failing setup: exit 2, one line, nothing consumed --------------------
seq 20 >params
# expect_setup_error PATTERN WORDS...: exit 2, one error line matching
# PATTERN, no output, setup ran and nothing else, the state dir untouched.
expect_setup_error() {
    local pattern=$1 rc
    shift
    rm -f hooks.log
    MINION_FILE=params MINION_FILE_STATE=st timeout 20 "$MINIONIZE" \
        -c function --set MINION_FUNCTION="$TESTFN:hooked" "$@" >out 2>err
    rc=$?
    [ "$rc" -eq 2 ] || { cat err >&2; t_fail "$*: exit $rc, not 2"; }
    [ "$(wc -l <err)" -eq 1 ] || { cat err >&2; t_fail "$*: not one line"; }
    grep -qE "^minionize: error: callback function: $pattern\$" err ||
        { cat err >&2; t_fail "$*: error does not say '$pattern'"; }
    [ ! -s out ] || t_fail "$*: something ran: $(cat out)"
    [ "$(grep -vc '^setup ' hooks.log)" -eq 0 ] ||
        { cat hooks.log >&2; t_fail "$*: a call or teardown ran"; }
    [ ! -e st ] || [ -z "$(ls -A st)" ] ||
        t_fail "$*: the state dir holds $(ls -A st)"
}

expect_setup_error 'hooked_setup: cannot load m\.bin: no such model' fail m.bin
t_ok "setup's message: $(cat err)"
expect_setup_error 'hooked_setup returned 7' fail-quiet
t_ok "no message: $(cat err)"
expect_setup_error 'hooked_setup: first line second line +third' fail-lines
t_ok "a message of several lines is one line: $(cat err)"

# Standard input too: the engine never started, so every line is still on
# the shared descriptor for whoever reads it next.
{
    MINION_FUNCTION="$TESTFN:hooked" timeout 20 "$MINIONIZE" -c function \
        fail >out 2>err
    echo $? >rc
    cat >left
} <params
[ "$(cat rc)" -eq 2 ] || { cat err >&2; t_fail "stdin: exit $(cat rc)"; }
cmp -s params left || t_fail "stdin: $(wc -l <left) of 20 lines left unread"
t_ok "a failed setup reads nothing from standard input"

# Nothing was taken: a working run gets every line.
rm -f hooks.log
MINION_FILE=params MINION_FILE_STATE=st timeout 20 "$MINIONIZE" -c function \
    --set MINION_FUNCTION="$TESTFN:hooked" -j4 >out 2>err ||
    { cat err >&2; t_fail "the run after failed setups"; }
check_log 20
seq 20 | sort >want
sort out | cmp -s want - || t_fail "not every line ran after a failed setup"
t_ok "failed setups consumed nothing: the next run ran all 20 lines"

# --- teardown on the other ways out ------------------------------------------
# A stop signal: teardown after the last running call. No timeout(1): it
# would pass the signal on twice.
rm -f hooks.log
mkfifo feed
MINION_FUNCTION="$TESTFN:hooked" "$MINIONIZE" -c function -j2 <feed \
    >out 2>err &
pid=$!
t_track $pid
exec 3>feed
seq 5 >&3
t_wait_until 10 sh -c '[ "$(grep -c "^call " hooks.log)" -eq 5 ]' ||
    t_fail "the calls did not run"
kill -TERM $pid
t_wait_until 20 sh -c "! kill -0 $pid" || t_fail "the minion did not stop"
exec 3>&-
wait $pid
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "SIGTERM exit $rc"; }
check_log 5
t_ok "SIGTERM: teardown once, after the calls"

# The engine fails to start after setup succeeded: teardown still runs, and
# no call does.
rm -f hooks.log
MINION_FILE="$PWD/no-such-file" MINION_FUNCTION="$TESTFN:hooked" \
    timeout 20 "$MINIONIZE" -c function >out 2>err
rc=$?
[ "$rc" -eq 2 ] || { cat err >&2; t_fail "engine start failure: exit $rc"; }
check_log 0
t_ok "another plugin fails to start: teardown runs, after no call"

# A dry run calls nothing, so it sets nothing up.
rm -f hooks.log
seq 3 | MINION_FUNCTION="$TESTFN:hooked" timeout 20 "$MINIONIZE" \
    -c function --dry-run fail >out 2>err ||
    { cat err >&2; t_fail "dry run"; }
[ ! -e hooks.log ] || t_fail "a dry run ran a hook: $(cat hooks.log)"
t_ok "a dry run runs no hook"

# --- the wordcount example with a dictionary --------------------------------
mkdir texts
printf 'the quick brown fox\njumps over the lazy dog\n' >texts/fox.txt
printf '  The dog, the DOG and\tthe\rdog\n\nfox' >texts/case.txt
: >texts/empty.txt
long=$(printf 'w%.0s' $(seq 256))
# Past the example's 64 KiB read buffer, so words straddle two reads; one
# word of exactly 256 bytes is known, a longer one is not.
for i in $(seq 4000); do
    echo "line $i: the quick brown fox $long ${long}xyz jumps, over the dog"
done >texts/long.txt
printf 'the\nfox\n\n  dog jumps\t%s\nthe\n' "$long" >dict.txt
ls "$PWD"/texts/*.txt >params
MINION_FUNCTION="$WORDCOUNT" timeout 30 "$MINIONIZE" -c function -j4 \
    -r stdout "$PWD/dict.txt" <params >out 2>err ||
    { cat err >&2; t_fail "wordcount with a dictionary"; }
tr -s '[:space:]' '\n' <dict.txt | grep . | sort -u >words
for f in "$PWD"/texts/*.txt; do
    lines=$(LC_ALL=C wc -l <"$f")
    known=$(LC_ALL=C tr -s '[:space:]' '\n' <"$f" | grep -cxFf words)
    letters=$(LC_ALL=C tr -cd '[:alpha:]' <"$f" | wc -c)
    want="$f $((lines)) $((known)) $((letters))"
    grep -qxF "$want" out || { cat out >&2; t_fail "no line '$want'"; }
done
t_ok "wordcount counts only the dictionary's words"

MINION_FILE=params MINION_FILE_STATE=st2 timeout 20 "$MINIONIZE" \
    -c function --set MINION_FUNCTION="$WORDCOUNT" "$PWD/nope.txt" >out 2>err
rc=$?
[ "$rc" -eq 2 ] || { cat err >&2; t_fail "missing dictionary: exit $rc"; }
[ "$(wc -l <err)" -eq 1 ] || { cat err >&2; t_fail "missing dictionary: lines"; }
grep -qxF "minionize: error: callback function: minion_function_setup: $PWD/nope.txt: No such file or directory" err ||
    t_fail "missing dictionary: $(cat err)"
[ ! -s out ] || t_fail "missing dictionary: something ran"
[ ! -e st2 ] || [ -z "$(ls -A st2)" ] || t_fail "missing dictionary: state"
t_ok "a missing dictionary: $(cat err)"

MINION_FUNCTION="$WORDCOUNT" timeout 20 "$MINIONIZE" -c function \
    dict.txt dict.txt <params >out 2>err
rc=$?
[ "$rc" -eq 2 ] && grep -q 'give one dictionary file, not 2 words$' err ||
    { cat err >&2; t_fail "two dictionaries: exit $rc"; }
t_ok "two dictionaries: $(cat err)"
