#!/bin/bash
# SPDX-License-Identifier: MIT
# minion-submit with the file engine: params from arguments, stdin and
# --sweep; --json all-or-nothing; concurrent submitters never mix lines;
# usage errors exit 2 with one line.
. "$top_srcdir/tests/integration/lib.sh"
t_init

# check_file FILE LINE...: FILE holds exactly these lines.
check_file() {
    local f=$1
    shift
    printf '%s\n' "$@" >want
    cmp -s want "$f" || { diff want "$f" >&2; t_fail "$f differs"; }
}

# one_line FILE: exactly one line, naming the program.
one_line() {
    [ "$(wc -l <"$1")" -eq 1 ] || { cat "$1" >&2; t_fail "not one line"; }
    grep -q '^minion-submit: ' "$1" || t_fail "no program name in: $(cat "$1")"
}

# --- usage -----------------------------------------------------------------
"$SUBMIT" --version >out 2>err || t_fail "--version failed"
grep -qx 'minion-submit [0-9][0-9.]*' out || t_fail "--version: $(cat out)"
"$SUBMIT" --help >out 2>err || t_fail "--help failed"
grep -q '^Usage: minion-submit' out || t_fail "--help: no usage on stdout"
[ -s err ] && t_fail "--help wrote to stderr"
t_expect_exit 2 "$SUBMIT" --no-such-option a 2>err
one_line err
t_expect_exit 2 "$SUBMIT" a 2>err
one_line err
grep -q 'MINION_FILE' err || t_fail "no hint at MINION_FILE: $(cat err)"
t_expect_exit 2 "$SUBMIT" -f - a 2>err
one_line err
t_expect_exit 2 "$SUBMIT" -e pulsar -f x a 2>err
one_line err
t_expect_exit 2 "$SUBMIT" -f x --timeout 3 a 2>err
one_line err
t_expect_exit 2 "$SUBMIT" -f x --wait a 2>err
one_line err
t_expect_exit 2 "$SUBMIT" -f x --sweep '{"a":[1]}' extra 2>err
one_line err
[ -e x ] && t_fail "a usage error created the file"
t_ok "usage: --help, --version, errors exit 2 with one line"

# --- arguments, stdin ------------------------------------------------------
"$SUBMIT" -f p.txt alpha 'two words' '{"k": 1}' 2>err ||
    t_fail "submit args: $(cat err)"
check_file p.txt alpha 'two words' '{"k": 1}'
grep -qx 'minion-submit: submitted 3 params to p.txt' err ||
    t_fail "count line: $(cat err)"
[ "$(stat -c %a p.txt)" = 644 ] || t_fail "mode $(stat -c %a p.txt)"

printf 'one\r\n\n   \ntwo\n\r\nthree' | "$SUBMIT" -q -f p.txt 2>err ||
    t_fail "submit stdin: $(cat err)"
[ -s err ] && t_fail "-q still printed: $(cat err)"
check_file p.txt alpha 'two words' '{"k": 1}' one two three
t_ok "arguments and stdin lines (blank skipped, CR stripped) appended"

# A file whose last line lacks its newline gets one before ours.
printf 'last-without-newline' >q.txt
"$SUBMIT" -q -f q.txt next || t_fail "append after partial line"
check_file q.txt last-without-newline next
# Settings: flag > environment > .env.
echo 'MINION_FILE=from-dotenv.txt' >.env
"$SUBMIT" -q d1 || t_fail ".env MINION_FILE"
check_file from-dotenv.txt d1
MINION_FILE=from-env.txt "$SUBMIT" -q e1 || t_fail "env MINION_FILE"
check_file from-env.txt e1
MINION_FILE=from-env.txt "$SUBMIT" -q -f from-flag.txt f1 ||
    t_fail "flag MINION_FILE"
check_file from-flag.txt f1
check_file from-env.txt e1
echo 'MINION_FILE=other.txt' >alt.env
"$SUBMIT" -q --env-file alt.env o1 || t_fail "--env-file"
check_file other.txt o1
t_expect_exit 2 "$SUBMIT" -q --env-file missing.env o1 2>err
one_line err
rm .env
t_ok "newline repaired; flag > environment > .env"

# A param the file engine cannot hold is refused before anything is written.
cp p.txt before
t_expect_exit 2 "$SUBMIT" -f p.txt ok "$(printf 'a\nb')" 2>err
one_line err
t_expect_exit 2 "$SUBMIT" -f p.txt ok '' 2>err
one_line err
cmp -s before p.txt || t_fail "a refused submission wrote"
t_ok "newline or blank params refused, nothing written"

