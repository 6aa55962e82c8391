#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench, pulsar part: tasks/s of one minion (function callback, no-op
# function, -j64) draining a topic of the Pulsar test double, against the
# redis engine on the same params in the same run, and against the double's
# own ceiling (tests/pulsar/ceiling.py: a consumer that only acks, written
# with the same library as the double). Target: at least half the ceiling.
# Then the memory of an idle minion on an empty topic (target < 4 MiB).
set -u
. "$(dirname "$0")/lib.sh"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"

py=/usr/bin/python3
broker="$top_srcdir/tests/pulsar/broker.py"
if ! "$py" -c 'import websockets' 2>/dev/null; then
    echo "pulsar: python3-websockets missing, skipped"
    exit 0
fi
bench_scratch pulsar

noop="$top_builddir/plugins/examples/.libs/wordcount.so:minion_noop"
N=${BENCH_PULSAR_PARAMS:-100000}
J=64
SUB=minions

# start_broker TOPIC [args...]: a fresh double on a free port, the topic
# filled with N messages and subscribed at its start; sets port, bpid.
start_broker() {
    local topic=$1
    shift
    port=$((20000 + RANDOM % 12000))
    "$py" "$broker" --port "$port" --topic "persistent://public/default/$topic" \
        --subscription "$SUB" "$@" >"broker.$topic.out" 2>&1 &
    bpid=$!
    pids="$pids $bpid"
    for _ in $(seq 200); do
        grep -q '^ready' "broker.$topic.out" && return 0
        sleep 0.05
    done
    echo "bench: the test broker did not start: $(tail -n 3 "broker.$topic.out")" >&2
    return 1
}

stop_broker() {
    kill "$bpid" 2>/dev/null
    wait "$bpid" 2>/dev/null
}

echo "== the test double's ceiling: an ack-only consumer, $N messages"
ceilings=()
for ((i = 0; i < BENCH_RUNS && i < 3; i++)); do
    start_broker ceil --preload "$N" || exit 1
    line=$("$py" "$top_srcdir/tests/pulsar/ceiling.py" --count "$N" \
        --url "ws://127.0.0.1:$port/ws/v2/consumer/persistent/public/default/ceil/$SUB?subscriptionType=Shared&receiverQueueSize=1000") ||
        { echo "bench: ceiling.py failed" >&2; exit 1; }
    stop_broker
    ceilings+=("$(echo "$line" | awk '{ print $(NF - 1) }')")
done
ceiling=$(median_of "${ceilings[@]}")
echo "ceiling.py (push, one connection): $ceiling msgs/s"

echo "== pulsar engine: $N params, function callback (no-op), -j$J"
times=()
for ((i = 0; i < BENCH_RUNS && i < 3; i++)); do
    start_broker jobs --preload "$N" || exit 1
    times+=("$(PULSAR_URL=http://127.0.0.1:$port PULSAR_TOPIC=jobs \
        MINION_ENGINE=pulsar seconds "$MINIONIZE" -q -c function -j$J --drain \
        --set MINION_FUNCTION="$noop")") || exit 1
    stop_broker
done
t=$(median_of "${times[@]}")
pulsar_rate=$(rate "$N" "$t")
echo "minionize -e pulsar -c function -j$J: $pulsar_rate tasks/s" \
    "($(ratio "$pulsar_rate" "$ceiling") of the ceiling; target >= 0.5;" \
    "the drain check adds up to 0.5 s)"

echo "== redis engine, same params: $N, function callback (no-op), -j$J"
if command -v redis-server >/dev/null; then
    bench_redis_start "$dir"
    rport=$BENCH_REDIS_PORT
    pids="$pids $BENCH_REDIS_PID"
    times=()
    for ((i = 0; i < BENCH_RUNS && i < 3; i++)); do
        bench_redis_fill "$rport" "$N"
        times+=("$(REDIS_URL=redis://127.0.0.1:$rport MINION_ENGINE=redis \
            seconds "$MINIONIZE" -q -c function -j$J --drain \
            --set MINION_FUNCTION="$noop")") || exit 1
    done
    t=$(median_of "${times[@]}")
    redis_rate=$(rate "$N" "$t")
    echo "minionize -e redis -c function -j$J: $redis_rate tasks/s" \
        "(pulsar/redis: $(ratio "$pulsar_rate" "$redis_rate"))"
else
    echo "redis-server missing: no comparison"
fi

echo "== pulsar engine: idle minion on an empty topic"
start_broker empty || exit 1
PULSAR_URL=http://127.0.0.1:$port PULSAR_TOPIC=empty MINION_ENGINE=pulsar \
    bench_idle_rss "$MINIONIZE" -q -- true
stop_broker
