#!/bin/bash
# SPDX-License-Identifier: MIT
# docker: a container exiting 3 is a failure with exit_code 3, retried up to
# MINION_MAX_ATTEMPTS (MINION_ATTEMPT counting up), then dead: minionize
# exits 4. The others succeed, and every container is removed.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/docker_lib.sh"
t_init
d_need_callback
d_start
d_image
CHECK="$top_builddir/tests/reporters/json_check"
[ -x "$CHECK" ] || t_fail "json_check not built: $CHECK"

printf '%s\n' bad good >in
MINION_ID="$D_TAG-fail" MINION_DOCKER_IMAGE=$D_IMAGE MINION_MAX_ATTEMPTS=2 \
    REPORTER_JSON_DIRECTORY=rep timeout 60 "$MINIONIZE" -q -r json -c docker \
    sh -c 'echo "$1 attempt $MINION_ATTEMPT"; [ "$1" = good ] || exit 3' sh \
    <in >out 2>err
rc=$?
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "minionize exited $rc"; }
"$CHECK" rep/*.jsonl param status attempt exit_code >got || t_fail "report"
printf '%s\n' 'bad	failed	1	3' 'bad	dead	2	3' 'good	ok	1	0' |
    sort >want
sort got | cmp -s want - || { cat got >&2; t_fail "runs and statuses"; }
printf '%s\n' 'bad attempt 1' 'bad attempt 2' 'good attempt 1' | sort >want
sort out | cmp -s want - || { cat out >&2; t_fail "stdout"; }
t_ok "exit 3: failed, retried, dead; exit 4"
[ "$(d_count "minionize.minion=$D_TAG-fail")" -eq 0 ] ||
    t_fail "containers left: $(d_list_all)"
t_ok "failed containers removed too"

# Over MINION_DOCKER_MEMORY: killed (137), and the error says why.
echo big >in
MINION_ID="$D_TAG-fail" MINION_DOCKER_IMAGE=$D_IMAGE MINION_MAX_ATTEMPTS=1 \
    MINION_DOCKER_MEMORY=8M timeout 60 "$MINIONIZE" -q -c docker \
    sh -c 'x=$(head -c 40000000 /dev/zero | tr "\0" a); echo ${#x}' \
    <in >out 2>err
rc=$?
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "OOM run exited $rc"; }
grep -q 'exit status 137: killed for want of memory' err ||
    { cat err >&2; t_fail "the OOM kill is not said"; }
t_ok "an OOM kill says so"
