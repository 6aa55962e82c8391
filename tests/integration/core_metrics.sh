#!/bin/bash
# SPDX-License-Identifier: MIT
# MINION_STATS_ADDR: /metrics (Prometheus text) and /stats (JSON) scraped
# during a real run; at the end the counters equal the tasks finished and
# the histogram counts them all; other paths are 404, other methods 405; a
# bad address or a port in use is exit 2 with one line, nothing taken.
. "$top_srcdir/tests/integration/lib.sh"
t_init
command -v curl >/dev/null || t_skip "curl not installed"

port=$(t_free_port) || t_fail "no free port"
addr=127.0.0.1:$port
mkfifo params
# Params arrive through a pipe held open: the minion stays up after the
# last one, so the final figures can be read before it exits.
exec 3<>params
MINION_STATS_ADDR=$addr timeout 60 "$MINIONIZE" -q -j3 -a params \
    sh -c 'sleep 0.05; case {} in 7|8) exit 1;; esac' >out 2>err 3>&- &
pid=$!
t_track "$pid"
scrape() { curl -s --max-time 5 "http://$addr$1"; }
t_wait_until 10 scrape /metrics >/dev/null || t_fail "no /metrics: $(cat err)"
seq 40 >&3
sample() { # sample NAME: its value in the last scrape
    awk -v n="$1" '$1 == n { print $2 }' scraped
}
for i in 1 2 3 4 5 6; do
    scrape /metrics >scraped || t_fail "scrape $i"
    grep -q '^# TYPE minionize_tasks_total counter$' scraped ||
        t_fail "no TYPE line: $(head -n 5 scraped)"
    sleep 0.1
done
t_ok "scraped during the run"
finished() {
    scrape /metrics >scraped &&
        [ "$(sample 'minionize_tasks_total{status="ok"}')" = 38 ] &&
        [ "$(sample 'minionize_tasks_total{status="dead"}')" = 2 ] &&
        [ "$(sample minionize_tasks_in_flight)" = 0 ]
}
t_wait_until 30 finished || t_fail "figures at the end: $(cat scraped)"
[ "$(sample 'minionize_tasks_total{status="failed"}')" = 4 ] ||
    t_fail "failed runs: $(sample 'minionize_tasks_total{status="failed"}')"
[ "$(sample 'minionize_task_duration_seconds_bucket{le="+Inf"}')" = 44 ] &&
    [ "$(sample minionize_task_duration_seconds_count)" = 44 ] ||
    t_fail "histogram: $(grep duration scraped)"
[ "$(sample 'minionize_task_duration_seconds_bucket{le="0.01"}')" = 0 ] &&
    [ "$(sample 'minionize_task_duration_seconds_bucket{le="3600"}')" = 44 ] ||
    t_fail "buckets: $(grep _bucket scraped)"
[ "$(sample minionize_concurrency)" = 3 ] || t_fail "concurrency"
grep -q '^minionize_build_info{version="[0-9.]*",minion="[^"]*",nodename="[^"]*"} 1$' \
    scraped || t_fail "build_info: $(grep build_info scraped)"
t_ok "at the end: 38 ok, 4 failed, 2 dead, 44 in the histogram"

scrape /stats >stats.json || t_fail "/stats"
grep -q '"ok":38,"failed":4,"dead":2,"released":0,"in_flight":0,"concurrency":3' \
    stats.json || t_fail "/stats: $(cat stats.json)"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
[ "$(code "http://$addr/")" = 404 ] && [ "$(code "http://$addr/metricsx")" = 404 ] ||
    t_fail "other paths are not 404"
[ "$(code -X POST "http://$addr/metrics")" = 405 ] || t_fail "POST is not 405"
t_ok "/stats, 404 and 405"

# The port is taken: a second minion stops before taking anything.
echo x >one
t_expect_exit 2 env MINION_STATS_ADDR=$addr timeout 20 "$MINIONIZE" \
    -a one sh -c 'touch ran' 2>err2
[ "$(wc -l <err2)" -eq 1 ] && grep -q "MINION_STATS_ADDR $addr: cannot listen" err2 ||
    t_fail "port in use: $(cat err2)"
[ ! -e ran ] || t_fail "a task ran"
exec 3>&-
wait "$pid"
rc=$?
[ "$rc" -eq 4 ] || t_fail "the minion exited $rc, not 4 (dead params): $(cat err)"
t_ok "a port in use is exit 2: $(cat err2)"

for bad in nowhere 127.0.0.1 127.0.0.1:0 127.0.0.1:70000 ::1:80; do
    t_expect_exit 2 env MINION_STATS_ADDR=$bad "$MINIONIZE" -a one \
        sh -c 'touch ran' 2>err3
    [ "$(wc -l <err3)" -eq 1 ] || t_fail "$bad: $(cat err3)"
done
[ ! -e ran ] || t_fail "a task ran"
t_ok "bad addresses are exit 2, one line each"
