#!/bin/bash
# SPDX-License-Identifier: MIT
# MINION_SHARD=I/N: N minions split one file with no broker, each line once,
# by physical line index; malformed shards are configuration errors.
. "$top_srcdir/tests/integration/lib.sh"
t_init
[ -e "$top_builddir/callbacks/.libs/process.so" ] ||
    t_skip "the process callback is not built"

# 3000 lines; every 10th is blank (counted, never run).
awk 'BEGIN { for (i = 1; i <= 3000; i++) print (i % 10 == 0 ? "" : i) }' >in
for i in 1 2 3; do
    MINION_SHARD=$i/3 timeout 60 "$MINIONIZE" -q -n -a in echo >"out.$i" \
        2>"err.$i" &
    eval "pid$i=$!"
done
for i in 1 2 3; do
    eval "wait \$pid$i" || { cat "err.$i" >&2; t_fail "shard $i/3 failed"; }
done
for i in 1 2 3; do
    [ -s "out.$i" ] || t_fail "shard $i/3 ran nothing"
    awk -v i="$i" '{ if (($2 - 1) % 3 != i - 1) exit 1 }' "out.$i" ||
        t_fail "shard $i/3 ran a line of another shard"
done
cat out.1 out.2 out.3 | awk '{ print $2 }' | sort -n >got
awk 'BEGIN { for (i = 1; i <= 3000; i++) if (i % 10) print i }' >want
cmp -s want got || t_fail "the shards do not cover the file exactly once"
t_ok "3 shards cover 3000 lines exactly once, by physical index"

for bad in 0/3 4/3 x 1/0 '' ; do
    [ -z "$bad" ] && continue
    MINION_SHARD=$bad timeout 30 "$MINIONIZE" -a in touch ran >out 2>err
    rc=$?
    [ "$rc" -eq 2 ] || t_fail "MINION_SHARD=$bad: exit $rc, want 2"
    [ "$(wc -l <err)" -eq 1 ] || { cat err >&2; t_fail "not one line"; }
    grep -q 'MINION_SHARD' err || t_fail "error does not name MINION_SHARD"
    [ -e ran ] && t_fail "MINION_SHARD=$bad ran a task"
done
t_ok "malformed MINION_SHARD: exit 2 with one line, nothing run"

# With MINION_FILE_STATE each shard keeps its own progress.
seq 60 >small
for i in 1 2 3; do
    MINION_SHARD=$i/3 MINION_FILE_STATE=st timeout 60 "$MINIONIZE" -q \
        -a small echo >"st.$i" 2>err || t_fail "shard $i/3 with state: $(cat err)"
    [ -s "st/shard-$i-of-3/cursor" ] || t_fail "no st/shard-$i-of-3"
done
cat st.1 st.2 st.3 | sort -n | cmp -s small - ||
    t_fail "shards with state do not cover the file once"
MINION_SHARD=2/3 MINION_FILE_STATE=st timeout 60 "$MINIONIZE" -q -a small \
    echo >again 2>err || t_fail "shard rerun: $(cat err)"
[ -s again ] && t_fail "a finished shard ran lines again"
t_ok "shards with MINION_FILE_STATE: one progress folder each"
