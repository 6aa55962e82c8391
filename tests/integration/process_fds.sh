#!/bin/bash
# SPDX-License-Identifier: MIT
# process: no file descriptor leaks into the children or piles up in the
# minion, and no zombies, across many tasks.
. "$top_srcdir/tests/integration/lib.sh"
t_init

seq 1 200 >in

# Run "$@" with only 0, 1 and 2 open: what the test itself inherited (make's
# jobserver pipes, ...) is not the minion's doing.
run_clean() {
    local f closers=""
    for f in /proc/$$/fd/*; do
        f=${f##*/}
        [ "$f" -gt 2 ] && closers="$closers $f>&-"
    done
    eval '"$@"' "$closers"
}

# Each task writes what it sees of the minion to stats.N, then becomes ls
# listing its own descriptors: 0, 1 and 2 from the minion, 3 for the
# directory ls reads, and nothing else. $PPID is the minion: with -j1 this
# task is its only child, so a zombie there is an earlier task left unreaped.
run_clean timeout 60 "$MINIONIZE" sh -c '
    n=$1
    ls /proc/$PPID/fd >"fds.$n"
    zombies=0
    for s in /proc/[0-9]*/stat; do
        read -r line <"$s" 2>/dev/null || continue
        set -- ${line##*) }
        [ "$2" = "$PPID" ] && [ "$1" = Z ] && zombies=$((zombies + 1))
    done
    echo "minion=$(wc -l <"fds.$n") zombies=$zombies" >"stats.$n"
    exec ls /proc/self/fd' sh <in >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize exited $rc"; }
[ "$(grep -c '^0$' out)" -eq 200 ] || t_fail "200 tasks expected"
[ "$(sort -u out | tr '\n' ' ')" = "0 1 2 3 " ] ||
    { sort out | uniq -c >&2; t_fail "descriptors leak into the children"; }
cat stats.* >stats
[ "$(wc -l <stats)" -eq 200 ] || t_fail "stats of 200 tasks expected"
# A leak grows by one descriptor per task. A few more are fine: the task
# can look before the minion, back from its exec, has closed its copy of
# the output pipe's write end (and a large param's file).
counts=$(sed 's/^minion=\([0-9]*\) .*/\1/' stats | sort -n | uniq)
[ $(($(echo "$counts" | tail -1) - $(echo "$counts" | head -1))) -le 3 ] ||
    { sort stats | uniq -c >&2; t_fail "the minion's fd count grows"; }
grep -q ' zombies=0$' stats || { head -1 stats >&2; t_fail "zombies"; }
t_ok "$(sort stats | uniq -c | sort -rn | head -1), children see 0 1 2 only"
