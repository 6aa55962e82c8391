#!/bin/bash
# SPDX-License-Identifier: MIT
# process: one run per stdin line, the param appended as one argument with no
# shell; without PROGRAM the callback runs echo, like xargs.
. "$top_srcdir/tests/integration/lib.sh"
t_init

printf 'one\ntwo  words\n\n$HOME `x` ;|*\nlast\n' >in

timeout 20 "$MINIONIZE" printf '<%s>\n' <in >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize exited $rc"; }
printf '<one>\n<two  words>\n<$HOME `x` ;|*>\n<last>\n' >want
cmp -s want out || { diff want out >&2; t_fail "printf output differs"; }
t_ok "each line is one argument, no shell"

timeout 20 "$MINIONIZE" <in >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize (no PROGRAM) exited $rc"; }
printf 'one\ntwo  words\n$HOME `x` ;|*\nlast\n' >want
cmp -s want out || { diff want out >&2; t_fail "echo output differs"; }
t_ok "no PROGRAM runs echo"

# -- ends the options: what follows is PROGRAM ARGS, dashes included.
printf 'p\n' | timeout 20 "$MINIONIZE" -- echo -e 'a\tb' >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize -- exited $rc"; }
printf 'a\tb p\n' >want
cmp -s want out || { diff want out >&2; t_fail "echo -e output differs"; }
t_ok "arguments after -- go to the program"
