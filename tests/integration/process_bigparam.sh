#!/bin/bash
# SPDX-License-Identifier: MIT
# process: a param too large for one environment string (Linux: 128 KiB)
# still runs: the child reads it from $MINION_PARAM_FILE; a param that is
# small has $MINION_PARAM and no file.
. "$top_srcdir/tests/integration/lib.sh"
t_init

# A JSON object of about 300 KiB, of which only {id} is used.
python3 - <<'PY' >big.json || t_fail "python3 is needed"
import json
print(json.dumps({"id": "big-one", "blob": "x" * 300000}))
PY
cat >show.sh <<'SH'
#!/bin/sh
if [ -n "$MINION_PARAM_FILE" ]; then
    cat "$MINION_PARAM_FILE" >"got.$1"
    echo "file $1 ${#MINION_PARAM}"
else
    printf '%s' "$MINION_PARAM" >"got.$1"
    echo "env $1"
fi
SH
chmod +x show.sh
{ cat big.json; echo '{"id": "small-one"}'; } >in
timeout 30 "$MINIONIZE" -a in ./show.sh '{id}' >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; t_fail "minionize exited $rc"; }
grep -qx "file big-one 0" out || t_fail "the big param: $(cat out err)"
grep -qx "env small-one" out || t_fail "the small param: $(cat out)"
printf '%s' "$(cat big.json)" | cmp -s - got.big-one ||
    t_fail "MINION_PARAM_FILE does not hold the param's bytes"
printf '%s' '{"id": "small-one"}' | cmp -s - got.small-one ||
    t_fail "MINION_PARAM does not hold the small param"
t_ok "a 300 KiB param runs through MINION_PARAM_FILE"

# The file is gone with the task: nothing is left in TMPDIR.
mkdir tmp
TMPDIR=$PWD/tmp timeout 30 "$MINIONIZE" -a big.json ./show.sh '{id}' \
    >out 2>err || t_fail "TMPDIR run: $(cat err)"
[ -z "$(ls tmp)" ] || t_fail "param files left behind: $(ls tmp)"
t_ok "no param file is left behind"

# As one argument ({}), 300 KiB is over exec's limit for one argument: dead
# at once, with an error that says what to do.
timeout 30 "$MINIONIZE" -a big.json echo '{}' >out 2>err
rc=$?
[ "$rc" -eq 4 ] || t_fail "a too long argument should end dead (exit 4), got $rc"
grep -q "over exec's limit of 131071 per argument; .*MINION_PARAM_FILE" err ||
    t_fail "the error does not explain: $(cat err)"
t_ok "a too long argument is dead-lettered with a clear error"
