#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-image: the project's image, built and run as a fleet, on this
# machine alone.
#
#  1. debian:bookworm-slim: `debootstrap --variant=minbase bookworm` from the
#     Debian mirror of this machine's apt sources, cached as a tarball in
#     $CACHE_DIR (default: .cache/ in the source tree), then `docker import`.
#  2. A dockerd of our own (its folders in a temporary one; no bridge, no
#     iptables), which builds the Dockerfile with `--network host`; the
#     image's entrypoint, user, libraries and plugins are checked.
#  3. A redis-server on 127.0.0.1. (a) Two minion containers drain 60
#     params: each ran exactly once, with the right output, both took some.
#     (b) A loopback Swarm: a 3-replica service drains 300 params and is
#     scaled to 1 mid-run; Swarm's SIGTERM makes the two stopped minions
#     release their tasks in flight, the survivor claims and finishes them,
#     and every param has exactly one ok result.
#
# Everything it starts (dockerd, containers, the service, the swarm,
# redis-server) is stopped, by pid, and its temporary folder removed, also
# on failure. Needs root (for dockerd), docker.io, debootstrap and
# redis-server. IMAGE_CONFIGURE_FLAGS (e.g. --disable-docker) is passed to
# the image's configure; by default the image builds everything.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/redis_lib.sh"

export LC_ALL=C
CACHE_DIR=${CACHE_DIR:-$top_srcdir/.cache}
IMAGE=minionize:check
SERVICE=check-image-fleet
START=$(date +%s)
DOCKERD_PID=""

say() {
    echo "check-image: [$(($(date +%s) - START))s] $*"
}

# Bounded waits for docker-paced things: poll every half second.
wait_for() {
    local limit=$1 i=0
    shift
    until "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -gt $((limit * 2)) ] && return 1
        sleep 0.5
    done
}

# Fail with what the containers said.
img_fail() {
    local c
    if [ -n "$DOCKERD_PID" ]; then
        docker ps -a --format '{{.Names}} {{.Status}}' 2>/dev/null | sed 's/^/  /' >&2
        for c in $(docker ps -aq 2>/dev/null); do
            echo "  --- logs of $(docker inspect -f '{{.Name}}' "$c" 2>/dev/null):" >&2
            timeout 10 docker logs --tail 15 "$c" 2>&1 | sed 's/^/  /' >&2
        done
    fi
    t_fail "$*"
}

# --------------------------------------------------------------------------
# Clean-up: the service and the swarm, the containers, then our dockerd
# (and its containerd if dockerd had to be killed), then what stayed mounted
# in our folder; lib.sh's t_cleanup then kills redis and removes the folder.

stop_dockerd() {
    local cpid
    [ -n "$DOCKERD_PID" ] || return 0
    if kill -0 "$DOCKERD_PID" 2>/dev/null; then
        timeout 30 docker service rm "$SERVICE" >/dev/null 2>&1
        timeout 30 docker swarm leave --force >/dev/null 2>&1
        docker ps -aq 2>/dev/null | xargs -r timeout 60 docker rm -f >/dev/null 2>&1
        kill -TERM "$DOCKERD_PID" 2>/dev/null
        wait_for 30 sh -c "! kill -0 $DOCKERD_PID" || kill -KILL "$DOCKERD_PID" 2>/dev/null
    fi
    wait "$DOCKERD_PID" 2>/dev/null
    cpid=$(cat "$D/exec/containerd/containerd.pid" 2>/dev/null)
    if [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null; then
        kill -KILL "$cpid" 2>/dev/null
    fi
    DOCKERD_PID=""
}

img_cleanup() {
    stop_dockerd
    # Deepest first: overlays, network namespaces, a debootstrap's /proc.
    awk -v d="$T_DIR/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts |
        sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
}

# --------------------------------------------------------------------------
# 1. The base image.

# The first mirror of the apt sources (one-line or deb822) that serves a
# plain suite (bookworm, not bookworm-security), bookworm's preferred.
debian_mirror() {
    local f
    {
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -f "$f" ] || continue
            awk '$1 == "deb" {
                i = 2
                if ($2 ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
                print $i, $(i + 1)
            }' "$f"
        done
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] || continue
            awk 'BEGIN { RS = ""; FS = "\n" }
            {
                types = uris = suites = ""; enabled = "yes"; key = ""
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^#/) continue
                    if (match(line, /^[A-Za-z-]+:/)) {
                        key = tolower(substr(line, 1, RLENGTH - 1))
                        line = substr(line, RLENGTH + 1)
                    }
                    if (key == "types") types = types " " line
                    else if (key == "uris") uris = uris " " line
                    else if (key == "suites") suites = suites " " line
                    else if (key == "enabled") enabled = line
                }
                if (types !~ /(^|[ \t])deb([ \t]|$)/ || enabled ~ /no/) next
                nu = split(uris, u, /[ \t]+/); ns = split(suites, s, /[ \t]+/)
                for (a = 1; a <= nu; a++) for (b = 1; b <= ns; b++)
                    if (u[a] != "" && s[b] != "") print u[a], s[b]
            }' "$f"
        done
    } | awk '$2 == "bookworm" { print $1; found = 1; exit }
             $2 ~ /^[a-z]+$/ && first == "" { first = $1 }
             END { if (!found && first != "") print first }'
}

