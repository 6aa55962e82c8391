#!/bin/bash
# SPDX-License-Identifier: MIT
# process: MINION_TIMEOUT kills the program's whole process group (a sleep a
# shell script started dies too), SIGKILL follows MINION_KILL_AFTER when
# SIGTERM is ignored, and the task counts as failed.
. "$top_srcdir/tests/integration/lib.sh"
t_init

# Gone, or a zombie waiting for a parent that is not ours.
dead() {
    local state
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -z "$state" ] || [ "$state" = Z ] || [ "$state" = X ]
}

cat >slow.sh <<'SH'
#!/bin/sh
sleep 30 &
echo $! >"grandchild.$1"
wait
SH
chmod +x slow.sh
mkdir rep
printf '%s\n' a b >in
start=$(date +%s)
MINION_TIMEOUT=1 MINION_MAX_ATTEMPTS=1 REPORTER_JSON_DIRECTORY=rep \
    timeout 30 "$MINIONIZE" -j2 -r json ./slow.sh <in >out 2>err
rc=$?
elapsed=$(($(date +%s) - start))
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "minionize exited $rc"; }
[ "$elapsed" -le 8 ] || t_fail "took ${elapsed}s for two 1s timeouts"
for p in a b; do
    [ -s "grandchild.$p" ] || t_fail "task $p did not start its sleep"
    pid=$(cat "grandchild.$p")
    t_wait_until 5 dead "$pid" || {
        kill -9 "$pid"
        t_fail "the script's sleep $pid survived the timeout"
    }
done
[ "$(grep -c '"status":"dead"' rep/*.jsonl)" -eq 2 ] ||
    { cat rep/*.jsonl >&2; t_fail "timed-out tasks must fail"; }
grep -q '"exit_code":143' rep/*.jsonl ||
    { cat rep/*.jsonl >&2; t_fail "SIGTERM should give exit code 143"; }
t_ok "timeout kills the group in ${elapsed}s"

# SIGTERM ignored (and inherited as ignored by sleep): SIGKILL after 1s.
rm -f rep/*
echo c >in
start=$(date +%s)
MINION_TIMEOUT=1 MINION_KILL_AFTER=1 MINION_MAX_ATTEMPTS=1 \
    REPORTER_JSON_DIRECTORY=rep timeout 30 "$MINIONIZE" -r json \
    sh -c 'trap "" TERM; sleep 30' <in >out 2>err
rc=$?
elapsed=$(($(date +%s) - start))
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "minionize exited $rc"; }
[ "$elapsed" -le 8 ] || t_fail "SIGKILL took ${elapsed}s"
grep -q '"status":"dead"' rep/*.jsonl || t_fail "killed task not failed"
grep -q '"exit_code":137' rep/*.jsonl ||
    { cat rep/*.jsonl >&2; t_fail "SIGKILL should give exit code 137"; }
t_ok "SIGKILL after MINION_KILL_AFTER in ${elapsed}s"
