#!/bin/bash
# SPDX-License-Identifier: MIT
# Chaos: 2,000 params over Redis, 4 minions at -j4, one of them killed with
# SIGKILL every 0.5 s for 15 s and replaced by a new one (a new name, as a
# Kubernetes pod would have). No param is lost, nothing stays pending, and
# a param runs twice only when the run before was cut short by a kill: a
# killed minion's tasks die with it, so two runs never overlap.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

N=2000
r_submit $N
rcli XGROUP CREATE "$R_STREAM" "$R_GROUP" 0 >/dev/null

# Each run says when it starts and when it ends: entry id and minion.
cat >task.sh <<'SH'
#!/bin/sh
echo "$MINION_TASK_ID $MINION_ID" >>starts
sleep 0.1
echo "$MINION_TASK_ID $MINION_ID $(date +%s%N)" >>ends
SH
chmod +x task.sh

declare -a slot_pid slot_name
started=0
start_minion() {
    local slot=$1
    started=$((started + 1))
    slot_name[$slot]="pod-$slot-$started"
    r_minion "${slot_name[$slot]}" REDIS_CLAIM_IDLE_MS=1000 \
        MINION_MAX_ATTEMPTS=100 MINION_EXIT_WHEN_EMPTY=1 -- -q -j4 ./task.sh
    slot_pid[$slot]=$R_PID
}
for slot in 0 1 2 3; do
    start_minion $slot
done

: >killed
end=$((SECONDS + 15))
kills=0
while [ $SECONDS -lt $end ]; do
    sleep 0.5
    slot=$((RANDOM % 4))
    pid=${slot_pid[$slot]}
    if kill -0 "$pid" 2>/dev/null; then
        disown "$pid" 2>/dev/null
        kill -9 "$pid"
        echo "${slot_name[$slot]} $(date +%s%N)" >>killed
        kills=$((kills + 1))
    fi
    start_minion $slot
done

# The survivors drain what is left, claims of the killed ones' entries
# included.
for slot in 0 1 2 3; do
    t_wait_until 120 sh -c "! kill -0 ${slot_pid[$slot]} 2>/dev/null" ||
        t_fail "minion ${slot_name[$slot]} did not drain: $(tail -3 "${slot_name[$slot]}.err")"
done
t_wait_until 10 sh -c "! pgrep -f '[t]ask.sh'" ||
    t_fail "task processes outlived their minions: $(pgrep -af '[t]ask.sh')"

# Nothing lost, nothing pending.
[ "$(r_pending)" = 0 ] || t_fail "still pending: $(r_pending)"
r_results task status | awk '$2 == "ok" { print $1 }' | sort -u >ok_ids
[ "$(wc -l <ok_ids)" -eq $N ] ||
    t_fail "$(wc -l <ok_ids) params of $N ended ok; dead: $(rcli XLEN "$R_STREAM:dead")"
[ "$(cut -d' ' -f1 starts | sort -u | wc -l)" -eq $N ] ||
    t_fail "some params never ran"

# Extra runs, against the tasks in flight in a minion when it was killed:
# runs of a killed minion that have no result (its result and its ack go
# out together), whether the kill cut the program short or came between
# its end and the ack.
twice=$(cut -d' ' -f1 starts | sort | uniq -c |
    awk '$1 > 1 { n += $1 - 1 } END { print n + 0 }')
r_results task minion | sort >results.sorted
sort starts >starts.sorted
cut -d' ' -f1,2 ends | sort >ends.sorted
in_flight=$(comm -23 starts.sorted results.sorted |
    awk 'NR == FNR { k[$1] = 1; next } ($2 in k)' killed - | wc -l)
cut_short=$(comm -23 starts.sorted ends.sorted |
    awk 'NR == FNR { k[$1] = 1; next } ($2 in k)' killed - | wc -l)
echo "kills: $kills; tasks in flight in killed minions: $in_flight" \
    "($cut_short cut short); extra runs: $twice"
[ "$twice" -le "$in_flight" ] ||
    t_fail "$twice extra runs, but only $in_flight tasks were in flight in killed minions"
# Every run of a live minion ended: none was taken from it while running.
unfinished_alive=$(comm -23 starts.sorted ends.sorted |
    awk 'NR == FNR { k[$1] = 1; next } !($2 in k)' killed - | wc -l)
[ "$unfinished_alive" -eq 0 ] ||
    t_fail "$unfinished_alive runs of live minions never ended"
# No run of a killed minion ended after the kill (50 ms of slack for one
# that was writing its end as the kill came): it would have run on while
# another minion ran the same param.
outlived=$(awk 'NR == FNR { k[$1] = $2; next }
    ($2 in k) && $3 > k[$2] + 50000000' killed ends | wc -l)
[ "$outlived" -eq 0 ] ||
    t_fail "$outlived runs went on after their minion was killed"
t_ok "$N params, $kills kills: none lost, nothing pending, $twice extra runs <= $in_flight in flight when killed"