# Sets BASE_TARBALL, debootstrapping it the first time.
base_tarball() {
    local mirror arch rootfs
    mirror=$(debian_mirror)
    [ -n "$mirror" ] ||
        t_fail "no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/"
    arch=$(dpkg --print-architecture)
    mkdir -p "$CACHE_DIR" || t_fail "cannot create $CACHE_DIR"
    # Named after the mirror and this recipe: a change to either makes anew.
    BASE_TARBALL="$CACHE_DIR/debian-bookworm-minbase-$arch-$({
        echo "$mirror"
        declare -f base_tarball
    } | md5sum | cut -c1-8).tar.gz"
    if [ -s "$BASE_TARBALL" ]; then
        say "base: $BASE_TARBALL (cached)"
        return 0
    fi
    say "base: debootstrap --variant=minbase bookworm from $mirror"
    rootfs="$T_DIR/rootfs"
    timeout 1200 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" \
        >"$T_DIR/debootstrap.log" 2>&1 ||
        t_fail "debootstrap failed: $(tail -n 5 "$T_DIR/debootstrap.log")"
    # Slim, as the official -slim images: no documentation, no apt lists.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    # As the official images: apt keeps no package cache nor lists' caches.
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
EOF
    (cd "${rootfs:?}/usr/share" &&
        find doc -mindepth 1 -not -name copyright -not -type d -delete &&
        find locale -mindepth 1 -maxdepth 1 -not -name locale.alias \
            -exec rm -rf {} + &&
        rm -rf man/* info/*) || t_fail "cannot slim $rootfs"
    (cd "${rootfs:?}/var" &&
        rm -rf lib/apt/lists/* cache/apt/*.bin cache/apt/archives/*.deb \
            log/*.log) || t_fail "cannot slim $rootfs"
    # A snapshot mirror needs what this machine's apt needs to accept it.
    if apt-config dump Acquire::Check-Valid-Until 2>/dev/null | grep -q '"false"'; then
        echo 'Acquire::Check-Valid-Until "false";' \
            >"$rootfs/etc/apt/apt.conf.d/99check-valid-until"
    fi
    tar --numeric-owner -C "$rootfs" --exclude='./dev/*' --exclude='./proc/*' \
        --exclude='./sys/*' -czf "$BASE_TARBALL.$$" . &&
        mv "$BASE_TARBALL.$$" "$BASE_TARBALL" ||
        { rm -f "$BASE_TARBALL.$$"; t_fail "cannot write $BASE_TARBALL"; }
    rm -rf "$rootfs"
    # Older recipes' tarballs are of no use any more.
    find "$CACHE_DIR" -maxdepth 1 -name "debian-bookworm-minbase-$arch-*.tar.gz" \
        ! -name "${BASE_TARBALL##*/}" -delete
    say "base: cached as $BASE_TARBALL"
}

# --------------------------------------------------------------------------
# 2. Our dockerd, the import and the build.

