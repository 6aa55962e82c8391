#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench: throughput of minionize against xargs and of the function path.
set -u
. "$(dirname "$0")/lib.sh"

bench_scratch run

noop="$top_builddir/plugins/examples/.libs/wordcount.so:minion_noop"

echo "== process spawning: 5000 params, 2 in flight, median of $BENCH_RUNS"
seq 5000 >params
t_xargs=$(median_seconds xargs -a params -P2 -n1 /bin/true) || exit 1
t_min=$(median_seconds "$MINIONIZE" -q -j2 -a params /bin/true) || exit 1
echo "xargs -P2 -n1 /bin/true:   $(rate 5000 "$t_xargs") tasks/s"
echo "minionize -j2 /bin/true:   $(rate 5000 "$t_min") tasks/s"
echo "ratio minionize/xargs:     $(ratio "$t_xargs" "$t_min")"

bash "$(dirname "$0")/spawn.sh" || exit 1

echo "== function callback, no-op: 1,000,000 params, median of 3"
seq 1000000 >million
for j in 1 2 8 64; do
    t=$(BENCH_RUNS=3 median_seconds "$MINIONIZE" -q -c function -j$j \
        --set MINION_FUNCTION="$noop" -a million) || exit 1
    echo "minionize -c function -j$j: $(rate 1000000 "$t") tasks/s"
done

bash "$(dirname "$0")/metrics.sh"
bash "$(dirname "$0")/status.sh"

if [ -x "$(dirname "$0")/redis.sh" ] || [ -f "$(dirname "$0")/redis.sh" ]; then
    bash "$(dirname "$0")/redis.sh"
    bash "$(dirname "$0")/redis_short.sh"
fi

bash "$(dirname "$0")/pulsar.sh"

bash "$(dirname "$0")/docker.sh"
