#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench, redis part: tasks/s of one minion (function callback, no-op
# function, results stream on) draining a stream, and the memory of an idle
# minion blocked on an empty stream. Targets: >= 100000 tasks/s, < 4 MiB.
set -u
. "$(dirname "$0")/lib.sh"

command -v redis-server >/dev/null || { echo "redis: redis-server missing, skipped"; exit 0; }
bench_redis_scratch redis
export MINION_ENGINE=redis
noop="$top_builddir/plugins/examples/.libs/wordcount.so:minion_noop"
N=${BENCH_REDIS_PARAMS:-200000}

# One timed drain of a fresh stream of N params.
drain() {
    bench_redis_fill "$port" "$N" p
    seconds "$MINIONIZE" -q -c function -j"$1" --drain \
        --set MINION_FUNCTION="$noop"
}

echo "== redis engine: $N params, function callback (no-op), results on"
for j in 64 512; do
    times=()
    for ((i = 0; i < BENCH_RUNS && i < 3; i++)); do
        times+=("$(drain "$j")") || exit 1
    done
    t=$(median_of "${times[@]}")
    results=$(redis-cli -p "$port" XLEN minionize:results)
    echo "minionize -e redis -c function -j$j: $(rate "$N" "$t") tasks/s ($results results)"
done

# The ratios to a file and to redis-benchmark's XADD: redis_short.sh.

echo "== redis engine: idle minion blocked on an empty stream"
redis-cli -p "$port" DEL minionize >/dev/null
bench_idle_rss "$MINIONIZE" -q -- true