start_dockerd() {
    D="$T_DIR/d"
    mkdir -p "$D" "$T_DIR/docker-config"
    export DOCKER_HOST="unix://$D/sock" DOCKER_CONFIG="$T_DIR/docker-config"
    export DOCKER_BUILDKIT=0 # the classic builder: --network host as is
    unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
    dockerd --data-root "$D/root" --exec-root "$D/exec" --pidfile "$D/pid" \
        -H "$DOCKER_HOST" --iptables=false --bridge=none \
        >"$T_DIR/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    wait_for 60 sh -c "docker version || ! kill -0 $DOCKERD_PID"
    docker version >/dev/null 2>&1 ||
        t_fail "dockerd did not start: $(tail -n 5 "$T_DIR/dockerd.log")"
    say "dockerd $(docker version -f '{{.Server.Version}}') up (pid $DOCKERD_PID)"
}

build_image() {
    timeout 300 docker import --change 'CMD ["bash"]' "$BASE_TARBALL" \
        debian:bookworm-slim >/dev/null || t_fail "docker import failed"
    say "build: docker build --network host${IMAGE_CONFIGURE_FLAGS:+ (CONFIGURE_FLAGS=$IMAGE_CONFIGURE_FLAGS)}"
    timeout 1800 docker build --network host -t "$IMAGE" \
        --build-arg CONFIGURE_FLAGS="${IMAGE_CONFIGURE_FLAGS:-}" \
        -f "$top_srcdir/Dockerfile" "$top_srcdir" >"$T_DIR/build.log" 2>&1 ||
        t_fail "docker build failed: $(tail -n 25 "$T_DIR/build.log")"
    say "build: $IMAGE, $(docker image inspect -f '{{.Size}}' "$IMAGE" |
        awk '{ printf "%.0f MB", $1 / 1e6 }')"
}

