# SPDX-License-Identifier: MIT
# function: the wordcount example over a few files with -j4 gives the counts
# wc gives; an unreadable file is dead at once with the reason as output.
. "$top_srcdir/tests/integration/lib.sh"
t_init

WORDCOUNT="$top_builddir/plugins/examples/.libs/wordcount.so"
[ -f "$WORDCOUNT" ] || t_fail "wordcount.so not built: $WORDCOUNT"

mkdir texts
printf 'hello world\n' >texts/one.txt
printf '\n\n  two  spaces\tand\ttabs  \n\nlast line without newline' \
    >texts/two.txt
: >texts/empty.txt
for i in $(seq 200); do
    echo "line $i: The quick brown fox jumps over the lazy dog, $((i * 7))!"
done >texts/long.txt
printf 'caf\303\251 na\357ve 42 x_y\nok\001\002 \033[0m\r\n' >texts/bytes.txt
ls "$PWD"/texts/*.txt >params
echo "$PWD/texts/missing.txt" >>params

MINION_FUNCTION="$WORDCOUNT" timeout 20 "$MINIONIZE" -c function -j4 \
    -r stdout <params >out 2>err
rc=$?
[ "$rc" -eq 4 ] || { cat err >&2; t_fail "minionize exited $rc"; }

for f in "$PWD"/texts/*.txt; do
    # No word made of control bytes only: GNU wc does not count those,
    # POSIX (and the example) does.
    lines=$(LC_ALL=C wc -l <"$f")
    words=$(LC_ALL=C wc -w <"$f")
    letters=$(LC_ALL=C tr -cd '[:alpha:]' <"$f" | wc -c)
    want="$f $((lines)) $((words)) $((letters))"
    grep -qxF "$want" out ||
        { cat out >&2; t_fail "no line '$want'"; }
done
t_ok "counts match wc for $(ls texts | wc -l) files"

grep -qxF "$PWD/texts/missing.txt: No such file or directory" out ||
    { cat out >&2; t_fail "missing file: no reason in the output"; }
grep -qE '^dead [0-9]+ attempt=1 ' out ||
    { cat out >&2; t_fail "missing file not dead at the first attempt"; }
tail -n 1 err | grep -q "done: 5 ok, 0 failed, 1 dead" ||
    t_fail "last log line: $(tail -n 1 err)"
t_ok "an unreadable file is rejected with its reason"

# minion_noop prints nothing and succeeds, for every param.
seq 500 | MINION_FUNCTION="$WORDCOUNT:minion_noop" timeout 20 "$MINIONIZE" \
    -c function -j8 >out 2>err || { cat err >&2; t_fail "noop run"; }
[ ! -s out ] || t_fail "minion_noop printed: $(head -n 3 out)"
tail -n 1 err | grep -q "done: 500 ok, 0 failed, 0 dead" ||
    t_fail "noop last log line: $(tail -n 1 err)"
t_ok "minion_noop"
