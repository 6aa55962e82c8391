# SPDX-License-Identifier: MIT
# Helpers of the docker callback's integration tests. Source after lib.sh,
# then call t_init and d_start. The daemon at $DOCKER_HOST (default
# /var/run/docker.sock) is used when it answers; otherwise the test starts
# its own dockerd in a mktemp -d folder and stops it by PID at exit. Images
# cannot be pulled: d_image imports a tiny busybox image. The daemon is
# spoken to with curl (no docker CLI, whose version may not match).

D_API=v1.41
D_IMAGE=minion-test:bb
D_DIR=""
D_PID=""
D_DOCKERD=""
# Minion ids of this test: unique, so a shared daemon is safe.
D_TAG="mt$$"

# d_api METHOD PATH [curl args...]: one Engine API request, body on stdout.
d_api() {
    local method=$1 path=$2 base
    shift 2
    case ${DOCKER_HOST:-} in
    unix://*)
        set -- --unix-socket "${DOCKER_HOST#unix://}" "$@"
        base=http://localhost
        ;;
    tcp://*) base="http://${DOCKER_HOST#tcp://}" ;;
    *) return 1 ;;
    esac
    curl -sS --max-time "${D_CURL_TIME:-120}" -X "$method" "$@" \
        "$base/$D_API$path"
}

d_ping() {
    [ "$(D_CURL_TIME=3 d_api GET /_ping 2>/dev/null)" = OK ]
}

# d_start [--own]: a daemon that answers, at $DOCKER_HOST (exported).
# --own: always a private dockerd (needed to stop and restart it).
d_start() {
    unset MINION_DOCKER_IMAGE MINION_DOCKER_IO_DIR MINION_DOCKER_KEEP_IO \
        MINION_DOCKER_CPUS MINION_DOCKER_MEMORY MINION_DOCKER_NETWORK \
        MINION_DOCKER_REUSE MINION_RESULT_BYTES REPORTER_JSON_DIRECTORY
    command -v curl >/dev/null || t_skip "curl not installed"
    trap d_cleanup EXIT
    if [ "${1:-}" != --own ]; then
        : "${DOCKER_HOST:=unix:///var/run/docker.sock}"
        export DOCKER_HOST
        d_ping && return 0
    fi
    D_DOCKERD=$(command -v dockerd || command -v /usr/sbin/dockerd) ||
        t_skip "dockerd not installed and no daemon at ${DOCKER_HOST:-}"
    [ "$(id -u)" = 0 ] || t_skip "starting dockerd needs root"
    # Short: the socket path must fit in 107 bytes.
    D_DIR=$(mktemp -d /tmp/mdk.XXXXXX) || exit 99
    mkdir "$D_DIR/root" "$D_DIR/exec" || exit 99
    echo '{}' >"$D_DIR/daemon.json"
    DOCKER_HOST="unix://$D_DIR/docker.sock"
    export DOCKER_HOST
    d_daemon_up
}

# d_daemon_up: (re)start the private dockerd on its folder; sets D_PID.
# With D_TCP_PORT set it also listens on that loopback port.
d_daemon_up() {
    [ -n "$D_DIR" ] || t_fail "d_daemon_up without a private dockerd"
    "$D_DOCKERD" --config-file "$D_DIR/daemon.json" \
        --data-root "$D_DIR/root" --exec-root "$D_DIR/exec" \
        --pidfile "$D_DIR/pid" -H "$DOCKER_HOST" \
        ${D_TCP_PORT:+-H "tcp://127.0.0.1:$D_TCP_PORT"} \
        --iptables=false --bridge=none >>"$D_DIR/log" 2>&1 &
    D_PID=$!
    t_wait_until 30 d_up_or_dead
    d_ping || t_fail "dockerd did not answer: $(tail -n 5 "$D_DIR/log")"
}

d_up_or_dead() {
    d_ping || ! kill -0 "$D_PID" 2>/dev/null
}

# d_daemon_down: SIGTERM the private dockerd, wait (bounded), then SIGKILL.
d_daemon_down() {
    [ -n "$D_PID" ] || return 0
    kill -TERM "$D_PID" 2>/dev/null
    if ! t_wait_until 40 sh -c "! kill -0 $D_PID 2>/dev/null"; then
        kill -KILL "$D_PID" 2>/dev/null
        d_kill_leftover_processes
    fi
    wait "$D_PID" 2>/dev/null
    D_PID=""
}

# What outlives the private dockerd: its containerd after a SIGKILL, and
# shims of containers a stopping daemon lost track of (a start cut short).
# They are found by the private folder in their command line; they and
# their children (a container's init) are killed by PID.
d_kill_leftover_processes() {
    local pids pid all=""
    [ -n "$D_DIR" ] || return 0
    pids=$(pgrep -f -- "$D_DIR/") || return 0
    while [ -n "$pids" ]; do
        all="$all $pids"
        pids=$(for pid in $pids; do pgrep -P "$pid"; done)
    done
    for pid in $all; do
        [ "$pid" = $$ ] || kill -KILL "$pid" 2>/dev/null
    done
}

