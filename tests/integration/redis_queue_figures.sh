#!/bin/bash
# SPDX-License-Identifier: MIT
# The redis engine's queue figures as a real minion serves them on /stats:
# the group's, fetched on a third connection that opens only once someone
# asks, refreshed while the minion works, entries added later included.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
command -v curl >/dev/null || t_skip "curl not installed"
t_start_redis

# Every task takes 0.2 s, so the minion reads no param ahead of its free
# slots (engines/redis/README.md, Read-ahead) and p6 stays in the stream.
cat >prog.sh <<'EOS'
sleep 0.2
case "$MINION_PARAM" in
p2) exit 3 ;;
p4 | p5) while [ ! -e go ]; do sleep 0.05; done ;;
esac
EOS
r_submit 6

port=$(t_free_port) || t_fail "no free port"
addr=127.0.0.1:$port
# Connections to Redis but the one asking.
conns() {
    rcli CLIENT LIST | grep -vc 'cmd=client|list'
}
scrape() { curl -s --max-time 5 "http://$addr/stats"; }
# figures LAG PENDING DEAD TOTAL DONE: the last scrape says so.
figures() {
    scrape >stats.json &&
        grep -q "\"queue\":{\"lag\":$1,\"pending\":$2,\"dead\":$3,\"total\":$4,\"done\":$5}" \
            stats.json
}

# Two slots: p1 ok, p2 dead (one attempt), p3 ok, then p4 and p5 hold both
# until `go` exists, so p6 waits in the stream.
r_minion m1 MINION_CONCURRENCY=2 MINION_MAX_ATTEMPTS=1 \
    MINION_STATS_ADDR="$addr" -- -- sh prog.sh
held() { [ "$(r_pending)" = 2 ]; }
t_wait_until 20 held || t_fail "p4 and p5 are not held: $(cat m1.err)"
[ "$(conns)" -eq 2 ] || t_fail "before any ask: $(conns) connections, not 2"
t_wait_until 20 figures 1 2 1 6 3 ||
    t_fail "while held: $(cat stats.json) $(cat m1.err)"
[ "$(conns)" -eq 3 ] || t_fail "after an ask: $(conns) connections, not 3"
t_ok "while p4 and p5 run: total 6, done 3, lag 1, pending 2, dead 1"

touch go
t_wait_until 20 figures 0 0 1 6 6 || t_fail "after the release: $(cat stats.json)"
r_submit 4 q
t_wait_until 20 figures 0 0 1 10 10 || t_fail "after 4 more: $(cat stats.json)"
t_ok "then everything done, and 4 entries added later too"

kill -TERM "$R_PID"
r_wait_exit "$R_PID" 20
[ "$R_RC" -lt 128 ] || t_fail "minion died of signal $((R_RC - 128)): $(cat m1.err)"
none_left() { [ "$(conns)" -eq 0 ]; }
t_wait_until 10 none_left || t_fail "connections left: $(conns)"
t_ok "stopped, every connection closed"
