# SPDX-License-Identifier: MIT
# Benchmark helpers: wall-clock timing and medians. Benchmarks compare in
# one run (ratios), since this machine is shared and noisy.

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${BENCH_RUNS:=5}"
MINIONIZE="$top_builddir/minionize"

now() {
    date +%s.%N
}

# seconds COMMAND...: run once, print elapsed seconds.
seconds() {
    local t0 t1
    t0=$(now)
    "$@" >/dev/null 2>&1 || { echo "bench: command failed: $*" >&2; return 1; }
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }'
}

# median: the median of the numbers on stdin, one a line.
median() {
    sort -g | awk '{ a[NR] = $1 }
        END { if (NR % 2) print a[(NR + 1) / 2];
              else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# median_of NUMBER...: the median of its arguments.
median_of() {
    printf '%s\n' "$@" | median
}

# median_seconds COMMAND...: the median of $BENCH_RUNS runs.
median_seconds() {
    local i times=()
    for ((i = 0; i < BENCH_RUNS; i++)); do
        times+=("$(seconds "$@")") || return 1
    done
    median_of "${times[@]}"
}

# bench_scratch NAME: a temporary folder to work in, removed at exit with
# every PID the caller adds to $pids; sets dir and pids, and cds there.
bench_scratch() {
    dir=$(mktemp -d "${TMPDIR:-/tmp}/minionize-bench-$1.XXXXXX") || exit 1
    pids=""
    trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT
    cd "$dir" || exit 1
}

# bench_idle_rss COMMAND...: start an idle minion, say its resident memory
# after 3 s (target < 4 MiB), and stop it.
bench_idle_rss() {
    local idle rss
    "$@" &
    idle=$!
    pids="$pids $idle"
    sleep 3
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$idle/status")
    echo "idle minion RSS: $rss KiB (target < 4096 KiB)"
    kill -TERM "$idle"
    wait "$idle"
}

# rate COUNT SECONDS -> tasks per second
rate() {
    awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

# bench_redis_start DIR: a redis-server on a free loopback port, its files
# in DIR; sets BENCH_REDIS_PORT and BENCH_REDIS_PID (the caller kills it).
# bench_redis_scratch NAME does it all: bench_scratch NAME, then a server
# killed at exit; sets port and REDIS_URL too.
bench_redis_start() {
    BENCH_REDIS_PORT=$((20000 + RANDOM % 12000))
    redis-server --port "$BENCH_REDIS_PORT" --bind 127.0.0.1 --dir "$1" \
        --save '' --appendonly no --logfile "$1/redis.log" &
    BENCH_REDIS_PID=$!
    for _ in $(seq 100); do
        redis-cli -p "$BENCH_REDIS_PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
}

# bench_redis_fill PORT N [PREFIX]: the stream minionize holds exactly the
# params PREFIX1..PREFIXN, and its results stream is empty (one pipe of raw
# XADDs).
bench_redis_fill() {
    redis-cli -p "$1" DEL minionize minionize:results >/dev/null
    awk -v n="$2" -v prefix="${3:-}" 'BEGIN {
        for (i = 1; i <= n; i++) {
            v = prefix i
            printf "*5\r\n$4\r\nXADD\r\n$9\r\nminionize\r\n$1\r\n*\r\n"
            printf "$5\r\nparam\r\n$%d\r\n%s\r\n", length(v), v
        }
    }' | redis-cli -p "$1" --pipe >/dev/null
}

bench_redis_scratch() {
    bench_scratch "$1"
    bench_redis_start "$dir"
    port=$BENCH_REDIS_PORT
    pids="$pids $BENCH_REDIS_PID"
    export REDIS_URL="redis://127.0.0.1:$port"
}
