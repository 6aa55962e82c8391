#!/bin/bash
# SPDX-License-Identifier: MIT
# file engine configuration errors: exit 2, one line on stderr naming the
# problem, and nothing run or consumed.
. "$top_srcdir/tests/integration/lib.sh"
t_init
[ -e "$top_builddir/callbacks/.libs/process.so" ] ||
    t_skip "the process callback is not built"

# expect_config_error PATTERN [ENV=VALUE...] -- [ARGS...]
expect_config_error() {
    local pattern=$1 rc
    shift
    rm -f ran
    env "$@" touch ran >out 2>err
    rc=$?
    [ "$rc" -eq 2 ] || { cat err >&2; t_fail "$*: exit $rc, want 2"; }
    [ "$(wc -l <err)" -eq 1 ] || { cat err >&2; t_fail "$*: not one line"; }
    grep -q '^minionize: error: engine file' err ||
        t_fail "$*: not a file engine error: $(cat err)"
    grep -q -- "$pattern" err || t_fail "$*: no '$pattern' in: $(cat err)"
    [ -e ran ] && t_fail "$*: a task ran"
    return 0
}

expect_config_error 'no-such-file: No such file' \
    timeout 30 "$MINIONIZE" -a no-such-file
mkdir adir
expect_config_error 'is a directory' timeout 30 "$MINIONIZE" -a adir
t_ok "an unreadable MINION_FILE: exit 2, one line, nothing run"

echo a >in
expect_config_error 'MINION_FILE_STATE needs MINION_FILE to name a file' \
    MINION_FILE_STATE=st timeout 30 "$MINIONIZE"
[ -e st ] && t_fail "the state dir was created for a refused configuration"
mkfifo fifo
expect_config_error 'regular file' MINION_FILE_STATE=st timeout 30 \
    "$MINIONIZE" -a fifo
echo not-a-dir >plain
expect_config_error 'MINION_FILE_STATE' MINION_FILE_STATE=plain/st \
    timeout 30 "$MINIONIZE" -a in
t_ok "MINION_FILE_STATE with stdin, a FIFO or an impossible dir: exit 2"

# Two live minions may not share one MINION_ID in one state dir.
printf 'slow\n' >slow
# No timeout(1) wrapper: the cleanup kills minionize itself by its PID.
MINION_ID=same MINION_FILE_STATE=st "$MINIONIZE" -q -a slow \
    sh -c 'echo $$ >started; exec sleep 30' sh >/dev/null 2>err1 &
first=$!
t_track "$first"
t_wait_until 20 test -s started || t_fail "the first minion never started"
t_track "$(cat started)"
expect_config_error 'MINION_ID same is in use' MINION_ID=same \
    MINION_FILE_STATE=st timeout 30 "$MINIONIZE" -a in
[ -e st/journal/same.journal ] || t_fail "the live minion's journal is gone"
kill -9 "$first"
{ wait "$first"; } 2>/dev/null
t_ok "a MINION_ID in use by a live minion: exit 2"
