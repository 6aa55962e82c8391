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

# median_seconds COMMAND...: the median of $BENCH_RUNS runs.
median_seconds() {
    local i times=()
    for ((i = 0; i < BENCH_RUNS; i++)); do
        times+=("$(seconds "$@")") || return 1
    done
    printf '%s\n' "${times[@]}" | sort -g | awk '{ a[NR] = $1 }
        END { if (NR % 2) print a[(NR + 1) / 2];
              else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# rate COUNT SECONDS -> tasks per second
rate() {
    awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}
