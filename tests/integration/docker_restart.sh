#!/bin/bash
# SPDX-License-Identifier: MIT
# docker: the daemon is stopped (SIGTERM) in the middle of a run and started
# again 2 s later on the same data root. The minion does not crash; tasks in
# flight fail and are retried (MINION_MAX_ATTEMPTS=5), and at the end every
# param has exactly one ok run: none is lost. Always on a private dockerd.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/docker_lib.sh"
t_init
d_need_callback
d_start --own
d_image
CHECK="$top_builddir/tests/reporters/json_check"
[ -x "$CHECK" ] || t_fail "json_check not built: $CHECK"

id="$D_TAG-restart"
seq 30 >params
MINION_ID=$id MINION_DOCKER_IMAGE=$D_IMAGE MINION_FILE=params \
    MINION_FILE_STATE=st MINION_MAX_ATTEMPTS=5 REPORTER_JSON_DIRECTORY=rep \
    "$MINIONIZE" -r json -c docker -j4 sh -c 'sleep 2; echo done {}' \
    >out 2>err &
pid=$!
t_track "$pid"

oks() {
    cat rep/*.jsonl 2>/dev/null | grep -c '"status":"ok"'
}
oks_at_least() {
    [ "$(oks)" -ge "$1" ]
}
t_wait_until 60 oks_at_least 4 || t_fail "no progress: $(cat err)"
before=$(oks)
[ "$before" -lt 30 ] || t_fail "all done before the daemon stopped"
d_daemon_down
sleep 2
kill -0 "$pid" 2>/dev/null ||
    { tail -n 5 err >&2; t_fail "the minion ended while the daemon was down"; }
d_daemon_up
t_ok "daemon stopped after $before ok tasks, started again"

t_wait_until 180 sh -c "! kill -0 $pid 2>/dev/null" ||
    t_fail "the minion still runs 180 s after the restart"
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] || { tail -n 20 err >&2; t_fail "minionize exited $rc"; }
"$CHECK" rep/*.jsonl param status >got || t_fail "bad report"
awk -F'\t' '$2 == "ok" { print $1 }' got | sort -n >ok
cmp -s params ok ||
    { diff params ok >&2; t_fail "not exactly one ok run per param"; }
grep -v '	ok$' got | grep -qv '	failed$' &&
    { cat got >&2; t_fail "a run neither ok nor failed"; }
t_ok "30 params, one ok run each, $(grep -c '	failed$' got) failed runs retried"
grep -q 'is gone; making a new one' err ||
    t_fail "the shared network namespace was not made again: $(tail -n 5 err)"
t_ok "a new network namespace holder after the restart"
[ -z "$(ls st/journal 2>/dev/null)" ] || t_fail "journals left: $(ls st/journal)"
left=$(d_count "minionize.minion=$id")
echo "containers of the minion left after the restart: $left"
