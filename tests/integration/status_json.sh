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
t_expect_exit 2 "$STATUS" --redis 2>err
grep -qx 'minion-status: --redis is not available yet' err ||
    t_fail "--redis: $(cat err)"
t_expect_exit 2 "$STATUS" 2>err
one_line err
grep -q "minion-report" err || t_fail "missing default dir: $(cat err)"
t_expect_exit 2 "$STATUS" --json --dir nowhere >out 2>err
one_line err
[ -s out ] && t_fail "output despite the error"
t_ok "usage, --redis not yet, a missing directory exits 2"

mkdir rep
# host-a: 3 ok (1, 2, 4 s), 1 failed (3 s, end - start), 1 dead (10 s).
cat >rep/host-a.jsonl <<'EOF'
{"uid":"host-a-1","minion":"host-a","generation":1,"start":1000,"end":1001,"duration":1,"param":"p1","error":null,"status":"ok","task_id":"1","attempt":1,"exit_code":0}
{"uid":"host-a-2","minion":"host-a","generation":2,"start":1001,"end":1003,"duration":2,"param":"p2","error":null,"status":"ok","task_id":"2","attempt":1,"exit_code":0}
{"uid":"host-a-3","minion":"host-a","generation":3,"start":1003,"end":1006,"param":"p3","error":"exit status 1","status":"failed","task_id":"3","attempt":1,"exit_code":1}

{"uid":"host-a-4","minion":"host-a","generation":4,"start":1006,"end":1010,"duration":4,"param":"p3","error":null,"status":"ok","task_id":"3","attempt":2,"exit_code":0}
{"uid":"host-a-5","minion":"host-a","generation":5,"start":1010,"end":1020,"duration":10,"param":"p4","error":"exit status 2","status":"dead","task_id":"4","attempt":3,"exit_code":2}
EOF
# host-b: no minion field (the file name stands in), a released task, and a
# last line cut short by a crash.
cat >rep/host-b.jsonl <<'EOF'
{"uid":"x-1","generation":1,"start":2000,"end":2000.5,"duration":0.5,"param":"q","error":null,"status":"ok","task_id":"9","attempt":1,"exit_code":0}
{"uid":"x-2","generation":2,"start":2001,"end":2002,"duration":1,"param":"r","error":null,"status":"released","task_id":"10","attempt":1,"exit_code":null}
EOF
printf '%s' '{"uid":"x-3","generation":3,"start":2002,"end":20' >>rep/host-b.jsonl
echo 'not a report either' >rep/notes.txt

"$STATUS" --json --dir rep >out 2>err || t_fail "--json: $(cat err)"
[ "$(wc -l <out)" -eq 1 ] || t_fail "--json must print one line"
sed 's/"idle_ms":[0-9]*/"idle_ms":N/g' out >got
cat >want <<'EOF'
{"source":"json","totals":{"ok":4,"failed":1,"dead":1,"pending":null,"lag":null,"released":1,"mean_s":3.416667,"p95_s":10.000000,"malformed":1},"minions":[{"id":"host-a","ok":3,"failed":1,"dead":1,"pending":null,"idle_ms":N,"last_seen":1020.000,"released":0,"mean_s":4.000000,"p95_s":10.000000},{"id":"host-b","ok":1,"failed":0,"dead":0,"pending":null,"idle_ms":N,"last_seen":2002.000,"released":1,"mean_s":0.500000,"p95_s":0.500000}]}
EOF
cmp -s want got || { diff want got >&2; t_fail "--json figures"; }
# idle_ms is now - last_seen: these reports are decades old.
idle=$(sed 's/.*"id":"host-b"[^}]*"idle_ms":\([0-9]*\).*/\1/' out)
[ "$idle" -gt $(( ($(date +%s) - 2002 - 60) * 1000 )) ] ||
    t_fail "idle_ms $idle"
[ "$(wc -l <err)" -eq 1 ] || { cat err >&2; t_fail "warn once"; }
grep -q "warning: skipped 1 line .*rep/host-b.jsonl:3" err ||
    t_fail "malformed warning: $(cat err)"
t_ok "--json: exact counts, mean, p95, file-name fallback, one warning"

REPORTER_JSON_DIRECTORY=rep "$STATUS" >out 2>/dev/null ||
    t_fail "table from REPORTER_JSON_DIRECTORY"
header='^MINION +OK +FAILED +DEAD +MEAN\(s\) +P95\(s\) +LAST SEEN$'
head -n 1 out | grep -Eq "$header" ||
    t_fail "table header: $(head -n 1 out)"
grep -Eq '^host-a +3 +1 +1 +4\.000 +10\.000 ' out || t_fail "host-a row"
grep -Eq '^host-b +1 +0 +0 +0\.500 +0\.500 ' out || t_fail "host-b row"
grep -Eq '^TOTAL +4 +1 +1 +3\.417 +10\.000 ' out || t_fail "total row"
t_ok "table per minion and total"

mkdir minion-report
"$STATUS" --json >out 2>err || t_fail "empty default directory"
grep -q '"totals":{"ok":0,"failed":0,"dead":0,"pending":null,"lag":null' out ||
    t_fail "empty totals: $(cat out)"
grep -q '"minions":\[\]' out || t_fail "empty minions: $(cat out)"
[ -s err ] && t_fail "warnings on an empty directory: $(cat err)"
t_ok "an empty directory gives zeros"
