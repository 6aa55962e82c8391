#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench, metrics part: the minion's task throughput (no-op function,
# 1,000,000 params, -j2) with MINION_STATS_ADDR on and /metrics scraped
# every 100 ms, against off, alternated, medians of 5. Target: >= 0.97.
# The scraper uses bash built-ins only (/dev/tcp, read -t): no process per
# scrape competes with the minion for the two cores.
set -u
. "$(dirname "$0")/lib.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/minionize-bench-metrics.XXXXXX")
scraper=""
trap '[ -n "$scraper" ] && kill "$scraper" 2>/dev/null; rm -rf "$dir"' EXIT
cd "$dir" || exit 1
noop="$top_builddir/plugins/examples/.libs/wordcount.so:minion_noop"
seq 1000000 >million
port=$((20000 + RANDOM % 12000))

# scrape_loop: GET /metrics every 100 ms until killed; counts the scrapes
# that got a 200 in ./scrapes.
scrape_loop() {
    local n=0 line
    # A FIFO nobody writes: read -t on it is a sleep without a process.
    mkfifo tick && exec 6<>tick
    while :; do
        if { exec 5<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
            printf 'GET /metrics HTTP/1.0\r\n\r\n' >&5
            IFS= read -r line <&5 && [[ $line == *" 200 "* ]] && n=$((n + 1))
            while IFS= read -r line <&5; do :; done
            exec 5<&-
            echo "$n" >scrapes
        fi
        read -r -t 0.1 -u 6 line
    done
}

off() {
    "$MINIONIZE" -q -c function -j2 --set MINION_FUNCTION="$noop" -a million
}
on() {
    "$MINIONIZE" -q -c function -j2 --set MINION_FUNCTION="$noop" \
        --set MINION_STATS_ADDR="127.0.0.1:$port" -a million
}

echo "== metrics: 1,000,000 no-op params at -j2, /metrics scraped every 100 ms"
scrape_loop &
scraper=$!
t_off=(); t_on=()
for ((i = 0; i < 5; i++)); do
    t_off+=("$(seconds off)") || exit 1
    t_on+=("$(seconds on)") || exit 1
done
kill "$scraper" 2>/dev/null
scraper=""
med() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[3] }'; }
to=$(med "${t_off[@]}"); tn=$(med "${t_on[@]}")
echo "MINION_STATS_ADDR off:        $(rate 1000000 "$to") tasks/s"
echo "on, scraped every 100 ms:     $(rate 1000000 "$tn") tasks/s ($(cat scrapes 2>/dev/null || echo 0) scrapes answered)"
echo "ratio on/off:                 $(ratio "$to" "$tn") (target >= 0.97)"
