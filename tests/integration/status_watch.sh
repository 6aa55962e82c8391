#!/bin/bash
# SPDX-License-Identifier: MIT
# minion-status --watch over a reports folder. On a terminal (a pty of
# tests/tools/pty_run): the alternate screen, counts that follow records
# appended between refreshes, a redraw within a smaller window after a
# resize, and q, Ctrl-C, SIGTERM or SIGHUP leaving with status 0 and the
# terminal's modes as they were. Through a pipe: plain lines, no escape
# sequence, and an end when the reader goes away.
. "$top_srcdir/tests/integration/lib.sh"
t_init

PTY_RUN="$top_builddir/tests/tools/pty_run"
[ -x "$PTY_RUN" ] || t_fail "$PTY_RUN is not built (make check builds it)"
# One byte per column, so that the width checks can count bytes.
export LC_ALL=C
ESC=$'\033'

NOW=$(date +%s)
# rec MINION UID GENERATION STATUS [ERROR]: one report, a few seconds old.
rec() {
    local start=$((NOW - 20 + $3)) err=null code=0
    if [ -n "${5:-}" ]; then
        err="\"$5\"" code=1
    fi
    printf '{"uid":"%s","minion":"%s","generation":%d,"start":%d.25,"end":%d.75,"duration":0.5,"task_id":"%s-%d","attempt":1,"status":"%s","exit_code":%d,"error":%s,"param":"p%d","output":"","atomic_actions":[{"name":"process","start":%d.25,"end":%d.75}],"nodename":"node-%s"}\n' \
        "$2" "$1" "$3" "$start" "$start" "$1" "$3" "$4" "$code" "$err" \
        "$3" "$start" "$start" "$1"
}

mkdir reports
{
    rec m1 u1 1 ok
    rec m1 u1 2 ok
    rec m1 u1 3 failed "exit status 1"
} >reports/m1.jsonl
{
    rec m2 u2 1 ok
    rec m2 u2 2 dead "exit status 2"
} >reports/m2.jsonl
# Appended while the view runs: then 6 ok, 2 failed, 1 dead.
{
    rec m1 u1 4 ok
    rec m1 u1 5 ok
    rec m1 u1 6 failed "exit status 1"
} >more-m1
rec m3 u3 1 ok >more-m3
BEFORE='ok 3  failed 1  dead 1'
AFTER='ok 6  failed 2  dead 1'

# visible FILE: what FILE drew, escape sequences taken out, one row a line,
# each frame (they start by homing the cursor) after a "@frame" line.
visible() {
    sed "s/${ESC}\[H/\n@frame\n/g; s/${ESC}\[[0-9;?]*[A-Za-z]//g" "$1" |
        tr -d '\r'
}

# last_frame FILE: the rows of the last frame.
last_frame() {
    visible "$1" | awk '/^@frame$/ { n = 0; next } { row[n++] = $0 }
        END { for (i = 0; i < n; i++) print row[i] }'
}

# check_left OUT MODES: the terminal given back as it was found, whatever
# made the view leave.
check_left() {
    local before after
    case $(tail -c 20 "$1") in
    *"${ESC}[?25h${ESC}[?1049l") ;;
    *) t_fail "$1 does not end by showing the cursor and leaving the alternate screen" ;;
    esac
    before=$(sed -n 's/^pty_run: termios before: //p' "$2")
    after=$(sed -n 's/^pty_run: termios after: //p' "$2")
    [ -n "$before" ] || t_fail "no terminal modes in $2: $(cat "$2")"
    [ "$before" = "$after" ] ||
        t_fail "terminal modes not restored: before '$before', after '$after'"
}

# --- The view follows the folder, and the window ---
"$PTY_RUN" -s 30x100 -o screen -T -t 30 \
    -w "$BEFORE" \
    -x 'cat more-m1 >>reports/m1.jsonl && cat more-m3 >reports/m3.jsonl' \
    -w "$AFTER" -r 0:20x60 -k 1000:q \
    -- "$STATUS" --watch=0.2 --dir reports 2>modes
rc=$?
[ "$rc" -eq 0 ] || t_fail "q: exit status $rc: $(cat modes)"
grep -q "${ESC}\[?1049h" screen || t_fail "the alternate screen was not entered"
check_left screen modes
t_ok "q leaves with status 0, the screen and the terminal's modes restored"

