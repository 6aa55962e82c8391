#!/bin/bash
# SPDX-License-Identifier: MIT
# docker: MINION_DOCKER_IO_DIR. Each task gets a folder under DIR, mounted at
# /data, whose input.txt holds exactly the param's bytes; /data/output.txt is
# the result when present (else stdout is). No param (../, /, spaces) puts a
# folder outside DIR. A successful task's folder is removed unless
# MINION_DOCKER_KEEP_IO=1; a failed task's folder is kept.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/docker_lib.sh"
t_init
d_need_callback
d_start
d_image
CHECK="$top_builddir/tests/reporters/json_check"
[ -x "$CHECK" ] || t_fail "json_check not built: $CHECK"
export LC_ALL=C

# output.txt = input.txt + "!"; "nofile" writes only stdout; "fail" fails.
PROG='case "$(cat /data/input.txt)" in
    nofile) echo from-stdout ;;
    fail) echo failing; exit 1 ;;
    *) cat /data/input.txt >/data/output.txt; printf "!" >>/data/output.txt
       echo noise ;;
    esac'
printf '%s\n' plain '../../escape' '../' '..' '.' '/abs/olute' 'x/../../y' \
    ' lead and trail  ' 'a  b' '$(touch pwned)' >params
mkdir -p w/x
cd w/x || exit 99
run() {
    rm -rf rep
    MINION_ID="$D_TAG-io" MINION_DOCKER_IMAGE=$D_IMAGE MINION_MAX_ATTEMPTS=1 \
        REPORTER_JSON_DIRECTORY=rep timeout 120 "$MINIONIZE" -q -r json \
        -c docker -j3 sh -c "$PROG" <"$T_DIR/params" >out 2>err
}

MINION_DOCKER_IO_DIR=io MINION_DOCKER_KEEP_IO=1 run
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "KEEP_IO run exited $rc"; }
"$CHECK" rep/*.jsonl param status output >got || t_fail "bad report"
while IFS= read -r p; do
    grep -qxF "$p	ok	$p!" got ||
        { cat got >&2; t_fail "result of '$p' is not output.txt"; }
done <"$T_DIR/params"
t_ok "output.txt is the result; input.txt holds exactly the param"

[ "$(find "$T_DIR" -name input.txt | grep -vc "^$T_DIR/w/x/io/")" -eq 0 ] ||
    t_fail "an input.txt outside DIR: $(find "$T_DIR" -name input.txt)"
[ ! -e /abs/olute ] && [ ! -e "$T_DIR/escape" ] && [ ! -e "$T_DIR/w/escape" ] &&
    [ ! -e "$T_DIR/y" ] && [ ! -e pwned ] || t_fail "something escaped DIR"
n=$(find io -name input.txt | wc -l)
[ "$n" -eq "$(wc -l <"$T_DIR/params")" ] ||
    t_fail "$n kept folders for $(wc -l <"$T_DIR/params") tasks: $(find io)"
while IFS= read -r f; do
    grep -qxF "$(cat "$f")!" "$(dirname "$f")/output.txt" ||
        t_fail "$f and its output.txt do not match"
done < <(find io -name input.txt)
t_ok "MINION_DOCKER_KEEP_IO=1 keeps $n folders, all inside DIR"

printf '%s\n' nofile fail plain >"$T_DIR/params"
rm -rf io
MINION_DOCKER_IO_DIR=io run
rc=$?
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "run with a failure exited $rc"; }
"$CHECK" rep/*.jsonl param status output >got || t_fail "bad report"
grep -qx 'nofile	ok	from-stdout.*' got ||
    { cat got >&2; t_fail "without output.txt stdout is the result"; }
grep -qx 'plain	ok	plain!' got || { cat got >&2; t_fail "plain"; }
grep -q '^fail	dead	' got || { cat got >&2; t_fail "fail is not dead"; }
# The result is what reaches minionize's stdout.
grep -qx 'from-stdout' out && grep -qx 'plain!' out ||
    { cat out >&2; t_fail "results not on stdout"; }
kept=$(find io -name input.txt)
[ "$(printf '%s\n' "$kept" | grep -c .)" -eq 1 ] &&
    [ "$(cat "$kept")" = fail ] ||
    t_fail "only the failed task's folder must stay: $(find io)"
t_ok "successful folders removed, the failed one kept"
[ "$(d_count "minionize.minion=$D_TAG-io")" -eq 0 ] ||
    t_fail "containers left: $(d_list_all)"
