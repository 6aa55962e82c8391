#!/bin/bash
# SPDX-License-Identifier: MIT
# file engine on MINION_FILE: the same rules as stdin, big files read in
# chunks (lines crossing chunk boundaries intact), retries in order.
. "$top_srcdir/tests/integration/lib.sh"
t_init
[ -e "$top_builddir/callbacks/.libs/process.so" ] ||
    t_skip "the process callback is not built"

printf 'x\r\n\ny\n\n\nz' >in
MINION_FILE=in timeout 30 "$MINIONIZE" -q sh -c 'echo "$MINION_TASK_ID=$1"' \
    sh >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "MINION_FILE run exited $rc"; }
printf '1=x\n3=y\n6=z\n' >want
cmp -s want out || { diff want out >&2; t_fail "MINION_FILE output"; }
timeout 30 "$MINIONIZE" -q -a in sh -c 'echo "$MINION_TASK_ID=$1"' sh \
    >out 2>err || t_fail "-a run failed: $(cat err)"
cmp -s want out || { diff want out >&2; t_fail "-a output"; }
t_ok "MINION_FILE and -a: ids, blank lines, CR, unterminated last line"

# 200,000 lines (about 3 MB: many read chunks) through the dry run, which
# prints each param without spawning anything.
awk 'BEGIN { for (i = 1; i <= 200000; i++)
             printf "%d-%s\n", i, (i % 1000 == 0 ? "" : "padding-padding") }' \
    >big
timeout 120 "$MINIONIZE" -q -n -j8 -a big echo >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "dry run of big exited $rc"; }
sed 's/^/echo /' big | cmp -s - out || t_fail "big file: lines differ"
t_ok "200,000 lines across read chunks, each once and intact"

# A failing line is retried by the same minion before it is dead.
printf 'good\nbad\nfine\n' >in
MINION_MAX_ATTEMPTS=3 timeout 30 "$MINIONIZE" -a in sh -c \
    'echo "$1 $MINION_ATTEMPT"; [ "$1" != bad ]' sh >out 2>err
rc=$?
# Drained with a dead param: exit status 4 (contract v2).
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "retry run exited $rc"; }
[ "$(grep -c '^bad ' out)" -eq 3 ] || t_fail "bad ran $(grep -c '^bad ' out) times"
grep -qx 'bad 3' out || t_fail "no third attempt"
[ "$(grep -c '^good 1$' out)" -eq 1 ] || t_fail "good ran twice"
grep -q 'task 2 dead' err || t_fail "no dead line on stderr: $(cat err)"
t_ok "a failing line runs MINION_MAX_ATTEMPTS times, then is dead"

# /dev/null: a character device that is not a tty, read directly.
timeout 30 "$MINIONIZE" -q -a /dev/null echo >out 2>err ||
    t_fail "/dev/null: $(cat err)"
[ -s out ] && t_fail "/dev/null ran something"
t_ok "/dev/null: nothing to do, exit 0"
