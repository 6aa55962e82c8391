#!/bin/bash
# SPDX-License-Identifier: MIT
# docker with MINION_DOCKER_REUSE=1: the same outputs as a container per
# task, from at most one container per slot (a file in a container's root
# marks it), with the environment and IO folders as usual; a warm container
# killed by a timeout is replaced for the next task; none is left at exit.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/docker_lib.sh"
t_init
d_need_callback
d_start
d_image

id="$D_TAG-reuse"
seq -f 'p%g' 12 >in
run() { # run OUT ARGS...: the minion over `in`, stdout to OUT
    local out=$1
    shift
    MINION_ID=$id MINION_DOCKER_IMAGE=$D_IMAGE timeout 120 "$MINIONIZE" -q \
        -c docker "$@" <in >"$out" 2>"$out.err"
}

# A container's own mark: a file in its root that only it has.
mark='[ -f /tmp/me ] || cat /proc/sys/kernel/random/uuid >/tmp/me'
cmd="$mark"'; echo "{} $MINION_ATTEMPT $MINION_ID"; echo "host $(cat /tmp/me)"'
run fresh -j3 sh -c "$cmd" || { cat fresh.err >&2; t_fail "fresh run"; }
run warm -j3 --set MINION_DOCKER_REUSE=1 sh -c "$cmd" ||
    { cat warm.err >&2; t_fail "warm run"; }
grep -v '^host ' fresh | sort >fresh.lines
grep -v '^host ' warm | sort >warm.lines
[ "$(wc -l <warm.lines)" -eq 12 ] || t_fail "warm: $(wc -l <warm.lines) lines"
cmp -s fresh.lines warm.lines ||
    { diff fresh.lines warm.lines >&2; t_fail "outputs differ"; }
t_ok "12 params: the same outputs as a container per task"
hosts=$(grep '^host ' warm | sort -u | wc -l)
[ "$hosts" -ge 1 ] && [ "$hosts" -le 3 ] ||
    t_fail "$hosts containers ran 12 tasks at -j3"
[ "$(grep '^host ' fresh | sort -u | wc -l)" -eq 12 ] ||
    t_fail "a container per task expected without reuse"
t_ok "12 tasks in $hosts warm containers"
d_count_is 0 "minionize.minion=$id" || t_fail "containers left: $(d_list_all)"
t_ok "no container left"

# IO folders: input.txt in /data, output.txt as the result; kept ones move
# to a folder of the task's own.
io=$T_DIR/iodir
MINION_DOCKER_IO_DIR=$io MINION_DOCKER_KEEP_IO=1 run io -j2 \
    --set MINION_DOCKER_REUSE=1 \
    sh -c 'cat input.txt >output.txt; echo " ok" >>output.txt' ||
    { cat io.err >&2; t_fail "io run"; }
sed 's/$/ ok/' in | sort >want
sort io >got
cmp -s want got || { diff want got >&2; t_fail "io results"; }
kept=$(find "$io" -path '*/task-*/output.txt' | wc -l)
[ "$kept" -eq 12 ] || t_fail "$kept kept task folders, not 12"
[ -z "$(find "$io" -path '*/slot-*/*')" ] || t_fail "slot folders not empty"
t_ok "IO folders: results from output.txt, 12 kept"

# A timeout kills the warm container; the next task gets a new one.
printf 'slow\nfast\n' >in
MINION_MAX_ATTEMPTS=1 MINION_TIMEOUT=1 run killed -j1 \
    --set MINION_DOCKER_REUSE=1 sh -c \
    '[ {} = slow ] && sleep 60; echo "done {} $(hostname)"'
rc=$?
[ "$rc" -eq 4 ] || { cat killed.err >&2; t_fail "timeout run exited $rc"; }
grep -q 'timed out' killed.err || t_fail "no timeout said"
grep -q '^done fast ' killed || { cat killed.err >&2; t_fail "no fast run"; }
t_ok "a killed warm container is replaced"
d_count_is 0 "minionize.minion=$id" || t_fail "containers left: $(d_list_all)"
t_ok "no container left after the timeout"
