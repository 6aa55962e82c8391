#!/bin/bash
# SPDX-License-Identifier: MIT
# docker: start-up failures exit 2 with one line on stderr, before any param
# is taken: a daemon that does not answer (unix socket or tcp port), an image
# that is not there, no MINION_DOCKER_IMAGE. The params stay for the next
# minion (checked through MINION_FILE_STATE: a later run does them all).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/docker_lib.sh"
t_init
d_need_callback
d_start
d_image

seq 5 >params
export MINION_FILE=params MINION_FILE_STATE=st MINION_ID="$D_TAG-st"

# start_fails WHAT WORD ENV...: exit 2, one line on stderr holding WORD.
start_fails() {
    local what=$1 word=$2 rc
    shift 2
    env "$@" timeout 30 "$MINIONIZE" -c docker sh -c 'echo ran' >out 2>err
    rc=$?
    [ "$rc" -eq 2 ] || { cat err >&2; t_fail "$what: exit $rc, not 2"; }
    [ "$(wc -l <err)" -eq 1 ] || { cat err >&2; t_fail "$what: not one line"; }
    grep -qF -- "$word" err || { cat err >&2; t_fail "$what: no '$word'"; }
    [ ! -s out ] || t_fail "$what: a task ran: $(cat out)"
    t_ok "$what: $(cat err)"
}

start_fails "a missing socket" "$T_DIR/nope.sock" \
    DOCKER_HOST="unix://$T_DIR/nope.sock" MINION_DOCKER_IMAGE=$D_IMAGE
port=$(t_free_port) || t_fail "no free port"
start_fails "a closed tcp port" "$port" \
    DOCKER_HOST="tcp://127.0.0.1:$port" MINION_DOCKER_IMAGE=$D_IMAGE
start_fails "a missing image" minion-test:nope \
    MINION_DOCKER_IMAGE=minion-test:nope
start_fails "no image" MINION_DOCKER_IMAGE MINION_DOCKER_IMAGE=
(unset MINION_DOCKER_IMAGE; start_fails "no image set" MINION_DOCKER_IMAGE) ||
    exit 1
[ "$(d_count "minionize.minion=$D_TAG-st")" -eq 0 ] ||
    t_fail "containers created: $(d_list_all)"

# A setting the daemon refuses only at the first create (more CPUs than
# the host has): exit 2 too, and no param is charged or dead.
env MINION_DOCKER_IMAGE=$D_IMAGE MINION_DOCKER_CPUS=512 MINION_MAX_ATTEMPTS=1 \
    timeout 30 "$MINIONIZE" -c docker sh -c 'echo ran' >out 2>err
rc=$?
[ "$rc" -eq 2 ] || { cat err >&2; t_fail "refused create: exit $rc, not 2"; }
grep -q 'create: docker: .*(HTTP 400)' err ||
    { cat err >&2; t_fail "refused create: the daemon's reason not said"; }
grep -q ' dead ' err && { cat err >&2; t_fail "refused create: a param dead"; }
[ ! -s out ] || t_fail "refused create: a task ran: $(cat out)"
t_ok "a create the daemon refuses: exit 2, nothing dead"

timeout 60 "$MINIONIZE" -q -c process echo >out 2>err ||
    { cat err >&2; t_fail "the later run failed"; }
sort -n out | cmp -s params - ||
    { cat out >&2; t_fail "params were consumed by the failed starts"; }
t_ok "nothing consumed"
