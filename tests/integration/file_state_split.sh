#!/bin/bash
# SPDX-License-Identifier: MIT
# MINION_FILE_STATE: two minions on one state dir split 2000 lines with no
# line run twice and none lost, and both take part.
. "$top_srcdir/tests/integration/lib.sh"
t_init
[ -e "$top_builddir/callbacks/.libs/process.so" ] ||
    t_skip "the process callback is not built"

seq 2000 >in
export MINION_FILE=in MINION_FILE_STATE=st
for m in a b; do
    timeout 120 "$MINIONIZE" -q -j2 sh -c 'echo "$1"' sh >"out.$m" \
        2>"err.$m" &
    eval "pid_$m=$!"
    t_track "$(eval echo "\$pid_$m")"
done
for m in a b; do
    eval "wait \$pid_$m"
    rc=$?
    [ "$rc" -eq 0 ] || { cat "err.$m" >&2; t_fail "minion $m exited $rc"; }
done
sort -n out.a out.b >got
[ -z "$(uniq -d got)" ] || t_fail "lines run twice: $(uniq -d got | head)"
cmp -s in got || t_fail "lines lost: $(comm -23 in got | head)"
na=$(wc -l <out.a)
nb=$(wc -l <out.b)
[ "$na" -gt 0 ] && [ "$nb" -gt 0 ] ||
    t_fail "one minion did everything (a: $na, b: $nb)"
t_ok "2000 lines split between two minions ($na + $nb), each once"

# Everything settled: no journal left to adopt, no dead letter, the cursor
# at the end; a third minion finds nothing to do.
[ -z "$(ls st/journal)" ] || t_fail "journals left: $(ls st/journal)"
[ -s st/dead.jsonl ] && t_fail "dead letters: $(cat st/dead.jsonl)"
grep -q "^0*$(stat -c %s in) 0*2001 0$" st/cursor ||
    t_fail "cursor: $(cat st/cursor)"
timeout 30 "$MINIONIZE" -q echo >out.c 2>err.c || t_fail "third minion failed"
[ -s out.c ] && t_fail "the third minion ran lines again"
t_ok "state settled: no journal, no dead letter, a restart runs nothing"

# A dry run shows the lines and leaves the state alone.
cp st/cursor cursor.before
timeout 60 "$MINIONIZE" -n echo >out.dry 2>err.dry ||
    t_fail "dry run failed: $(cat err.dry)"
[ "$(wc -l <out.dry)" -eq 2000 ] || t_fail "dry run showed $(wc -l <out.dry)"
grep -q 'left untouched' err.dry || t_fail "dry run did not say so"
cmp -s cursor.before st/cursor || t_fail "the dry run moved the cursor"
[ -z "$(ls st/journal)" ] || t_fail "the dry run wrote a journal"
t_ok "a dry run leaves the state dir alone"
