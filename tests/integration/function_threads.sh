# SPDX-License-Identifier: MIT
# function: runs on worker threads, never the loop's; -jN runs N at once;
# threads start on demand; many tasks go through quickly and all are
# counted.
. "$top_srcdir/tests/integration/lib.sh"
t_init

TESTFN="$top_builddir/tests/plugins/.libs/testfn.so"
[ -f "$TESTFN" ] || t_fail "testfn.so not built: $TESTFN"
export MINION_FUNCTION="$TESTFN"

echo thread | timeout 20 "$MINIONIZE" -c function >out 2>err ||
    { cat err >&2; t_fail "thread run"; }
grep -qx worker out || t_fail "the function ran on: $(cat out)"
t_ok "the function runs on a worker thread"

# Three params need at most three workers, whatever -j allows.
printf '%s\n' threads threads threads | timeout 20 "$MINIONIZE" \
    -c function -j16 >out 2>err || { cat err >&2; t_fail "threads run"; }
[ "$(wc -l <out)" -eq 3 ] || t_fail "threads output: $(cat out)"
n=$(sed -n 's/^threads=//p' out | sort -n | tail -n 1)
[ "$n" -le 4 ] || t_fail "$n threads (main and workers) for 3 params, -j16"
t_ok "threads start on demand ($n threads)"

start=$(date +%s%N)
seq 8 | sed 's/.*/sleep:500/' | timeout 20 "$MINIONIZE" -c function -j4 >out 2>err ||
    { cat err >&2; t_fail "-j4 run"; }
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$(grep -c '^slept 500$' out)" -eq 8 ] || t_fail "-j4 output: $(cat out)"
[ "$ms" -lt 3500 ] || t_fail "-j4 did not run 4 at once (${ms} ms)"
t_ok "-j4 runs four at once (8 x 0.5 s in ${ms} ms)"

# Many quick tasks: each is run once and counted, in any concurrency.
for j in 1 3 64; do
    seq 20000 | timeout 60 "$MINIONIZE" -c function -j$j >out 2>err ||
        { cat err >&2; t_fail "-j$j 20000 tasks"; }
    [ "$(wc -l <out)" -eq 20000 ] || t_fail "-j$j: $(wc -l <out) outputs"
    [ "$(sed 's/ attempt=1$//' out | sort -n | uniq | wc -l)" -eq 20000 ] ||
        t_fail "-j$j: a param ran twice or not at all"
    tail -n 1 err | grep -q "done: 20000 ok, 0 failed, 0 dead" ||
        t_fail "-j$j last log line: $(tail -n 1 err)"
done
t_ok "20000 tasks with -j1, -j3, -j64"
