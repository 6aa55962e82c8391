#!/bin/bash
# SPDX-License-Identifier: MIT
# file engine on standard input: every line once, ids are physical line
# numbers (blank lines counted, skipped), "\r" stripped, an unterminated last
# line taken; a pipe is read without blocking the loop.
. "$top_srcdir/tests/integration/lib.sh"
t_init
[ -e "$top_builddir/callbacks/.libs/process.so" ] ||
    t_skip "the process callback is not built"

seq 100 | timeout 30 "$MINIONIZE" -q -c process echo >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize exited $rc"; }
seq 100 >want
cmp -s want out || { diff want out >&2; t_fail "seq 100 | echo differs"; }
t_ok "seq 100 | minionize -c process echo prints 1..100 once, in order"

seq 500 | timeout 60 "$MINIONIZE" -q -j4 echo >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "-j4 exited $rc"; }
seq 500 >want
sort -n out | cmp -s want - || t_fail "-j4: lines lost or repeated"
t_ok "-j4: 500 lines, each once"

# Task ids are physical line numbers.
printf 'a\r\n\n\r\n b \nlast' |
    timeout 30 "$MINIONIZE" -q sh -c 'echo "$MINION_TASK_ID:$1:"' sh \
        >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "ids run exited $rc"; }
printf '1:a:\n4: b :\n5:last:\n' >want
cmp -s want out || { diff want out >&2; t_fail "ids or CR/blank handling"; }
t_ok "ids are line numbers; blank lines skipped; CR stripped; last line kept"

# Nothing at all.
timeout 30 "$MINIONIZE" -q echo </dev/null >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "empty input exited $rc"; }
[ -s out ] && t_fail "empty input ran something"
t_ok "empty input: exit 0, nothing run"

# A producer that keeps the pipe open: lines are taken as they come, and the
# loop stays free (SIGTERM is handled at once while the engine waits).
mkfifo fifo
(
    echo first
    sleep 1
    echo second
    exec sleep 60
) >fifo &
writer=$!
t_track "$writer"
# No timeout(1) wrapper: the signal must reach minionize itself.
"$MINIONIZE" -q -j2 echo <fifo >out 2>err &
minion=$!
t_track "$minion"
t_wait_until 20 grep -qx second out || t_fail "second line never ran"
grep -qx first out || t_fail "first line missing"
kill -TERM "$minion"
t_wait_until 5 eval '! kill -0 "$minion"' ||
    t_fail "still running 5 s after SIGTERM: is the loop blocked?"
wait "$minion"
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "SIGTERM while reading: exit $rc"; }
t_ok "a slow pipe is read as lines come, without blocking the loop"
