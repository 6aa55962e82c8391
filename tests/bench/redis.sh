#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench, redis part: tasks/s of one minion (function callback, no-op
# function, results stream on) draining a stream, and the memory of an idle
# minion blocked on an empty stream. Targets: >= 100000 tasks/s, < 4 MiB.
set -u
. "$(dirname "$0")/lib.sh"

command -v redis-server >/dev/null || { echo "redis: redis-server missing, skipped"; exit 0; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/minionize-bench-redis.XXXXXX")
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT
cd "$dir" || exit 1

bench_redis_start "$dir"
port=$BENCH_REDIS_PORT
pids="$pids $BENCH_REDIS_PID"
export REDIS_URL="redis://127.0.0.1:$port" MINION_ENGINE=redis
noop="$top_builddir/plugins/examples/.libs/wordcount.so:minion_noop"
N=${BENCH_REDIS_PARAMS:-200000}

# A fresh stream of N params (not timed).
fill() {
    bench_redis_fill "$port" "$N" p
}

drain() {
    fill
    seconds "$MINIONIZE" -q -c function -j"$1" --drain \
        --set MINION_FUNCTION="$noop"
}

echo "== redis-benchmark: pipelined XADD on the same server (the ceiling)"
if command -v redis-benchmark >/dev/null; then
    redis-benchmark -p "$port" -n 1000000 -P 64 -q \
        XADD minionize:bench '*' param p 2>/dev/null | tr '\r' '\n' |
        awk '/requests per second/ { line = $0 } END { print "redis-benchmark " line }'
    redis-cli -p "$port" DEL minionize:bench >/dev/null
else
    echo "redis-benchmark missing (Debian package redis-tools)"
fi

echo "== redis engine: $N params, function callback (no-op), results on"
for j in 64 512; do
    times=()
    for ((i = 0; i < BENCH_RUNS && i < 3; i++)); do
        times+=("$(drain "$j")") || exit 1
    done
    t=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ a[NR] = $1 }
        END { print a[int((NR + 1) / 2)] }')
    results=$(redis-cli -p "$port" XLEN minionize:results)
    echo "minionize -e redis -c function -j$j: $(rate "$N" "$t") tasks/s ($results results)"
done

echo "== process spawning through redis and through a file: 5000 params, -j2"
seq 5000 >params
spawn_redis() {
    N=5000 fill
    seconds "$MINIONIZE" -q -j2 --drain /bin/true
}
t_redis=$(spawn_redis) || exit 1
t_file=$(MINION_ENGINE=file seconds "$MINIONIZE" -q -j2 -a params /bin/true) || exit 1
echo "minionize -e redis -j2 /bin/true: $(rate 5000 "$t_redis") tasks/s"
echo "minionize -e file  -j2 /bin/true: $(rate 5000 "$t_file") tasks/s"
echo "ratio redis/file:                 $(ratio "$t_file" "$t_redis")"

echo "== redis engine: idle minion blocked on an empty stream"
redis-cli -p "$port" DEL minionize >/dev/null
"$MINIONIZE" -q -- true &
idle=$!
pids="$pids $idle"
sleep 3
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$idle/status")
echo "idle minion RSS: $rss KiB (target < 4096 KiB)"
kill -TERM "$idle"
wait "$idle"