visible screen >frames
grep -q '^done 5$' frames || t_fail "no 'done 5' line: $(head -c 2000 frames)"
grep -q "^$BEFORE  " frames || t_fail "no '$BEFORE' line"
first_new=$(grep -n '^done 9$' frames | head -n 1 | cut -d: -f1)
last_old=$(grep -n '^done 5$' frames | tail -n 1 | cut -d: -f1)
[ -n "$first_new" ] || t_fail "the appended records never showed (no 'done 9')"
[ "$last_old" -lt "$first_new" ] ||
    t_fail "'done 5' after 'done 9': the frames went back"
grep -q "^$AFTER  " frames || t_fail "no '$AFTER' line"
grep -q 'm3' frames || t_fail "the new minion m3 is not in the table"
grep -q 'exit status 2' frames || t_fail "the errors are not shown"
t_ok "a later frame shows the appended records"

# The title is padded to the full width: 100 columns, then 60.
awk 'length($0) == 100 { found = 1 } END { exit !found }' frames ||
    t_fail "no line as wide as the 100-column window"
last_frame screen >last
rows=$(wc -l <last)
widest=$(awk '{ if (length($0) > w) w = length($0) } END { print w + 0 }' last)
[ "$rows" -le 20 ] || t_fail "the last frame has $rows rows in a 20-row window"
[ "$widest" -le 60 ] ||
    t_fail "the last frame has a line of $widest columns in a 60-column window: $(cat last)"
[ "$(head -n 1 last | awk '{ print length($0) }')" -eq 60 ] ||
    t_fail "the last frame was not drawn at the new width: $(head -n 1 last)"
grep -q "^$AFTER" last || t_fail "the last frame lost the counts: $(cat last)"
t_ok "a resize redraws within the new size ($rows rows, $widest columns at most)"

# --- Ctrl-C, SIGTERM and SIGHUP leave as q does ---
for how in "Ctrl-C:-c 200" "SIGTERM:-S 200:15" "SIGHUP:-S 200:1"; do
    name=${how%%:*}
    # shellcheck disable=SC2086 # the event is two words on purpose
    "$PTY_RUN" -s 24x80 -o "screen-$name" -T -t 20 -w "$AFTER" ${how#*:} \
        -- "$STATUS" --watch=0.2 --dir reports 2>"modes-$name"
    rc=$?
    [ "$rc" -eq 0 ] || t_fail "$name: exit status $rc: $(cat "modes-$name")"
    check_left "screen-$name" "modes-$name"
    t_ok "$name leaves with status 0 and the terminal restored"
done

# --- Block characters in a UTF-8 locale ---
utf8=$(locale -a 2>/dev/null | grep -i -m 1 -E '^(c|en_us)\.utf-?8$')
if [ -n "$utf8" ]; then
    LC_ALL=$utf8 "$PTY_RUN" -s 30x100 -o screen-utf8 -t 20 -w "$AFTER" \
        -k 300:q -- "$STATUS" --watch=0.2 --dir reports ||
        t_fail "the UTF-8 run failed"
    grep -q '█' screen-utf8 || t_fail "no block character in a UTF-8 locale"
    t_ok "charts of block characters in $utf8"
fi
grep -q '█' screen && t_fail "block characters in the C locale"

# --- Not a terminal: plain lines ---
(
    timeout 10 "$STATUS" --watch=0.1 --dir reports
    echo $? >plain-rc
) | head -n 3 >plain
[ "$(cat plain-rc)" = 0 ] ||
    t_fail "--watch | head -n 3: exit status $(cat plain-rc) (124: it did not end)"
[ "$(wc -l <plain)" -eq 3 ] || t_fail "not 3 lines: $(cat plain)"
grep -q "$ESC" plain && t_fail "escape sequences through a pipe: $(cat -v plain)"
pattern='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2} ok=6 failed=2 dead=1( |$)'
[ "$(grep -c -E "$pattern" plain)" -eq 3 ] || t_fail "unexpected lines: $(cat plain)"
t_ok "through a pipe: plain lines, and an end when the reader goes"

"$STATUS" --watch=0.1 --dir reports >plain-term 2>plain-term.err &
pid=$!
t_track "$pid"
# shellcheck disable=SC2016 # expanded by sh, at each try
t_wait_until 10 sh -c 'test "$(wc -l <plain-term)" -ge 2' ||
    t_fail "no lines to a file: $(cat plain-term.err)"
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] || t_fail "SIGTERM to plain lines: exit status $rc"
grep -q "$ESC" plain-term && t_fail "escape sequences in a file"
t_ok "SIGTERM ends the plain lines with status 0"
