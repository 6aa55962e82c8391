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

# A line longer than the 1 MiB bound, from one task, while another prints
# short lines: it goes out in 1 MiB pieces, each a line of its own, and
# never shares a line with the other task's output.
cat >long.sh <<'SH'
#!/bin/sh
if [ "$1" = long ]; then
    head -c 3000000 /dev/zero | tr '\0' L
    echo
else
    i=0
    while [ $i -lt 2000 ]; do echo short; i=$((i + 1)); done
fi
SH
chmod +x long.sh
printf 'long\nshort\n' | timeout 30 "$MINIONIZE" -j2 ./long.sh >out 2>err ||
    { cat err >&2; t_fail "long line run failed"; }
mixed=$(grep -cvE '^(L+|short)$' out)
[ "$mixed" -eq 0 ] || t_fail "$mixed lines mix the two tasks' bytes"
[ "$(grep -c '^short$' out)" -eq 2000 ] || t_fail "short lines lost"
[ "$(grep -o L out | wc -l)" -eq 3000000 ] || t_fail "long line bytes lost"
[ "$(awk 'length($0) > 1048576' out | wc -l)" -eq 0 ] ||
    t_fail "a piece is over 1 MiB"
t_ok "a 3 MB line comes out in 1 MiB pieces, never mixed"
