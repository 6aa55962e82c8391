#!/bin/bash
# SPDX-License-Identifier: MIT
# The plugin ABI grows without breaking plugins: one built against an older,
# smaller header loads and the hooks it never had are absent; a major
# mismatch and a newer minor are refused by name; every shipped plugin
# loads.
. "$top_srcdir/tests/integration/lib.sh"
t_init

P="$top_builddir/tests/plugins/.libs"

# The old callback's table ends after process(): its describe() and
# cancel() lie past the size it recorded, so a dry run prints the param
# itself and a timeout finds no cancel hook.
echo hello | "$MINIONIZE" -c "$P/oldsize.so" >out 2>err ||
    t_fail "the older plugin did not run: $(cat err)"
grep -qx processed out || t_fail "older plugin: $(cat out)"
echo hello | "$MINIONIZE" -n -c "$P/oldsize.so" >out 2>err ||
    t_fail "dry run with the older plugin: $(cat err)"
grep -q "DESCRIBE CALLED" out && t_fail "a hook past the table's size was called"
grep -qx hello out || t_fail "dry run did not print the param: $(cat out)"
t_ok "a plugin from an older, smaller header loads; its missing hooks are absent"

t_expect_exit 2 "$MINIONIZE" -r "$P/newminor.so" true </dev/null 2>err
grep -q "reporter newminor: needs core ABI 2.4, this is 2.3" err ||
    t_fail "newer minor: $(cat err)"
[ "$(wc -l <err)" -eq 1 ] || t_fail "newer minor: more than one line"
t_expect_exit 2 "$MINIONIZE" -e "$P/badabi.so" </dev/null 2>err
grep -q "engine badabi: built for ABI 100, core is 2" err ||
    t_fail "major mismatch: $(cat err)"
t_ok "a major mismatch and a newer minor are refused by name"

for spec in engine:file engine:redis callback:process callback:function \
    reporter:null reporter:stdout reporter:json; do
    name=${spec#*:}
    "$MINIONIZE" --help-plugin "$name" >out 2>err ||
        t_fail "shipped plugin $name does not load: $(cat err)"
    grep -q "^${spec%%:*} $name: " out || t_fail "$name help: $(head -1 out)"
done
t_ok "every shipped plugin loads"
