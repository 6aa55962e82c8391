# SPDX-License-Identifier: MIT
# MINION_RETRY_DELAY with the redis engine: a failed param waits out its
# delay (doubling) while other params flow, may then run on any minion, and
# is dead after MINION_MAX_ATTEMPTS; a stop of its holder during the wait
# loses nothing, and a claim after a crash of its holder does not run it
# before it is due.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"
t_init
t_start_redis

# f*: always fails; g*: fails its first attempt; others take a moment.
cat >prog.sh <<'EOS'
echo "$MINION_PARAM $MINION_ATTEMPT $MINION_ID $(($(date +%s%N) / 1000000))" >>runs.txt
case "$MINION_PARAM" in
f*) exit 1 ;;
g*) [ "$MINION_ATTEMPT" -gt 1 ] || exit 1 ;;
*) sleep 0.25 ;;
esac
EOS
# field N of the runs of PARAM, one a line
runs_of() { awk -v p="$1" -v f="$2" '$1 == p { print $f }' runs.txt; }
# is A - B (ms) within [LOW, HIGH]?
within() { [ $(($1 - $2)) -ge "$3" ] && [ $(($1 - $2)) -le "$4" ]; }

# 1. Delay 1 s then 2 s, two minions, other params meanwhile.
r_submit 1 f
r_submit 10 ok
for m in m1 m2; do
    r_minion $m MINION_RETRY_DELAY=1 MINION_EXIT_WHEN_EMPTY=1 \
        REDIS_CLAIM_IDLE_MS=2000 -- -- sh prog.sh
    eval "pid_$m=\$R_PID"
done
r_wait_exit "$pid_m1" 20
rc1=$R_RC
r_wait_exit "$pid_m2" 20
[ "$(printf '%s\n' "$rc1" "$R_RC" | sort | tr '\n' ,)" = "0,4," ] ||
    t_fail "exit statuses $rc1 and $R_RC, not 0 and 4: $(cat m1.err m2.err)"
[ "$(runs_of f1 2 | tr '\n' ,)" = "1,2,3," ] || t_fail "runs: $(cat runs.txt)"
set -- $(runs_of f1 4)
within "$2" "$1" 1000 1700 || t_fail "first delay $(($2 - $1)) ms, not ~1000"
within "$3" "$2" 2000 2700 || t_fail "second delay $(($3 - $2)) ms, not ~2000"
meanwhile=$(awk -v a="$1" -v b="$2" '$1 ~ /^ok/ && $4 > a && $4 < b' runs.txt | wc -l)
[ "$meanwhile" -ge 1 ] || t_fail "nothing ran during the first delay: $(cat runs.txt)"
[ "$(grep -c '^ok' runs.txt)" -eq 10 ] || t_fail "runs: $(cat runs.txt)"
[ "$(r_results status attempt | grep -v '^ok 1$' | tr '\n' ,)" = \
    "failed 1,failed 2,dead 3," ] || t_fail "results: $(r_results)"
[ "$(r_stream_lines "$R_STREAM:dead" attempts)" = 3 ] ||
    t_fail "dead letters: $(r_stream_lines "$R_STREAM:dead" task attempts)"
[ "$(rcli EXISTS "$R_STREAM:delayed:$R_GROUP")" = 0 ] || t_fail "delayed set left"
gap1=$(($2 - $1)) gap2=$(($3 - $2))

# 2. The holder stops during the wait (nothing in flight: exit 0); the
#    other minion runs the param once due, not before.
R_STREAM=s2
: >runs.txt
r_submit 1 g
r_minion h1 REDIS_STREAM=s2 MINION_RETRY_DELAY=1.5 -- -- sh prog.sh
h1=$R_PID
t_wait_until 10 sh -c "[ \"\$(redis-cli -p $REDIS_PORT ZCARD s2:delayed:$R_GROUP)\" = 1 ]" ||
    t_fail "h1 did not delay g1: $(cat h1.err)"
