#!/bin/bash
# SPDX-License-Identifier: MIT
# docker: 20 params through -j4, one container each: stdout passed through
# in whole lines (a line written in two pieces stays whole), stderr on
# stderr, exit 0, and no container of the minion left afterwards.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/docker_lib.sh"
t_init
d_need_callback
d_start
d_image

id="$D_TAG-basic"
seq -f 'p%g' 20 >in
MINION_ID=$id MINION_DOCKER_IMAGE=$D_IMAGE timeout 120 "$MINIONIZE" -q \
    -c docker -j4 sh -c 'echo out {}; printf "half {} "; sleep 0.2;
        echo "and rest"; echo err {} >&2' <in >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize exited $rc"; }

{
    sed 's/.*/out &/' in
    sed 's/.*/half & and rest/' in
} | sort >want
sort out >got
cmp -s want got || { diff want got >&2; t_fail "stdout lines differ"; }
t_ok "40 stdout lines, each whole"

grep -x 'err p[0-9]*' err | sort >got-err
sed 's/.*/err &/' in | sort >want-err
cmp -s want-err got-err ||
    { diff want-err got-err >&2; t_fail "stderr lines differ"; }
grep -q '^out \|^half ' err && t_fail "stdout lines on stderr"
t_ok "20 stderr lines on stderr"

n=$(d_count "minionize.minion=$id")
[ "$n" -eq 0 ] || t_fail "$n containers of $id left: $(d_list_all)"
t_ok "no container left"
