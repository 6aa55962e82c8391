# SPDX-License-Identifier: MIT
# minion-submit --wait against real minions: a parameter sweep submitted,
# run by two minions, and gathered in submission order; a dead param makes
# the exit status 1; a run with nothing to do times out.
. "$top_srcdir/tests/integration/lib.sh"
t_init
t_start_redis

cat >prog.sh <<'SH'
#!/bin/sh
# Results arrive out of order: early params sleep longer.
[ "$1" = 6 ] && { echo "no six" >&2; exit 3; }
sleep "0.$(( (9 - $1) % 10 ))"
echo "alpha=$1 beta=$2"
SH
chmod +x prog.sh

# 8 combinations; submission order is a=1..4 crossed with b=x,y.
"$SUBMIT" -e redis --sweep '{"a":[1,2,3,4],"b":["x","y"]}' --wait \
    --timeout 60 >wait.out 2>wait.err &
submitter=$!
t_track $submitter
t_wait_until 10 sh -c "[ \"\$(redis-cli -p $REDIS_PORT XLEN minionize)\" = 8 ]" ||
    t_fail "the sweep was not submitted: $(cat wait.err)"
sweepers=""
for m in 1 2; do
    MINION_ENGINE=redis MINION_DECODER=json MINION_EXIT_WHEN_EMPTY=1 \
        MINION_ID=m$m "$MINIONIZE" -q -j3 ./prog.sh '{a}' '{b}' \
        >m$m.out 2>m$m.err &
    t_track $!
    sweepers="$sweepers $!"
done
t_wait_until 60 sh -c "! kill -0 $submitter" || t_fail "--wait never ended"
wait $submitter
rc=$?
[ "$rc" -eq 0 ] || t_fail "--wait exit $rc: $(cat wait.err)"
printf 'alpha=%s beta=%s\n' 1 x 1 y 2 x 2 y 3 x 3 y 4 x 4 y >want
cmp -s want wait.out || t_fail "not in submission order: $(cat wait.out)"
t_ok "--sweep --wait: 8 results in submission order"
# The sweep's minions drain and exit; one still in its last drain check
# would take the next part's params (and fail to fill {a} from them).
for m in $sweepers; do
    t_wait_exit "$m" 30
done

# A param that always fails is dead after 3 runs: --wait exits 1 and says so.
rcli DEL minionize minionize:results >/dev/null
"$SUBMIT" -e redis --wait --timeout 60 5 6 7 >wait.out 2>wait.err &
submitter=$!
t_track $submitter
MINION_ENGINE=redis MINION_EXIT_WHEN_EMPTY=1 MINION_ID=m3 \
    "$MINIONIZE" -q -j2 ./prog.sh >m3.out 2>m3.err &
m3=$!
t_track $m3
t_wait_until 60 sh -c "! kill -0 $submitter" || t_fail "--wait never ended"
wait $submitter
rc=$?
[ "$rc" -eq 1 ] || t_fail "--wait with a dead param should exit 1, got $rc"
grep -q "1 of 3 params dead" wait.err || t_fail "no dead count: $(cat wait.err)"
grep -q "alpha=5 beta=" wait.out && grep -q "alpha=7 beta=" wait.out ||
    t_fail "the live params' outputs are missing: $(cat wait.out)"
[ "$(redis-cli -p "$REDIS_PORT" XLEN minionize:dead)" -ge 1 ] ||
    t_fail "nothing in the dead-letter stream"
t_ok "--wait: a dead param gives exit 1"
t_wait_until 30 sh -c "! kill -0 $m3" || t_fail "minion m3 did not drain"

# Nobody runs the params: --timeout ends the wait with exit 1.
start=$(date +%s)
"$SUBMIT" -e redis --stream nobody --wait --timeout 1 8 >wait.out 2>wait.err
rc=$?
[ "$rc" -eq 1 ] || t_fail "--timeout should exit 1, got $rc"
[ $(( $(date +%s) - start )) -lt 10 ] || t_fail "--timeout 1 took too long"
grep -q "timed out" wait.err || t_fail "no timeout message: $(cat wait.err)"
t_ok "--wait --timeout"
