#!/bin/bash
# SPDX-License-Identifier: MIT
# contrib/slurm/minionize-array.sbatch on a real one-node Slurm: a 4-task job
# array (2 CPUs, so 2 tasks in flight, per array task) drains 2,000 params of
# one file through a shared state dir. Mid-run, array task 2 is retired
# (scancel --batch --signal=USR1: its stalled tasks are released) and array
# task 3 is cancelled (a plain scancel: Slurm sends SIGTERM to all its
# processes, the tasks' too). Every param completes exactly once, the
# released params of both complete in other array tasks with the same
# attempt number, and the two array tasks left drain the queue.
. "$top_srcdir/tests/integration/lib.sh"
t_init
. "$top_srcdir/tests/integration/slurm_lib.sh"
s_start_cluster

seq 2000 >params
s_write_stalling_task
# A short grace: the retired task's stalled runs are released at once.
export MINION_FILE="$T_DIR/params" MINION_GRACE=0.5
s_submit --array=1-4 --cpus-per-task=2 --time=5 -- "$T_DIR/work.sh" '{}'

all_four_started() {
    [ -s completed ] && [ "$(wc -l <completed)" -ge 200 ] &&
        [ "$(cut -d' ' -f3 started | sort -u | wc -l)" -eq 4 ]
}
t_wait_until 60 all_four_started ||
    t_fail "the 4 array tasks did not all start: $(s_run squeue 2>&1) $(cat out-* 2>/dev/null | tail -n 5)"
t_ok "4 array tasks run ($(wc -l <completed) params done)"

# Both slots of each stall: -j came from --cpus-per-task.
s_stall 2 2 30
s_stall 3 2 30
s_run scancel --batch --signal=USR1 "${S_JOB}_2" || t_fail "scancel --batch failed"
s_run scancel "${S_JOB}_3" || t_fail "scancel failed"
s_wait_job "$S_JOB" 90
t_ok "the array ended, $(($(date +%s) - S_STARTED_AT))s after the cluster started"

s_check_each_once params
t_ok "2000 params, each completed once"

s_check_released 2
t_ok "params $(tr '\n' ' ' <stalled.2)released by the retired task, completed elsewhere at attempt 1"

# The cancelled task's stalled runs died of Slurm's SIGTERM with their
# minion: released too, not charged as failed attempts.
s_check_released 3
t_ok "params $(tr '\n' ' ' <stalled.3)killed with the cancelled task, completed elsewhere at attempt 1"

# What Slurm recorded: the retired task exited MINION_STOP_EXIT and was not
# requeued; the cancelled one is CANCELLED; the others drained and exited 0.
s_expect_task 2 FAILED 99:0
[ "$(s_task_field 2 Restarts)" = 0 ] || t_fail "array task 2 was requeued"
[ "$(s_task_field 3 JobState)" = CANCELLED ] ||
    t_fail "array task 3: $(s_task_field 3 JobState)"
s_expect_task 1 COMPLETED 0:0
s_expect_task 4 COMPLETED 0:0
grep -q 'released unfinished' out-*_2.txt ||
    t_fail "array task 2 released nothing: $(cat out-*_2.txt)"
t_ok "Slurm: task 2 FAILED 99 (not requeued), 3 CANCELLED, 1 and 4 COMPLETED"
