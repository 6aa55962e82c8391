#!/bin/bash
# SPDX-License-Identifier: MIT
# process: {} and {name} placeholders, JSON arrays appended one argument per
# element, literal braces, a missing field dead-lettered, DRY mode.
. "$top_srcdir/tests/integration/lib.sh"
t_init

run() {
    timeout 20 "$MINIONIZE" "$@" >out 2>err
    local rc=$?
    [ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize $* exited $rc"; }
}

expect() {
    printf "$1" >want
    cmp -s want out || { diff want out >&2; t_fail "$2"; }
    t_ok "$2"
}

export MINION_DECODER=json
cat >in <<'JSON'
{"name": "n1", "n": 1, "tags": ["x", "y"], "o": {"k": [1, "v"]}}
{"name": "two words", "n": 2.5, "tags": [], "o": {"k": [2, "w"]}}
JSON
run printf '%s|%s|%s|%s\n' '{name}' 'out-{n}.txt' '{tags}' '{o.k.1}' <in
expect 'n1|out-1.txt|["x","y"]|v\ntwo words|out-2.5.txt|[]|w\n' \
    "{name} fields: strings bare, numbers and arrays as JSON, dotted paths"

printf '%s\n' '"a string"' '[1, "two"]' '{"a":1}' >in
run printf '<{}>\n' <in
expect '<a string>\n<[1,"two"]>\n<{"a":1}>\n' "{} under json: strings unquoted"

printf '%s\n' '["a b", 2, {"k": 1}, true]' '"solo"' '7' '[]' >in
run printf '[%s]\n' <in
expect '[a b]\n[2]\n[{"k":1}]\n[true]\n[solo]\n[7]\n[]\n' \
    "JSON arrays appended one argument per element"

printf '%s\n' '{"n": 1}' '{"n": "b c"}' >in
run touch 'file-{n}.txt' <in
[ -f file-1.txt ] && [ -f 'file-b c.txt' ] || t_fail "touch file-{n}.txt"
t_ok "{name} inside an argument names files"

unset MINION_DECODER
printf '%s\n' 'p q' >in
run awk 'BEGIN { printf "arg=%s\n", ARGV[1] }' <in
expect 'arg=p q\n' "awk braces stay literal"

printf '%s\n' 'raw"text' >in
run printf '<{}>\n' <in
expect '<raw"text>\n' "{} under identity is the raw text"

# {name} needs a JSON object even under identity; a param without the field
# (or not an object) is dead at once, and the minion goes on.
printf '%s\n' '{"n": 1}' '{"m": 2}' 'not json' '{"n": 3}' >in
mkdir rep
run -r json --set REPORTER_JSON_DIRECTORY=rep --set MINION_MAX_ATTEMPTS=3 \
    printf '%s\n' '{n}' <in
expect '1\n3\n' "good params run, bad ones do not stop the minion"
[ "$(cat rep/*.jsonl | grep -c '"status":"dead"')" -eq 2 ] ||
    { cat rep/*.jsonl >&2; t_fail "two dead reports expected"; }
[ "$(cat rep/*.jsonl | grep -c '"status":"failed"')" -eq 0 ] ||
    t_fail "bad params must not be retried"
grep '"param":"{\\"m\\": 2}"' rep/*.jsonl | grep -q '"error":"[^"]*\\"n\\"' ||
    { cat rep/*.jsonl >&2; t_fail "the error must name the missing field"; }
grep '"param":"not json"' rep/*.jsonl |
    grep -q 'placeholder {n} needs a JSON object param' ||
    { cat rep/*.jsonl >&2; t_fail "non-object param error"; }
t_ok "missing field and non-object params dead-lettered at once"

printf '%s\n' 'a b' "it's" >in
run --dry-run touch 'x-{}' <in
expect "touch 'x-a b'\ntouch 'x-it'\\\\''s'\n" "DRY prints the shell-quoted command"
[ ! -e 'x-a b' ] || t_fail "DRY ran the program"
