#!/bin/bash
# SPDX-License-Identifier: MIT
# docker: the container's command and environment follow the process
# callback's rules (the same output for the same params): MINION_PARAM,
# MINION_TASK_ID, MINION_ATTEMPT, MINION_ID; {} and {name} placeholders, else
# the param as the last argument. Without PROGRAM, the image's own CMD runs
# with MINION_PARAM; an image without one is a clear error.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/docker_lib.sh"
t_init
d_need_callback
d_start
d_image
export LC_ALL=C

# same_as_process NAME ARGS...: run the params of NAME.in with -c docker
# and -c process, and compare their (sorted) stdout.
same_as_process() {
    local name=$1 cb rc
    shift
    for cb in docker process; do
        # The image only for docker: with it in the environment the process
        # run also loads docker.so (to know the setting's name), and under
        # LeakSanitizer its tracer then crashes at exit (not a leak).
        local image=()
        [ "$cb" = docker ] && image=(--set "MINION_DOCKER_IMAGE=$D_IMAGE")
        MINION_ID="$D_TAG-env" timeout 60 "$MINIONIZE" -q -c "$cb" -j2 \
            "${image[@]}" "$@" <"$name.in" >"$name.$cb" 2>"$name.$cb.err"
        rc=$?
        [ "$rc" -eq 0 ] ||
            { cat "$name.$cb.err" >&2; t_fail "$name: -c $cb exited $rc"; }
        sort -o "$name.$cb" "$name.$cb"
    done
    [ -s "$name.process" ] || t_fail "$name: no output"
    cmp -s "$name.process" "$name.docker" ||
        { diff "$name.process" "$name.docker" >&2; t_fail "$name differs"; }
}

printf '%s\n' plain 'two  words' 'q"u$x\`ote' "it's" '--flag' >env.in
same_as_process env sh -c \
    'echo "$MINION_PARAM|$MINION_TASK_ID|$MINION_ATTEMPT|$MINION_ID|$#|$0"'
grep -qx "two  words|2|1|$D_TAG-env|0|two  words" env.docker ||
    { cat env.docker >&2; t_fail "environment"; }
t_ok "MINION_PARAM, MINION_TASK_ID, MINION_ATTEMPT, MINION_ID; param last"

printf '%s\n' a 'b c' >ph.in
same_as_process ph echo 'x{}y' '{}' 'z'
grep -qx 'xb cy b c z' ph.docker || { cat ph.docker >&2; t_fail "{}"; }
printf '%s\n' '{"n":1,"s":"x y"}' '{"n":2.5,"s":"q"}' >json.in
same_as_process json --set MINION_DECODER=json echo '{s}-{n}'
grep -qx 'x y-1' json.docker || { cat json.docker >&2; t_fail "{name}"; }
t_ok "{} and {name} placeholders"

printf '%s\n' one 'two three' >cmd.in
d_image minion-test:cmd '["sh","-c","echo p=$MINION_PARAM args=$#"]'
MINION_ID="$D_TAG-env" MINION_DOCKER_IMAGE=minion-test:cmd timeout 60 \
    "$MINIONIZE" -q -c docker <cmd.in >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "image CMD: exited $rc"; }
printf '%s\n' 'p=one args=0' 'p=two three args=0' >want
cmp -s want out || { diff want out >&2; t_fail "image CMD output"; }
t_ok "no PROGRAM: the image's CMD with MINION_PARAM"

# No PROGRAM and no CMD in the image: an error that says so.
MINION_ID="$D_TAG-env" MINION_DOCKER_IMAGE=$D_IMAGE MINION_MAX_ATTEMPTS=1 \
    REPORTER_JSON_DIRECTORY=rep timeout 60 "$MINIONIZE" -r json -c docker \
    <cmd.in >out 2>err
rc=$?
[ "$rc" -ne 0 ] || t_fail "no PROGRAM, no CMD: exit 0"
cat err rep/*.jsonl 2>/dev/null | grep -qi 'cmd\|command' ||
    { cat err >&2; t_fail "no PROGRAM, no CMD: unclear error"; }
t_ok "no PROGRAM, no CMD: exit $rc: $(grep -i 'cmd\|command' err | head -n 1)"
[ "$(d_count "minionize.minion=$D_TAG-env")" -eq 0 ] ||
    t_fail "containers left: $(d_list_all)"
