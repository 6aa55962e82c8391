#!/bin/bash
# SPDX-License-Identifier: MIT
# MINION_FILE_STATE with minion-submit appending while minions read: every
# line runs once, line numbers stay physical, and an unterminated last line
# taken at EOF is not split by the writer's next batch.
. "$top_srcdir/tests/integration/lib.sh"
t_init
[ -e "$top_builddir/callbacks/.libs/process.so" ] ||
    t_skip "the process callback is not built"
[ -x "$SUBMIT" ] || t_skip "minion-submit is not built"

export MINION_FILE=in MINION_FILE_STATE=st
prog='echo "$MINION_TASK_ID $1"'

# An unterminated last line, then an append.
printf 'one\ntwo' >in
timeout 30 "$MINIONIZE" -q sh -c "$prog" sh >out 2>err ||
    t_fail "first run: $(cat err)"
"$SUBMIT" -q -f in three four 2>err || t_fail "submit: $(cat err)"
timeout 30 "$MINIONIZE" -q sh -c "$prog" sh >>out 2>err ||
    t_fail "second run: $(cat err)"
printf '1 one\n2 two\n3 three\n4 four\n' >want
cmp -s want out || { diff want out >&2; t_fail "across an append"; }
t_ok "an unterminated last line, then appended lines: numbered 1..4"

# A submitter appending batches while a minion works through the file.
rm -rf st out
seq 1 200 >in
(
    for b in 1 2 3 4 5 6 7 8 9 10; do
        seq $((200 + (b - 1) * 20 + 1)) $((200 + b * 20)) |
            "$SUBMIT" -q -f in || exit 1
        sleep 0.05
    done
) &
submitter=$!
t_track "$submitter"
timeout 60 "$MINIONIZE" -q -j2 sh -c "$prog" sh >out 2>err ||
    t_fail "minion during appends: $(cat err)"
wait "$submitter" || t_fail "the submitter failed"
# The minion may have reached the end before the last batches: a second
# one takes the rest.
timeout 60 "$MINIONIZE" -q -j2 sh -c "$prog" sh >>out 2>err ||
    t_fail "minion after appends: $(cat err)"
seq 400 >want
awk '{ print $2 }' out | sort -n >got
cmp -s want got || t_fail "lost or repeated: $(comm -3 want got | head)"
awk '$1 != $2 { exit 1 }' out || t_fail "a task id is not its line number"
t_ok "400 lines appended in batches while minions read: each once"
