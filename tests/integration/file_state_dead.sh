#!/bin/bash
# SPDX-License-Identifier: MIT
# MINION_FILE_STATE: a failing line is retried up to MINION_MAX_ATTEMPTS,
# with the count surviving restarts, then kept in DIR/dead.jsonl with its
# error; it never runs again.
. "$top_srcdir/tests/integration/lib.sh"
t_init
[ -e "$top_builddir/callbacks/.libs/process.so" ] ||
    t_skip "the process callback is not built"

printf 'ok1\nbad\nok2\n' >in
export MINION_FILE=in MINION_FILE_STATE=st MINION_MAX_ATTEMPTS=3
prog='echo "$1 $MINION_ATTEMPT" >>runs; [ "$1" != bad ] || exit 7'

timeout 60 "$MINIONIZE" -q sh -c "$prog" sh >/dev/null 2>err
rc=$?
# Drained with a dead param: exit status 4 (contract v2).
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "minionize exited $rc"; }
printf 'bad 1\nbad 2\nbad 3\n' >want
grep '^bad' runs | cmp -s want - || t_fail "attempts: $(cat runs)"
[ "$(grep -c '^ok' runs)" -eq 2 ] || t_fail "ok lines: $(cat runs)"
[ "$(wc -l <st/dead.jsonl)" -eq 1 ] || t_fail "dead.jsonl: $(cat st/dead.jsonl)"
grep -q '^{"line":2,"param":"bad","error":"[^"]*7[^"]*","attempts":3,' \
    st/dead.jsonl || t_fail "dead letter: $(cat st/dead.jsonl)"
t_ok "retried 3 times, then a dead letter with its error"

timeout 60 "$MINIONIZE" -q sh -c "$prog" sh >/dev/null 2>err ||
    t_fail "second run: $(cat err)"
[ "$(wc -l <runs)" -eq 5 ] || t_fail "a second run ran lines again"
[ "$(wc -l <st/dead.jsonl)" -eq 1 ] || t_fail "dead letter written twice"
t_ok "a dead line never runs again"

# Each run stops its own minion (SIGTERM to the parent) after one failure:
# the attempt count must survive three restarts.
rm -rf st runs
printf 'bad\nok\n' >in
prog='echo "$1 $MINION_ATTEMPT" >>runs
      [ "$1" = bad ] || exit 0
      kill -TERM "$PPID"; exit 7'
for run in 1 2 3; do
    timeout 60 "$MINIONIZE" -q sh -c "$prog" sh >/dev/null 2>err
    rc=$?
    [ "$rc" -eq 0 ] || { cat err >&2; t_fail "run $run exited $rc"; }
    [ "$(grep -c '^bad' runs)" -eq "$run" ] ||
        t_fail "run $run: $(cat runs)"
done
printf 'bad 1\nbad 2\nbad 3\n' >want
grep '^bad' runs | cmp -s want - || t_fail "attempts across restarts: $(cat runs)"
grep -q '"line":1,"param":"bad".*"attempts":3' st/dead.jsonl ||
    t_fail "no dead letter after the third run: $(cat st/dead.jsonl)"
timeout 60 "$MINIONIZE" -q sh -c "$prog" sh >/dev/null 2>err ||
    t_fail "last run: $(cat err)"
[ "$(grep -c '^bad' runs)" -eq 3 ] || t_fail "bad ran after it was dead"
[ "$(grep -c '^ok 1$' runs)" -eq 1 ] || t_fail "ok: $(cat runs)"
[ -z "$(ls st/journal)" ] || t_fail "journals left: $(ls st/journal)"
t_ok "attempt counts survive restarts"
