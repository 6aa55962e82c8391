# SPDX-License-Identifier: MIT
# 2,000 params published with minion-submit before any minion ran (the
# first minion makes the subscription at the earliest message, so none is
# lost), then three minions draining the Shared subscription together: each
# param runs exactly once, all of them are acked, each minion took a share.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pulsar_lib.sh"
t_init
p_start_broker --topic "$P_TOPIC"

N=2000
seq 1 $N | sed 's/^/p/' >params
"$SUBMIT" -q -e pulsar --topic "$P_TOPIC" <params 2>err ||
    t_fail "minion-submit: $(cat err)"

cat >prog.sh <<'EOS'
echo "$MINION_PARAM $MINION_ID $MINION_ATTEMPT"
EOS
for m in m1 m2 m3; do
    p_minion $m MINION_EXIT_WHEN_EMPTY=1 -- -j4 -- sh prog.sh
    eval "pid_$m=\$P_MINION"
done
for m in m1 m2 m3; do
    eval "p_wait_exit \$pid_$m 120"
    [ "$P_RC" -eq 0 ] || t_fail "$m exited $P_RC: $(tail -n 5 $m.err)"
done

cat m1.out m2.out m3.out >ran
[ "$(wc -l <ran)" -eq $N ] || t_fail "$(wc -l <ran) runs for $N params"
awk '{ print $1 }' ran | sort >ran.sorted
sort params >params.sorted
cmp -s params.sorted ran.sorted ||
    t_fail "runs differ from params: $(comm -3 params.sorted ran.sorted | head)"
[ -z "$(uniq -d ran.sorted)" ] || t_fail "ran twice: $(uniq -d ran.sorted | head)"
awk '$3 != 1' ran | grep -q . && t_fail "attempts other than 1: $(awk '$3 != 1' ran | head -3)"
for m in m1 m2 m3; do
    [ "$(wc -l <$m.out)" -gt 0 ] || t_fail "$m ran nothing: the subscription is not Shared"
done

p_messages >msgs
[ "$(wc -l <msgs)" -eq $N ] || t_fail "the broker holds $(wc -l <msgs) messages"
awk '$2 != 1' msgs | grep -q . && t_fail "unacked: $(awk '$2 != 1' msgs | head -3)"
awk '{ print $1 }' msgs | cmp -s - params || t_fail "published out of order"
t_ok "$N params, three minions ($(wc -l <m1.out) / $(wc -l <m2.out) / $(wc -l <m3.out)), each run once and acked"
