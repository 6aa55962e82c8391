# SPDX-License-Identifier: MIT
# minion-submit -e pulsar: arguments and stdin lines become messages, in
# order, through the REST producer (batched), as text; --json and --sweep
# as for redis; --wait refused; errors are one line and exit 2.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pulsar_lib.sh"
t_init
unset PULSAR_TOPIC PULSAR_TOKEN
p_start_broker --token tok --topic "$P_TOPIC" --topic persistent://acme/batch/other
export PULSAR_TOKEN=tok

payloads() {
    p_get "/test/messages?topic=$1" | "$P_PY" -c '
import json, sys
doc = json.load(sys.stdin)
for m in (doc["messages"] if isinstance(doc, dict) else doc):
    print(m["payload"])'
}

"$SUBMIT" -e pulsar --topic jobs alpha 'two words' '{"k":"v"}' 'café' 2>err ||
    t_fail "submit: $(cat err)"
grep -qx "minion-submit: submitted 4 params to pulsar topic $P_TOPIC" err ||
    t_fail "count line: $(cat err)"
printf '%s\n' alpha 'two words' '{"k":"v"}' 'café' >want
payloads "$P_TOPIC" >got
cmp -s want got || { diff want got >&2; t_fail "topic contents"; }
t_ok "arguments become text messages, in order; a short name is in public/default"

seq 1 2500 | sed 's/^/n/' >in
MINION_ENGINE=pulsar PULSAR_TOPIC=persistent://acme/batch/other "$SUBMIT" <in 2>err ||
    t_fail "stdin: $(cat err)"
grep -qx 'minion-submit: submitted 2500 params to pulsar topic persistent://acme/batch/other' err ||
    t_fail "count line: $(cat err)"
payloads persistent://acme/batch/other >got
cmp -s in got || t_fail "2500 params out of order or changed"
t_ok "2500 stdin params in several batches, in order"

"$SUBMIT" -q -e pulsar --topic other2 --json '{"a":1}' '{oops' 2>err
[ $? -eq 2 ] || t_fail "--json with a bad param"
p_one_line err
"$SUBMIT" -q -e pulsar --topic acme/batch/other --sweep '{"x":[1,2],"y":["a","b"]}' ||
    t_fail "--sweep"
[ "$(payloads persistent://acme/batch/other | wc -l)" -eq 2504 ] || t_fail "--sweep count"
t_ok "--json refuses before sending; --sweep sends the product"

check_2() {
    local what=$1 pattern=$2
    shift 2
    "$@" 2>err
    local rc=$?
    [ $rc -eq 2 ] || t_fail "$what: exit $rc, not 2: $(cat err)"
    p_one_line err
    grep -q -- "$pattern" err || t_fail "$what: $(cat err)"
}
check_2 "--wait" "not supported" "$SUBMIT" -e pulsar --topic jobs --wait x
check_2 "no topic" "PULSAR_TOPIC" "$SUBMIT" -e pulsar x
check_2 "bad token" "401" env PULSAR_TOKEN=nope "$SUBMIT" -e pulsar --topic jobs x
check_2 "unknown topic" "not found" "$SUBMIT" -e pulsar --topic nosuch x
check_2 "bad topic" "PULSAR_TOPIC" "$SUBMIT" -e pulsar --topic a/b x
closed=$(t_free_port)
check_2 "unreachable" "cannot reach" "$SUBMIT" -e pulsar --pulsar-url "http://127.0.0.1:$closed" --topic jobs x
[ "$(payloads "$P_TOPIC" | wc -l)" -eq 4 ] || t_fail "a failed submit published something"
t_ok "--wait, no topic, bad token, unknown topic, bad name, unreachable: exit 2, one line"
