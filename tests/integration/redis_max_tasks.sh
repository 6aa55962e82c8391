# SPDX-License-Identifier: MIT
# A minion that stops taking params (MINION_MAX_TASKS) leaves a failed param
# pending without taking it back, so its delivery count still equals its
# runs and the next minion runs it as attempt 2, not 3.
. "$top_srcdir/tests/integration/lib.sh"
t_init
t_start_redis

"$SUBMIT" -q -e redis boom || t_fail "submit"
cat >prog.sh <<'SH'
#!/bin/sh
echo "$MINION_ATTEMPT" >>attempts
exit 3
SH
chmod +x prog.sh

MINION_ENGINE=redis MINION_MAX_TASKS=1 REDIS_CLAIM_IDLE_MS=500 \
    timeout 30 "$MINIONIZE" -q ./prog.sh 2>m1.err || t_fail "m1: $(cat m1.err)"
count=$(rcli XPENDING minionize minions - + 10 | sed -n 4p)
[ "$count" = 1 ] || t_fail "delivery count after one run is '$count', not 1"

MINION_ENGINE=redis MINION_MAX_TASKS=1 REDIS_CLAIM_IDLE_MS=500 \
    timeout 30 "$MINIONIZE" -q ./prog.sh 2>m2.err || t_fail "m2: $(cat m2.err)"
[ "$(cat attempts | tr '\n' ' ')" = "1 2 " ] ||
    t_fail "attempts seen: $(cat attempts | tr '\n' ' ')"
t_ok "a stopping minion leaves a failed param's count alone"
