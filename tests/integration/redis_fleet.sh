# SPDX-License-Identifier: MIT
# Four minions (-j4, process callback, MINION_EXIT_WHEN_EMPTY) share 10,000
# params: every param gets exactly one ok result, nothing stays pending,
# every minion exits 0 and took a share.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

N=10000
r_submit $N
rcli XLEN "$R_STREAM" | grep -qx $N || t_fail "submitted $(rcli XLEN "$R_STREAM") params, not $N"
# Noted now: REDIS_TRIM (on) trims the stream as the minions ack.
r_ids | sort >ids.txt

pids=""
for m in m1 m2 m3 m4; do
    r_minion $m MINION_EXIT_WHEN_EMPTY=1 -- -j4 -- true
    pids="$pids $R_PID"
done
for pid in $pids; do
    r_wait_exit "$pid" 120
    [ "$R_RC" -eq 0 ] || t_fail "a minion exited $R_RC: $(cat "$T_DIR"/m*.err)"
done

r_results task status >results.txt
[ "$(wc -l <results.txt)" -eq $N ] ||
    t_fail "$(wc -l <results.txt) results for $N params"
[ "$(grep -vc ' ok$' results.txt)" -eq 0 ] || t_fail "results not ok: $(grep -v ' ok$' results.txt | head -3)"
cut -d' ' -f1 results.txt | sort >tasks.txt
cmp -s ids.txt tasks.txt || t_fail "results do not match the params one to one"
[ "$(r_pending)" = 0 ] || t_fail "$(r_pending) entries still pending"
[ "$(rcli XLEN "$R_STREAM:dead")" = 0 ] || t_fail "dead letters written"
for m in m1 m2 m3 m4; do
    n=$(r_results minion | grep -cx $m)
    [ "$n" -gt 0 ] || t_fail "minion $m ran nothing"
    grep -q "done: $n ok, 0 failed, 0 dead" "$T_DIR/$m.err" ||
        t_fail "$m: $(tail -1 "$T_DIR/$m.err") but $n results"
done
t_ok "4 minions ran $N params exactly once"
