#!/bin/bash
# SPDX-License-Identifier: MIT
# The habits users bring from xargs and GNU parallel: the exit status says
# when params died; closed standard descriptors; settings that do not
# exist are caught.
. "$top_srcdir/tests/integration/lib.sh"
t_init

# Dead params: exit 4, so "&& echo all good" stays quiet.
seq 3 | "$MINIONIZE" sh -c '[ "$0" != 2 ]' >out 2>err && echo "all good" >said
rc=$?
[ "$rc" -eq 4 ] || t_fail "a dead param should exit 4, got $rc"
[ -e said ] && t_fail "all good was printed although param 2 died"
tail -n 1 err | grep -q "done: 2 ok, 2 failed, 1 dead" || t_fail "summary: $(tail -1 err)"
seq 3 | MINION_DEAD_EXIT=0 "$MINIONIZE" sh -c '[ "$0" != 2 ]' >out 2>err ||
    t_fail "MINION_DEAD_EXIT=0 should exit 0"
seq 3 | MINION_DEAD_EXIT=7 "$MINIONIZE" sh -c '[ "$0" != 2 ]' >out 2>err
[ $? -eq 7 ] || t_fail "MINION_DEAD_EXIT=7 not used"
seq 3 | "$MINIONIZE" true >out 2>err || t_fail "all ok should exit 0"
t_expect_exit 2 "$MINIONIZE" --set MINION_DEAD_EXIT=300 true </dev/null 2>err
grep -q "MINION_DEAD_EXIT must be an exit status from 0 to 255" err ||
    t_fail "bad MINION_DEAD_EXIT: $(cat err)"
# MINION_MAX_TASKS reached with a dead param is the same.
seq 10 | MINION_MAX_TASKS=2 MINION_MAX_ATTEMPTS=1 "$MINIONIZE" false \
    >out 2>err
[ $? -eq 4 ] || t_fail "max tasks with dead params should exit 4"
t_ok "dead params: exit 4, or MINION_DEAD_EXIT"

# Closed standard descriptors: nothing reads or writes the wrong thing.
"$MINIONIZE" echo <&- >out 2>err
rc=$?
[ "$rc" -eq 0 ] || t_fail "closed stdin: exit $rc: $(cat err)"
grep -q "Invalid argument\|Bad file" err && t_fail "closed stdin: $(cat err)"
echo x | "$MINIONIZE" echo >&- 2>err
grep -q "done: 1 ok" err || t_fail "closed stdout: $(cat err)"
"$SUBMIT" -f params.txt <&- >out 2>err
[ $? -le 1 ] || t_fail "minion-submit with stdin closed: $(cat err)"
grep -q "Invalid argument\|Bad file" err && t_fail "minion-submit: $(cat err)"
t_ok "closed descriptors 0 and 1"

# A setting that does not exist: an error on the command line, naming the
# closest one; a warning in the environment.
t_expect_exit 2 "$MINIONIZE" --set MINION_TIMOUT=5 true </dev/null 2>err
grep -q "set MINION_TIMOUT: no such setting; did you mean MINION_TIMEOUT?" err ||
    t_fail "typo on the command line: $(cat err)"
[ "$(wc -l <err)" -eq 1 ] || t_fail "typo: more than one line: $(cat err)"
t_expect_exit 2 "$MINIONIZE" --set NO_SUCH_THING=1 true </dev/null 2>err
grep -q "set NO_SUCH_THING: no such setting" err || t_fail "unknown: $(cat err)"
echo a | MINION_MAX_ATEMPTS=2 "$MINIONIZE" true >out 2>err ||
    t_fail "a typo in the environment is only a warning"
grep -q "warn: environment: MINION_MAX_ATEMPTS is not a setting; did you mean MINION_MAX_ATTEMPTS" err ||
    t_fail "no warning for the environment typo: $(cat err)"
# Settings of plugins this minion does not load are no typos.
echo a | "$MINIONIZE" --set REDIS_STREAM=s --set MINION_FUNCTION=x true \
    >out 2>err || t_fail "another plugin's setting refused: $(cat err)"
grep -q "warn" err && t_fail "another plugin's setting warned: $(cat err)"
t_ok "settings that do not exist are caught"

# A .env that starts with a UTF-8 byte-order mark.
printf '\357\273\277MINION_MAX_ATTEMPTS=1\n' >.env
echo a | "$MINIONIZE" false >out 2>err
[ $? -eq 4 ] || t_fail ".env with a BOM: $(cat err)"
grep -q "dead after 1 attempt" err || t_fail ".env with a BOM was not read: $(cat err)"
rm .env
t_ok ".env with a byte-order mark"

# Valid JSON deeper than the decoder goes says so.
python3 -c 'print("[" * 2000 + "]" * 2000)' |
    MINION_DECODER=json "$MINIONIZE" true >out 2>err
grep -q "nested deeper than 1000" err || t_fail "deep JSON: $(cat err)"
t_ok "deep JSON is named as such"

# Tasks that all settle at once (a dry run) still let a signal in: SIGTERM
# stops a dry run of a large file at once, not at the end of the file.
seq 3000000 >big
"$MINIONIZE" -q -n -a big echo >/dev/null 2>err &
pid=$!
t_track $pid
sleep 0.5
kill -TERM $pid
t_wait_until 5 sh -c "! kill -0 $pid 2>/dev/null" ||
    t_fail "SIGTERM did not stop a dry run that settles every task at once"
t_ok "signals are seen while tasks settle inside process()"
