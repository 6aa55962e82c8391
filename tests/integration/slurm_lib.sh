# SPDX-License-Identifier: MIT
# A one-node Slurm cluster for the contrib/slurm tests: munged, slurmctld and
# slurmd started as root in $T_DIR/slurm on free loopback ports, stopped by
# PID at exit (also when the test fails). Source after lib.sh and t_init,
# then call s_start_cluster. Every Slurm command goes through s_run, which
# points it at this cluster's slurm.conf; the test's own shell never exports
# SLURM_CONF, so every process that has it in its environment is ours.

S_DIR="$T_DIR/slurm"
S_CONF="$S_DIR/slurm.conf"

# Root and the Debian packages slurm-wlm and munge, or SKIP (a failure
# under CI).
s_need() {
    [ -e "$top_builddir/callbacks/.libs/process.so" ] ||
        t_skip "the process callback is not built"
    [ "$(id -u)" = 0 ] || t_skip "a Slurm test cluster needs root"
    local cmd
    # The daemons live in sbin, which a user's PATH may lack.
    PATH="$PATH:/usr/sbin:/sbin"
    for cmd in munged munge slurmctld slurmd sbatch squeue scancel scontrol \
        sinfo; do
        command -v "$cmd" >/dev/null ||
            t_skip "$cmd not installed (Debian packages slurm-wlm and munge)"
    done
}

s_run() {
    SLURM_CONF="$S_CONF" "$@"
}

# s_log_tail: the daemons' last lines, for a failure message.
s_log_tail() {
    local f
    for f in munged.log slurmctld.log slurmd.log; do
        [ -f "$S_DIR/$f" ] && { echo "== $f"; tail -n 8 "$S_DIR/$f"; }
    done
}

s_pid_of() {
    [ -s "$S_DIR/$1.pid" ] && cat "$S_DIR/$1.pid"
}

s_start_munge() {
    # munged wants its key private and the path to its socket open to all
    # (the test's folder only to be gone through, not listed).
    mkdir -p "$S_DIR/munge" "$S_DIR/key" && chmod 711 "$T_DIR" &&
        chmod 755 "$S_DIR" "$S_DIR/munge" && chmod 700 "$S_DIR/key" || exit 99
    dd if=/dev/urandom of="$S_DIR/key/munge.key" bs=1024 count=1 2>/dev/null &&
        chmod 400 "$S_DIR/key/munge.key" || exit 99
    munged --key-file="$S_DIR/key/munge.key" --socket="$S_DIR/munge/socket" \
        --pid-file="$S_DIR/munged.pid" --log-file="$S_DIR/munged.log" \
        --seed-file="$S_DIR/munge/seed" ||
        t_fail "munged did not start: $(s_log_tail)"
    t_wait_until 10 sh -c "munge -S '$S_DIR/munge/socket' -n |
        unmunge -S '$S_DIR/munge/socket'" ||
        t_fail "munged does not answer: $(s_log_tail)"
}

# The node is this machine under its short host name (slurmd insists). It
# says it has 4 CPUs, whatever the machine has (config_overrides), each
# shared by up to 4 jobs (OverSubscribe): the tests' arrays fit on any
# machine. A short cred_expire lets a requeued job start again after
# seconds, not 2 minutes, and the scheduler runs every second, not every
# 30 or 60.
s_write_conf() {
    local host ctld_port slurmd_port
    host=$(hostname -s) || exit 99
    ctld_port=$(t_free_port) || t_fail "no free port"
    slurmd_port=$(t_free_port) || t_fail "no free port"
    [ "$ctld_port" != "$slurmd_port" ] || slurmd_port=$((ctld_port + 1))
    cat >"$S_CONF" <<EOF
ClusterName=minionize-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S_DIR/munge/socket,cred_expire=5
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$S_DIR/state
SlurmdSpoolDir=$S_DIR/spool
SlurmctldPidFile=$S_DIR/slurmctld.pid
SlurmdPidFile=$S_DIR/slurmd.pid
SlurmctldLogFile=$S_DIR/slurmctld.log
SlurmdLogFile=$S_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=5
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=4
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
}

s_start_cluster() {
    S_STARTED_AT=$(date +%s)
    s_need
    trap 's_stop_cluster; t_cleanup' EXIT
    mkdir -p "$S_DIR/state" "$S_DIR/spool" || exit 99
    s_start_munge
    s_write_conf
    s_run slurmctld -f "$S_CONF" || t_fail "slurmctld did not start: $(s_log_tail)"
    s_run slurmd -f "$S_CONF" || t_fail "slurmd did not start: $(s_log_tail)"
    t_wait_until 30 sh -c "SLURM_CONF='$S_CONF' sinfo -h -o %t | grep -qx idle" ||
        t_fail "the node is not idle after 30s: $(s_run sinfo 2>&1) $(s_log_tail)"
}

