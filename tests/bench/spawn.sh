#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The process callback's spawn rate: /bin/true tasks from a file at -j2,
# without a limit, with MINION_MEMORY_LIMIT (set in each child before its
# exec), and a bare posix_spawn loop keeping 2 children in flight as the
# yardstick. The three alternate within each round; medians of
# $BENCH_RUNS rounds. Run from the build tree:
#   top_builddir=. bash tests/bench/spawn.sh
set -u
. "$(dirname "$0")/lib.sh"

N=${BENCH_SPAWN_TASKS:-3000}
bench_scratch spawn
seq "$N" >params

# The yardstick: spawn PROGRAM N times, 2 at once, and reap them.
cat >spawnloop.c <<'EOF'
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv)
{
    long n = argc > 2 ? atol(argv[2]) : 0, started = 0, running = 0;
    char *args[] = {argv[1], "x", NULL};

    while (started < n || running > 0) {
        int status;

        if (started < n && running < 2) {
            pid_t pid;
            if (posix_spawn(&pid, argv[1], NULL, NULL, args, environ) != 0) {
                perror("posix_spawn");
                return 1;
            }
            started++;
            running++;
            continue;
        }
        if (wait(&status) < 0) {
            perror("wait");
            return 1;
        }
        running--;
    }
    return 0;
}
EOF
"${CC:-cc}" -O2 -o spawnloop spawnloop.c ||
    { echo "bench: cannot build the posix_spawn yardstick" >&2; exit 1; }

# measure COMMAND...: run once; print the wall-clock seconds and the CPU
# seconds (user + system, children included: the tasks' exec is most of
# it). The CPU figure says what a limit costs even when other work on the
# machine makes the wall clock noisy.
measure() {
    local out TIMEFORMAT='%R %U %S'
    out=$( { time "$@" >/dev/null 2>&1 || echo failed; } 2>&1 )
    case $out in *failed*) echo "bench: command failed: $*" >&2; return 1 ;; esac
    awk '{ printf "%s %.3f\n", $1, $2 + $3 }' <<<"$out"
}

# column_median COLUMN FILE: the median of one column of FILE.
column_median() {
    awk -v c="$1" '{ print $c }' "$2" | median
}

: >bare.t
: >plain.t
: >limited.t
for ((i = 0; i < BENCH_RUNS; i++)); do
    measure ./spawnloop /bin/true "$N" >>bare.t || exit 1
    measure "$MINIONIZE" -q -j2 -a params /bin/true >>plain.t || exit 1
    measure env MINION_MEMORY_LIMIT=1G "$MINIONIZE" -q -j2 -a params \
        /bin/true >>limited.t || exit 1
done

# line LABEL FILE: the rate and the CPU time per task of one variant.
line() {
    printf "%-38s %6s tasks/s, %s ms of CPU per task\n" "$1" \
        "$(rate "$N" "$(column_median 1 "$2")")" \
        "$(awk -v c="$(column_median 2 "$2")" -v n="$N" 'BEGIN { printf "%.3f", 1000 * c / n }')"
}

echo "== process spawning: $N x /bin/true, 2 in flight, median of $BENCH_RUNS alternating"
line "bare posix_spawn loop:" bare.t
line "minionize -j2:" plain.t
line "minionize -j2 MINION_MEMORY_LIMIT=1G:" limited.t
echo "rate ratio no-limit/bare:   $(ratio "$(column_median 1 bare.t)" "$(column_median 1 plain.t)")"
echo "rate ratio limit/no-limit:  $(ratio "$(column_median 1 plain.t)" "$(column_median 1 limited.t)")"
echo "CPU ratio limit/no-limit:   $(ratio "$(column_median 2 limited.t)" "$(column_median 2 plain.t)")"
