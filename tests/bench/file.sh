#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The file engine's cost: 1,000,000 no-op function tasks from a file,
# without and with MINION_FILE_STATE. Run from the build tree:
#   top_builddir=. bash tests/bench/file.sh
set -u
. "$(dirname "$0")/lib.sh"

noop="$top_builddir/plugins/examples/.libs/wordcount.so:minion_noop"
[ -e "${noop%%:*}" ] || { echo "bench: build plugins/examples/wordcount.la" >&2; exit 1; }
bench_scratch file
seq 1000000 >million

echo "== file engine, no-op function, 1,000,000 lines, median of $BENCH_RUNS"
for j in 1 64; do
    t=$(median_seconds "$MINIONIZE" -q -c function -j$j \
        --set MINION_FUNCTION="$noop" -a million) || exit 1
    printf "%-26s %s tasks/s\n" "stateless -j$j:" "$(rate 1000000 "$t")"
done
for j in 1 64; do
    t=$(median_seconds sh -c 'rm -rf st; exec "$0" "$@"' "$MINIONIZE" -q \
        -c function -j$j --set MINION_FUNCTION="$noop" \
        --set MINION_FILE_STATE=st -a million) || exit 1
    printf "%-26s %s tasks/s\n" "MINION_FILE_STATE -j$j:" "$(rate 1000000 "$t")"
done
