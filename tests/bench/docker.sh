#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench, docker part: 200 tasks of a `true` container at -j4 through
# the docker callback (its default network, one namespace shared by the
# minion's containers, and MINION_DOCKER_NETWORK=isolated, one each as the
# CLI's --network none), with warm containers (MINION_DOCKER_REUSE=1), and
# the hand-written way (xargs -P4 -n1 docker run --rm IMAGE true), as ratios;
# and the minion's RSS while 4 containers run. Targets: fresh containers at
# least 1.2x the CLI loop, warm ones at least 3x fresh ones. Needs a
# docker daemon (DOCKER_HOST or /var/run/docker.sock) and Debian's
# busybox-static for the tiny image.
set -u
. "$(dirname "$0")/lib.sh"

: "${DOCKER_HOST:=unix:///var/run/docker.sock}"
export DOCKER_HOST
sock=${DOCKER_HOST#unix://}
if ! curl -sf --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; then
    echo "docker: no daemon answers at $DOCKER_HOST, skipped"
    exit 0
fi
docker=$(command -v /usr/bin/docker docker | head -n1)
dir=$(mktemp -d "${TMPDIR:-/tmp}/minionize-bench-docker.XXXXXX")
trap 'rm -rf "$dir"' EXIT
image=minion-bench:bb
if ! "$docker" image inspect "$image" >/dev/null 2>&1; then
    mkdir -p "$dir/img/bin"
    cp /bin/busybox "$dir/img/bin/" || exit 1
    for c in sh true sleep echo; do ln -s busybox "$dir/img/bin/$c"; done
    tar -C "$dir/img" -c . | "$docker" import - "$image" >/dev/null || exit 1
fi
N=200
seq $N >"$dir/params"

echo "== docker: $N tasks of a true container, 4 at once, median of 3"
cli() {
    xargs -a "$dir/params" -P4 -n1 sh -c \
        "exec $docker run --rm --network none $image true" sh
}
fresh() {
    "$MINIONIZE" -q -j4 -c docker -a "$dir/params" \
        --set MINION_DOCKER_IMAGE="$image" true
}
isolated() {
    "$MINIONIZE" -q -j4 -c docker -a "$dir/params" \
        --set MINION_DOCKER_IMAGE="$image" \
        --set MINION_DOCKER_NETWORK=isolated true
}
warm() {
    "$MINIONIZE" -q -j4 -c docker -a "$dir/params" \
        --set MINION_DOCKER_IMAGE="$image" --set MINION_DOCKER_REUSE=1 true
}
t_cli=(); t_fresh=(); t_iso=(); t_warm=()
for ((i = 0; i < 3; i++)); do
    t_cli+=("$(seconds cli)") || exit 1
    t_fresh+=("$(seconds fresh)") || exit 1
    t_iso+=("$(seconds isolated)") || exit 1
    t_warm+=("$(seconds warm)") || exit 1
done
tc=$(median_of "${t_cli[@]}")
tf=$(median_of "${t_fresh[@]}")
ti=$(median_of "${t_iso[@]}")
tw=$(median_of "${t_warm[@]}")
echo "xargs -P4 docker run --rm:  $(rate $N "$tc") tasks/s"
echo "minionize -c docker -j4:    $(rate $N "$tf") tasks/s"
echo "  with NETWORK=isolated:   $(rate $N "$ti") tasks/s"
echo "  with MINION_DOCKER_REUSE: $(rate $N "$tw") tasks/s"
echo "ratio docker callback/CLI:  $(ratio "$tc" "$tf") (target >= 1.2)"
echo "ratio isolated/CLI:         $(ratio "$tc" "$ti")"
echo "ratio reuse/fresh:          $(ratio "$tf" "$tw") (target >= 3)"

echo "== docker: the minion's RSS while 4 containers run"
seq 8 >"$dir/slow"
"$MINIONIZE" -q -j4 -c docker -a "$dir/slow" \
    --set MINION_DOCKER_IMAGE="$image" sleep 3 &
pid=$!
sleep 2
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
echo "minion RSS with 4 containers: ${rss:-?} KiB"
wait "$pid"
