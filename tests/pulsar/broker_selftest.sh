#!/bin/bash
# SPDX-License-Identifier: MIT
# Self-test of the Pulsar test double (tests/pulsar/broker.py): the double is
# started on free loopback ports and checked by tests/pulsar/selftest.py
# (websockets' asyncio client plus raw sockets): 401/403/404/409/400 before
# the upgrade, Shared round-robin, windows and permits, nack and ack-timeout
# redelivery, disconnect and TCP-drop redelivery, DLQ, REST and WebSocket
# producers, Latest/Earliest and admin-created subscriptions, close status 3,
# idle timeout, split frames, and a kill -9 + restart with --state.
. "$top_srcdir/tests/integration/lib.sh"
t_init

PY=/usr/bin/python3
here="$top_srcdir/tests/pulsar"
[ -x "$PY" ] || t_skip "$PY missing"
"$PY" -c 'import websockets' 2>/dev/null || t_skip "python3-websockets missing for $PY"

# start_double NAME ARGS...: run broker.py on a free port (PORT), wait for
# its "ready PORT" line, retrying on another port if this one was taken.
start_double() {
    local name=$1 _
    shift
    for _ in 1 2 3 4 5; do
        PORT=${FIXED_PORT:-$(t_free_port)} || t_fail "no free port"
        "$PY" "$here/broker.py" --port "$PORT" "$@" >"$name.out" 2>"$name.err" &
        DOUBLE_PID=$!
        t_track "$DOUBLE_PID"
        t_wait_until 10 sh -c "grep -q '^ready $PORT\$' $name.out ||
            ! kill -0 $DOUBLE_PID 2>/dev/null" || t_fail "$name: not ready in 10 s"
        grep -q "^ready $PORT\$" "$name.out" && return 0
        [ -n "${FIXED_PORT:-}" ] && sleep 0.2
    done
    t_fail "$name did not start: $(tail -n 5 "$name.err")"
}

selftest() {
    timeout -k 5 60 "$PY" "$here/selftest.py" "$@" ||
        t_fail "selftest $1 failed (double's log: $(tail -n 5 ./*.err | head -c 2000))"
}

start_double main --token sesame --forbidden-token nope
selftest main --port "$PORT" --token sesame --forbidden-token nope
kill "$DOUBLE_PID"

start_double faults --idle-timeout-ms 700 --coalesce-handshake \
    --topic persistent://public/default/f --topic persistent://public/default/idle \
    --subscription s --preload 3
selftest faults --port "$PORT"
kill "$DOUBLE_PID"

start_double split --split-frames --topic persistent://public/default/sp \
    --subscription s --preload 5
selftest split --port "$PORT"
kill "$DOUBLE_PID"

# Broker restarted mid-run: kill -9, same port, same state file.
start_double state1 --state "$T_DIR/state.jsonl" --topic persistent://public/default/st \
    --subscription w
selftest state1 --port "$PORT"
{ kill -9 "$DOUBLE_PID" && wait "$DOUBLE_PID"; } 2>/dev/null
FIXED_PORT=$PORT start_double state2 --state "$T_DIR/state.jsonl" \
    --topic persistent://public/default/st --subscription w
selftest state2 --port "$PORT"
kill "$DOUBLE_PID"
wait "$DOUBLE_PID" 2>/dev/null
t_ok "the Pulsar test double passes its self-test"