check_image() {
    local got want plugins p
    got=$(docker image inspect -f '{{json .Config.Entrypoint}} {{.Config.User}}' "$IMAGE")
    [ "$got" = '["minionize"] 10001:10001' ] ||
        t_fail "entrypoint and user: $got"
    want=$("$MINIONIZE" --version)
    got=$(timeout 60 docker run --rm --network host "$IMAGE" --version) ||
        t_fail "minionize --version in the image failed"
    [ "$got" = "$want" ] || t_fail "the image says '$got', the tree '$want'"
    # Every plugin configure.ac names, unless disabled, is there and loads.
    plugins=""
    for p in $(sed -n 's/^MINION_PLUGIN(\[\([a-z0-9_]*\)\].*/\1/p' "$top_srcdir/configure.ac"); do
        case " ${IMAGE_CONFIGURE_FLAGS:-} " in *" --disable-$p "*) continue ;; esac
        plugins="$plugins $p"
    done
    got=$(timeout 60 docker run --rm --network host --entrypoint sh "$IMAGE" -c '
        id -u
        ldd /usr/local/bin/* /usr/local/lib/minionize/*.so | grep "not found"
        for p in '"$plugins"'; do
            [ -f /usr/local/lib/minionize/$p.so ] || echo "no plugin $p"
            minionize --help-plugin $p >/dev/null 2>&1 || echo "plugin $p does not load"
        done
        for c in cc gcc make; do
            command -v $c >/dev/null && echo "$c in the runtime image"
        done
        true' 2>&1) || t_fail "cannot run sh in the image: $got"
    [ "$got" = 10001 ] || t_fail "image check: $got"
    say "image: entrypoint minionize, user 10001, libraries and plugins ($plugins ) load"
}

# --------------------------------------------------------------------------
# 3. The minions.

# The engine settings every minion container gets.
DOCKER_ENV=()
# REDIS_TRIM=0: the checks read the params back from the stream afterwards.
set_docker_env() {
    DOCKER_ENV=(-e MINION_ENGINE=redis -e REDIS_URL="$REDIS_URL"
        -e REDIS_STREAM="$R_STREAM" -e REDIS_TRIM=0)
}

# check_results N: the results of $R_STREAM match its N params one to one,
# all ok, each output being its param; leaves them in results.txt as
# "task status attempt minion output", sorted.
check_results() {
    local n=$1
    paste -d' ' <(r_ids) <(r_stream_lines "$R_STREAM" param) | sort >params.txt
    [ "$(wc -l <params.txt)" -eq "$n" ] || t_fail "$(wc -l <params.txt) params, not $n"
    r_results task status attempt minion output | sort >results.txt
    [ "$(grep -vc ' ok ' results.txt)" -eq 0 ] ||
        img_fail "results not ok: $(grep -v ' ok ' results.txt | head -n 3)"
    [ -z "$(cut -d' ' -f1 results.txt | uniq -d)" ] ||
        img_fail "params run more than once: $(cut -d' ' -f1 results.txt | uniq -d | head -n 3)"
    awk '{ o = $5; sub(/_$/, "", o); print $1, o }' results.txt |
        cmp -s - params.txt || img_fail "results do not match the params one to one"
    [ "$(r_pending)" = 0 ] || img_fail "$(r_pending) entries still pending"
    [ "$(rcli XLEN "$R_STREAM:dead")" = 0 ] || img_fail "dead letters written"
}

# (a) Two containers, each -j2, drain 60 params and exit 0.
two_minions() {
    local n=60 m rc
    R_STREAM=img-a
    set_docker_env
    seq "$n" | "$SUBMIT" -q -e redis --redis-url "$REDIS_URL" --stream "$R_STREAM" ||
        t_fail "minion-submit failed"
    for m in a1 a2; do
        docker run -d --name "check-image-$m" --network host "${DOCKER_ENV[@]}" \
            -e MINION_ID="$m" -e MINION_EXIT_WHEN_EMPTY=1 \
            "$IMAGE" -j2 sh -c 'sleep 0.1; echo "$1"' sh {} >/dev/null ||
            img_fail "docker run failed"
    done
    rc=$(timeout 120 docker wait check-image-a1 check-image-a2) ||
        img_fail "the minions still run after 120s"
    rc=${rc//$'\n'/ }
    [ "$rc" = "0 0" ] || img_fail "the minions exited $rc"
    check_results "$n"
    for m in a1 a2; do
        [ "$(awk -v m="$m" '$4 == m' results.txt | wc -l)" -gt 0 ] ||
            img_fail "minion $m ran nothing"
    done
    docker rm check-image-a1 check-image-a2 >/dev/null
    say "(a) 2 minion containers ran $n params, each once, with its output"
}

# fleet_containers [STATUS]: the service's containers (in that status).
fleet_containers() {
    docker ps -aq --filter "label=com.docker.swarm.service.name=$SERVICE" \
        ${1:+--filter "status=$1"}
}
fleet_has() { # COUNT [STATUS]
    [ "$(fleet_containers "${2:-}" | wc -l)" -eq "$1" ]
}
# fleet_exits SINCE: the exit statuses of the service's containers that
# ended since SINCE (epoch seconds), from the daemon's events (Swarm
# removes the containers of the slots it scales away).
fleet_exits() {
    docker events --since "$1" --until "$(date +%s)" --filter type=container \
        --filter event=die --filter "label=com.docker.swarm.service.name=$SERVICE" \
        --format '{{.Actor.Attributes.exitCode}}'
}
fleet_exited() { # SINCE COUNT
    [ "$(fleet_exits "$1" | wc -l)" -ge "$2" ]
}
ok_count() {
    r_results task status | awk '$2 == "ok"' | sort -u | wc -l
}
all_done() { # N
    [ "$(ok_count)" -ge "$1" ] && [ "$(r_pending)" = 0 ]
}

# (b) A Swarm service of 3 minions (-j4, 0.3 s tasks) scaled to 1 after a
# fifth of 300 params. MINION_GRACE=0: a stopped minion releases whatever it
# has in flight (a minion's 4 tasks run in step, so with any grace shorter
# than a task they could all end within it, and nothing would be released).
swarm_fleet() {
    local n=300 port since host slot survivor c rc
    R_STREAM=img-b
    set_docker_env
    port=$(t_free_port) || t_fail "no free port"
    timeout 60 docker swarm init --advertise-addr 127.0.0.1 \
        --listen-addr "127.0.0.1:$port" >/dev/null 2>"$T_DIR/swarm.err" ||
        t_fail "docker swarm init failed: $(cat "$T_DIR/swarm.err")"
    timeout 60 docker service create -d --name "$SERVICE" --replicas 3 \
        --network host --no-resolve-image --restart-condition none \
        "${DOCKER_ENV[@]}" -e MINION_ID='{{.Node.Hostname}}-{{.Task.Slot}}' \
        -e MINION_CONCURRENCY=4 -e MINION_GRACE=0 \
        -e REDIS_CLAIM_IDLE_MS=2000 \
        "$IMAGE" sh -c 'sleep 0.3; echo "$1"' sh {} >/dev/null ||
        img_fail "docker service create failed"
    # All three registered (a heartbeat each) before the params go in.
    wait_for 90 sh -c "[ \"\$(redis-cli -p $REDIS_PORT HLEN $R_STREAM:minions)\" = 3 ]" ||
        img_fail "3 minions did not start within 90s"
    say "(b) swarm: service $SERVICE, 3 replicas up"
    seq "$n" | "$SUBMIT" -q -e redis --redis-url "$REDIS_URL" --stream "$R_STREAM" ||
        t_fail "minion-submit failed"
    wait_for 60 sh -c "[ \$(redis-cli -p $REDIS_PORT XLEN $R_STREAM:results) -ge $((n / 5)) ]" ||
        img_fail "no $((n / 5)) results within 60s"
    since=$(date +%s)
    timeout 60 docker service scale -d "$SERVICE=1" >/dev/null 2>&1 ||
        img_fail "docker service scale failed"
    say "(b) scaled to 1 after $(rcli XLEN "$R_STREAM:results") results"
    wait_for 60 fleet_exited "$since" 2 ||
        img_fail "the 2 stopped minions did not exit within 60s"
    for c in $(fleet_containers exited); do # for a failure's diagnosis
        docker logs "$c" 2>"stopped-$c.log" >/dev/null
    done
    # SIGTERM, released tasks and exit 1, not Swarm's SIGKILL (137).
    for rc in $(fleet_exits "$since"); do
        case $rc in 0 | 1) ;; *) img_fail "a stopped minion exited $rc" ;; esac
    done
    say "(b) the 2 stopped minions exited $(fleet_exits "$since" | paste -sd' ')"
    wait_for 120 all_done "$n" ||
        img_fail "$(ok_count) of $n params ok, $(r_pending) pending after 120s"
    check_results "$n"
    host=$(docker node inspect self -f '{{.Description.Hostname}}')
    slot=$(docker service ps "$SERVICE" --filter desired-state=running \
        --format '{{.Name}}' | sed 's/.*\.//')
    survivor="$host-$slot"
    [ "$(cut -d' ' -f4 results.txt | sort -u | wc -l)" -eq 3 ] ||
        img_fail "not 3 minions in the results: $(cut -d' ' -f4 results.txt | sort | uniq -c)"
    # The tasks the stopped minions released: finished by the survivor, at
    # the attempt they had (a released run is not an attempt).
    cat stopped-*.log 2>/dev/null |
        sed -n 's/.*task \([0-9]*-[0-9]*\) released unfinished.*/\1/p' |
        sort -u >released.txt
    awk 'NR == FNR { r[$1] = 1; next } $1 in r' released.txt results.txt >rerun.txt
    [ -s rerun.txt ] || img_fail "no task was released at the scale-down:
$(cut -d' ' -f3,4 results.txt | sort | uniq -c)
$(tail -n 8 stopped-*.log 2>/dev/null)"
    [ -z "$(awk -v s="$survivor" '$4 != s' rerun.txt)" ] ||
        img_fail "released tasks finished by another than $survivor: $(head -n 3 rerun.txt)"
    [ -z "$(awk '$3 != 1' rerun.txt)" ] ||
        img_fail "released runs were counted as attempts: $(awk '$3 != 1' rerun.txt | head -n 3)"
    say "(b) $n params, one ok result each; $(wc -l <rerun.txt) released at the scale-down and finished by $survivor"
    timeout 60 docker service rm "$SERVICE" >/dev/null || img_fail "docker service rm failed"
    wait_for 60 fleet_has 0 || img_fail "the service's containers outlived it"
    timeout 60 docker swarm leave --force >/dev/null || img_fail "docker swarm leave failed"
    say "(b) service removed, swarm left"
}

# --------------------------------------------------------------------------

[ "$(id -u)" = 0 ] || t_fail "check-image needs root: it runs a dockerd of its own"
for c in docker dockerd debootstrap redis-server redis-cli; do
    command -v "$c" >/dev/null ||
        t_fail "check-image needs $c (Debian packages docker.io debootstrap redis-server)"
done
[ -x "$SUBMIT" ] && [ -x "$MINIONIZE" ] || t_fail "build the tree first (make)"

t_init
trap 'img_cleanup; t_cleanup' EXIT
base_tarball
start_dockerd
build_image
check_image
t_start_redis
two_minions
swarm_fleet
say "all good"