# Every process whose environment names this cluster's slurm.conf: the
# daemons, their job step daemons, the jobs and what they started.
s_our_pids() {
    local env pid
    for env in /proc/[0-9]*/environ; do
        pid=${env#/proc/}
        pid=${pid%/environ}
        [ "$pid" = "$$" ] && continue
        { tr '\0' '\n' <"$env"; } 2>/dev/null | grep -qxF "SLURM_CONF=$S_CONF" &&
            echo "$pid"
    done
}

# Stop the daemons by their pid files, then whatever else still runs with
# this cluster's configuration (job step daemons outlive slurmd), and munged.
s_stop_cluster() {
    local name pid
    for name in slurmd slurmctld; do
        pid=$(s_pid_of "$name") && kill -9 "$pid" 2>/dev/null
    done
    for pid in $(s_our_pids); do
        kill -9 "$pid" 2>/dev/null
    done
    pid=$(s_pid_of munged) && kill -9 "$pid" 2>/dev/null
}

# s_job_done JOBID: true once the controller answers and no task of the job
# is pending, running or completing (an unanswered query is not an end).
s_job_done() {
    local states
    states=$(s_run scontrol -o show job "$1" 2>/dev/null |
        sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    [ -n "$states" ] &&
        ! echo "$states" | grep -qE 'PENDING|RUNNING|COMPLETING|CONFIGURING|REQUEUE|SUSPENDED|RESIZING|SIGNALING|STAGE_OUT'
}

# s_wait_job JOBID SECONDS: wait until the job ended, fail after SECONDS.
s_wait_job() {
    local deadline=$((SECONDS + $2))
    while ! s_job_done "$1"; do
        [ "$SECONDS" -ge "$deadline" ] &&
            t_fail "job $1 not over after $2s: $(s_run squeue 2>&1) $(s_log_tail)"
        sleep 0.1
    done
}

# s_submit [sbatch options...] -- TASK...: contrib/slurm/minionize-array.sbatch
# itself, with the build's minionize, the environment of the caller (export
# the minion's settings first) and one log per array task in
# $T_DIR/out-<job>_<task>.txt; sets S_JOB.
s_submit() {
    local opts=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        opts+=("$1")
        shift
    done
    [ "${1:-}" = "--" ] && shift
    S_JOB=$(MINIONIZE="$MINIONIZE" s_run sbatch --parsable \
        --output="$T_DIR/out-%A_%a.txt" "${opts[@]}" \
        "$top_srcdir/contrib/slurm/minionize-array.sbatch" "$@") ||
        t_fail "sbatch failed"
    S_JOB=${S_JOB%%;*}
}

# s_task_field TASK FIELD: a field of `scontrol show job` for array task
# TASK of $S_JOB (JobState, ExitCode, Restarts...).
s_task_field() {
    s_run scontrol -o show job "${S_JOB}_$1" | tr ' ' '\n' |
        sed -n "s/^$2=//p"
}

# s_expect_task TASK STATE EXIT_CODE: fail unless Slurm says so.
s_expect_task() {
    local state code
    state=$(s_task_field "$1" JobState)
    code=$(s_task_field "$1" ExitCode)
    [ "$state" = "$2" ] && [ "$code" = "$3" ] ||
        t_fail "array task $1: $state $code, not $2 $3: $(tail -n 5 "$T_DIR"/out-*_"$1".txt)"
}

# s_write_stalling_task: $T_DIR/work.sh PARAM, the task of the array tests.
# It logs "PARAM ATTEMPT ARRAY_TASK" to started, works 10 ms, and logs the
# same to completed in one append (atomic): a run killed midway leaves a
# start and no completion. Once the test creates stall.<array task>, that
# array task's next tasks stall (their params appended to
# stalled.<array task>) until they are stopped.
s_write_stalling_task() {
    cat >"$T_DIR/work.sh" <<EOF
#!/bin/sh
line="\$1 \$MINION_ATTEMPT \$SLURM_ARRAY_TASK_ID"
echo "\$line" >>"$T_DIR/started"
if [ -e "$T_DIR/stall.\$SLURM_ARRAY_TASK_ID" ]; then
    echo "\$1" >>"$T_DIR/stalled.\$SLURM_ARRAY_TASK_ID"
    sleep 30
fi
sleep 0.01
echo "\$line" >>"$T_DIR/completed"
EOF
    chmod +x "$T_DIR/work.sh" || exit 99
}

# s_stall TASK N SECONDS: make array task TASK stall, wait until N of its
# tasks do.
s_stall() {
    touch "$T_DIR/stall.$1" "$T_DIR/stalled.$1" || exit 99
    t_wait_until "$3" sh -c "[ \$(wc -l <'$T_DIR/stalled.$1') -ge $2 ]" ||
        t_fail "array task $1 did not stall $2 tasks: $(cat "$T_DIR/stalled.$1")"
}

# s_check_each_once PARAMS: every line of PARAMS (numbers) completed once.
s_check_each_once() {
    cut -d' ' -f1 "$T_DIR/completed" | sort -n >"$T_DIR/done.sorted"
    [ -z "$(uniq -d "$T_DIR/done.sorted")" ] ||
        t_fail "params completed twice: $(uniq -d "$T_DIR/done.sorted" | head)"
    cmp -s "$1" "$T_DIR/done.sorted" ||
        t_fail "params never completed: $(comm -23 "$1" "$T_DIR/done.sorted" | head)"
}

# s_check_released TASK: the params array task TASK stalled on were released
# (not failed): each completed in another array task at attempt 1.
s_check_released() {
    local p
    for p in $(tr '\n' ' ' <"$T_DIR/stalled.$1"); do
        awk -v p="$p" -v t="$1" '$1 == p && $2 == 1 && $3 == t' \
            "$T_DIR/started" | grep -q . ||
            t_fail "param $p did not start in array task $1"
        awk -v p="$p" -v t="$1" '$1 == p && $2 == 1 && $3 != t' \
            "$T_DIR/completed" | grep -q . ||
            t_fail "released param $p did not complete elsewhere at attempt 1: $(grep "^$p " "$T_DIR/completed")"
    done
}
