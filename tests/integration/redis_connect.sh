# SPDX-License-Identifier: MIT
# Connecting: password, ACL user, database, unix socket, host name; and the
# start-up failures (unreachable, wrong or missing password, bad settings):
# exit 2 with one line on stderr, the password never shown, nothing taken.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
SOCK="$T_DIR/redis.sock"
t_start_redis --requirepass s3cret-pw --unixsocket "$SOCK" --unixsocketperm 700
rcli() {
    redis-cli -p "$REDIS_PORT" --no-auth-warning -a s3cret-pw "$@"
}
rcli ACL SETUSER worker on '>w0rker-pw' '~*' '&*' '+@all' >/dev/null
rcli XADD "$R_STREAM" '*' param one >/dev/null

# expect_fail WHAT PATTERN ENV...: exit 2, one stderr line matching PATTERN
# that shows no password, and the program never ran.
expect_fail() {
    local what=$1 pattern=$2
    shift 2
    env MINION_ENGINE=redis "$@" "$MINIONIZE" -- touch ran >out 2>err
    rc=$?
    [ "$rc" -eq 2 ] || t_fail "$what: exit $rc, not 2: $(cat err)"
    [ "$(wc -l <err)" -eq 1 ] || t_fail "$what: stderr is not one line: $(cat err)"
    grep -q "^minionize: error: engine redis: .*$pattern" err ||
        t_fail "$what: unexpected message: $(cat err)"
    grep -q -e -pw err && t_fail "$what: the password shows: $(cat err)"
    [ -e ran ] && t_fail "$what: a param ran"
    t_ok "$what: $(cat err)"
}

free=$(t_free_port)
expect_fail unreachable "cannot connect to redis://127.0.0.1:$free" \
    REDIS_URL=redis://127.0.0.1:$free
expect_fail "wrong password" "AUTH failed: WRONGPASS" \
    REDIS_URL=redis://:bad-pw@127.0.0.1:$REDIS_PORT
expect_fail "wrong user" "AUTH failed: WRONGPASS" \
    REDIS_URL=redis://nobody:w0rker-pw@127.0.0.1:$REDIS_PORT
expect_fail "no password" "NOAUTH" REDIS_URL=redis://127.0.0.1:$REDIS_PORT
expect_fail "missing socket" "cannot connect to unix://$T_DIR/nope.sock" \
    REDIS_URL=unix://$T_DIR/nope.sock
expect_fail "bad url" "REDIS_URL" REDIS_URL=http://x-pw
expect_fail "claim idle" "REDIS_CLAIM_IDLE_MS" REDIS_CLAIM_IDLE_MS=5 \
    REDIS_URL=redis://:s3cret-pw@127.0.0.1:$REDIS_PORT
[ "$(rcli XPENDING "$R_STREAM" "$R_GROUP" 2>&1 | head -1)" != 1 ] ||
    t_fail "a failed start took the param"

# run NAME ENV...: drain one param with the given settings.
run() {
    local name=$1
    shift
    env MINION_ENGINE=redis MINION_EXIT_WHEN_EMPTY=1 MINION_ID="$name" "$@" \
        "$MINIONIZE" -- echo >"$name.out" 2>"$name.err" ||
        t_fail "$name: exit $?: $(cat "$name.err")"
    grep -q . "$name.out" || t_fail "$name: ran nothing: $(cat "$name.err")"
    grep -q -e -pw "$name.err" && t_fail "$name: the password shows: $(cat "$name.err")"
    t_ok "$name"
}

run password REDIS_URL=redis://:s3cret-pw@127.0.0.1:$REDIS_PORT
rcli XADD "$R_STREAM" '*' param two >/dev/null
run acl-user REDIS_URL=redis://worker:w0rker-pw@localhost:$REDIS_PORT
rcli XADD "$R_STREAM" '*' param three >/dev/null
run unix-socket "REDIS_URL=unix://:s3cret-pw@$SOCK"
rcli -n 3 XADD "$R_STREAM" '*' param four >/dev/null
run database REDIS_URL=redis://:s3cret-pw@127.0.0.1:$REDIS_PORT/3
grep -qx four database.out || t_fail "db 3: $(cat database.out)"
[ "$(rcli XLEN "$R_STREAM:results")" = 3 ] || t_fail "results in db 0: $(rcli XLEN "$R_STREAM:results")"
[ "$(rcli -n 3 XLEN "$R_STREAM:results")" = 1 ] || t_fail "no result in db 3"

# REDIS_RESULTS names the results stream; empty turns results off.
rcli XADD "$R_STREAM" '*' param five >/dev/null
run results-elsewhere REDIS_URL=redis://:s3cret-pw@127.0.0.1:$REDIS_PORT \
    REDIS_RESULTS=elsewhere
[ "$(rcli XLEN elsewhere)" = 1 ] || t_fail "REDIS_RESULTS=elsewhere: nothing there"
rcli XADD "$R_STREAM" '*' param six >/dev/null
run no-results REDIS_URL=redis://:s3cret-pw@127.0.0.1:$REDIS_PORT REDIS_RESULTS=
[ "$(rcli XLEN "$R_STREAM:results")" = 3 ] || t_fail "REDIS_RESULTS= still wrote results"
[ "$(rcli XLEN elsewhere)" = 1 ] || t_fail "REDIS_RESULTS= wrote elsewhere"
