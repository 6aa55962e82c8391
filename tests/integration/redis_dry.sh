# SPDX-License-Identifier: MIT
# A dry run on Redis (DRY=1, --dry-run, -n) shows, in order, the entries a
# real minion would get next (those after the group's last delivered id)
# and touches nothing: no consumer read (no delivery counted, nothing parked
# in a pending list), no ack, no result, no dead letter, no heartbeat; a
# missing stream or group is not created. A real minion then runs every
# param.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

rcli XGROUP CREATE "$R_STREAM" "$R_GROUP" 0 MKSTREAM >/dev/null
r_submit 6
# An earlier minion took p1 and p2 and acked p1: p2 is pending.
rcli XREADGROUP GROUP "$R_GROUP" early COUNT 2 STREAMS "$R_STREAM" '>' >/dev/null
rcli XACK "$R_STREAM" "$R_GROUP" "$(r_ids | head -n 1)" >/dev/null
rcli XADD "$R_STREAM" '*' x 1 y two >/dev/null # no param field: JSON

state() {
    echo "keys: $(rcli KEYS '*' | sort | paste -sd ' ')"
    echo "xlen: $(rcli XLEN "$R_STREAM")"
    echo "groups: $(rcli XINFO GROUPS "$R_STREAM" | paste -sd ' ')"
    echo "pending: $(rcli XPENDING "$R_STREAM" "$R_GROUP" - + 100 |
        awk 'NR % 4 != 3' | paste -sd ' ')"
    echo "consumers: $(rcli XINFO CONSUMERS "$R_STREAM" "$R_GROUP" |
        awk 'prev == "name" || prev == "pending" { print } { prev = $0 }' |
        paste -sd ' ')"
}
# group_field NAME: that field of the group, from Redis or (group_field_of)
# from a saved "groups:" line.
group_field_of() {
    awk -v f="$1" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }'
}
group_field() {
    echo "groups: $(rcli XINFO GROUPS "$R_STREAM" | paste -sd ' ')" |
        group_field_of "$1"
}
state >before.txt
grep -q "entries-read 2 " before.txt || t_fail "setup: $(cat before.txt)"

# [ENV=VALUE...] dry NAME ARGS...: a dry run that must exit 0 and change
# nothing.
dry() {
    local name=$1
    shift
    env MINION_ENGINE=redis MINION_ID="$name" REDIS_CLAIM_IDLE_MS=1000 \
        timeout 20 "$MINIONIZE" "$@" >"$name.out" 2>"$name.err"
    rc=$?
    [ "$rc" -eq 0 ] || t_fail "$name: exit $rc: $(cat "$name.err")"
    state >after.txt
    cmp -s before.txt after.txt ||
        t_fail "$name changed the queue: $(diff before.txt after.txt)"
}

DRY=1 dry dry-env --drain -- echo
printf '%s\n' 'echo p3' 'echo p4' 'echo p5' 'echo p6' \
    "echo '{\"x\":\"1\",\"y\":\"two\"}'" >want.txt
cmp -s want.txt dry-env.out || t_fail "dry run showed: $(cat dry-env.out)"
t_ok "DRY=1 shows the undelivered entries in order, changes nothing"

dry dry-flag --dry-run --drain -j3 -- echo
cmp -s want.txt dry-flag.out || t_fail "--dry-run -j3 showed: $(cat dry-flag.out)"
dry dry-short -n --drain -- echo
cmp -s want.txt dry-short.out || t_fail "-n showed: $(cat dry-short.out)"
t_ok "--dry-run and -n, also with -j3"

# Missing stream, missing group: shown from the start, nothing created.
REDIS_STREAM=nosuch dry missing-stream -n --drain -- echo
[ ! -s missing-stream.out ] || t_fail "missing stream: $(cat missing-stream.out)"
[ "$(rcli EXISTS nosuch)" = 0 ] || t_fail "the dry run created the stream"
REDIS_GROUP=other dry missing-group -n --drain -- echo
[ "$(wc -l <missing-group.out)" -eq 7 ] ||
    t_fail "missing group: showed $(cat missing-group.out)"
head -n 1 missing-group.out | grep -qx 'echo p1' ||
    t_fail "missing group: not from the start: $(cat missing-group.out)"
t_ok "a missing stream or group is shown from the start and not created"

# Without --drain it keeps showing new entries as they come, and still
# touches nothing.
env MINION_ENGINE=redis MINION_ID=tail DRY=1 "$MINIONIZE" -- echo \
    >tail.out 2>tail.err &
tail=$!
t_track $tail
t_wait_until 10 sh -c "[ \$(wc -l <tail.out) -ge 5 ]" ||
    t_fail "tail: $(cat tail.out) $(cat tail.err)"
late=$(rcli XADD "$R_STREAM" '*' param late)
t_wait_until 10 grep -qx 'echo late' tail.out || t_fail "tail: no late entry"
kill -TERM $tail
r_wait_exit $tail 20
[ "$R_RC" -eq 0 ] || t_fail "tail: exit $R_RC: $(cat tail.err)"
# The new entry moved the stream and its lag, never the group's reading.
state | grep -v -e '^keys' -e '^xlen' -e '^groups' >after.txt
grep -v -e '^keys' -e '^xlen' -e '^groups' before.txt >before2.txt
cmp -s before2.txt after.txt || t_fail "tail: $(diff before2.txt after.txt)"
for f in last-delivered-id entries-read consumers pending; do
    [ "$(group_field $f)" = "$(grep '^groups' before.txt | group_field_of $f)" ] ||
        t_fail "tail changed the group's $f: $(group_field $f)"
done
t_ok "a dry run without --drain follows new entries"

# Real minions then run every param: p2 (claimed from early), p3..p6, the
# JSON one and the late one.
r_minion real REDIS_CLAIM_IDLE_MS=1000 MINION_EXIT_WHEN_EMPTY=1 -- -- echo
r_wait_exit "$R_PID" 30
[ "$R_RC" -eq 0 ] || t_fail "real: exit $R_RC: $(cat real.err)"
sort real.out >real.sorted
printf '%s\n' p2 p3 p4 p5 p6 '{"x":"1","y":"two"}' late | sort >want.sorted
cmp -s want.sorted real.sorted || t_fail "real minion ran: $(cat real.out)"
[ "$(r_results task status attempt | awk '$2 == "ok" && $3 == 1' | wc -l)" -eq 6 ] ||
    t_fail "the dry runs counted deliveries: $(r_results task status attempt)"
[ "$(r_pending)" = 0 ] || t_fail "still pending: $(r_pending)"
t_ok "a real minion then runs every param, at attempt 1"
