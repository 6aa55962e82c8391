# SPDX-License-Identifier: MIT
# reporter json: the schema of every line (checked with cJSON by
# json_check), params that are not text kept exactly, ok/failed/dead with
# exit codes, one uid per minion process with generations counting its
# records, the timeline and resource figures, oar and Slurm job ids,
# appending, the original minionize's reading rules over two real minions,
# and the folder errors.
. "$top_srcdir/tests/integration/lib.sh"
t_init

CHECK="$top_builddir/tests/reporters/json_check"
[ -x "$CHECK" ] || t_fail "json_check not built: $CHECK"
export LC_ALL=C

# Params with quotes, backslashes, tabs, control bytes, invalid UTF-8.
printf '%s\n' plain 'say "hi"' 'back\slash' 'bad one' >params
printf 'tab\there\n' >>params
printf 'ctl\001\033[0m\177\n' >>params
printf 'latin1 caf\351 \377\376\n' >>params
printf 'utf8 caf\303\251 \342\202\254\n' >>params
printf 'truncated \342\202\n' >>params

MINION_ID=m1 REPORTER_JSON_DIRECTORY=reports/a/b MINION_MAX_ATTEMPTS=3 \
    timeout 20 "$MINIONIZE" -r json \
    sh -c 'case "$1" in bad*) exit 4;; esac; printf "%s" "$1"' sh \
    <params >out 2>err
[ $? -eq 4 ] || { cat err >&2; t_fail "minionize: a dead param is exit 4"; }
file=reports/a/b/m1.jsonl
[ -f "$file" ] || t_fail "no $file: $(find reports)"
"$CHECK" "$file" || { cat "$file" >&2; t_fail "invalid report lines"; }
[ "$(wc -l <"$file")" -eq 11 ] || t_fail "$(wc -l <"$file") lines, not 11"
t_ok "11 valid lines in a nested folder"

"$CHECK" "$file" param >got-params
"$CHECK" "$file" output >got-outputs
"$CHECK" "$file" status >got-status
mapfile -t P <got-params
mapfile -t O <got-outputs
mapfile -t S <got-status
for i in "${!P[@]}"; do
    if [ "${S[$i]}" = ok ]; then
        [ "${P[$i]}" = "${O[$i]}" ] ||
            t_fail "output differs from param on line $((i + 1))"
    fi
done
sort -u got-params >a
sort -u params >b
cmp -s a b || { od -c a b >&2; t_fail "params not kept byte for byte"; }
t_ok "params and outputs are kept byte for byte"

[ "$("$CHECK" "$file" param status exit_code error | grep -c \
    '^bad one	failed	4	exit status 4$')" -eq 2 ] ||
    t_fail "two failed runs of 'bad one' with exit code 4"
"$CHECK" "$file" param status attempt exit_code error |
    grep -qx 'bad one	dead	3	4	exit status 4' ||
    t_fail "'bad one' not dead at attempt 3"
[ "$("$CHECK" "$file" status exit_code error | grep -cx 'ok	0	null')" -eq 8 ] ||
    t_fail "8 ok runs with exit_code 0 and error null expected"
t_ok "statuses, exit codes and errors"

[ "$("$CHECK" "$file" uid | sort -u | wc -l)" -eq 1 ] ||
    t_fail "one minion process, not one uid: $("$CHECK" "$file" uid | sort -u)"
[ "$("$CHECK" "$file" generation | tr '\n' ' ')" = "1 2 3 4 5 6 7 8 9 10 11 " ] ||
    t_fail "generations: $("$CHECK" "$file" generation | tr '\n' ' ')"
"$CHECK" "$file" minion nodename | sort -u >got
[ "$(cat got)" = "m1	$(uname -n)" ] || t_fail "minion/nodename: $(cat got)"
# json_check refuses a step twice or no process step; a process has all four.
"$CHECK" "$file" atomic_actions | grep -v -q \
    '^\[{"name":"next".*{"name":"setup".*{"name":"process".*{"name":"teardown"' &&
    t_fail "a process task without next, setup, process, teardown"
"$CHECK" "$file" signal maxrss_kb | awk '$1 != "null" || $2 < 100 { bad = 1 }
    END { exit bad }' || t_fail "signal/maxrss_kb: $("$CHECK" "$file" signal maxrss_kb)"
t_ok "one uid, generations 1..11, nodename, the timeline, resources"

# oar_job_id appears when OAR_JOB_ID is set; the file is appended to.
echo again | OAR_JOB_ID=4242 MINION_ID=m1 REPORTER_JSON_DIRECTORY=reports/a/b \
    timeout 20 "$MINIONIZE" -r json echo >out 2>err ||
    { cat err >&2; t_fail "second run"; }
