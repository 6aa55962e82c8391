# SPDX-License-Identifier: MIT
# function: a bad MINION_FUNCTION is a start-up error (exit 2, one line,
# nothing run); a name without '/' is searched like dlopen does.
. "$top_srcdir/tests/integration/lib.sh"
t_init

TESTFN="$top_builddir/tests/plugins/.libs/testfn.so"
[ -f "$TESTFN" ] || t_fail "testfn.so not built: $TESTFN"

# expect_start_error PATTERN [VAR=VALUE...]: exit 2, one line on stderr
# matching PATTERN, no output.
expect_start_error() {
    local pattern=$1 rc
    shift
    echo hello | env "$@" timeout 20 "$MINIONIZE" -c function >out 2>err
    rc=$?
    [ "$rc" -eq 2 ] || { cat err >&2; t_fail "$*: exit $rc, not 2"; }
    [ "$(wc -l <err)" -eq 1 ] || { cat err >&2; t_fail "$*: not one line"; }
    grep -q "^minionize: error: .*$pattern" err ||
        { cat err >&2; t_fail "$*: error does not say '$pattern'"; }
    [ ! -s out ] || t_fail "$*: something ran: $(cat out)"
}

expect_start_error "MINION_FUNCTION"
t_ok "MINION_FUNCTION is required"

expect_start_error \
    "callback function: $PWD/nope.so: cannot open shared object file" \
    MINION_FUNCTION="$PWD/nope.so"
t_ok "a missing library: $(cat err)"

expect_start_error "undefined symbol: no_such_function" \
    MINION_FUNCTION="$TESTFN:no_such_function"
t_ok "a missing symbol: $(cat err)"

expect_start_error "empty symbol" MINION_FUNCTION="$TESTFN:"
t_ok "an empty symbol"

# Not a shared object at all.
echo 'not an ELF file' >bogus.so
expect_start_error "bogus.so" MINION_FUNCTION="$PWD/bogus.so"
t_ok "a file that is not a library: $(cat err)"

# Without '/', the name is searched like dlopen does: not in the working
# directory, but in LD_LIBRARY_PATH.
cp "$TESTFN" ./mytestfn.so
expect_start_error "mytestfn.so: cannot open shared object file" \
    MINION_FUNCTION=mytestfn.so
echo hello | MINION_FUNCTION=mytestfn.so LD_LIBRARY_PATH="$PWD" \
    timeout 20 "$MINIONIZE" -c function >out 2>err ||
    { cat err >&2; t_fail "LD_LIBRARY_PATH search"; }
grep -qx "hello attempt=1" out || t_fail "LD_LIBRARY_PATH run: $(cat out)"
echo hello | MINION_FUNCTION=./mytestfn.so timeout 20 "$MINIONIZE" \
    -c function >out 2>err || { cat err >&2; t_fail "./ path"; }
grep -qx "hello attempt=1" out || t_fail "./ path run: $(cat out)"
t_ok "names without '/' are searched like dlopen(3)"

# A ':' not followed by a symbol name belongs to the path.
mkdir 'dir:x'
cp "$TESTFN" 'dir:x/fn.so'
echo hello | MINION_FUNCTION="$PWD/dir:x/fn.so" timeout 20 "$MINIONIZE" \
    -c function >out 2>err || { cat err >&2; t_fail "path with ':'"; }
grep -qx "hello attempt=1" out || t_fail "path with ':' run: $(cat out)"
echo hello | MINION_FUNCTION="$PWD/dir:x/fn.so:minion_function" timeout 20 \
    "$MINIONIZE" -c function >out 2>err ||
    { cat err >&2; t_fail "path with ':' and a symbol"; }
grep -qx "hello attempt=1" out || t_fail "path with ':' and symbol: $(cat out)"
t_ok "a path with ':' in it"
