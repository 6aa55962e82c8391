#!/bin/bash
# SPDX-License-Identifier: MIT
# process: a failing program is run MINION_MAX_ATTEMPTS times, then dead;
# exit status and signal deaths are reported with their exit codes.
. "$top_srcdir/tests/integration/lib.sh"
t_init

mkdir rep
printf '%s\n' bad good >in
MINION_MAX_ATTEMPTS=3 REPORTER_JSON_DIRECTORY=rep timeout 20 "$MINIONIZE" \
    -r json sh -c 'echo "$1" >>runs; [ "$1" = good ] || exit 3' sh <in \
    >out 2>err
rc=$?
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "minionize exited $rc"; }
[ "$(grep -cx bad runs)" -eq 3 ] ||
    { cat runs >&2; t_fail "bad ran $(grep -cx bad runs) times, not 3"; }
[ "$(grep -cx good runs)" -eq 1 ] || t_fail "good ran more than once"
bad=$(grep '"param":"bad"' rep/*.jsonl)
[ "$(printf '%s\n' "$bad" | grep -c '"status":"failed"')" -eq 2 ] ||
    { cat rep/*.jsonl >&2; t_fail "two failed runs expected"; }
[ "$(printf '%s\n' "$bad" | grep -c '"status":"dead"')" -eq 1 ] ||
    t_fail "the third run must be dead"
[ "$(printf '%s\n' "$bad" | grep -c '"exit_code":3,"error":"exit status 3"')" \
    -eq 3 ] || { printf '%s\n' "$bad" >&2; t_fail "exit code 3 and error"; }
grep '"param":"good"' rep/*.jsonl | grep -q '"status":"ok"' ||
    t_fail "good not ok"
t_ok "exit 3 retried 3 times then dead, others fine"

rm -f rep/*
echo x >in
MINION_MAX_ATTEMPTS=2 REPORTER_JSON_DIRECTORY=rep timeout 20 "$MINIONIZE" \
    -r json false <in >out 2>err
rc=$?
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "minionize false exited $rc"; }
[ "$(grep -c '"exit_code":1,' rep/*.jsonl)" -eq 2 ] ||
    { cat rep/*.jsonl >&2; t_fail "false must run twice with exit code 1"; }
t_ok "false tried MINION_MAX_ATTEMPTS times"

rm -f rep/*
MINION_MAX_ATTEMPTS=1 REPORTER_JSON_DIRECTORY=rep timeout 20 "$MINIONIZE" \
    -r json sh -c 'kill -SEGV $$' <in >out 2>err
rc=$?
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "minionize kill exited $rc"; }
grep -q '"exit_code":139,"error":"killed by signal SIGSEGV"' rep/*.jsonl ||
    { cat rep/*.jsonl >&2; t_fail "signal death report"; }
t_ok "a signal death is exit code 128+N, killed by signal SIGxxx"
