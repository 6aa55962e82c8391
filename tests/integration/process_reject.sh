#!/bin/bash
# SPDX-License-Identifier: MIT
# process: params that can never make an argument list (a NUL byte, bad
# JSON) are dead-lettered at once, and the minion goes on with the next.
. "$top_srcdir/tests/integration/lib.sh"
t_init

mkdir rep
printf 'one\nnul\000byte\ntwo\n' >in
MINION_MAX_ATTEMPTS=3 REPORTER_JSON_DIRECTORY=rep timeout 20 "$MINIONIZE" \
    -r json sh -c 'echo "ran $1" >>runs; echo "$1"' sh <in >out 2>err
rc=$?
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "minionize exited $rc"; }
printf 'one\ntwo\n' >want
cmp -s want out || { diff want out >&2; t_fail "good params output"; }
[ "$(wc -l <runs)" -eq 2 ] || t_fail "a NUL param must not run"
[ "$(grep -c '"status":"dead"' rep/*.jsonl)" -eq 1 ] ||
    { cat rep/*.jsonl >&2; t_fail "one dead report expected"; }
grep '"status":"dead"' rep/*.jsonl | grep -q '"attempt":1,' ||
    t_fail "a NUL param must be dead on its first attempt"
grep '"status":"dead"' rep/*.jsonl | grep -q 'NUL' ||
    { cat rep/*.jsonl >&2; t_fail "the error must say NUL"; }
t_ok "NUL byte param dead at once, the others ran"

rm -f rep/* runs
printf '%s\n' '["a", "b"]' '{oops' '"c\u0000d"' '"e"' >in
MINION_DECODER=json MINION_MAX_ATTEMPTS=3 REPORTER_JSON_DIRECTORY=rep \
    timeout 20 "$MINIONIZE" -r json printf '%s\n' <in >out 2>err
rc=$?
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "minionize json exited $rc"; }
printf 'a\nb\ne\n' >want
cmp -s want out || { diff want out >&2; t_fail "json params output"; }
[ "$(grep -c '"status":"dead"' rep/*.jsonl)" -eq 2 ] ||
    { cat rep/*.jsonl >&2; t_fail "two dead reports expected"; }
[ "$(grep -c '"status":"failed"' rep/*.jsonl)" -eq 0 ] ||
    t_fail "rejected params must not be retried"
t_ok "bad JSON and an escaped NUL dead at once, the others ran"
