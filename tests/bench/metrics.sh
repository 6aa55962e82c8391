#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench, metrics part: the minion's task throughput (no-op function,
# 1,000,000 params, -j2) with MINION_STATS_ADDR on and /metrics scraped
# every 100 ms, against off, alternated, medians of 5. Target: >= 0.97.
# The scraper is one long-lived process: no process per scrape competes
# with the minion for the two cores.
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
# that got a 200 in ./scrapes. One Python process reading each reply with
# one recv: a scraper written in shell reads a byte per system call, and on
# two cores its own CPU would be charged to the minion.
scrape_loop() {
    exec python3 -c '
import socket, sys, time
port, n = int(sys.argv[1]), 0
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        reply = b""
        while True:
            got = s.recv(65536)
            if not got:
                break
            reply += got
        s.close()
        if reply.startswith(b"HTTP/1.1 200") or reply.startswith(b"HTTP/1.0 200"):
            n += 1
            with open("scrapes", "w") as f:
                f.write(str(n))
    except OSError:
        pass
    time.sleep(0.1)
' "$port"
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
to=$(median_of "${t_off[@]}"); tn=$(median_of "${t_on[@]}")
echo "MINION_STATS_ADDR off:        $(rate 1000000 "$to") tasks/s"
echo "on, scraped every 100 ms:     $(rate 1000000 "$tn") tasks/s ($(cat scrapes 2>/dev/null || echo 0) scrapes answered)"
echo "ratio on/off:                 $(ratio "$to" "$tn") (target >= 0.97)"
