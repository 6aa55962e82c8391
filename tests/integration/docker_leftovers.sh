#!/bin/bash
# SPDX-License-Identifier: MIT
# docker: at start a minion removes the containers labelled with its own
# MINION_ID (created or running leftovers of an earlier run), even with no
# param to run, and never another minion's or unlabelled ones.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/docker_lib.sh"
t_init
d_need_callback
d_start
d_image

me="$D_TAG-m1"
other="$D_TAG-m2"
mine1=$(d_create "minionize.minion=$me" minionize.task=7 -- sleep 100)
mine2=$(d_create "minionize.minion=$me" -- sleep 100)
theirs=$(d_create "minionize.minion=$other" minionize.task=7 -- sleep 100)
prefix=$(d_create "minionize.minion=$me-x" -- sleep 100)
plain=$(d_create -- sleep 100)
[ -n "$mine1" ] && [ -n "$mine2" ] && [ -n "$theirs" ] && [ -n "$prefix" ] &&
    [ -n "$plain" ] || t_fail "could not create the containers"
for c in "$mine1" "$theirs" "$prefix"; do
    d_start_container "$c" || t_fail "could not start $c"
done
[ "$(d_state "$mine1")" = running ] || t_fail "leftover not running"

# No param: the clean-up is done at start, not per task.
MINION_ID=$me MINION_DOCKER_IMAGE=$D_IMAGE timeout 60 "$MINIONIZE" -q \
    -c docker sh -c 'echo ran' </dev/null >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize exited $rc"; }
[ "$(d_count "minionize.minion=$me")" -eq 0 ] ||
    t_fail "own leftovers not removed: $(d_list_all)"
[ -z "$(d_state "$mine1")" ] && [ -z "$(d_state "$mine2")" ] ||
    t_fail "own leftovers still there"
t_ok "the running and the created leftover of $me are removed"
[ "$(d_state "$theirs")" = running ] || t_fail "another minion's container touched"
[ "$(d_state "$prefix")" = running ] || t_fail "$me-x's container touched"
[ "$(d_state "$plain")" = created ] || t_fail "an unlabelled container touched"
t_ok "another minion's (and $me-x's) and unlabelled containers kept"

# With a param too: the leftover goes, the task runs.
mine3=$(d_create "minionize.minion=$me" -- sleep 100)
echo p >in
MINION_ID=$me MINION_DOCKER_IMAGE=$D_IMAGE timeout 60 "$MINIONIZE" -q \
    -c docker sh -c 'echo ran' <in >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize with a param exited $rc"; }
[ "$(cat out)" = ran ] || t_fail "task output: $(cat out)"
[ -z "$(d_state "$mine3")" ] || t_fail "leftover kept when a task runs"
[ "$(d_count "minionize.minion=$me")" -eq 0 ] || t_fail "containers left"
[ "$(d_state "$theirs")" = running ] || t_fail "another minion's container touched"
t_ok "leftover removed, then the task ran"
