# SPDX-License-Identifier: MIT
# reporter json: one write(2) per line, so after kill -9 every line in the
# file is whole and valid but for the one being written at the kill (a
# large write can be cut short), and a restarted minion drops that torn
# tail and appends valid lines.
. "$top_srcdir/tests/integration/lib.sh"
t_init

CHECK="$top_builddir/tests/reporters/json_check"
[ -x "$CHECK" ] || t_fail "json_check not built: $CHECK"

# Large outputs (40 kB per task) make each line far bigger than a pipe or
# stdio buffer.
seq 100000 >params
# No timeout(1) in between: kill -9 must hit the minion itself.
MINION_ID=k REPORTER_JSON_DIRECTORY=rep "$MINIONIZE" -j4 -r json \
    sh -c 'printf "%040000d\n" "$1"' sh <params >/dev/null 2>err &
pid=$!
t_track $pid
t_wait_until 30 sh -c '[ "$(wc -l <rep/k.jsonl)" -ge 40 ]' ||
    { cat err >&2; t_fail "no 40 reports within 30 s"; }
{ kill -9 $pid && wait $pid; } 2>/dev/null
n=$(wc -l <rep/k.jsonl) # whole lines: the ones that end with a newline
head -n "$n" rep/k.jsonl >whole
"$CHECK" whole || t_fail "a broken line before the last after kill -9"
t_ok "$n whole, valid lines after kill -9"

seq 5 | MINION_ID=k REPORTER_JSON_DIRECTORY=rep timeout 20 "$MINIONIZE" \
    -r json echo >/dev/null 2>err || { cat err >&2; t_fail "restart"; }
[ "$(wc -l <rep/k.jsonl)" -eq $((n + 5)) ] || t_fail "restart did not append"
"$CHECK" rep/k.jsonl || t_fail "invalid lines after the restart"
t_ok "a restarted minion appends valid lines"
