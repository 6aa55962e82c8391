#!/bin/bash
# SPDX-License-Identifier: MIT
# docker, MINION_DOCKER_NETWORK: with none (the default) the task
# containers of a minion share one namespace that has only a loopback;
# with isolated each has its own. A holder killed mid-run is replaced, its
# tasks are tried again uncharged, and nothing is left at exit. An image
# without `sleep` cannot hold the namespace: each container gets its own.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/docker_lib.sh"
t_init
d_need_callback
d_start
d_image

id="$D_TAG-net"
seq -f 'p%g' 8 >in
run() { # run OUT ARGS...: the minion over `in`, stdout to OUT
    local out=$1
    shift
    MINION_ID=$id MINION_DOCKER_IMAGE=${IMAGE:-$D_IMAGE} timeout 120 \
        "$MINIONIZE" -c docker -j4 "$@" <in >"$out" 2>"$out.err"
}
netns='echo "ns $(readlink /proc/self/ns/net)"; ls /sys/class/net'

run shared sh -c "$netns" || { cat shared.err >&2; t_fail "none run"; }
[ "$(grep -c '^ns ' shared)" -eq 8 ] || t_fail "8 runs expected: $(cat shared)"
[ "$(grep '^ns ' shared | sort -u | wc -l)" -eq 1 ] ||
    t_fail "none: not one shared namespace: $(grep '^ns ' shared | sort -u)"
[ "$(grep -v '^ns ' shared | sort -u)" = lo ] ||
    t_fail "none: interfaces other than lo: $(grep -v '^ns ' shared | sort -u)"
t_ok "none: 8 containers in one namespace with only lo"

run own --set MINION_DOCKER_NETWORK=isolated sh -c "$netns; sleep 0.5" ||
    { cat own.err >&2; t_fail "isolated run"; }
[ "$(grep -v '^ns ' own | sort -u)" = lo ] ||
    t_fail "isolated: interfaces other than lo"
# At -j4 with a sleep, 4 run at once: 4 namespaces alive together.
[ "$(grep '^ns ' own | sort -u | wc -l)" -ge 4 ] ||
    t_fail "isolated: shared namespaces: $(grep '^ns ' own | sort | uniq -c)"
t_ok "isolated: a namespace per container"
d_count_is 0 "minionize.minion=$id" || t_fail "containers left: $(d_list_all)"
t_ok "no holder left"

# The holder killed while tasks run: none is charged, none is lost.
seq -f 'k%g' 40 >in
run killed sh -c 'sleep 0.3; echo "{} $MINION_ATTEMPT"' &
pid=$!
t_wait_until 30 d_count_is 1 "minionize.minion=$id" minionize.role=network ||
    t_fail "no holder appeared"
sleep 1
holder=$(d_labelled "minionize.minion=$id" minionize.role=network)
d_api POST "/containers/$holder/kill" >/dev/null || t_fail "kill the holder"
wait "$pid" || { cat killed.err >&2; t_fail "minion exited non-zero"; }
sort killed >got
sed 's/$/ 1/' in | sort >want
cmp -s want got || { diff want got >&2; t_fail "runs differ"; }
grep -q 'holder .* is gone; making a new one' killed.err ||
    t_fail "no word of the lost holder: $(cat killed.err)"
t_ok "holder killed: 40 params ran once, each at attempt 1"
d_count_is 0 "minionize.minion=$id" || t_fail "containers left: $(d_list_all)"
t_ok "no container left"

# An image that has no sleep.
root=$T_DIR/nosleep
mkdir -p "$root/bin" && cp /bin/busybox "$root/bin/" || exit 99
ln -s busybox "$root/bin/sh" && ln -s busybox "$root/bin/echo" || exit 99
tar -C "$root" -cf nosleep.tar . || exit 99
d_api POST "/images/create?fromSrc=-&repo=minion-test&tag=nosleep&changes=$(d_urlencode 'ENV PATH=/bin')" \
    -H 'Content-Type: application/x-tar' --data-binary @nosleep.tar \
    -o /dev/null || t_fail "image import failed"
seq -f 'n%g' 3 >in
IMAGE=minion-test:nosleep run plain echo {} ||
    { cat plain.err >&2; t_fail "run with an image without sleep"; }
[ "$(sort plain | tr '\n' ' ')" = "n1 n2 n3 " ] || t_fail "outputs: $(cat plain)"
grep -q 'no shared namespace' plain.err || t_fail "no word of the fallback"
t_ok "image without sleep: a namespace per container, one info line"
d_api DELETE /images/minion-test:nosleep >/dev/null
