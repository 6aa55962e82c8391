# SPDX-License-Identifier: MIT
# reporter stdout: one whole line per finished run (status, id, attempt,
# duration, exit code, error), after the task's own output, never mixed
# with it mid-line.
. "$top_srcdir/tests/integration/lib.sh"
t_init

REPORT='^(ok|failed|dead|released) [^ ]+ attempt=[0-9]+ [0-9]+\.[0-9]{3}s( exit=-?[0-9]+)?(: .*)?$'

printf '%s\n' good bad | MINION_MAX_ATTEMPTS=2 timeout 20 "$MINIONIZE" \
    -r stdout sh -c 'echo "out $1"; [ "$1" = good ] || exit 3' sh \
    >out 2>err
[ $? -eq 4 ] || { cat err >&2; t_fail "minionize: a dead param is exit 4"; }
grep -qE '^ok 1 attempt=1 [0-9]+\.[0-9]{3}s$' out ||
    { cat out >&2; t_fail "no ok line for good"; }
grep -qE '^failed 2 attempt=1 [0-9]+\.[0-9]{3}s exit=3: exit status 3$' out ||
    { cat out >&2; t_fail "no failed line for bad"; }
grep -qE '^dead 2 attempt=2 [0-9]+\.[0-9]{3}s exit=3: exit status 3$' out ||
    { cat out >&2; t_fail "no dead line for bad"; }
[ "$(grep -cE "$REPORT" out)" -eq 3 ] ||
    { cat out >&2; t_fail "not exactly three report lines"; }
# Each report follows its task's output.
[ "$(sed -n '1,2p' out | tr '\n' '|')" = "out good|$(sed -n 2p out)|" ] &&
    sed -n 2p out | grep -q '^ok 1 ' ||
    { cat out >&2; t_fail "report before the task output"; }
t_ok "ok, failed and dead lines with exit codes and errors"

# A function has no exit code: none is shown.
TESTFN="$top_builddir/tests/plugins/.libs/testfn.so"
if [ -f "$TESTFN" ]; then
    echo weird | MINION_FUNCTION="$TESTFN" MINION_MAX_ATTEMPTS=1 timeout 20 \
        "$MINIONIZE" -c function -r stdout >out 2>err
    [ $? -eq 4 ] || { cat err >&2; t_fail "function run: dead is exit 4"; }
    grep -qE '^dead 1 attempt=1 [0-9]+\.[0-9]{3}s: function returned 42$' \
        out || { cat out >&2; t_fail "function report line"; }
    t_ok "no exit code for a function"
fi

# Many tasks at once: every line is whole, either output or a report.
seq 300 | timeout 60 "$MINIONIZE" -j8 -r stdout \
    sh -c 'printf "task %s says hello\n" "$1"' sh >out 2>err ||
    { cat err >&2; t_fail "-j8 run"; }
[ "$(grep -cE '^ok [0-9]+ attempt=1 [0-9]+\.[0-9]{3}s$' out)" -eq 300 ] ||
    t_fail "$(grep -c '^ok ' out) ok lines for 300 tasks"
[ "$(grep -cxE 'task [0-9]+ says hello' out)" -eq 300 ] ||
    t_fail "task output lines were mangled"
[ "$(wc -l <out)" -eq 600 ] || t_fail "stray lines: $(wc -l <out)"
t_ok "300 tasks with -j8: 600 whole lines"
