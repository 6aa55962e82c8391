#!/bin/bash
# SPDX-License-Identifier: MIT
# MINION_RETRY_DELAY with the file engine: a failed param waits out its
# delay, doubled per attempt and capped by MINION_RETRY_DELAY_MAX, while the
# other params run; the minion does not exit while a retry is owed. With
# MINION_FILE_STATE the wait is kept in the state directory: two minions
# sharing it run every line the expected number of times, and a stop during
# a wait loses nothing (a restarted minion runs the line once it is due).
. "$top_srcdir/tests/integration/lib.sh"
t_init
[ -e "$top_builddir/callbacks/.libs/process.so" ] ||
    t_skip "the process callback is not built"

# Each start logs "PARAM ATTEMPT MINION TIME" in one write; "bad" always
# fails, "fix" fails its first attempt only, the others nap 0.1 s.
cat >task.sh <<'EOF'
echo "$1 $MINION_ATTEMPT $MINION_ID $(date +%s.%N)" >>runs
case $1 in
bad) exit 1 ;;
fix) [ "$MINION_ATTEMPT" -ge 2 ] || exit 1 ;;
esac
sleep 0.1
EOF

# starts PARAM: the start times of PARAM's runs, by attempt.
starts() {
    awk -v p="$1" '$1 == p { print $2, $4 }' runs | sort -n | cut -d' ' -f2
}

# check_gaps PARAM WANT...: PARAM ran once more than there are WANTs, the
# runs' attempts were 1, 2, ..., and the gap between runs k and k+1 is the
# k-th WANT, within -0.1 s / +0.8 s.
check_gaps() {
    local p=$1 got
    shift
    got=$(awk -v p="$p" '$1 == p { print $2 }' runs | sort -n | tr '\n' ' ')
    [ "$got" = "$(seq -s' ' $(($# + 1))) " ] ||
        t_fail "$p ran with attempts '$got', not 1..$(($# + 1))"
    starts "$p" | awk -v want="$*" '
        BEGIN { n = split(want, w, " ") }
        NR > 1 {
            gap = $1 - prev
            printf "gap %d: %.3f s (want %s)\n", NR - 1, gap, w[NR - 1]
            if (gap < w[NR - 1] - 0.1 || gap > w[NR - 1] + 0.8) bad = 1
        }
        { prev = $1 }
        END { exit bad }' >gaps || { cat gaps >&2; t_fail "$p: gaps off"; }
    cat gaps
}

# ran_in_first_gap PARAM [MINION]: some other param (of MINION) started
# between PARAM's first and second runs.
ran_in_first_gap() {
    local t1 t2
    t1=$(starts "$1" | sed -n 1p)
    t2=$(starts "$1" | sed -n 2p)
    awk -v p="$1" -v m="${2:-}" -v a="$t1" -v b="$t2" '
        $1 != p && (m == "" || $3 == m) && $4 > a && $4 < b { n++ }
        END { exit !(n > 0) }' runs
}

# once_each N: the params 1..N ran exactly once each.
once_each() {
    local got
    got=$(awk '$1 ~ /^[0-9]+$/ { print $1 }' runs | sort -n | tr '\n' ' ')
    [ "$got" = "$(seq -s' ' "$1") " ] ||
        t_fail "params 1..$1 did not run once each: $got"
}

# Without a state directory.
{ echo bad; seq 8; } >in
MINION_FILE=in MINION_RETRY_DELAY=0.5 MINION_MAX_ATTEMPTS=3 timeout 20 \
    "$MINIONIZE" sh task.sh 2>err
rc=$?
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "stateless: exit $rc, not 4"; }
check_gaps bad 0.5 1.0
ran_in_first_gap bad || { cat runs >&2; t_fail "nothing ran in the gap"; }
once_each 8
t_ok "stateless: retries 0.5 s then 1 s apart, other params ran meanwhile"

rm -f runs
echo bad >in
MINION_FILE=in MINION_RETRY_DELAY=0.2 MINION_RETRY_DELAY_MAX=0.3 \
    MINION_MAX_ATTEMPTS=5 timeout 20 "$MINIONIZE" sh task.sh 2>err
