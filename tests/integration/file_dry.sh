#!/bin/bash
# SPDX-License-Identifier: MIT
# DRY with the file engine: every line is printed once, nothing runs, the
# minion ends when the input does; a dry run settles its params as released
# (acks nothing), and the engine moves on rather than deliver them again.
# With MINION_FILE_STATE the directory is left exactly as it was (or not
# created at all).
. "$top_srcdir/tests/integration/lib.sh"
t_init
[ -e "$top_builddir/callbacks/.libs/process.so" ] ||
    t_skip "the process callback is not built"

prog='touch "ran-$1"'

# dry_ok OUT WHAT: OUT shows lines 1..100, each once, and nothing ran.
dry_ok() {
    [ "$(wc -l <"$1")" -eq 100 ] || t_fail "$2: $(wc -l <"$1") lines shown"
    awk '{ print $NF }' "$1" | sort -n | cmp -s want - ||
        t_fail "$2: not each line once: $(head -3 "$1")"
    grep -qv '^sh -c .*touch' "$1" && t_fail "$2: not a command: $(head -3 "$1")"
    [ -z "$(ls ran-* 2>/dev/null)" ] || t_fail "$2: a dry run ran a task"
}

seq 100 >want
seq 100 >in
timeout -k 5 30 "$MINIONIZE" -q --dry-run -j4 sh -c "$prog" sh <in >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "stdin dry run exited $rc"; }
dry_ok out "stdin"
t_ok "stdin: each line printed once, nothing run, exit 0"

# A state directory with history: done lines, a dead letter, a retry left
# by a killed minion's journal, and lines never claimed.
mkdir -p st/journal
printf '00000000000000000011 00000000000000000005 0\n' >st/cursor
printf '{"line":2,"param":"2","error":"x","attempts":3,"minion":"old","time":1}\n' \
    >st/dead.jsonl
printf 'C 3 4 1 1\nS 3 1\n' >st/journal/old.journal
snapshot() {
    find st -print0 | sort -z | xargs -0 stat -c '%n %s %Y %a %i' &&
        find st -type f -print0 | sort -z | xargs -0 md5sum
}
snapshot >before
sleep 1 # so a rewrite would show in the modification times too
MINION_FILE=in MINION_FILE_STATE=st timeout -k 5 30 "$MINIONIZE" -q --dry-run -j4 \
    sh -c "$prog" sh >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "state dry run exited $rc"; }
dry_ok out "state dir"
snapshot >after
cmp -s before after || { diff before after >&2; t_fail "the state dir changed"; }
t_ok "MINION_FILE_STATE: every line printed once, the directory untouched"

MINION_FILE=in MINION_FILE_STATE=new timeout -k 5 30 "$MINIONIZE" -q --dry-run \
    sh -c "$prog" sh >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "new state dry run exited $rc"; }
dry_ok out "no state dir yet"
[ -e new ] && t_fail "a dry run created the state directory"
t_ok "a dry run creates no state directory"
