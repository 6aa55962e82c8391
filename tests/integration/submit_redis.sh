#!/bin/bash
# SPDX-License-Identifier: MIT
# minion-submit with the redis engine against a real redis-server: counts and
# contents (XLEN, XRANGE), pipelined batches, stream and db selection, ACL
# users, and exit 2 on an unreachable server or a wrong password.
. "$top_srcdir/tests/integration/lib.sh"
t_init
unset REDIS_STREAM REDIS_RESULTS
t_start_redis

one_line() {
    [ "$(wc -l <"$1")" -eq 1 ] || { cat "$1" >&2; t_fail "not one line"; }
    grep -q '^minion-submit: ' "$1" || t_fail "no program name: $(cat "$1")"
}

# params STREAM [redis-cli args]: the param fields, one per line, in order.
params() {
    local s=$1
    shift
    rcli "$@" --raw XRANGE "$s" - + | awk 'NR % 3 == 0'
}

"$SUBMIT" -e redis alpha 'two words' '{"k":"v"}' 2>err ||
    t_fail "submit: $(cat err)"
grep -qx 'minion-submit: submitted 3 params to redis stream minionize' err ||
    t_fail "count line: $(cat err)"
[ "$(rcli XLEN minionize)" = 3 ] || t_fail "XLEN $(rcli XLEN minionize)"
printf '%s\n' alpha 'two words' '{"k":"v"}' >want
params minionize >got
cmp -s want got || { diff want got >&2; t_fail "stream contents"; }
# Each entry is exactly one field, "param".
[ "$(rcli --raw XRANGE minionize - + COUNT 1 | sed -n 2p)" = param ] ||
    t_fail "field name"
t_ok "arguments become XADD minionize * param VALUE, in order"

seq 1 2500 | sed 's/^/n/' >in
MINION_ENGINE=redis REDIS_STREAM=jobs "$SUBMIT" <in 2>err ||
    t_fail "stdin: $(cat err)"
grep -qx 'minion-submit: submitted 2500 params to redis stream jobs' err ||
    t_fail "count line: $(cat err)"
[ "$(rcli XLEN jobs)" = 2500 ] || t_fail "XLEN jobs $(rcli XLEN jobs)"
params jobs >got
cmp -s in got || t_fail "2500 params out of order or changed"
t_ok "2500 stdin params over several pipelined batches, in order"

"$SUBMIT" -q -e redis --stream other --redis-url "$REDIS_URL/3" x y ||
    t_fail "--stream, db 3"
[ "$(rcli -n 3 XLEN other)" = 2 ] || t_fail "db 3 XLEN"
[ "$(rcli -n 0 XLEN other)" = 0 ] || t_fail "db 0 got the params"
REDIS_STREAM=envstream "$SUBMIT" -q -e redis --stream flagstream z ||
    t_fail "flag stream"
[ "$(rcli XLEN flagstream)" = 1 ] && [ "$(rcli XLEN envstream)" = 0 ] ||
    t_fail "--stream must win over REDIS_STREAM"
printf '%s\n' "REDIS_URL=$REDIS_URL/4" 'MINION_ENGINE=redis' >.env
env -u REDIS_URL "$SUBMIT" -q d || t_fail ".env REDIS_URL"
[ "$(rcli -n 4 XLEN minionize)" = 1 ] || t_fail ".env REDIS_URL not used"
rm .env
t_ok "--stream, REDIS_STREAM, db in the URL, .env"

# --json and --sweep validate before connecting to anything.
t_expect_exit 2 "$SUBMIT" -e redis --json '{}' 'no' 2>err
one_line err
[ "$(rcli XLEN minionize)" = 3 ] || t_fail "--json rejection submitted"
"$SUBMIT" -q -e redis --stream sw --sweep '{"a":[1,2],"b":"x"}' ||
    t_fail "--sweep"
printf '%s\n' '{"a":1,"b":"x"}' '{"a":2,"b":"x"}' >want
params sw >got
cmp -s want got || t_fail "sweep contents: $(cat got)"
t_ok "--json and --sweep with redis"

# Errors: one line and exit 2, before anything is submitted.
port=$(t_free_port)
t_expect_exit 2 "$SUBMIT" -e redis --redis-url "redis://127.0.0.1:$port" a \
    2>err
one_line err
grep -q "cannot connect to redis://127.0.0.1:$port" err || t_fail "$(cat err)"
t_expect_exit 2 "$SUBMIT" -e redis --redis-url 'http://x' a 2>err
one_line err
grep -q 'REDIS_URL' err || t_fail "bad URL message: $(cat err)"
rcli SET notastream 1 >/dev/null
t_expect_exit 1 "$SUBMIT" -e redis --stream notastream a 2>err
one_line err
grep -q 'WRONGTYPE' err || t_fail "wrong type message: $(cat err)"
t_ok "unreachable server, bad URL: exit 2; XADD refused: exit 1"

rcli CONFIG SET requirepass 's3cr#t' >/dev/null
rcli -a 's3cr#t' --no-auth-warning ACL SETUSER alice on '>al1ce' '~*' '&*' \
    '+@all' >/dev/null
arcli() { rcli -a 's3cr#t' --no-auth-warning "$@"; }
t_expect_exit 2 "$SUBMIT" -e redis a 2>err
one_line err
grep -q 'NOAUTH' err || t_fail "no password: $(cat err)"
t_expect_exit 2 "$SUBMIT" -e redis --redis-url \
    "redis://:hunter2@127.0.0.1:$REDIS_PORT" a 2>err
one_line err
grep -q 'AUTH' err || t_fail "wrong password: $(cat err)"
grep -q hunter2 err && t_fail "the password was printed"
[ "$(arcli XLEN minionize)" = 3 ] || t_fail "a refused submit added params"
"$SUBMIT" -q -e redis --stream authed --redis-url \
    "redis://:s3cr%23t@127.0.0.1:$REDIS_PORT" a ||
    t_fail "percent-encoded password refused"
"$SUBMIT" -q -e redis --stream authed --redis-url \
    "redis://alice:al1ce@127.0.0.1:$REDIS_PORT" b || t_fail "ACL user refused"
[ "$(arcli XLEN authed)" = 2 ] || t_fail "authed XLEN $(arcli XLEN authed)"
t_ok "password and ACL user: wrong or missing password exits 2"
