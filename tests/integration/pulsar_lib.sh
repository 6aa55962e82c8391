# SPDX-License-Identifier: MIT
# Helpers of the pulsar engine's integration tests, against the test double
# of the broker (tests/pulsar/broker.py). Source after lib.sh and t_init.
# The double's own test hooks are read with python3, which it needs anyway.

P_PY=/usr/bin/python3
P_TOPIC=persistent://public/default/jobs
P_SUB=minions

# A missing python3 or python3-websockets is SKIP, a failure under CI.
p_need() {
    [ -x "$P_PY" ] || t_skip "$P_PY not installed"
    "$P_PY" -c 'import websockets' 2>/dev/null ||
        t_skip "python3-websockets not installed (Debian package python3-websockets)"
    [ -f "$top_srcdir/tests/pulsar/broker.py" ] ||
        t_skip "tests/pulsar/broker.py is missing"
}

# p_start_broker [broker args...]: the double on a free port, in
# $T_DIR/broker.out; sets P_PORT, P_PID, PULSAR_URL (exported). Arguments
# (plain words) are kept for p_restart_broker.
p_start_broker() {
    p_need
    P_ARGS="$*"
    local attempt
    for attempt in 1 2 3 4 5; do
        P_PORT=$(t_free_port) || t_fail "no free port"
        p_launch "$T_DIR/broker.out"
        t_wait_until 20 sh -c "grep -q '^ready' '$T_DIR/broker.out' ||
            ! kill -0 $P_PID 2>/dev/null" || break
        kill -0 "$P_PID" 2>/dev/null && break
    done
    grep -q '^ready' "$T_DIR/broker.out" ||
        t_fail "the test broker did not start: $(tail -n 5 "$T_DIR/broker.out")"
    PULSAR_URL="http://127.0.0.1:$P_PORT"
    export PULSAR_URL
}

p_launch() {
    # shellcheck disable=SC2086
    "$P_PY" "$top_srcdir/tests/pulsar/broker.py" --port "$P_PORT" \
        $P_ARGS >"$1" 2>&1 &
    P_PID=$!
    t_track "$P_PID"
}

# p_restart_broker: kill -9 the double, then start it again on the same
# port with the same arguments (give it --state FILE to keep its data).
p_restart_broker() {
    kill -9 "$P_PID" 2>/dev/null
    { wait "$P_PID"; } 2>/dev/null
    p_launch "$T_DIR/broker2.out"
    t_wait_until 20 grep -q '^ready' "$T_DIR/broker2.out" ||
        t_fail "the test broker did not come back: $(tail -n 5 "$T_DIR/broker2.out")"
}

# p_get PATH: GET on the double's HTTP port, body on stdout.
p_get() {
    "$P_PY" - "$PULSAR_URL$1" <<'EOF'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    sys.stdout.write(r.read().decode())
EOF
}

# p_messages [TOPIC] [SUB]: one line per message of TOPIC, in publication
# order: "<payload> <acked 0|1 for SUB> <redeliveryCount for SUB>"
# (payload with blanks as _).
p_messages() {
    local topic=${1:-$P_TOPIC} sub=${2:-$P_SUB}
    p_get "/test/messages?topic=$topic" | "$P_PY" -c '
import json, sys
sub = sys.argv[1]
doc = json.load(sys.stdin)
msgs = doc["messages"] if isinstance(doc, dict) else doc
for m in msgs:
    s = m.get("subscriptions", {}).get(sub, {})
    payload = m.get("payload", "")
    print("%s %d %d" % ("".join("_" if c.isspace() else c for c in payload) or "-",
                        1 if s.get("acked") else 0,
                        int(s.get("redeliveryCount", 0))))
' "$sub"
}

# p_props TOPIC: the properties of each message of TOPIC, as JSON, a line
# each.
p_props() {
    p_get "/test/messages?topic=$1" | "$P_PY" -c '
import json, sys
doc = json.load(sys.stdin)
msgs = doc["messages"] if isinstance(doc, dict) else doc
for m in msgs:
    print(json.dumps({"payload": m.get("payload"),
                      "properties": m.get("properties", {})}, sort_keys=True))
'
}

# p_minion NAME [ENV=VALUE...] -- [minionize args...]: a pulsar minion in
# the background, logs in NAME.out / NAME.err; sets P_MINION.
p_minion() {
    local name=$1
    shift
    t_minion "$name" MINION_ENGINE=pulsar PULSAR_TOPIC="$P_TOPIC" "$@"
    P_MINION=$T_MINION
}

# p_wait_exit PID SECONDS: wait for PID, fail after SECONDS; sets P_RC.
p_wait_exit() {
    t_wait_exit "$@"
    P_RC=$T_RC
}

# p_one_line FILE: FILE holds exactly one line.
p_one_line() {
    [ "$(wc -l <"$1")" -eq 1 ] || t_fail "not one line: $(cat "$1")"
}