r_minion h2 REDIS_STREAM=s2 MINION_RETRY_DELAY=1.5 MINION_EXIT_WHEN_EMPTY=1 -- -- sh prog.sh
h2=$R_PID
kill -TERM "$h1"
r_wait_exit "$h1" 10
[ "$R_RC" -eq 0 ] || t_fail "h1 exited $R_RC: $(cat h1.err)"
[ "$(r_pending_of h1)" = 1 ] || t_fail "h1 does not hold g1 any more"
r_wait_exit "$h2" 10
[ "$R_RC" -eq 0 ] || t_fail "h2 exited $R_RC: $(cat h2.err)"
[ "$(cut -d' ' -f1-3 runs.txt | tr '\n' ,)" = "g1 1 h1,g1 2 h2," ] ||
    t_fail "runs: $(cat runs.txt)"
set -- $(runs_of g1 4)
within "$2" "$1" 1500 2300 || t_fail "h2 ran g1 $(($2 - $1)) ms after h1, not ~1500"

# 3. The holder is killed during the wait: a claim takes the entry after
#    REDIS_CLAIM_IDLE_MS (0.3 s) but runs it only once due (2 s).
R_STREAM=s3
: >runs.txt
r_submit 1 g
r_minion k1 REDIS_STREAM=s3 MINION_RETRY_DELAY=2 REDIS_CLAIM_IDLE_MS=300 -- -- sh prog.sh
k1=$R_PID
t_wait_until 10 sh -c "[ \"\$(redis-cli -p $REDIS_PORT ZCARD s3:delayed:$R_GROUP)\" = 1 ]" ||
    t_fail "k1 did not delay g1: $(cat k1.err)"
disown "$k1"
kill -9 "$k1"
r_minion k2 REDIS_STREAM=s3 REDIS_CLAIM_IDLE_MS=300 MINION_EXIT_WHEN_EMPTY=1 -- -- sh prog.sh
r_wait_exit "$R_PID" 10
[ "$R_RC" -eq 0 ] || t_fail "k2 exited $R_RC: $(cat k2.err)"
grep -q "waits out its retry delay" k2.err || t_fail "k2 claimed nothing: $(cat k2.err)"
[ "$(cut -d' ' -f1-3 runs.txt | tr '\n' ,)" = "g1 1 k1,g1 2 k2," ] ||
    t_fail "runs: $(cat runs.txt)"
set -- $(runs_of g1 4)
within "$2" "$1" 2000 2600 || t_fail "k2 ran g1 $(($2 - $1)) ms after k1, not ~2000"
t_ok "retry delays of ${gap1} and ${gap2} ms, $meanwhile params ran meanwhile"

# 4. The delay cannot be recorded (Redis out of memory as the task
#    fails): the param is taken back at once rather than held, fresh and
#    out of every minion's reach, for as long as its holder lives.
R_STREAM=s4
: >runs.txt
cat >oom.sh <<'EOS'
echo "$MINION_PARAM $MINION_ATTEMPT $MINION_ID" >>runs.txt
[ "$MINION_ATTEMPT" -gt 1 ] && exit 0
redis-cli -p "$REDIS_PORT" CONFIG SET maxmemory 1 >/dev/null
exit 1
EOS
r_submit 1 o
r_minion o1 REDIS_STREAM=s4 REDIS_PORT="$REDIS_PORT" MINION_RETRY_DELAY=30 \
    MINION_EXIT_WHEN_EMPTY=1 -- -- sh oom.sh
o1=$R_PID
t_wait_until 10 grep -q "delaying task .* failed: OOM" o1.err ||
    t_fail "no failed delay: $(cat o1.err)"
rcli CONFIG SET maxmemory 0 >/dev/null
r_wait_exit "$o1" 20
[ "$R_RC" -eq 0 ] || t_fail "o1 exited $R_RC: $(cat o1.err)"
[ "$(cut -d' ' -f1-2 runs.txt | tr '\n' ,)" = "o1 1,o1 2," ] ||
    t_fail "runs: $(cat runs.txt)"
t_ok "a delay Redis could not record: the param ran again at once"
