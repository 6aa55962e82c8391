#!/bin/bash
# SPDX-License-Identifier: MIT
# make installcheck: adapters/tls.so is installed beside the plugins, the
# installed pulsar engine links no OpenSSL and loads the module for an
# https:// URL (so the start-up check gets as far as the network), and the
# plugin loader, listing pkglibdir, never takes the module for a plugin.
# Needs bindir, pkglibdir.
set -u
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

MINIONIZE="$bindir/minionize"
[ -x "$MINIONIZE" ] || fail "no installed minionize in $bindir"
[ -f "$pkglibdir/adapters/tls.so" ] || fail "no $pkglibdir/adapters/tls.so"
if [ ! -f "$pkglibdir/pulsar.so" ]; then
    echo "ok: adapters/tls.so installed (no pulsar engine to load it)"
    exit 0
fi
if command -v readelf >/dev/null; then
    readelf -d "$pkglibdir/pulsar.so" | grep -E 'NEEDED.*(libssl|libcrypto)' &&
        fail "the installed pulsar.so links OpenSSL"
fi

# Port 1 on loopback: refused, once TLS is set up.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/minionize-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
MINION_ENGINE=pulsar PULSAR_URL=https://127.0.0.1:1 PULSAR_TOPIC=t \
    "$MINIONIZE" -q -- true 2>"$tmp/err"
rc=$?
[ "$rc" -eq 2 ] || fail "https:// to a closed port: exit $rc: $(cat "$tmp/err")"
grep -q "TLS support" "$tmp/err" && fail "the module was not found: $(cat "$tmp/err")"
grep -q "cannot reach the Pulsar broker at https://127.0.0.1:1" "$tmp/err" ||
    fail "https:// to a closed port: $(cat "$tmp/err")"

# An unknown engine lists the engines found; tls is not one of them.
MINION_ENGINE=nosuch "$MINIONIZE" -q -- true 2>"$tmp/err"
grep -q "available: .*pulsar" "$tmp/err" || fail "engines: $(cat "$tmp/err")"
grep -q "tls" "$tmp/err" && fail "tls.so taken for a plugin: $(cat "$tmp/err")"
echo "ok: the installed pulsar engine loads the installed adapters/tls.so"
