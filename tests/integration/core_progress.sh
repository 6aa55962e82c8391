#!/bin/bash
# SPDX-License-Identifier: MIT
# --progress (MINION_PROGRESS): on a terminal, a line on stderr with the
# counts, redrawn in place and erased before each task's output line, so no
# line the user sees mixes the two; the percent once the file's total is
# known; nothing at all when stderr is not a terminal.
. "$top_srcdir/tests/integration/lib.sh"
t_init
command -v script >/dev/null || t_skip "script (util-linux) not installed"

seq 24 >params
# script(1) gives the minion a pseudo-terminal for stdout and stderr.
timeout 60 script -qfec "'$MINIONIZE' --progress -j2 -a params \
    sh -c 'sleep 0.1; echo out {}'" /dev/null >tty.out ||
    t_fail "minionize under script: $(cat -v tty.out | tail -n 3)"
# What the terminal shows: on each line, what follows the last carriage
# return, without the erase-to-end-of-line sequences.
awk '{ sub(/\r$/, ""); n = split($0, part, "\r"); s = part[n];
       gsub(/\033\[K/, "", s); print s }' tty.out >seen
grep -c '^out [0-9]*$' seen | grep -qx 24 ||
    { cat -v tty.out >&2; t_fail "24 whole output lines expected"; }
grep -v '^out [0-9]*$' seen | grep -v '^minionize: ' | grep -q . &&
    { cat -v tty.out >&2; t_fail "a line mixes output and progress"; }
grep -q $'\rminionize: [0-9]* ok, [0-9]* failed, [0-9]* dead, [0-9]* running' \
    tty.out || { cat -v tty.out >&2; t_fail "no progress line"; }
t_ok "progress lines drawn, never mixed with the 24 output lines"
grep -q 'minionize: [0-9]* ok.*[0-9.]*%' tty.out ||
    { cat -v tty.out >&2; t_fail "no percent with a file's total"; }
t_ok "the percent of a file's params"

MINION_PROGRESS=1 timeout 60 "$MINIONIZE" -j2 -a params \
    sh -c 'sleep 0.05; echo out {}' >out 2>err || t_fail "no terminal run"
grep -q 'running' err && t_fail "a progress line without a terminal"
[ "$(grep -c '^out ' out)" -eq 24 ] || t_fail "outputs without a terminal"
t_ok "no line when stderr is not a terminal"