rc=$?
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "capped: exit $rc, not 4"; }
# Uncapped, the last gap would be 1.6 s.
check_gaps bad 0.2 0.3 0.3 0.3
t_ok "MINION_RETRY_DELAY_MAX caps the doubling"

# A stop during a wait ends the minion at once; stateless, it says what it
# did not run.
rm -f runs
printf 'bad\n1\n' >in
t_minion w1 MINION_FILE=in MINION_RETRY_DELAY=30 -- sh task.sh
t_wait_until 10 grep -q '^1 ' runs || t_fail "stateless: no run"
sleep 0.2
kill -0 "$T_MINION" 2>/dev/null || t_fail "exited with a retry owed"
kill -TERM "$T_MINION"
t_wait_exit "$T_MINION" 5
[ "$T_RC" -eq 0 ] || { cat w1.err >&2; t_fail "stop in a wait: exit $T_RC"; }
grep -q '1 param owed another run' w1.err ||
    { cat w1.err >&2; t_fail "the stop did not say what it dropped"; }
t_ok "stateless: SIGTERM during a 30 s wait stops at once and says so"

# With a state directory shared by two minions: the delayed line runs on
# its owner, which keeps running other lines meanwhile.
rm -f runs
{ echo bad; seq 16; } >in
for id in m1 m2; do
    t_minion "$id" MINION_FILE=in MINION_FILE_STATE=st MINION_RETRY_DELAY=0.5 \
        MINION_MAX_ATTEMPTS=3 -- sh task.sh
    eval "pid_$id=\$T_MINION"
done
t_wait_exit "$pid_m1" 20
rc1=$T_RC
t_wait_exit "$pid_m2" 20
rc2=$T_RC
check_gaps bad 0.5 1.0
owner=$(awk '$1 == "bad" { print $3; exit }' runs)
[ "$(awk '$1 == "bad" { print $3 }' runs | sort -u)" = "$owner" ] ||
    t_fail "the delayed line moved between live minions"
ran_in_first_gap bad "$owner" ||
    { cat runs >&2; t_fail "its owner ran nothing in the gap"; }
once_each 16
[ "$(printf '%s\n' "$rc1" "$rc2" | sort | tr '\n' ' ')" = "0 4 " ] ||
    { cat m1.err m2.err >&2; t_fail "exits $rc1 and $rc2, not 0 and 4"; }
grep -q '"param":"bad".*"attempts":3' st/dead.jsonl ||
    t_fail "no dead letter after 3 attempts"
[ -z "$(ls st/journal)" ] || t_fail "journals left: $(ls st/journal)"
t_ok "state dir, two minions: 0.5 s then 1 s apart, every line as expected"

# A stop during the wait loses nothing: the journal keeps the line and its
# due time, and a new minion (adopting it) runs it then, not before.
rm -rf runs st
printf 'fix\n1\n2\n' >in
t_minion s1 MINION_FILE=in MINION_FILE_STATE=st MINION_RETRY_DELAY=1.5 -- \
    sh task.sh
t_wait_until 10 sh -c '[ "$(wc -l <runs)" -ge 3 ]' || t_fail "s1 did not run"
t_wait_until 10 grep -q '^D 3$' st/journal/s1.journal ||
    t_fail "s1 did not finish line 3"
sleep 0.3
kill -0 "$T_MINION" 2>/dev/null || t_fail "s1 exited with a retry owed"
kill -TERM "$T_MINION"
t_wait_exit "$T_MINION" 5
[ "$T_RC" -eq 0 ] || { cat s1.err >&2; t_fail "s1 exit $T_RC"; }
grep -q '^W 1 1 ' st/journal/s1.journal || t_fail "no wait in the journal"
t_minion s2 MINION_FILE=in MINION_FILE_STATE=st MINION_RETRY_DELAY=1.5 -- \
    sh task.sh
t_wait_exit "$T_MINION" 10
[ "$T_RC" -eq 0 ] || { cat s2.err >&2; t_fail "s2 exit $T_RC"; }
check_gaps fix 1.5
[ "$(awk '$1 == "fix" && $2 == 2 { print $3 }' runs)" = s2 ] ||
    t_fail "the restarted minion did not run the delayed line"
once_each 2
[ -z "$(ls st/journal)" ] || t_fail "journals left: $(ls st/journal)"
t_ok "state dir: SIGTERM during a wait, a new minion runs it when due"
