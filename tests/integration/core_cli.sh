# SPDX-License-Identifier: MIT
# The minion's command line: help, version, bad input (one line, exit 2,
# nothing consumed), .env precedence, dry run, max tasks, decoder.
. "$top_srcdir/tests/integration/lib.sh"
t_init

# one_line_exit2 PATTERN COMMAND...: exit 2 with exactly one stderr line
# matching PATTERN.
one_line_exit2() {
    local pattern=$1
    shift
    "$@" >out 2>err </dev/null
    local rc=$?
    [ "$rc" -eq 2 ] || t_fail "expected exit 2, got $rc: $* ($(cat err))"
    [ "$(wc -l <err)" -eq 1 ] || t_fail "expected one stderr line: $(cat err)"
    grep -q -- "$pattern" err || t_fail "stderr lacks '$pattern': $(cat err)"
}

"$MINIONIZE" --version | grep -q '^minionize [0-9]' || t_fail "--version"
"$MINIONIZE" --help | grep -q 'MINION_CONCURRENCY' || t_fail "--help"
"$MINIONIZE" --help-plugin file | grep -q 'MINION_FILE_STATE' ||
    t_fail "--help-plugin file"
"$MINIONIZE" --help-plugin process --format=markdown | grep -q '^| `' ||
    t_fail "--help-plugin markdown"
t_ok "help and version"

one_line_exit2 "unknown engine 'nope' (available: .*file" "$MINIONIZE" -e nope
one_line_exit2 "unknown callback 'nope' (available: .*process" \
    "$MINIONIZE" -c nope true
one_line_exit2 "unknown reporter 'nope' (available: .*json" \
    "$MINIONIZE" -r stdout,nope true
one_line_exit2 "cannot read engine plugin ./missing.so" \
    "$MINIONIZE" -e ./missing.so
echo "not an elf" >bogus.so
one_line_exit2 "cannot load engine plugin ./bogus.so" "$MINIONIZE" -e ./bogus.so
one_line_exit2 "engine badabi: built for ABI 100, core is 2" \
    "$MINIONIZE" -e "$top_builddir/tests/plugins/.libs/badabi.so"
one_line_exit2 "MINION_CONCURRENCY (from flag): not a whole number: 'x'" \
    "$MINIONIZE" -j x true
one_line_exit2 "MINION_TIMEOUT (from environment): not a duration" \
    env MINION_TIMEOUT=soon "$MINIONIZE" true
one_line_exit2 "MINION_MAX_ATTEMPTS must be at least 1" \
    env MINION_MAX_ATTEMPTS=0 "$MINIONIZE" true
one_line_exit2 "MINION_DECODER (from flag): 'yaml' is not one of identity|json" \
    "$MINIONIZE" --set MINION_DECODER=yaml true
one_line_exit2 "unknown option '--frobnicate'" "$MINIONIZE" --frobnicate
one_line_exit2 "program not found: no-such-program-here" \
    "$MINIONIZE" no-such-program-here
t_ok "bad input: one line, exit 2"

# Nothing consumed: a bad setting leaves stdin unread.
printf 'a\nb\n' >params
{ "$MINIONIZE" -j x true 2>/dev/null; cat; } <params >left
cmp -s params left || t_fail "a usage error consumed stdin"
t_ok "usage error consumes nothing"

# .env: below the environment, above defaults; flags above everything.
printf 'MINION_MAX_TASKS=2\nMINION_DECODER=bogus\n' >.env
MINION_DECODER=identity "$MINIONIZE" echo <params >out 2>err ||
    t_fail ".env run failed: $(cat err)"
[ "$(wc -l <out)" -eq 2 ] || t_fail ".env MINION_MAX_TASKS ignored"
seq 5 | MINION_DECODER=identity "$MINIONIZE" --set MINION_MAX_TASKS=3 echo \
    >out 2>err || t_fail "flag run failed"
[ "$(wc -l <out)" -eq 3 ] || t_fail "flag did not override .env"
one_line_exit2 "MINION_DECODER (from .env)" "$MINIONIZE" echo
rm .env
printf 'export MINION_MAX_TASKS="1" # one\n' >other.env
seq 5 | "$MINIONIZE" --env-file other.env echo >out 2>err || t_fail "--env-file"
[ "$(cat out)" = 1 ] || t_fail "--env-file not read: $(cat out)"
one_line_exit2 "no such file" "$MINIONIZE" --env-file missing.env echo
t_ok ".env precedence"

# Dry run prints the command line and runs nothing.
seq 3 | "$MINIONIZE" --dry-run touch 'made-{}' >out 2>err || t_fail "dry run"
[ "$(wc -l <out)" -eq 3 ] || t_fail "dry run printed: $(cat out)"
grep -q "made-2" out || t_fail "dry run lacks the argument: $(cat out)"
ls made-* >/dev/null 2>&1 && t_fail "dry run ran the program"
seq 2 | DRY=1 "$MINIONIZE" touch 'made-{}' >out 2>&1 || t_fail "DRY=1"
ls made-* >/dev/null 2>&1 && t_fail "DRY=1 ran the program"
t_ok "dry run"

# The JSON decoder dead-letters what does not parse and goes on.
printf '{"a":1}\nnot json\n[1,2]\n' |
    "$MINIONIZE" --set MINION_DECODER=json echo >out 2>err
[ $? -eq 4 ] || t_fail "json decoder run: a dead param is exit 4"
[ "$(wc -l <out)" -eq 2 ] || t_fail "json decoder: $(cat out)"
grep -q "task 2 dead after 1 attempt: param is not valid JSON" err ||
    t_fail "bad JSON not dead-lettered: $(cat err)"
grep -q "done: 2 ok, 0 failed, 1 dead" err || t_fail "summary: $(cat err)"
t_ok "json decoder"
