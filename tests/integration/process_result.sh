#!/bin/bash
# SPDX-License-Identifier: MIT
# process: the task's result is the tail of its stdout (MINION_RESULT_BYTES),
# while the whole output still goes to stdout.
. "$top_srcdir/tests/integration/lib.sh"
t_init

mkdir rep
echo 10000 >in
MINION_RESULT_BYTES=20 REPORTER_JSON_DIRECTORY=rep timeout 20 "$MINIONIZE" \
    -r json seq 1 <in >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize exited $rc"; }
seq 1 10000 >want
cmp -s want out || t_fail "stdout is not the whole output"
# The last 20 bytes of seq's output, as a JSON string.
tail=$(seq 1 10000 | tail -c 20 | sed ':a;N;$!ba;s/\n/\\n/g')
grep -qF "\"output\":\"$tail\\n\"" rep/*.jsonl ||
    { cat rep/*.jsonl >&2; t_fail "result is not the 20-byte tail"; }
grep -q '"status":"ok"' rep/*.jsonl || t_fail "task not ok"
grep -q '"exit_code":0' rep/*.jsonl || t_fail "exit_code 0 expected"
t_ok "result tail kept, whole output passed through"

rm -f rep/*
echo x >in
REPORTER_JSON_DIRECTORY=rep timeout 20 "$MINIONIZE" -r json \
    printf 'no newline %s' <in >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize printf exited $rc"; }
grep -q 'no newline x' out || t_fail "an unfinished last line is lost"
grep -qF '"output":"no newline x"' rep/*.jsonl ||
    { cat rep/*.jsonl >&2; t_fail "result without newline"; }
grep -q '"name":"process"' rep/*.jsonl ||
    t_fail "the process step is missing from atomic_actions"
t_ok "an output without a final newline is kept"
