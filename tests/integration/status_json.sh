#!/bin/bash
# SPDX-License-Identifier: MIT
# minion-status over a hand-written reports directory: exact --json figures,
# the table, a half-written last line, and exit 2 without a directory.
. "$top_srcdir/tests/integration/lib.sh"
t_init
unset REPORTER_JSON_DIRECTORY

one_line() {
    [ "$(wc -l <"$1")" -eq 1 ] || { cat "$1" >&2; t_fail "not one line"; }
    grep -q '^minion-status: ' "$1" || t_fail "no program name: $(cat "$1")"
}

"$STATUS" --version >out || t_fail "--version"
grep -qx 'minion-status [0-9][0-9.]*' out || t_fail "--version: $(cat out)"
"$STATUS" --help >out 2>err || t_fail "--help"
grep -q '^Usage: minion-status' out || t_fail "--help: no usage"
t_expect_exit 2 "$STATUS" --nope 2>err
one_line err
t_expect_exit 2 "$STATUS" extra 2>err
one_line err
t_expect_exit 2 "$STATUS" --redis --dir rep 2>err
one_line err
t_expect_exit 2 "$STATUS" --watch=soon 2>err
one_line err
grep -q "soon" err || t_fail "--watch=soon: $(cat err)"
t_expect_exit 2 "$STATUS" --watch 0 2>err
one_line err
t_expect_exit 2 "$STATUS" --json --watch 2>err
one_line err
t_expect_exit 2 "$STATUS" 2>err
one_line err
grep -q "minion-report" err || t_fail "missing default dir: $(cat err)"
t_expect_exit 2 "$STATUS" --json --dir nowhere >out 2>err
one_line err
[ -s out ] && t_fail "output despite the error"
t_ok "usage errors and a missing directory exit 2 with one line"

mkdir rep
# host-a: 3 ok (1, 2, 4 s), 1 failed (3 s, end - start), 1 dead (10 s).
cat >rep/host-a.jsonl <<'EOF'
{"uid":"host-a-1","minion":"host-a","generation":1,"start":1000,"end":1001,"duration":1,"param":"p1","error":null,"status":"ok","task_id":"1","attempt":1,"exit_code":0}
{"uid":"host-a-2","minion":"host-a","generation":2,"start":1001,"end":1003,"duration":2,"param":"p2","error":null,"status":"ok","task_id":"2","attempt":1,"exit_code":0}
{"uid":"host-a-3","minion":"host-a","generation":3,"start":1003,"end":1006,"param":"p3","error":"exit status 1","status":"failed","task_id":"3","attempt":1,"exit_code":1}

{"uid":"host-a-4","minion":"host-a","generation":4,"start":1006,"end":1010,"duration":4,"param":"p3","error":null,"status":"ok","task_id":"3","attempt":2,"exit_code":0}
{"uid":"host-a-5","minion":"host-a","generation":5,"start":1010,"end":1020,"duration":10,"param":"p4","error":"exit status 2","status":"dead","task_id":"4","attempt":3,"exit_code":2}
EOF
# host-b: v2 (one uid for the process), no minion field (the file name
# stands in), a released task, and a last line cut short by a crash.
cat >rep/host-b.jsonl <<'EOF'
{"uid":"5b1e-77","generation":1,"start":2000,"end":2000.5,"duration":0.5,"param":"q","error":null,"status":"ok","task_id":"9","attempt":1,"exit_code":0}
{"uid":"5b1e-77","generation":2,"start":2001,"end":2002,"duration":1,"param":"r","error":null,"status":"released","task_id":"10","attempt":1,"exit_code":null}
EOF
printf '%s' '{"uid":"5b1e-77","generation":3,"start":2002,"end":20' >>rep/host-b.jsonl
echo 'not a report either' >rep/notes.txt

"$STATUS" --json --dir rep >out 2>err || t_fail "--json: $(cat err)"
[ "$(wc -l <out)" -eq 1 ] || t_fail "--json must print one line"
# The figures up to the charts, which status_reports.sh checks; now and
# idle_ms move with the clock.
sed 's/"idle_ms":[0-9]*/"idle_ms":N/g; s/"now":[0-9.]*/"now":N/;
     s/,"series":.*//' out >got