# --- --json ----------------------------------------------------------------
printf '%s\n' '{"a":1}' '[1,2]' '"s"' >good.jsonl
"$SUBMIT" -q --json -f j.txt <good.jsonl || t_fail "--json good"
cmp -s good.jsonl j.txt || t_fail "--json changed params"
cp j.txt before
printf '%s\n' '{"a":2}' '' '{"a":' '3' | "$SUBMIT" --json -f j.txt 2>err
rc=$?
[ "$rc" -eq 2 ] || t_fail "--json bad: exit $rc"
one_line err
grep -q '^minion-submit: line 3: param is not valid JSON (at byte 6): {"a":' err ||
    t_fail "--json message: $(cat err)"
cmp -s before j.txt || t_fail "--json rejection wrote something"
t_expect_exit 2 "$SUBMIT" --json -f new.txt '{}' '{} x' 2>err
grep -q 'argument 2: param is not valid JSON' err ||
    t_fail "--json argument: $(cat err)"
python3 -c 'print("[" * 2000 + "]" * 2000)' >deep.jsonl
t_expect_exit 2 "$SUBMIT" --json -f deep.txt <deep.jsonl 2>err
grep -q 'line 1: param is JSON nested deeper than 1000 levels' err ||
    t_fail "--json deep JSON: $(cat err)"
[ -e new.txt ] && t_fail "--json rejection created the file"
t_ok "--json: the first bad param is named, nothing submitted"

# --- --sweep ---------------------------------------------------------------
"$SUBMIT" -f s.txt --sweep '{"lr":[0.1,0.01],"model":["a","b","c"],"seed":7}' \
    2>err || t_fail "--sweep: $(cat err)"
check_file s.txt \
    '{"lr":0.1,"model":"a","seed":7}' '{"lr":0.1,"model":"b","seed":7}' \
    '{"lr":0.1,"model":"c","seed":7}' '{"lr":0.01,"model":"a","seed":7}' \
    '{"lr":0.01,"model":"b","seed":7}' '{"lr":0.01,"model":"c","seed":7}'
grep -qx 'minion-submit: submitted 6 params to s.txt' err ||
    t_fail "--sweep count: $(cat err)"
"$SUBMIT" -q -f big.txt --sweep '{"a":[1,2,3,4,5,6,7,8,9,10],
    "b":[1,2,3,4,5,6,7,8,9,10],"c":[1,2,3,4,5,6,7,8,9,10],"d":[true,false]}' ||
    t_fail "--sweep 2000"
[ "$(wc -l <big.txt)" -eq 2000 ] || t_fail "--sweep gave $(wc -l <big.txt)"
[ "$(sort -u big.txt | wc -l)" -eq 2000 ] || t_fail "--sweep duplicates"
"$SUBMIT" -f e.txt --sweep '{"a":[1,2],"b":[]}' 2>err ||
    t_fail "--sweep empty must not fail"
grep -q 'warning: .*"b" has no values' err || t_fail "no warning: $(cat err)"
grep -q 'submitted 0 params' err || t_fail "empty count: $(cat err)"
[ -e e.txt ] && t_fail "an empty sweep created the file"
for bad in '[1,2]' '{"a":[1]' '{}' 'nope'; do
    t_expect_exit 2 "$SUBMIT" -f e.txt --sweep "$bad" 2>err
    one_line err
done
t_ok "--sweep: product in order, scalars, empty, errors"

# --- concurrent submitters -------------------------------------------------
# Three writers of about 300 KiB each (several 64 KiB batches): every line
# must arrive exactly once and whole.
pad=$(printf '%0100d' 0)
for w in 1 2 3; do
    seq 1 3000 | sed "s/^/w$w-/; s/\$/-$pad/" >in$w
done
: >c.txt
for w in 1 2 3; do
    timeout 30 "$SUBMIT" -q -f c.txt <in$w &
    eval "pid$w=$!"
done
for w in 1 2 3; do
    eval "wait \$pid$w" || t_fail "writer $w failed"
done
[ "$(wc -l <c.txt)" -eq 9000 ] || t_fail "$(wc -l <c.txt) lines, not 9000"
sort in1 in2 in3 >want
sort c.txt | cmp -s want - || t_fail "lines lost, duplicated or torn"
t_ok "three concurrent submitters: 9000 whole lines, each once"
