#!/bin/bash
# SPDX-License-Identifier: MIT
# process: the child's environment (ours plus the four MINION_ variables,
# replacing inherited ones), stdin from /dev/null, its own process group, and
# no blocked or ignored signals.
. "$top_srcdir/tests/integration/lib.sh"
t_init

printf '%s\n' 'first $x "q"' 'second' >in
MINION_ID=envtest MINION_PARAM=stale MINION_ATTEMPT=9 MINION_TASK_ID=old \
    KEEP=kept timeout 20 "$MINIONIZE" sh -c '
        printf "param=%s|id=%s|attempt=%s|keep=%s\n" "$MINION_PARAM" \
            "$MINION_ID" "$MINION_ATTEMPT" "$KEEP"
        printf "task=%s\n" "$MINION_TASK_ID"
        printf "stdin=%s\n" "$(readlink /proc/self/fd/0)"
        set -- $(cat /proc/$$/stat)
        [ "$1" = "$5" ] && echo "own group" || echo "group $5 is not pid $1"
        env | grep -c "^MINION_PARAM="' <in >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize exited $rc"; }

grep -qx 'param=first $x "q"|id=envtest|attempt=1|keep=kept' out ||
    { cat out >&2; t_fail "first task's environment"; }
grep -qx 'param=second|id=envtest|attempt=1|keep=kept' out ||
    { cat out >&2; t_fail "second task's environment"; }
t_ok "MINION_PARAM, MINION_ID, MINION_ATTEMPT set, others kept"

ids=$(grep '^task=' out | sort -u)
[ "$(printf '%s\n' "$ids" | grep -c '^task=.')" -eq 2 ] ||
    { cat out >&2; t_fail "two distinct non-empty MINION_TASK_ID expected"; }
grep -q '^task=old$' out && t_fail "inherited MINION_TASK_ID leaked"
[ "$(grep -cx 1 out)" -eq 2 ] || { cat out >&2; t_fail "MINION_PARAM twice"; }
t_ok "MINION_TASK_ID per task, inherited values replaced"

[ "$(grep -cx 'stdin=/dev/null' out)" -eq 2 ] ||
    { cat out >&2; t_fail "stdin is not /dev/null"; }
[ "$(grep -cx 'own group' out)" -eq 2 ] ||
    { cat out >&2; t_fail "child not in its own process group"; }
t_ok "stdin /dev/null, own process group"

# Whatever the minion blocks or ignores, the program starts clean. The
# param is the file grep reads.
echo /proc/self/status | (trap '' HUP PIPE; timeout 20 "$MINIONIZE" \
    grep -E '^Sig(Blk|Ign):' >out 2>err)
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize grep exited $rc"; }
# glibc's posix_spawn leaves its two internal signals (32 and 33) ignored
# in every child it starts; only the standard signals 1 to 31 are checked.
[ "$(wc -l <out)" -eq 2 ] || { cat out >&2; t_fail "grep output"; }
while read -r name mask; do
    [ $((0x$mask & 0x7fffffff)) -eq 0 ] ||
        { cat out >&2; t_fail "$name $mask in the child"; }
done <out
t_ok "no signal blocked or ignored in the child"
