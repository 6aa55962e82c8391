#!/bin/bash
# SPDX-License-Identifier: MIT
# contrib/slurm/minionize-array.sbatch at the walltime, on a real one-node
# Slurm: a 2-task array with --time=1 gets its --signal=B:USR2 mid-task; each
# minion releases its task and exits MINION_STOP_EXIT (99); the script
# requeues its array task, and the second run finishes the rest. Every param
# completes exactly once, and a released param's next run has the attempt
# number of the run that was cut short (1).
#
# Timing: slurmctld checks time limits every 30 s from its start, and sends
# the --signal up to 30 s before the time asked. With --time=1 and @25 the
# first run is signalled at the first check, ~28 s after it started; the
# requeued run starts ~6 s later (cred_expire=5) and is not signalled before
# the check after, by when it has long finished.
. "$top_srcdir/tests/integration/lib.sh"
t_init
. "$top_srcdir/tests/integration/slurm_lib.sh"
s_start_cluster

seq 200 >params
# The first run of each array task does params up to 20 quickly, then
# stalls on the next one until the walltime stops it; a requeued run
# (SLURM_RESTART_COUNT 1) does everything quickly. The completion is logged
# in one append (atomic) at the end.
cat >work.sh <<EOF
#!/bin/sh
line="\$1 \$MINION_ATTEMPT \$SLURM_ARRAY_TASK_ID \${SLURM_RESTART_COUNT:-0}"
echo "\$line" >>"$T_DIR/started"
if [ "\${SLURM_RESTART_COUNT:-0}" -eq 0 ] && [ "\$1" -gt 20 ]; then
    sleep 100
fi
sleep 0.01
echo "\$line" >>"$T_DIR/completed"
EOF
chmod +x work.sh

export MINION_FILE="$T_DIR/params" MINION_GRACE=0.5
s_submit --array=1-2 --time=1 --signal=B:USR2@25 -- "$T_DIR/work.sh" '{}'
s_wait_job "$S_JOB" 100
t_ok "the array ended, $(($(date +%s) - S_STARTED_AT))s after the cluster started"

for t in 1 2; do
    s_expect_task $t COMPLETED 0:0
    [ "$(s_task_field $t Restarts)" = 1 ] ||
        t_fail "array task $t restarted $(s_task_field $t Restarts) times: $(cat out-*_$t.txt)"
    grep -q 'released unfinished' out-*_$t.txt &&
        grep -q 'requeueing job' out-*_$t.txt ||
        t_fail "array task $t did not release and requeue: $(cat out-*_$t.txt)"
done
t_ok "both array tasks stopped at the walltime, were requeued once and completed"

s_check_each_once params
awk '$4 == 0' completed | grep -q . || t_fail "the first run completed nothing"
t_ok "200 params, each completed once, in both runs"

# The runs the walltime cut: started in the first run, completed in the
# second, both at attempt 1.
cut_short=$(awk '$4 == 0 && $1 > 20 { print $1 }' started)
[ -n "$cut_short" ] || t_fail "no run was cut short by the walltime"
for p in $cut_short; do
    awk -v p="$p" '$1 == p && $2 == 1 && $4 == 1' completed | grep -q . ||
        t_fail "param $p, cut short, did not complete in the requeued run at attempt 1: $(grep "^$p " started completed)"
done
t_ok "params $(echo "$cut_short" | tr '\n' ' ')cut short, completed in the requeued run at attempt 1"
