#!/bin/bash
# SPDX-License-Identifier: MIT
# process: with -j4, tasks printing many long lines (awk writes them in
# blocks that cut lines anywhere) never interleave on stdout mid-line.
. "$top_srcdir/tests/integration/lib.sh"
t_init

printf '%s\n' a b c d e f g h >in
timeout 30 "$MINIONIZE" -j4 awk -v 't={}' 'BEGIN {
        s = sprintf("%500s", ""); gsub(/ /, t, s)
        for (i = 0; i < 400; i++) print t ":" i ":" s
    }' <in >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize exited $rc"; }

[ "$(wc -l <out)" -eq 3200 ] || t_fail "expected 3200 lines, got $(wc -l <out)"
bad=$(grep -cvE '^([a-h]):[0-9]+:\1{500}$' out)
[ "$bad" -eq 0 ] || {
    grep -vE '^([a-h]):[0-9]+:\1{500}$' out | head -3 | cut -c1-80 >&2
    t_fail "$bad lines mixed from several tasks"
}
for t in a b c d e f g h; do
    # Each task's own lines stay in order.
    grep "^$t:" out | cut -d: -f2 >got
    seq 0 399 >want
    cmp -s want got || t_fail "task $t lines missing or out of order"
done
t_ok "3200 long lines from 8 tasks at -j4, none cut"
