#!/bin/bash
# SPDX-License-Identifier: MIT
# MINION_FILE_STATE: the minion's own lack of descriptors is never fatal
# and never charged to a param. With every free descriptor taken for a
# while (the fdhog reporter), the state directory cannot be opened to
# adopt or claim: the engine holds, says so once, tries again with backoff
# while the running tasks go on, says when it takes lines again, and every
# line runs exactly once, as the state directory shows afterwards. (At -j4
# a task's spawn may meet the shortage first, when the engine had lines in
# hand: then the core holds that task instead.)
. "$top_srcdir/tests/integration/lib.sh"
t_init
[ -e "$top_builddir/callbacks/.libs/process.so" ] ||
    t_skip "the process callback is not built"
FDHOG="$top_builddir/tests/plugins/.libs/fdhog.so"
[ -f "$FDHOG" ] || t_fail "fdhog.so not built: $FDHOG"

export MINION_FILE=in MINION_FILE_STATE=st MINION_MAX_ATTEMPTS=1
seq 40 >in
prog='echo "$1" >>runs; sleep "$0"'

# check NAME: every line ran once and ended ok, what met the shortage held
# and went on after it, and the state directory has every line done.
check() {
    [ "$(grep -c "took [1-9][0-9]* descriptors" err)" -eq 1 ] ||
        t_fail "$1: fdhog took nothing: $(cat err)"
    # Whichever needs a descriptor first meets the shortage: the engine's
    # next claim (it holds, says so once, and says when it takes lines
    # again), or, when the engine had lines in hand, a task's spawn (the
    # core holds the task and starts it again). -j1 always claims first.
    holds=$(grep -c 'engine file: state st: .*Too many open files; taking no new line until it passes' err)
    spawns=$(grep -c 'cannot start task .*Too many open files; holding it and trying again' err)
    [ "$holds" -le 1 ] ||
        { cat err >&2; t_fail "$1: the engine logged its hold $holds times"; }
    [ "$holds" -eq 1 ] || { [ "$1" != -j1 ] && [ "$spawns" -ge 1 ]; } ||
        { cat err >&2; t_fail "$1: nothing held on the shortage"; }
    [ "$holds" -eq 0 ] || grep -q 'engine file: state st: taking lines again after' err ||
        { cat err >&2; t_fail "$1: the engine never said it takes lines again"; }
    [ "$spawns" -eq 0 ] || grep -q 'tasks start again' err ||
        { cat err >&2; t_fail "$1: held tasks never started again"; }
    grep -qE '^(failed|dead) ' out && t_fail "$1: a param was charged: $(grep -E '^(failed|dead) ' out)"
    seq 40 >want
    sed -n 's/^ok \([0-9]*\) .*/\1/p' out | sort -n >got
    cmp -s want got || { diff want got >&2; t_fail "$1: not one ok per line"; }
    sort -n runs >got
    cmp -s want got || { diff want got >&2; t_fail "$1: not one run per line"; }
    grep -q "done: 40 ok, 0 failed, 0 dead" err || t_fail "$1: summary: $(tail -1 err)"
    # Every line done: the cursor past the last one, no journal left to
    # adopt, no dead letter.
    grep -q "^0*$(wc -c <in) 0*41 0$" st/cursor || t_fail "$1: cursor: $(cat st/cursor)"
    [ -z "$(ls st/journal)" ] || t_fail "$1: journals left: $(ls st/journal)"
    [ -s st/dead.jsonl ] && t_fail "$1: dead letters: $(cat st/dead.jsonl)"
    # A second minion on the same state finds nothing to run.
    rm -f runs
    timeout 60 "$MINIONIZE" -j4 -r stdout sh -c "$prog" 0 >out2 2>err2 ||
        { cat err2 >&2; t_fail "$1: the second run failed"; }
    [ -e runs ] && t_fail "$1: the second run ran lines again: $(cat runs)"
    [ -s out2 ] && t_fail "$1: the second run reported tasks: $(cat out2)"
    return 0
}

# The issue's case: -j4, the descriptors taken for 0.5 s after the first
# task; the claims that come meanwhile meet EMFILE (opendir of the
# journals, before each claim).
FDHOG_MS=500 timeout 60 "$MINIONIZE" -j4 -r "$FDHOG,stdout" \
    sh -c "$prog" 0.05 >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "-j4: exit $rc"; }
check "-j4"
t_ok "-j4: the engine holds on EMFILE; 40 ok, each line once, none failed"

# -j1 and a longer shortage: no task runs to give descriptors back, so the
# engine tries again with backoff until fdhog lets go (1 s), and not before.
rm -rf st runs
FDHOG_MS=1000 timeout 60 "$MINIONIZE" -v -j1 -r "$FDHOG,stdout" \
    sh -c "$prog" 0 >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "-j1: exit $rc"; }
check "-j1"
[ "$(grep -c 'engine file: state st: still ' err)" -ge 2 ] ||
    { cat err >&2; t_fail "-j1: no retry with backoff"; }
sed -n 's/.*taking lines again after \([0-9.]*\) s/\1/p' err |
    awk '{ exit !($1 >= 0.9 && $1 < 10) }' ||
    { cat err >&2; t_fail "-j1: took lines again at the wrong time"; }
t_ok "-j1: the engine retries with backoff, takes lines again after the shortage"
