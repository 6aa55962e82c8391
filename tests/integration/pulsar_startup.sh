# SPDX-License-Identifier: MIT
# What is wrong at start-up ends the minion at once with exit status 2 and
# one line naming the broker and the cause, before anything is taken: a bad
# token, no token where one is needed, an unreachable broker, an unknown
# topic, a bad PULSAR_URL or PULSAR_TOPIC. Then the subscription it makes is
# Shared and starts at the earliest message.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pulsar_lib.sh"
t_init
p_start_broker --token s3cret --topic "$P_TOPIC"

# expect_2 NAME PATTERN [ENV=VALUE...]: a minion that must end with 2.
expect_2() {
    local name=$1 pattern=$2
    shift 2
    p_minion "$name" "$@" -- -- true
    p_wait_exit "$P_MINION" 15
    [ "$P_RC" -eq 2 ] || t_fail "$name: exit $P_RC, not 2: $(cat $name.err)"
    p_one_line "$name.err"
    grep -q -- "$pattern" "$name.err" || t_fail "$name: $(cat $name.err)"
    grep -q s3cret "$name.err" && t_fail "$name: the token was printed"
    [ -s "$name.out" ] && t_fail "$name ran something"
    return 0
}
expect_2 badtoken "401" PULSAR_TOKEN=wrong
expect_2 notoken "401"
closed=$(t_free_port)
expect_2 unreachable "127.0.0.1:$closed" PULSAR_TOKEN=s3cret PULSAR_URL=http://127.0.0.1:$closed
expect_2 notopic "persistent://public/default/nosuch" PULSAR_TOKEN=s3cret PULSAR_TOPIC=nosuch
expect_2 badurl "PULSAR_URL" PULSAR_TOKEN=s3cret PULSAR_URL=pulsar://127.0.0.1:6650
expect_2 badtopic "non-persistent" PULSAR_TOKEN=s3cret PULSAR_TOPIC=non-persistent://a/b/c
p_messages >msgs
[ ! -s msgs ] || t_fail "messages appeared: $(cat msgs)"
t_ok "bad token, no token, unreachable broker, unknown topic, bad settings: exit 2, one line"

# Published before any minion: the subscription the first one makes starts
# at the earliest message, so these run too.
PULSAR_TOKEN=s3cret "$SUBMIT" -q -e pulsar --topic "$P_TOPIC" early1 early2 ||
    t_fail "submit"
p_minion m1 PULSAR_TOKEN=s3cret MINION_EXIT_WHEN_EMPTY=1 -- -- sh -c 'echo "$MINION_PARAM"'
p_wait_exit "$P_MINION" 20
[ "$P_RC" -eq 0 ] || t_fail "m1 exited $P_RC: $(cat m1.err)"
printf '%s\n' early1 early2 >want
cmp -s want m1.out || t_fail "ran: $(cat m1.out)"
grep -q "created subscription $P_SUB" m1.err || t_fail "no subscription made: $(cat m1.err)"
t_ok "the subscription is made at the earliest message: params published before it run"