d_cleanup() {
    local id mnt
    t_cleanup
    if [ -z "$D_DIR" ]; then
        # A shared daemon: remove what this test's minions left.
        for id in $(d_list_all 2>/dev/null | awk -v t="$D_TAG" \
            'index($2, t "-") == 1 || $3 == t { print $1 }'); do
            d_api DELETE "/containers/$id?force=1&v=1" >/dev/null 2>&1
        done
        return
    fi
    d_daemon_down
    d_kill_leftover_processes
    # Mounts a killed daemon left: innermost first.
    awk -v d="$D_DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo |
        sort -r | while read -r mnt; do
        umount -l "$mnt" 2>/dev/null
    done
    rm -rf "$D_DIR"
}

# d_image [NAME [CMD-JSON]]: import a busybox image (default $D_IMAGE, no
# CMD), e.g. d_image minion-test:cmd '["sh","-c","echo $MINION_PARAM"]'.
d_image() {
    local name=${1:-$D_IMAGE} cmd=${2:-} root="$T_DIR/rootfs" bb applet query
    bb=/bin/busybox
    [ -x "$bb" ] || t_skip "$bb not installed (package busybox-static)"
    LC_ALL=C ldd "$bb" 2>&1 | grep -q 'not a dynamic' ||
        t_skip "$bb is not static (package busybox-static)"
    if [ ! -d "$root" ]; then
        mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/proc" \
            "$root/sys" "$root/dev" "$root/data" || exit 99
        cp "$bb" "$root/bin/busybox" || exit 99
        for applet in $("$bb" --list); do
            [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
        done
        echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
        tar -C "$root" -cf "$T_DIR/rootfs.tar" . || exit 99
    fi
    query="fromSrc=-&repo=$(d_urlencode "${name%:*}")"
    query="$query&tag=$(d_urlencode "${name##*:}")"
    query="$query&changes=$(d_urlencode 'ENV PATH=/bin')"
    [ -n "$cmd" ] && query="$query&changes=$(d_urlencode "CMD $cmd")"
    d_api POST "/images/create?$query" -H 'Content-Type: application/x-tar' \
        --data-binary "@$T_DIR/rootfs.tar" -o "$T_DIR/import.out" ||
        t_fail "image import failed"
    d_api GET "/images/$name/json" -o /dev/null -f ||
        t_fail "image $name missing after import: $(cat "$T_DIR/import.out")"
}

# d_urlencode TEXT: TEXT for a URL query.
d_urlencode() {
    local LC_ALL=C s=$1 i c out=""
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
        [a-zA-Z0-9._~-]) out="$out$c" ;;
        *) out="$out$(printf '%%%02X' "'$c")" ;;
        esac
    done
    printf '%s' "$out"
}

# d_list_all: every container: "ID MINION-LABEL TEST-LABEL STATE", one a
# line ("-" for a missing label).
d_list_all() {
    d_api GET /containers/json -G --data-urlencode all=1 |
        sed 's/},{"Id":/}\n{"Id":/g' |
        sed -n 's/^.*"Id":"\([0-9a-f]*\)".*$/\1 &/p' |
        while read -r id rest; do
            local m t s
            m=$(printf '%s' "$rest" | sed -n 's/.*"minionize\.minion":"\([^"]*\)".*/\1/p')
            t=$(printf '%s' "$rest" | sed -n 's/.*"minionize\.test":"\([^"]*\)".*/\1/p')
            s=$(printf '%s' "$rest" | sed -n 's/.*"State":"\([^"]*\)".*/\1/p')
            echo "$id ${m:--} ${t:--} ${s:--}"
        done
}

# d_labelled LABEL...: the ids of the containers (all states) with all
# these labels (KEY=VALUE, or KEY for any value), one a line.
d_labelled() {
    local list="" l
    for l in "$@"; do
        list="$list${list:+,}\"$l\""
    done
    d_api GET /containers/json -G --data-urlencode all=1 \
        --data-urlencode "filters={\"label\":[$list]}" |
        grep -o '"Id":"[0-9a-f]*"' | cut -d'"' -f4
}

# d_count LABEL...: how many containers carry these labels.
d_count() {
    d_labelled "$@" | grep -c .
}

# d_count_is N LABEL...: for t_wait_until.
d_count_is() {
    local n=$1
    shift
    [ "$(d_count "$@")" -eq "$n" ]
}

# d_create LABEL... -- CMD...: create (not start) a container of $D_IMAGE
# with labels KEY=VALUE; prints its id.
d_create() {
    local labels="\"minionize.test\":\"$D_TAG\"" cmd="" a
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        labels="$labels,\"${1%%=*}\":\"${1#*=}\""
        shift
    done
    shift
    for a in "$@"; do
        cmd="$cmd${cmd:+,}\"$a\""
    done
    d_api POST /containers/create -H 'Content-Type: application/json' \
        -d "{\"Image\":\"$D_IMAGE\",\"Cmd\":[$cmd],\"Labels\":{$labels},
            \"HostConfig\":{\"NetworkMode\":\"none\"}}" |
        grep -o '"Id":"[0-9a-f]*"' | cut -d'"' -f4
}

# d_start_container ID
d_start_container() {
    d_api POST "/containers/$1/start" -f -o /dev/null
}

# d_state ID: the container's State.Status (running, exited...) or nothing.
d_state() {
    d_api GET "/containers/$1/json" -f 2>/dev/null |
        grep -o '"Status":"[a-z]*"' | head -n 1 | cut -d'"' -f4
}

# d_need_callback: SKIP when the docker callback is not built.
d_need_callback() {
    [ -e "$top_builddir/callbacks/.libs/docker.so" ] ||
        t_skip "the docker callback is not built"
}