cat >want <<'EOF'
{"source":"json","where":"rep","now":N,"totals":{"ok":4,"failed":1,"dead":1,"pending":null,"lag":null,"in_flight":null,"stream_length":null,"added":null,"dead_letters":null,"percent":null,"eta_s":null,"p50_s":2,"mean_s":3.416667,"p95_s":10,"rate_1m":0.016667,"rate_all":0.005988,"started":1000,"malformed":1},"minions":[{"id":"host-a","uid":null,"nodename":null,"oar_job_id":null,"slurm_job_id":null,"slurm_array_task_id":null,"ok":3,"failed":1,"dead":1,"pending":null,"in_flight":null,"idle_ms":N,"last_seen":1020,"p50_s":3,"mean_s":4,"p95_s":10,"rate_1m":0,"rate_all":0.25,"started":1000,"probably_dead":false},{"id":"host-b","uid":"5b1e-77","nodename":null,"oar_job_id":null,"slurm_job_id":null,"slurm_array_task_id":null,"ok":1,"failed":0,"dead":0,"pending":null,"in_flight":null,"idle_ms":N,"last_seen":2002,"p50_s":0.5,"mean_s":0.5,"p95_s":0.5,"rate_1m":0.5,"rate_all":0.5,"started":2000,"probably_dead":false}],"errors":[{"text":"exit status 2","count":1,"last":1020},{"text":"exit status 1","count":1,"last":1006}]
EOF
cmp -s want got || { diff want got >&2; t_fail "--json figures"; }
# idle_ms is now - last_seen: these reports are decades old.
idle=$(sed 's/.*"id":"host-b"[^}]*"idle_ms":\([0-9]*\).*/\1/' out)
[ "$idle" -gt $(( ($(date +%s) - 2002 - 60) * 1000 )) ] ||
    t_fail "idle_ms $idle"
[ "$(wc -l <err)" -eq 1 ] || { cat err >&2; t_fail "warn once"; }
grep -q "warning: skipped 1 line .*rep/host-b.jsonl:3" err ||
    t_fail "malformed warning: $(cat err)"
t_ok "--json: exact counts, durations, rates, errors, file-name fallback"

REPORTER_JSON_DIRECTORY=rep "$STATUS" >out 2>/dev/null ||
    t_fail "table from REPORTER_JSON_DIRECTORY"
sed -n 1,3p out >got
cat >want <<'EOF'
json rep: ok 4, failed 1, dead 1, pending -, lag -
p50 2.00s, mean 3.42s, p95 10.0s; 0.02/s last minute, 0.01/s overall
EOF
sed -n 1,2p got | cmp -s want - || { sed -n 1,2p got | diff want - >&2; t_fail "totals"; }
grep -q '; 1 line skipped: not a task report$' got || t_fail "malformed: $(cat got)"
header='^MINION +RUN +OK +FAILED +DEAD +P50 +MEAN +P95 +RATE/S +LAST SEEN$'
sed -n 5p out | grep -Eq "$header" || t_fail "table header: $(sed -n 5p out)"
grep -Eq '^host-a +- +3 +1 +1 +3\.00s +4\.00s +10\.0s +0\.00 +[0-9]+d ago$' out ||
    t_fail "host-a row: $(grep ^host-a out)"
grep -Eq '^host-b +5b1e-77 +1 +0 +0 +0\.50s +0\.50s +0\.50s +0\.50 +[0-9]+d ago$' out ||
    t_fail "host-b row: $(grep ^host-b out)"
grep -Eq '^ +1  [0-9]+d ago +exit status 2$' out || t_fail "errors: $(cat out)"
awk 'length > 80 { exit 1 }' out || t_fail "wider than 80 columns: $(cat out)"
t_ok "table: totals, a row per minion, errors"

mkdir minion-report
"$STATUS" --json >out 2>err || t_fail "empty default directory"
grep -q '"totals":{"ok":0,"failed":0,"dead":0,"pending":null,"lag":null' out ||
    t_fail "empty totals: $(cat out)"
grep -q '"minions":\[\]' out || t_fail "empty minions: $(cat out)"
[ -s err ] && t_fail "warnings on an empty directory: $(cat err)"
t_ok "an empty directory gives zeros"
