#!/bin/bash
# SPDX-License-Identifier: MIT
# process: MINION_MEMORY_LIMIT and MINION_CPU_LIMIT bound each task's
# process, never the minion. A task over a limit fails (an attempt, with
# the normal retries) with an error naming the limit; the same program
# passes without it; the report keeps the signal from wait4; bad values
# stop the minion with exit 2 and one line.
. "$top_srcdir/tests/integration/lib.sh"
t_init
export LC_ALL=C

# dd allocates its whole 64 MiB buffer at once: under 16M it cannot.
ALLOC='dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null'

echo p >one
MINION_MEMORY_LIMIT=16M MINION_MAX_ATTEMPTS=2 timeout 20 \
    "$MINIONIZE" -r stdout sh -c "$ALLOC" <one >out 2>err
rc=$?
[ "$rc" -eq 4 ] || { cat out err >&2; t_fail "over the memory limit: exit $rc, not 4"; }
want='exit status 1 (MINION_MEMORY_LIMIT is 16M: the task may have run out of address space)'
grep '^failed 1 attempt=1 ' out | grep -qF "exit=1: $want" ||
    t_fail "no failed attempt naming the limit: $(cat out)"
[ "$(grep -cF "exit=1: $want" out)" -eq 2 ] ||
    { cat out >&2; t_fail "the two attempts do not name the memory limit"; }
grep -q '^dead 1 attempt=2 ' out || t_fail "not dead after 2 attempts: $(cat out)"
t_ok "over MINION_MEMORY_LIMIT=16M: two failed attempts naming the limit"

timeout 20 "$MINIONIZE" sh -c "$ALLOC" <one >out 2>err ||
    { cat err >&2; t_fail "the allocation fails without a limit"; }
MINION_MEMORY_LIMIT=1G MINION_CPU_LIMIT=60 timeout 20 \
    "$MINIONIZE" sh -c "$ALLOC && echo fine" <one >out 2>err ||
    { cat err >&2; t_fail "the allocation fails under generous limits"; }
[ "$(cat out)" = fine ] || t_fail "generous limits: output '$(cat out)'"
t_ok "the same program passes without a limit and under generous ones"

# Two spinners at once: one dies of SIGXCPU at 1 s, the other ignores it
# and gets SIGKILL at the hard limit a second later. (wait4's CPU figures
# come out a little under the kernel's clock of the limit.)
printf '%s\n' plain ignore >two
MINION_CPU_LIMIT=1 MINION_MAX_ATTEMPTS=1 MINION_ID=cpu \
    REPORTER_JSON_DIRECTORY=rep timeout 20 "$MINIONIZE" -j2 -r json,stdout \
    sh -c '[ "$1" = ignore ] && trap "" XCPU; while :; do :; done' sh \
    <two >out 2>err
rc=$?
[ "$rc" -eq 4 ] || { cat out err >&2; t_fail "over the CPU limit: exit $rc, not 4"; }
grep -qF 'dead 1 attempt=1' out || t_fail "plain spinner: $(cat out)"
grep -F 'dead 1 ' out | grep -qF \
    'exit=152: killed by SIGXCPU: CPU limit of 1s (MINION_CPU_LIMIT) reached' ||
    t_fail "SIGXCPU error: $(cat out)"
grep -F 'dead 2 ' out | grep -qF \
    'exit=137: killed by SIGKILL: CPU limit of 1s (MINION_CPU_LIMIT) reached' ||
    t_fail "SIGKILL error: $(cat out)"
grep '"param":"plain"' rep/cpu.jsonl | grep -q '"signal":24,' ||
    t_fail "the report lacks signal 24: $(cat rep/cpu.jsonl)"
grep '"param":"ignore"' rep/cpu.jsonl | grep -q '"signal":9,' ||
    t_fail "the report lacks signal 9: $(cat rep/cpu.jsonl)"
cpu=$(grep '"param":"plain"' rep/cpu.jsonl |
    sed 's/.*"user_s":\([0-9.]*\),"sys_s":\([0-9.]*\).*/\1 \2/')
awk -v u="${cpu% *}" -v s="${cpu#* }" 'BEGIN { exit !(u + s >= 0.75) }' ||
    t_fail "user_s + sys_s of '$cpu' for a task killed at 1 s of CPU"
t_ok "over MINION_CPU_LIMIT=1: SIGXCPU, then SIGKILL for one that ignores it"

# The task has the limits; the minion ($PPID of the task) keeps the ones
# it was given, this shell's.
grep -E "^Max (cpu time|address space)" /proc/$$/limits >shell.limits
MINION_MEMORY_LIMIT=64M MINION_CPU_LIMIT=30 timeout 20 sh -c '
    echo $$ >minion.pid
    exec "$0" sh -c "echo \$PPID; ulimit -Sv; ulimit -Hv; ulimit -St; ulimit -Ht;
        grep -E \"^Max (cpu time|address space)\" /proc/\$PPID/limits"' \
    "$MINIONIZE" <one >out 2>err || { cat err >&2; t_fail "limits run"; }
[ "$(sed -n 1p out)" = "$(cat minion.pid)" ] || t_fail "not the minion's child: $(cat out)"
[ "$(sed -n 2,5p out | tr '\n' ' ')" = "65536 65536 30 31 " ] ||
    t_fail "the task's limits: $(cat out)"
sed -n '6,$p' out | cmp -s - shell.limits ||
    t_fail "the minion is limited: $(cat out) (this shell: $(cat shell.limits))"
t_ok "the task runs under RLIMIT_AS=64M and RLIMIT_CPU=30/31, the minion as given"

# Bad values: exit 2, one line naming the setting.
for bad in MINION_MEMORY_LIMIT=lots MINION_CPU_LIMIT=1.5 MINION_CPU_LIMIT=soon; do
    env "$bad" timeout 10 "$MINIONIZE" true <one >out 2>err
    rc=$?
    [ "$rc" -eq 2 ] || t_fail "$bad: exit $rc, not 2"
    [ "$(wc -l <err)" -eq 1 ] && grep -q "${bad%%=*}" err ||
        t_fail "$bad: $(cat err)"
done
# (RLIMIT_CPU: a sanitizer build cannot start under an RLIMIT_AS.)
(ulimit -t 100 && MINION_CPU_LIMIT=200 timeout 10 "$MINIONIZE" true \
    <one >out 2>err)
rc=$?
[ "$rc" -eq 2 ] && grep -q "MINION_CPU_LIMIT is over the minion's own hard limit of 100s" err ||
    t_fail "a limit over the minion's hard limit: exit $rc: $(cat err)"
t_ok "bad values and a limit over the minion's own: exit 2, one line"
