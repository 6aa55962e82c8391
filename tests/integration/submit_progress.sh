# SPDX-License-Identifier: MIT
# minion-submit --wait is never silent on a terminal: stderr shows how many
# results came back out of how many and since when, redrawn in place (\r) a
# few times a second at most, and ends with a newline; never when stderr is
# no terminal. --timeout bounds the wait, and --help says so. Results are
# played by redis-cli: what is under test is --wait.
. "$top_srcdir/tests/integration/lib.sh"
t_init
unset REDIS_STREAM REDIS_RESULTS
command -v script >/dev/null || t_skip "script (util-linux) not installed"
t_start_redis

# on_tty LOG CMD: run CMD (a shell string) with stderr on a pseudo-terminal
# (no \n -> \r\n there), stdout where CMD sends it; what the terminal got
# goes to LOG, then a line END (on a line of its own only if CMD's last
# output ended with a newline).
on_tty() {
    local log=$1
    shift
    timeout 30 script -qefc "stty -onlcr; $1; rc=\$?; echo END; exit \$rc" \
        "$log.raw" </dev/null >/dev/null
    rc=$?
    # Drop script's own header and footer lines.
    grep -av '^Script \(started\|done\)' "$log.raw" >"$log"
    return $rc
}

# Nobody runs the params: the progress shows 0 of 2, --timeout ends it.
start=$(date +%s)
on_tty idle "'$SUBMIT' -e redis --stream nobody --wait --timeout 2 a b >idle.out"
rc=$?
elapsed=$(($(date +%s) - start))
[ "$rc" -eq 1 ] || t_fail "no minion, --timeout 2: exit $rc: $(cat idle)"
[ "$elapsed" -le 10 ] || t_fail "--timeout 2 took ${elapsed}s"
grep -aq 'minion-submit: 0 of 2 results back, waiting since [0-9][0-9]:[0-9][0-9]:[0-9][0-9] (' idle ||
    t_fail "no progress line: $(cat -v idle)"
[ "$(tr -cd '\r' <idle | wc -c)" -ge 2 ] ||
    t_fail "the line is not redrawn in place: $(cat -v idle)"
# Each draw begins with \r: about one per second here, a few per second
# at most.
draws=$(tr -cd '\r' <idle | wc -c)
[ "$draws" -ge 2 ] && [ "$draws" -le 20 ] || t_fail "$draws draws in 2s"
# The progress line ends with a newline before the timeout message.
tr -d '\r' <idle | grep -a -A1 'results back' | tail -n 1 |
    grep -q '^minion-submit: timed out: 2 of 2 results missing' ||
    t_fail "the line was not ended before the message: $(cat -v idle)"
t_ok "no minion: '0 of 2 results back' in place, then --timeout ends it"

# Results come in: the count follows, the outputs go to stdout, the last
# state ends with a newline.
on_tty some "'$SUBMIT' -q -e redis --stream s2 --wait --timeout 20 x y >some.out" &
pid=$!
t_track $pid
xlen_is() { [ "$(rcli XLEN "$1")" = "$2" ]; }
t_wait_until 10 xlen_is s2 2 || t_fail "not submitted"
set -- $(rcli --raw XRANGE s2 - + | awk 'NR % 3 == 1')
rcli XADD s2:results '*' task "$1" status ok attempt 1 output X >/dev/null
sleep 1.5
rcli XADD s2:results '*' task "$2" status ok attempt 1 output Y >/dev/null
wait $pid
rc=$?
[ "$rc" -eq 0 ] || t_fail "two results: exit $rc: $(cat -v some)"
[ "$(cat some.out)" = "$(printf 'X\nY')" ] || t_fail "stdout: $(cat some.out)"
grep -aq '1 of 2 results back' some || t_fail "no 1 of 2: $(cat -v some)"
tr '\r' '\n' <some | grep -a 'results back' | tail -n 1 |
    grep -q '2 of 2 results back' || t_fail "last state: $(cat -v some)"
grep -a -B1 -x END some | head -n 1 | grep -q ')$' ||
    t_fail "the last line does not end with a newline: $(cat -v some)"
t_ok "results coming back: 1 of 2, then 2 of 2 and a newline"

# No terminal: no progress line at all.
"$SUBMIT" -q -e redis --stream s3 --wait --timeout 1 a >plain.out 2>plain.err
[ "$(cat plain.err)" = 'minion-submit: timed out: 1 of 1 results missing' ] ||
    t_fail "stderr not a terminal: $(cat -v plain.err)"
t_ok "no progress when stderr is no terminal"

"$SUBMIT" --help >help.txt
grep -A2 -- '--timeout SECONDS' help.txt | tr -s ' \n' ' ' |
    grep -q 'without it --wait waits for every result, however long' ||
    t_fail "--help: $(grep -A2 -- --timeout help.txt)"
t_ok "--help says --timeout bounds --wait"
