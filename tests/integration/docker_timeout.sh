#!/bin/bash
# SPDX-License-Identifier: MIT
# docker: MINION_TIMEOUT stops the container (then kills it: a shell's sleep
# as PID 1 ignores SIGTERM) within a few seconds; the task fails and its
# container is removed. While it runs, the container carries both labels.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/docker_lib.sh"
t_init
d_need_callback
d_start
d_image
CHECK="$top_builddir/tests/reporters/json_check"
[ -x "$CHECK" ] || t_fail "json_check not built: $CHECK"

id="$D_TAG-timeout"
echo slow >in
start=$(date +%s)
MINION_ID=$id MINION_DOCKER_IMAGE=$D_IMAGE MINION_TIMEOUT=1 \
    MINION_MAX_ATTEMPTS=1 REPORTER_JSON_DIRECTORY=rep \
    "$MINIONIZE" -q -r json -c docker sleep 60 <in >out 2>err &
pid=$!
t_track "$pid"
t_wait_until 10 d_count_is 1 "minionize.minion=$id" minionize.task ||
    t_fail "no container labelled minionize.minion=$id and minionize.task"
t_ok "the container has its labels"
t_wait_until 20 sh -c "! kill -0 $pid 2>/dev/null" ||
    t_fail "minionize still runs 20 s after a 1 s timeout"
wait "$pid"
rc=$?
elapsed=$(($(date +%s) - start))
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "minionize exited $rc"; }
[ "$elapsed" -le 8 ] || t_fail "took ${elapsed}s for a 1 s timeout"
"$CHECK" rep/*.jsonl status >got || t_fail "report"
[ "$(cat got)" = dead ] || t_fail "status $(cat got), not dead"
t_ok "stopped after ${elapsed}s, the task failed: $("$CHECK" rep/*.jsonl error exit_code)"
[ "$(d_count "minionize.minion=$id")" -eq 0 ] ||
    t_fail "containers left: $(d_list_all)"
t_ok "the container is removed"