[ "$(wc -l <"$file")" -eq 12 ] || t_fail "the second run did not append"
tail -n 1 "$file" >last
"$CHECK" --oar 4242 last param | grep -qx again ||
    { cat last >&2; t_fail "oar_job_id missing or wrong"; }
t_ok "oar_job_id and appending"
head -n 1 "$file" >first
[ "$("$CHECK" --oar 4242 last uid)" != "$("$CHECK" first uid)" ] ||
    t_fail "a restart with the same MINION_ID is not a new uid"
"$CHECK" --oar 4242 last generation | grep -qx 1 ||
    t_fail "a restart's generations do not start at 1"
t_ok "a restart is a new uid, counting from 1"

# Slurm's ids, a signal, and null resources for a function.
echo sig | SLURM_JOB_ID=81 SLURM_ARRAY_TASK_ID=3 MINION_ID=s \
    REPORTER_JSON_DIRECTORY=slurm MINION_MAX_ATTEMPTS=1 timeout 20 \
    "$MINIONIZE" -r json sh -c 'kill -USR1 $$' >out 2>err
"$CHECK" slurm/s.jsonl slurm_job_id slurm_array_task_id signal |
    grep -qx "81	3	$(kill -l USR1 >/dev/null && echo 10)" ||
    t_fail "slurm ids, signal: $(cat slurm/s.jsonl)"
echo f | MINION_ID=f REPORTER_JSON_DIRECTORY=slurm timeout 20 \
    "$MINIONIZE" -r json -c function \
    --set MINION_FUNCTION="$top_builddir/plugins/examples/.libs/wordcount.so:minion_noop" \
    >out 2>err || { cat err >&2; t_fail "function run"; }
"$CHECK" slurm/f.jsonl signal maxrss_kb user_s sys_s |
    grep -qx 'null	null	null	null' || t_fail "function resources not null"
t_ok "slurm_job_id, slurm_array_task_id, signal; a function's resources null"

# The original minionize's reading rules: one file per minion, rows grouped
# by uid are minions, a task's process time is its process action.
seq 6 >six
for m in r1 r2; do
    MINION_ID=$m REPORTER_JSON_DIRECTORY=orig MINION_MAX_ATTEMPTS=2 \
        timeout 20 "$MINIONIZE" -r json -a six \
        sh -c 'case {} in 2|5) exit 1;; esac; sleep 0.01' >/dev/null 2>&1
done
[ "$(ls orig | tr '\n' ' ')" = "r1.jsonl r2.jsonl " ] || t_fail "files: $(ls orig)"
for f in orig/*.jsonl; do
    "$CHECK" "$f" uid status duration atomic_actions
done | awk -F'\t' '
    { n[$1]++; st[$1 "," $2]++; d[$1] += $3
      s = $4; sub(/.*"name":"process","start":/, "", s)
      split(s, p, /[,:}]/); t[$1] += p[3] - p[1] }
    END { for (u in n) printf "%d %d %d %d %s\n", n[u], st[u ",ok"],
              st[u ",failed"], st[u ",dead"],
              (t[u] > 0.04 && t[u] <= d[u]) ? "timed" : "untimed"; }' |
    sort >rows
[ "$(cat rows | tr '\n' '|')" = "8 4 2 2 timed|8 4 2 2 timed|" ] ||
    t_fail "by the original rules: $(cat rows)"
t_ok "two real minions read as two minions: 8 runs, 4 ok, 2 failed, 2 dead each"

# The default folder, and a minion id with a slash stays inside it.
echo x | MINION_ID=a/b timeout 20 "$MINIONIZE" -r json echo >out 2>err ||
    { cat err >&2; t_fail "default folder run"; }
"$CHECK" minion-report/a_b.jsonl minion | grep -qx a/b ||
    t_fail "default folder: $(find minion-report)"
t_ok "default folder minion-report/"

# A folder that cannot be made is a start-up error: exit 2, one line.
echo in-the-way >blocker
echo x | REPORTER_JSON_DIRECTORY=blocker/sub timeout 20 "$MINIONIZE" \
    -r json sh -c 'touch ran' >out 2>err
rc=$?
[ "$rc" -eq 2 ] || { cat err >&2; t_fail "exit $rc, not 2"; }
[ "$(wc -l <err)" -eq 1 ] && grep -q \
    '^minionize: error: reporter json: REPORTER_JSON_DIRECTORY=blocker/sub: Not a directory$' \
    err || { cat err >&2; t_fail "error line"; }
[ ! -e ran ] || t_fail "a task ran"
t_ok "an impossible folder: $(cat err)"
