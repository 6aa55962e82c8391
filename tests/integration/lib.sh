# SPDX-License-Identifier: MIT
# Shared by the integration tests: a temporary folder, servers started on free
# loopback ports and stopped by PID, bounded waits, and SKIP that turns into a
# failure under CI. Source it, then call t_init.

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
MINIONIZE="$top_builddir/minionize"
SUBMIT="$top_builddir/minion-submit"
STATUS="$top_builddir/minion-status"
T_PIDS=""

t_cleanup() {
    for pid in $T_PIDS; do
        kill -9 "$pid" 2>/dev/null
    done
    for pid in $T_PIDS; do
        wait "$pid" 2>/dev/null
    done
    [ -n "${T_DIR:-}" ] && rm -rf "$T_DIR"
}

t_init() {
    T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/minionize-test.XXXXXX") || exit 99
    trap t_cleanup EXIT
    trap 'exit 1' INT TERM
    cd "$T_DIR" || exit 99
    # Keep the test's view of plugins on the build tree and away from any .env.
    unset MINION_ENGINE MINION_CALLBACK MINION_REPORTER MINION_CONCURRENCY \
        MINION_MAX_ATTEMPTS MINION_TIMEOUT MINION_DECODER MINION_MAX_TASKS \
        MINION_EXIT_WHEN_EMPTY MINION_ID MINION_PLUGIN_PATH MINION_FILE \
        MINION_FILE_STATE MINION_SHARD MINION_FUNCTION DRY REDIS_URL
}

t_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

t_ok() {
    echo "ok: $*"
}

# A missing service is SKIP (77) for a user, a failure under CI.
t_skip() {
    if [ "${CI:-}" = true ]; then
        echo "FAIL (CI forbids skipping): $*" >&2
        exit 1
    fi
    echo "SKIP: $*" >&2
    exit 77
}

# t_wait_until SECONDS COMMAND...: poll every 50 ms, fail after SECONDS.
t_wait_until() {
    local limit=$1 i=0
    shift
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -gt $((limit * 20)) ] && return 1
        sleep 0.05
    done
    return 0
}

# Remember a background PID so the cleanup kills it.
t_track() {
    T_PIDS="$T_PIDS $1"
}

# t_minion NAME [ENV=VALUE...] -- [ARGS...]: minionize ARGS in the
# background as MINION_ID=NAME with the ENVs, logs in NAME.out and NAME.err
# of $T_DIR; sets T_MINION.
t_minion() {
    local name=$1
    shift
    local envs=""
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        envs="$envs $1"
        shift
    done
    [ "${1:-}" = "--" ] && shift
    # shellcheck disable=SC2086
    env MINION_ID="$name" $envs \
        "$MINIONIZE" "$@" >"$T_DIR/$name.out" 2>"$T_DIR/$name.err" &
    T_MINION=$!
    t_track "$T_MINION"
}

# t_wait_exit PID SECONDS: wait for PID, fail after SECONDS; sets T_RC.
t_wait_exit() {
    local pid=$1 limit=$2
    t_wait_until "$limit" sh -c "! kill -0 $pid 2>/dev/null" ||
        t_fail "minion $pid still runs after ${limit}s"
    wait "$pid"
    T_RC=$?
}

# A loopback TCP port nobody listens on (connect refused), below Linux's
# ephemeral range (32768-60999) so no outgoing connection holds it.
t_free_port() {
    local port tries=0
    while [ $tries -lt 200 ]; do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
        tries=$((tries + 1))
    done
    return 1
}

# t_expect_exit CODE COMMAND...: run and check the exit status.
t_expect_exit() {
    local want=$1 got
    shift
    "$@"
    got=$?
    [ "$got" -eq "$want" ] || t_fail "expected exit $want, got $got: $*"
}

# t_start_redis [extra redis-server args...]: sets REDIS_PORT, REDIS_PID,
# REDIS_URL. The server runs in $T_DIR/redis and is killed by PID at exit.
t_start_redis() {
    command -v redis-server >/dev/null || t_skip "redis-server not installed"
    command -v redis-cli >/dev/null || t_skip "redis-cli not installed"
    mkdir -p "$T_DIR/redis"
    local attempt
    for attempt in 1 2 3 4 5; do
        REDIS_PORT=$(t_free_port) || t_fail "no free port"
        redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
            --dir "$T_DIR/redis" --save '' --appendonly no --daemonize no \
            --logfile "$T_DIR/redis/log" "$@" &
        REDIS_PID=$!
        t_track "$REDIS_PID"
        # Up unless it died (a port taken since we looked): then another.
        t_wait_until 20 sh -c "redis-cli -p $REDIS_PORT ping ||
            ! kill -0 $REDIS_PID 2>/dev/null" || break
        kill -0 "$REDIS_PID" 2>/dev/null && break
    done
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 ||
        t_fail "redis-server did not answer on port $REDIS_PORT: $(tail -n 3 "$T_DIR/redis/log")"
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
    export REDIS_URL
}

rcli() {
    redis-cli -p "$REDIS_PORT" "$@"
}
