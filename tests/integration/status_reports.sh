#!/bin/bash
# SPDX-License-Identifier: MIT
# minion-status over reports folders: a hand-made v2 folder whose every
# figure is known (a restart as a row of its own, released runs, errors,
# the charts), a v1 folder as older minionize versions wrote it, a folder
# made by real minions, and exit 2 without one. No jq or python: the JSON
# is compared as text, as minion-status prints it in a fixed order.
. "$top_srcdir/tests/integration/lib.sh"
t_init
unset REPORTER_JSON_DIRECTORY

# The --json line without what moves with the clock.
json() {
    "$STATUS" --json "$@" >out 2>err || t_fail "--json $*: $(cat err)"
    [ "$(wc -l <out)" -eq 1 ] || t_fail "--json must print one line"
    sed 's/"idle_ms":[0-9]*/"idle_ms":N/g; s/"now":[0-9.]*/"now":N/' out
}

# The minions of --json, one object a line.
minions() {
    sed 's/.*"minions":\[{//; s/}\],"errors":.*//; s/},{/\n/g' out
}

mkdir v2
# w1 runs 100..115 one task at a time, restarts at 112 (a new uid), and
# a stop released one task at 110. w2 runs two at a time around 102.
cat >v2/w1.jsonl <<'EOF'
{"uid":"aaaaaaaa-1111","minion":"w1","generation":1,"start":100,"end":101,"duration":1,"task_id":"1","attempt":1,"status":"ok","exit_code":0,"error":null,"param":"p1","output":"","atomic_actions":[{"name":"process","start":100,"end":101}],"nodename":"n1","oar_job_id":"77","signal":null,"maxrss_kb":10,"user_s":0.1,"sys_s":0}
{"uid":"aaaaaaaa-1111","minion":"w1","generation":2,"start":101,"end":103,"duration":2,"task_id":"2","attempt":1,"status":"ok","exit_code":0,"error":null,"param":"p2","output":"","atomic_actions":[],"nodename":"n1","oar_job_id":"77","signal":null,"maxrss_kb":null,"user_s":null,"sys_s":null}
{"uid":"aaaaaaaa-1111","minion":"w1","generation":3,"start":103,"end":106,"duration":3,"task_id":"3","attempt":1,"status":"failed","exit_code":1,"error":"exit status 1","param":"p3","output":"","atomic_actions":[],"nodename":"n1","oar_job_id":"77","signal":null,"maxrss_kb":null,"user_s":null,"sys_s":null}
{"uid":"aaaaaaaa-1111","minion":"w1","generation":4,"start":106,"end":110,"duration":4,"task_id":"3","attempt":2,"status":"ok","exit_code":0,"error":null,"param":"p3","output":"","atomic_actions":[],"nodename":"n1","oar_job_id":"77","signal":null,"maxrss_kb":null,"user_s":null,"sys_s":null}
{"uid":"aaaaaaaa-1111","minion":"w1","generation":5,"start":110,"end":112,"duration":2,"task_id":"4","attempt":1,"status":"released","exit_code":null,"error":"stopped","param":"p4","output":"","atomic_actions":[],"nodename":"n1","oar_job_id":"77","signal":15,"maxrss_kb":null,"user_s":null,"sys_s":null}
{"uid":"bbbbbbbb-2222","minion":"w1","generation":1,"start":112,"end":113,"duration":1,"task_id":"4","attempt":1,"status":"ok","exit_code":0,"error":null,"param":"p4","output":"","atomic_actions":[],"nodename":"n1","oar_job_id":"77","signal":null,"maxrss_kb":null,"user_s":null,"sys_s":null}
{"uid":"bbbbbbbb-2222","minion":"w1","generation":2,"start":113,"end":115,"duration":2,"task_id":"5","attempt":3,"status":"dead","exit_code":1,"error":"exit status 1","param":"p5","output":"","atomic_actions":[],"nodename":"n1","oar_job_id":"77","signal":null,"maxrss_kb":null,"user_s":null,"sys_s":null}
EOF
cat >v2/w2.jsonl <<'EOF'
{"uid":"cccccccc-3333","minion":"w2","generation":1,"start":100,"end":100.5,"duration":0.5,"task_id":"6","attempt":1,"status":"ok","exit_code":0,"error":null,"param":"p6","output":"","atomic_actions":[],"nodename":"n2","slurm_job_id":"900","slurm_array_task_id":"4","signal":null,"maxrss_kb":null,"user_s":null,"sys_s":null}
{"uid":"cccccccc-3333","minion":"w2","generation":2,"start":100.5,"end":102.5,"duration":2,"task_id":"7","attempt":1,"status":"ok","exit_code":0,"error":null,"param":"p7","output":"","atomic_actions":[],"nodename":"n2","slurm_job_id":"900","slurm_array_task_id":"4","signal":null,"maxrss_kb":null,"user_s":null,"sys_s":null}
{"uid":"cccccccc-3333","minion":"w2","generation":3,"start":102,"end":104,"duration":2,"task_id":"8","attempt":1,"status":"failed","exit_code":null,"error":"timeout","param":"p8","output":"","atomic_actions":[],"nodename":"n2","slurm_job_id":"900","slurm_array_task_id":"4","signal":9,"maxrss_kb":null,"user_s":null,"sys_s":null}
{"uid":"cccccccc-3333","minion":"w2","generation":4,"start":104,"end":120,"duration":16,"task_id":"8","attempt":2,"status":"ok","exit_code":0,"error":null,"param":"p8","output":"","atomic_actions":[],"nodename":"n2","slurm_job_id":"900","slurm_array_task_id":"4","signal":null,"maxrss_kb":null,"user_s":null,"sys_s":null}
EOF
# Worked by hand. Durations (end - start) of finished runs: w1 first run
# 1 2 3 4, w1 restart 1 2, w2 0.5 2 2 16; p50 and p95 by nearest rank.
# Rates at the newest end, 120: a minion's minute starts when it did.
# The charts have 1 s steps over 100..120: runs ended per step, and the
# mean number running in it (the released run included).
cat >want <<'EOF'
{"source":"json","where":"v2","now":N,"totals":{"ok":7,"failed":2,"dead":1,"pending":null,"lag":null,"in_flight":null,"stream_length":null,"added":null,"dead_letters":null,"percent":null,"eta_s":null,"p50_s":2,"mean_s":3.35,"p95_s":16,"rate_1m":0.5,"rate_all":0.5,"started":100,"malformed":0},"minions":[{"id":"w1","uid":"aaaaaaaa-1111","nodename":"n1","oar_job_id":"77","slurm_job_id":null,"slurm_array_task_id":null,"ok":3,"failed":1,"dead":0,"pending":null,"in_flight":null,"idle_ms":N,"last_seen":112,"p50_s":2,"mean_s":2.5,"p95_s":4,"rate_1m":0.2,"rate_all":0.333333,"started":100,"probably_dead":false},{"id":"w1","uid":"bbbbbbbb-2222","nodename":"n1","oar_job_id":"77","slurm_job_id":null,"slurm_array_task_id":null,"ok":1,"failed":0,"dead":1,"pending":null,"in_flight":null,"idle_ms":N,"last_seen":115,"p50_s":1,"mean_s":1.5,"p95_s":2,"rate_1m":0.25,"rate_all":0.666667,"started":112,"probably_dead":false},{"id":"w2","uid":"cccccccc-3333","nodename":"n2","oar_job_id":null,"slurm_job_id":"900","slurm_array_task_id":"4","ok":3,"failed":1,"dead":0,"pending":null,"in_flight":null,"idle_ms":N,"last_seen":120,"p50_s":2,"mean_s":5.125,"p95_s":16,"rate_1m":0.2,"rate_all":0.2,"started":100,"probably_dead":false}],"errors":[{"text":"exit status 1","count":2,"last":115},{"text":"timeout","count":1,"last":104}],"series":{"rate":{"step":1,"end":121,"values":[1,1,1,1,1,0,1,0,0,0,1,0,0,1,0,1,0,0,0,0,1]},"in_flight":{"step":1,"end":121,"values":[2,2,2.5,2,2,2,2,2,2,2,2,2,2,2,2,1,1,1,1,1,0]}}}
EOF
json --dir v2 >got
cmp -s want got || { diff want got >&2; t_fail "v2 --json figures"; }
[ -s err ] && t_fail "warnings on a clean folder: $(cat err)"
t_ok "v2: every --json figure, a restart as its own row, released runs"

