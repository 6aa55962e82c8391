#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench, short tasks through Redis: the two ratios of "as fast through
# Redis as through a file", each from alternating runs in this one run
# (medians of $BENCH_RUNS, at least 5), since this machine is shared:
#   1. -j2 /bin/true, 5000 params: redis engine / file engine (target 0.9);
#   2. no-op function at -j64 and -j256 draining a stream / redis-benchmark
#      -P 64 XADD on the same server (target 0.3 at -j64).
set -u
. "$(dirname "$0")/lib.sh"

command -v redis-server >/dev/null || { echo "redis short tasks: redis-server missing, skipped"; exit 0; }
command -v redis-benchmark >/dev/null || { echo "redis short tasks: redis-benchmark missing (redis-tools), skipped"; exit 0; }
[ "$BENCH_RUNS" -ge 5 ] || BENCH_RUNS=5
bench_redis_scratch redis-short
noop="$top_builddir/plugins/examples/.libs/wordcount.so:minion_noop"
SPAWN_N=${BENCH_SPAWN_PARAMS:-5000}
FUNC_N=${BENCH_FUNCTION_PARAMS:-200000}

# One timed drain of a fresh stream of $1 params by minionize ARGS...
redis_drain() {
    local n=$1
    shift
    bench_redis_fill "$port" "$n" p
    MINION_ENGINE=redis seconds "$MINIONIZE" -q --drain "$@"
}

# Seconds per XADD of redis-benchmark -P 64, as seconds for $1 entries.
xadd_ceiling() {
    local rps
    rps=$(redis-benchmark -p "$port" -n 1000000 -P 64 -q \
        XADD minionize:bench '*' param p 2>/dev/null | tr '\r' '\n' |
        awk '/requests per second/ { for (i = 1; i <= NF; i++)
            if ($i == "requests") v = $(i - 1) } END { print v }')
    redis-cli -p "$port" DEL minionize:bench >/dev/null
    [ -n "$rps" ] || { echo "bench: redis-benchmark gave no rate" >&2; return 1; }
    awk -v n="$1" -v r="$rps" 'BEGIN { printf "%.6f\n", n / r }'
}

seq "$SPAWN_N" >params
echo "== short tasks: -j2 /bin/true, $SPAWN_N params, redis vs file, median of $BENCH_RUNS alternating"
t_file=() t_redis=()
for ((i = 0; i < BENCH_RUNS; i++)); do
    t_file+=("$(MINION_ENGINE=file seconds "$MINIONIZE" -q -j2 -a params /bin/true)") || exit 1
    t_redis+=("$(redis_drain "$SPAWN_N" -j2 /bin/true)") || exit 1
done
mf=$(median_of "${t_file[@]}")
mr=$(median_of "${t_redis[@]}")
echo "minionize -e file  -j2 /bin/true: $(rate "$SPAWN_N" "$mf") tasks/s"
echo "minionize -e redis -j2 /bin/true: $(rate "$SPAWN_N" "$mr") tasks/s"
echo "ratio redis/file (target >= 0.9): $(ratio "$mf" "$mr")"

echo "== short tasks: no-op function, $FUNC_N params, vs redis-benchmark -P 64 XADD, median of $BENCH_RUNS alternating"
for j in 64 256; do
    t_ceil=() t_fn=()
    for ((i = 0; i < BENCH_RUNS; i++)); do
        t_ceil+=("$(xadd_ceiling "$FUNC_N")") || exit 1
        t_fn+=("$(redis_drain "$FUNC_N" -c function -j"$j" \
            --set MINION_FUNCTION="$noop")") || exit 1
    done
    mc=$(median_of "${t_ceil[@]}")
    mn=$(median_of "${t_fn[@]}")
    echo "redis-benchmark -P 64 XADD:          $(rate "$FUNC_N" "$mc") entries/s"
    echo "minionize -e redis -c function -j$j: $(rate "$FUNC_N" "$mn") tasks/s"
    echo "ratio -j$j / XADD ceiling (target >= 0.3 at -j64): $(ratio "$mc" "$mn")"
done
