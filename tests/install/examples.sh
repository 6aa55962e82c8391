#!/bin/bash
# SPDX-License-Identifier: MIT
# make installcheck: every installed example builds against the installed
# prefix with pkg-config alone, loads by path into the installed minionize,
# and runs a small job. Needs prefix, bindir, libdir, examplesdir.
set -u
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/minionize-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
flags=$(pkg-config --cflags --libs minionize) || fail "pkg-config minionize"
MINIONIZE="$bindir/minionize"
[ -x "$MINIONIZE" ] || fail "no installed minionize in $bindir"

for ex in wordcount shout sleeper; do
    [ -f "$examplesdir/$ex.c" ] || fail "example $ex.c not installed"
    # shellcheck disable=SC2086
    cc -shared -fPIC -Wall -Wextra -Wno-unused-parameter -Werror \
        "$examplesdir/$ex.c" -o "$ex.so" $flags ||
        fail "$ex.c does not build against the installed prefix"
done

# A function: the words of each file named by a param.
printf 'one two three\n' >a.txt
echo four >b.txt
printf '%s\n' a.txt b.txt |
    "$MINIONIZE" -q -c function --set MINION_FUNCTION=./wordcount.so >out 2>err ||
    fail "wordcount: $(cat err)"
[ "$(wc -l <out)" -eq 2 ] || fail "wordcount printed: $(cat out)"

# A reporter: three failed runs, then its total.
seq 3 | "$MINIONIZE" -r ./shout.so --set MINION_MAX_ATTEMPTS=1 false >out 2>err
[ $? -eq 4 ] || fail "shout: dead params should exit 4: $(cat err)"
grep -q "reporter shout: 3 runs did not succeed" err || fail "shout: $(cat err)"

# An asynchronous callback on the loop: two naps, one bad param.
printf '%s\n' 50 10 oops | "$MINIONIZE" -j2 -c ./sleeper.so >out 2>err
[ $? -eq 4 ] || fail "sleeper: exit status: $(cat err)"
grep -qx "slept 50 ms" out && grep -qx "slept 10 ms" out || fail "sleeper: $(cat out)"
grep -q "task 3 dead after 1 attempt: not a number of milliseconds" err ||
    fail "sleeper: the bad param: $(cat err)"
# ... and its cancel hook: a timeout wakes it up.
echo 5000 | MINION_TIMEOUT=0.2 MINION_MAX_ATTEMPTS=1 "$MINIONIZE" \
    -c ./sleeper.so >out 2>err
[ $? -eq 4 ] || fail "sleeper timeout: $(cat err)"
grep -q "timed out after 0.2s" err || fail "sleeper timeout: $(cat err)"
echo "ok: the installed examples build with pkg-config and run"