"$STATUS" --dir v2 >table 2>err || t_fail "table: $(cat err)"
grep -Eq '^MINION +RUN +NODE +JOB +OK +FAILED +DEAD +P50 +MEAN +P95 +RATE/S +LAST SEEN$' table ||
    t_fail "header: $(cat table)"
grep -Eq '^w1 +aaaaaaaa +n1 +77 +3 +1 +0 +2\.00s +2\.50s +4\.00s +0\.20 +[0-9]+d ago$' table ||
    t_fail "w1 row: $(cat table)"
grep -Eq '^w1 +bbbbbbbb +n1 +77 +1 +0 +1 ' table || t_fail "w1 restart row"
grep -Eq '^w2 +cccccccc +n2 +900_4 +3 +1 +0 +2\.00s +5\.12s +16\.0s ' table ||
    t_fail "w2 row: $(cat table)"
grep -Eq '^ +2  [0-9]+d ago +exit status 1$' table || t_fail "errors: $(cat table)"
awk 'length > 80 { exit 1 }' table || t_fail "wider than 80 columns: $(cat table)"
t_ok "v2 table: short uids, nodes, job ids, errors, 80 columns"

# Appended since: only the new line is read, and it counts.
echo '{"uid":"cccccccc-3333","minion":"w2","generation":5,"start":120,"end":121,"status":"dead","error":"timeout"}' >>v2/w2.jsonl
json --dir v2 >/dev/null
grep -q '"totals":{"ok":7,"failed":2,"dead":2,' out || t_fail "appended: $(cat out)"
# As frequent as "exit status 1" now, and later: first.
grep -q '"errors":\[{"text":"timeout","count":2,"last":121},{"text":"exit status 1","count":2,"last":115}\]' out ||
    t_fail "appended errors: $(cat out)"
