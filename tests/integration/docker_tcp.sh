#!/bin/bash
# SPDX-License-Identifier: MIT
# docker over DOCKER_HOST=tcp://127.0.0.1:PORT (a private dockerd listening
# on a loopback port too): containers per task and warm ones (whose exec
# streams are hijacked connections) give the same outputs as over the unix
# socket, and nothing is left.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/docker_lib.sh"
t_init
d_need_callback
D_TCP_PORT=$(t_free_port)
d_start --own
d_image
unix=$DOCKER_HOST
tcp="tcp://127.0.0.1:$D_TCP_PORT"
t_wait_until 10 curl -sf "http://127.0.0.1:$D_TCP_PORT/_ping" -o /dev/null ||
    t_fail "dockerd does not answer on $tcp"

id="$D_TAG-tcp"
seq -f 'p%g' 6 >in
cmd='echo "{} $MINION_ATTEMPT"; echo "err {}" >&2'
for mode in fresh warm; do
    reuse=0
    [ $mode = warm ] && reuse=1
    DOCKER_HOST=$tcp MINION_ID=$id MINION_DOCKER_IMAGE=$D_IMAGE \
        MINION_DOCKER_REUSE=$reuse timeout 120 "$MINIONIZE" -q -c docker -j3 \
        sh -c "$cmd" <in >$mode 2>$mode.err ||
        { cat $mode.err >&2; t_fail "$mode run over $tcp"; }
    sort $mode >got
    sed 's/$/ 1/' in | sort >want
    cmp -s want got || { diff want got >&2; t_fail "$mode: outputs differ"; }
    [ "$(grep -c '^err p' $mode.err)" -eq 6 ] || t_fail "$mode: stderr lines"
    t_ok "$mode containers over tcp: 6 outputs, 6 stderr lines"
done
DOCKER_HOST=$unix d_count_is 0 "minionize.minion=$id" ||
    t_fail "containers left: $(d_list_all)"
t_ok "no container left"
