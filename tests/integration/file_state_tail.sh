#!/bin/bash
# SPDX-License-Identifier: MIT
# MINION_FILE_STATE: a line is a param only once its newline is there. A
# line appended in two write(2)s is one param with its own line number; an
# unterminated last line waits for its newline (a little at the end, then
# the minion drains saying so once) and runs, whole, once a writer ends it.
. "$top_srcdir/tests/integration/lib.sh"
t_init
[ -e "$top_builddir/callbacks/.libs/process.so" ] ||
    t_skip "the process callback is not built"

export MINION_FILE=in MINION_FILE_STATE=st
prog='echo "$MINION_TASK_ID $1" >>out
      [ "$1" != slow ] || { : >started; sleep 3; }'

# A writer's two write(2)s land while the minion follows the file: with a
# slot free it looks at the file every second while "slow" runs.
printf 'slow\n' >in
timeout -k 5 60 "$MINIONIZE" -q -j2 sh -c "$prog" sh 2>err &
minion=$!
t_track "$minion"
t_wait_until 30 test -e started || t_fail "the first task did not start"
printf 'hal' >>in
sleep 1.5 # past a look at the file: an unterminated line must not be taken
printf 'f\n' >>in
wait "$minion"
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "follow run exited $rc"; }
printf '1 slow\n2 half\n' >want
sort out | cmp -s want - || { sort out | diff want - >&2; t_fail "a line written in two writes"; }
t_ok "a line appended in two writes is one param, line 2"

# An unterminated last line at the end: not run, said once, then run whole
# with its own number once a writer ends it.
rm -rf st out
printf 'one\ntwo\nthr' >in
timeout -k 5 60 "$MINIONIZE" -q sh -c "$prog" sh 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "tail run exited $rc"; }
printf '1 one\n2 two\n' >want
cmp -s want out || { diff want out >&2; t_fail "an unterminated last line ran"; }
[ "$(grep -c 'line 3 of in has no newline' err)" -eq 1 ] ||
    t_fail "the waiting line was not named once: $(cat err)"
printf 'ee\nfour\n' >>in
timeout -k 5 60 "$MINIONIZE" -q sh -c "$prog" sh 2>err ||
    t_fail "after the newline: $(cat err)"
printf '1 one\n2 two\n3 three\n4 four\n' >want
cmp -s want out || { diff want out >&2; t_fail "the ended line"; }
grep -q 'no newline' err && t_fail "a warning with no line waiting: $(cat err)"
[ -z "$(ls st/journal)" ] || t_fail "journals left: $(ls st/journal)"
t_ok "an unterminated last line waits, said once, then runs whole as line 3"

# echo -n, then echo, while the minion reaches the end: it waits for the
# newline a moment rather than leave the line behind.
rm -rf st out
printf 'a\nta' >in
timeout -k 5 60 "$MINIONIZE" -q sh -c "$prog" sh 2>err &
minion=$!
t_track "$minion"
sleep 1
echo il >>in
wait "$minion"
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "echo -n run exited $rc"; }
printf '1 a\n2 tail\n' >want
cmp -s want out || { diff want out >&2; t_fail "echo -n then echo"; }
grep -q 'no newline' err && t_fail "warned although the line came: $(cat err)"
t_ok "echo -n then echo at the end: one param, run by the same minion"