t_ok "a line appended counts"

# v1: uid is "<minion>-<generation>", one per task: one row per minion,
# uid null. No minion field in the oldest: the file name stands in.
mkdir v1
cat >v1/old-a.jsonl <<'EOF'
{"uid":"old-a-1","minion":"old-a","generation":1,"start":50,"end":52,"duration":2,"param":"x","error":null,"status":"ok","task_id":"1","attempt":1,"exit_code":0,"atomic_actions":[],"nodename":"h"}
{"uid":"old-a-2","minion":"old-a","generation":2,"start":52,"end":56,"duration":4,"param":"y","error":"exit status 3","status":"failed","task_id":"2","attempt":1,"exit_code":3,"atomic_actions":[],"nodename":"h"}
{"uid":"old-a-3","minion":"old-a","generation":3,"start":56,"end":57,"duration":1,"param":"y","error":null,"status":"ok","task_id":"2","attempt":2,"exit_code":0,"atomic_actions":[],"nodename":"h"}
EOF
cat >v1/old-b.jsonl <<'EOF'
{"uid":"old-b-1","generation":1,"start":50,"end":60,"param":"z","error":null,"status":"ok"}
EOF
json --dir v1 >/dev/null
minions >rows
[ "$(wc -l <rows)" -eq 2 ] || t_fail "v1: two rows: $(cat rows)"
grep -q '^"id":"old-a","uid":null,"nodename":"h",.*"ok":2,"failed":1,"dead":0,.*"p50_s":2,"mean_s":2.333333,"p95_s":4,' rows ||
    t_fail "v1 old-a: $(cat rows)"
grep -q '^"id":"old-b","uid":null,.*"ok":1,.*"last_seen":60,' rows ||
    t_fail "v1 old-b: $(cat rows)"
grep -q '"totals":{"ok":3,"failed":1,"dead":0,' out || t_fail "v1 totals"
t_ok "v1 records: one row per minion, no uid"

# Real minions: m1 runs 5 params with /bin/true, twice (a restart), m2
# fails 2 params with 2 attempts each. Whether the reporter writes v1 or
# v2 records, the sums per MINION_ID are the same.
seq 5 >params
for run in 1 2; do
    MINION_ID=m1 REPORTER_JSON_DIRECTORY=real timeout 30 \
        "$MINIONIZE" -q -r json -a params /bin/true ||
        t_fail "m1 run $run"
done
seq 2 >bad
MINION_ID=m2 MINION_MAX_ATTEMPTS=2 REPORTER_JSON_DIRECTORY=real timeout 30 \
    "$MINIONIZE" -q -r json -a bad sh -c 'exit 1' 2>/dev/null
[ $? -eq 4 ] || t_fail "m2: dead params exit 4"
REPORTER_JSON_DIRECTORY=real json >/dev/null
grep -q '"source":"json","where":"real",' out || t_fail "where: $(cat out)"
grep -q '"totals":{"ok":10,"failed":2,"dead":2,' out || t_fail "totals: $(cat out)"
minions >rows
sum() { # sum FIELD ID: the FIELD of the rows of minion ID, added up
    grep "^\"id\":\"$2\"," rows |
        sed "s/.*\"$1\":\\([0-9]*\\).*/\\1/" | awk '{ s += $1 } END { print s + 0 }'
}
[ "$(sum ok m1)" -eq 10 ] && [ "$(sum failed m1)" -eq 0 ] ||
    t_fail "m1: $(cat rows)"
[ "$(sum ok m2)" -eq 0 ] && [ "$(sum failed m2)" -eq 2 ] &&
    [ "$(sum dead m2)" -eq 2 ] || t_fail "m2: $(cat rows)"
grep -q '"errors":\[{"text":"[^"]*","count":4,' out || t_fail "errors: $(cat out)"
grep -q '"series":{"rate":{"step":1,' out || t_fail "series: $(cat out)"
[ -s err ] && t_fail "warnings: $(cat err)"
t_ok "two real minions and a restart: counts per minion id"

t_expect_exit 2 "$STATUS" --dir nowhere --json >out 2>err
[ "$(wc -l <err)" -eq 1 ] || t_fail "not one line: $(cat err)"
grep -q "^minion-status: no reports directory 'nowhere'" err ||
    t_fail "missing folder: $(cat err)"
[ -s out ] && t_fail "output despite the error"
t_ok "a missing folder exits 2 with one line"
