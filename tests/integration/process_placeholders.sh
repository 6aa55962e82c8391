#!/bin/bash
# SPDX-License-Identifier: MIT
# process: {} and {name} placeholders, JSON arrays appended one argument per
# element, literal braces, a missing field dead-lettered, DRY mode.
. "$top_srcdir/tests/integration/lib.sh"
t_init

# run [--dead] ARGS...: exit 0 expected, or 4 (params ended dead).
run() {
    local want=0
    [ "$1" = --dead ] && { want=4; shift; }
    timeout 20 "$MINIONIZE" "$@" >out 2>err
    local rc=$?
    [ "$rc" -eq "$want" ] || { cat err >&2; t_fail "minionize $* exited $rc"; }
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
run --dead -r json --set REPORTER_JSON_DIRECTORY=rep \
    --set MINION_MAX_ATTEMPTS=3 printf '%s\n' '{n}' <in
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

# Shell syntax passes through: ${...} is never a placeholder.
seq 2 | HOME=/the/home "$MINIONIZE" sh -c 'echo "${HOME} $0"' >out 2>err ||
    t_fail "\${HOME} run: $(cat err)"
grep -qx "/the/home 1" out || t_fail "\${HOME} not passed through: $(cat out)"
t_ok "\${HOME} is shell syntax, not a placeholder"

# {{ and }} write literal braces.
printf 'a b\n' >words
echo words | "$MINIONIZE" awk '{{print $2}}' >out 2>err ||
    t_fail "{{print}} run: $(cat err)"
grep -qx "b" out || t_fail "{{print \$2}} did not reach awk as {print \$2}: $(cat out)"
t_ok "{{ and }} are literal braces"

# Arguments that no param can fill ({print} wants a JSON field): the minion
# stops with exit 2 and one line, and nothing is dead-lettered: the params
# stay for a fixed command.
seq 10 >in
for j in 1 4; do
    rm -rf state
    MINION_FILE=in MINION_FILE_STATE=state "$MINIONIZE" -j$j awk '{print}' \
        >out 2>err
    rc=$?
    [ "$rc" -eq 2 ] || t_fail "-j$j: a wrong template should exit 2, got $rc: $(cat err)"
    grep -q "error: .*all fail to fill the arguments of awk: .*write {{print}}" err ||
        t_fail "-j$j: the stop does not say why: $(cat err)"
    [ "$(grep -c error err)" -eq 1 ] || t_fail "-j$j: more than one error line: $(cat err)"
    [ -s state/dead.jsonl ] && t_fail "-j$j: params were dead-lettered: $(cat state/dead.jsonl)"
    # The fixed command then runs every param.
    MINION_FILE=in MINION_FILE_STATE=state "$MINIONIZE" -j$j echo '{{}}' {} \
        >out 2>err || t_fail "-j$j: the fixed run failed: $(cat err)"
    [ "$(wc -l <out)" -eq 10 ] || t_fail "-j$j: the fixed run ran $(wc -l <out) params"
done
t_ok "a template no param fills stops the minion (exit 2), nothing dead"

# Some params lacking a field are the params' fault: dead, the rest runs.
printf '%s\n' '{"x":1}' '{"y":2}' '{"x":3}' '{"y":4}' |
    "$MINIONIZE" -j2 echo '{x}' >out 2>err
rc=$?
[ "$rc" -eq 4 ] || t_fail "params missing a field: exit $rc, not 4: $(cat err)"
[ "$(sort out | tr '\n' ' ')" = "1 3 " ] || t_fail "the good params: $(cat out)"
grep -q "done: 2 ok, 0 failed, 2 dead" err || t_fail "summary: $(tail -1 err)"
t_ok "params that lack a field are dead, the others run"

# With -j1 too, one param that lacks the field is that param's fault when
# the next one has it: the minion does not stop.
printf '%s\n' '{"a":1}' '{"b":2}' '{"b":3}' |
    "$MINIONIZE" -j1 echo '{b}' >out 2>err
rc=$?
[ "$rc" -eq 4 ] || t_fail "-j1, first param lacking a field: exit $rc, not 4: $(cat err)"
[ "$(tr '\n' ' ' <out)" = "2 3 " ] || t_fail "-j1: the good params: $(cat out)"
t_ok "-j1: a first param lacking a field does not stop the minion"
