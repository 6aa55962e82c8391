#!/bin/bash
# SPDX-License-Identifier: MIT
# The redis variant of contrib/slurm/minionize-array.sbatch on a real
# one-node Slurm: a 3-task array drains 500 params of a Redis stream;
# array task 2 is retired mid-run (scancel --batch --signal=USR1) with 1 task
# stalled, which is released and completes in another array task at attempt
# 1. Every param completes once, and the two others exit 0 once the stream
# is drained (the script's MINION_EXIT_WHEN_EMPTY for a broker).
. "$top_srcdir/tests/integration/lib.sh"
t_init
. "$top_srcdir/tests/integration/slurm_lib.sh"
[ -e "$top_builddir/engines/.libs/redis.so" ] ||
    t_skip "the redis engine is not built"
t_start_redis
s_start_cluster

seq 500 >params
"$SUBMIT" -e redis <params >submit.out 2>&1 || t_fail "minion-submit: $(cat submit.out)"
s_write_stalling_task
# A short grace releases the stalled run at once; a short claim time lets
# the others take it over at once rather than after 30 s.
export MINION_ENGINE=redis MINION_GRACE=0.5 REDIS_CLAIM_IDLE_MS=500
s_submit --array=1-3 --time=5 -- "$T_DIR/work.sh" '{}'

all_three_started() {
    [ -s completed ] && [ "$(wc -l <completed)" -ge 100 ] &&
        [ "$(cut -d' ' -f3 started | sort -u | wc -l)" -eq 3 ]
}
t_wait_until 60 all_three_started ||
    t_fail "the 3 array tasks did not all start: $(s_run squeue 2>&1) $(cat out-* 2>/dev/null | tail -n 5)"
s_stall 2 1 30
s_run scancel --batch --signal=USR1 "${S_JOB}_2" || t_fail "scancel --batch failed"
s_wait_job "$S_JOB" 60
t_ok "the array ended, $(($(date +%s) - S_STARTED_AT))s after the cluster started"

s_check_each_once params
s_check_released 2
t_ok "500 params, each completed once; param $(cat stalled.2), released, completed elsewhere at attempt 1"

s_expect_task 2 FAILED 99:0
s_expect_task 1 COMPLETED 0:0
s_expect_task 3 COMPLETED 0:0
[ "$(rcli xpending minionize minions | head -n 1)" = 0 ] ||
    t_fail "entries still pending: $(rcli xpending minionize minions)"
t_ok "Slurm: task 2 FAILED 99, 1 and 3 drained the stream and COMPLETED"
