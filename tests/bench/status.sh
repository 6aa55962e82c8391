#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# minion-status over a big reports folder: 1,000,000 v2 records in 4
# files (about 500 MB). The first read is timed from outside (--json, the
# median of 3). A refresh can only be seen from inside a running process:
# --watch writes one plain line per refresh to a pipe, and the CPU time
# the process spent (Linux's /proc/PID/schedstat, in nanoseconds) between
# two lines is what those refreshes cost, the sleeps in between excluded.
# Run from the build tree:
#   top_builddir=. bash tests/bench/status.sh
set -u
. "$(dirname "$0")/lib.sh"

STATUS="$(cd "$top_builddir" && pwd)/minion-status"
REFRESHES=200
APPENDS=50
[ -x "$STATUS" ] || { echo "bench: build minion-status first" >&2; exit 1; }
bench_scratch status
mkdir rep

# One record as reporters/json.c writes it: 4 minions of 250,000 runs of
# 0.05 to 2 s, one in 50 failed.
awk 'BEGIN {
    srand(1);
    for (f = 0; f < 4; f++) {
        file = sprintf("rep/node-%d.jsonl", f);
        uid = sprintf("%08x-1111-2222-3333-%012d", f * 7919 + 1, f);
        t = 1700000000 + f * 0.25;
        for (i = 1; i <= 250000; i++) {
            d = 0.05 + rand() * 2; s = t; e = s + d; t = e + 0.001;
            st = i % 50 == 0 ? "failed" : "ok";
            err = st == "ok" ? "null" : "\"exit status " (i % 3 + 1) "\"";
            printf "{\"uid\":\"%s\",\"minion\":\"node-%d\",\"generation\":%d," \
                "\"start\":%.6f,\"end\":%.6f,\"duration\":%.6f," \
                "\"task_id\":\"%d\",\"attempt\":1,\"status\":\"%s\"," \
                "\"exit_code\":%d,\"error\":%s,\"param\":\"input-%d.dat\"," \
                "\"output\":\"processed %d items\\n\",\"atomic_actions\":" \
                "[{\"name\":\"next\",\"start\":%.6f,\"end\":%.6f}," \
                "{\"name\":\"process\",\"start\":%.6f,\"end\":%.6f}]," \
                "\"nodename\":\"node-%d\",\"signal\":null,\"maxrss_kb\":%d," \
                "\"user_s\":%.3f,\"sys_s\":%.3f}\n",
                uid, f, i, s, e, d, i, st, st == "ok" ? 0 : 1, err, i, i,
                s, s, s, e, f, 2000 + i % 1000, d * 0.8, d * 0.1 > file;
        }
    }
}' || exit 1
echo "== minion-status, 1,000,000 records in 4 files ($(du -sm rep | cut -f1) MB)"

t=$(BENCH_RUNS=3 median_seconds "$STATUS" --json -d rep) || exit 1
awk -v t="$t" 'BEGIN {
    printf "%-46s %8.3f s\n", "first read, --json (median of 3):", t }'

# cpu_ns PID: the CPU time PID has used so far.
cpu_ns() {
    awk '{ print $1 }' "/proc/$1/schedstat" 2>/dev/null
}

coproc WATCH { exec "$STATUS" --watch=0.05 -d rep 2>/dev/null; }
pid=$WATCH_PID
read -r _ <&"${WATCH[0]}" || { echo "bench: --watch printed nothing" >&2; exit 1; }
t0=$(cpu_ns "$pid")
if [ -z "$t0" ]; then
    echo "refresh: no /proc/PID/schedstat here, not measured"
    kill "$pid"
    exit 0
fi
for ((i = 0; i < REFRESHES; i++)); do
    read -r _ <&"${WATCH[0]}" || exit 1
done
t1=$(cpu_ns "$pid")
# Then a record appended before each refresh: the figures are computed
# again (percentiles merged, rates and charts over every run).
line=$(tail -n 1 rep/node-0.jsonl)
for ((i = 0; i < APPENDS; i++)); do
    printf '%s\n' "$line" >>rep/node-0.jsonl
    read -r _ <&"${WATCH[0]}" || exit 1
done
t2=$(cpu_ns "$pid")
kill "$pid"
wait "$pid" 2>/dev/null
awk -v a="$t0" -v b="$t1" -v n="$REFRESHES" 'BEGIN {
    printf "%-46s %8.3f ms\n", "refresh, nothing changed (CPU, mean of " n "):",
        (b - a) / n / 1e6 }'
awk -v a="$t1" -v b="$t2" -v n="$APPENDS" 'BEGIN {
    printf "%-46s %8.3f ms\n", "refresh, a record appended (mean of " n "):",
        (b - a) / n / 1e6 }'
