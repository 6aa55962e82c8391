#!/bin/bash
# SPDX-License-Identifier: MIT
# process: a program that cannot be run is an error at start-up: exit 2, one
# line on stderr, and not a byte of the input taken.
. "$top_srcdir/tests/integration/lib.sh"
t_init

printf 'a\nb\n' >in
touch not-exec

check() {
    local want=$1
    shift
    # The file offset is shared: whatever minionize reads, cat cannot.
    exec 3<in
    timeout 20 env ${CHECK_PATH:+PATH="$CHECK_PATH"} "$MINIONIZE" "$@" \
        <&3 >out 2>err
    local rc=$?
    rest=$(cat <&3)
    exec 3<&-
    [ "$rc" -eq 2 ] || { cat err >&2; t_fail "$*: exit $rc, not 2"; }
    [ "$(wc -l <err)" -eq 1 ] || { cat err >&2; t_fail "$*: not one line"; }
    grep -q "^minionize: error: callback process: $want\$" err ||
        { cat err >&2; t_fail "$*: error line"; }
    [ ! -s out ] || t_fail "$*: wrote to stdout"
    [ "$rest" = "$(printf 'a\nb')" ] || t_fail "$*: input was consumed"
    t_ok "$want"
}

check 'program not found: no-such-program-here' no-such-program-here x
check 'program not found: ./nowhere/prog' ./nowhere/prog
check 'program not executable: ./not-exec' ./not-exec
check 'program not executable: /' /
CHECK_PATH=/nonexistent-dir
check 'program not found: echo' echo
