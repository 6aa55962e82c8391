#!/bin/bash
# SPDX-License-Identifier: MIT
# TLS lives in adapters/tls.so, apart from the pulsar engine: pulsar.so
# links no OpenSSL, and a minion on http:// never maps it. On https:// the
# engine loads the module from an "adapters" folder next to its own file
# (as installed: pkglibdir/pulsar.so, pkglibdir/adapters/tls.so), and its
# admin requests, its dead letters (libevent's HTTP client) and its
# consumer (wss://) all go through it, the certificate checked against
# the system's CAs ($SSL_CERT_FILE here). Without the module: exit 2 at
# start-up, one line. The broker is the test double behind a TLS proxy.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pulsar_lib.sh"
t_init
p_need

so="$top_builddir/engines/.libs/pulsar.so"
tls="$top_builddir/plugins/adapters/.libs/tls.so"
[ -f "$so" ] && [ -f "$tls" ] || t_fail "no $so or $tls"

# 1. What pulsar.so needs: no OpenSSL, not even libevent's bufferevents.
if command -v readelf >/dev/null; then
    readelf -d "$so" >needed || t_fail "readelf $so"
    grep -E 'NEEDED.*(libssl|libcrypto|libevent_openssl)' needed &&
        t_fail "pulsar.so links OpenSSL"
    readelf -d "$tls" | grep -q 'NEEDED.*libssl' || t_fail "tls.so without libssl"
fi

# An installed-like folder: the engine, and the module where it looks.
mkdir -p lib/adapters
cp "$so" lib/pulsar.so

# 2. No module next to it: exit 2 before any I/O, one line.
p_minion nomod MINION_ENGINE="$T_DIR/lib/pulsar.so" \
    PULSAR_URL=https://127.0.0.1:1 -- -- true
p_wait_exit "$P_MINION" 15
[ "$P_RC" -eq 2 ] || t_fail "no module: exit $P_RC, not 2: $(cat nomod.err)"
p_one_line nomod.err
grep -q "TLS support (adapters/tls.so) not found next to pulsar.so: " nomod.err ||
    t_fail "no module: $(cat nomod.err)"
cp "$tls" lib/adapters/tls.so
t_ok "without adapters/tls.so next to pulsar.so: exit 2, one line"

# The broker, and a TLS proxy in front of it with a certificate for
# 127.0.0.1 that only $SSL_CERT_FILE trusts.
p_start_broker --topic "$P_TOPIC"
"$top_builddir/tests/plugins/adapters/selfsigned" cert.pem key.pem \
    IP:127.0.0.1 || t_fail "no certificate"
cat >proxy.py <<'EOS'
import asyncio, ssl, sys

port, backend = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("cert.pem", "key.pem")

async def pipe(r, w):
    try:
        while True:
            data = await r.read(65536)
            if not data:
                break
            w.write(data)
            await w.drain()
    except Exception:
        pass
    finally:
        w.close()

async def handle(cr, cw):
    try:
        br, bw = await asyncio.open_connection("127.0.0.1", backend)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pipe(cr, bw), pipe(br, cw))

async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", port, ssl=ctx)
    print("ready", flush=True)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
EOS
TLS_PORT=$(t_free_port) || t_fail "no free port"
"$P_PY" proxy.py "$TLS_PORT" "$P_PORT" >proxy.out 2>&1 &
t_track $!
t_wait_until 20 grep -q '^ready' proxy.out || t_fail "proxy: $(cat proxy.out)"
HTTPS_URL=https://127.0.0.1:$TLS_PORT

# 3. Through TLS: the start-up check, the consumer, a dead letter; once
# with the installed-like layout, once with the build tree's engine.
cat >prog.sh <<'EOS'
echo "$MINION_PARAM"
case "$MINION_PARAM" in
bad*) exit 3 ;;
esac
EOS
n=0
for engine in "$T_DIR/lib/pulsar.so" pulsar; do
    n=$((n + 1))
    "$SUBMIT" -q -e pulsar --topic "$P_TOPIC" "good$n" "bad$n" || t_fail "submit"
    p_minion "tls$n" MINION_ENGINE="$engine" PULSAR_URL="$HTTPS_URL" \
        SSL_CERT_FILE="$T_DIR/cert.pem" MINION_MAX_ATTEMPTS=1 \
        MINION_EXIT_WHEN_EMPTY=1 -- -- sh prog.sh
    p_wait_exit "$P_MINION" 30
    [ "$P_RC" -eq 4 ] || t_fail "tls$n: exit $P_RC, not 4: $(cat "tls$n.err")"
    printf '%s\n' "bad$n" "good$n" >want
    sort "tls$n.out" >got
    cmp -s want got || t_fail "tls$n ran: $(cat "tls$n.out")"
    grep -q "consuming $P_TOPIC .* on $HTTPS_URL" "tls$n.err" ||
        t_fail "tls$n: $(cat "tls$n.err")"
done
p_messages "$P_TOPIC-$P_SUB-DLQ" >dlq
grep -q '^bad1 ' dlq && grep -q '^bad2 ' dlq || t_fail "dead letters: $(cat dlq)"
t_ok "https:// and wss:// through tls.so: the check, the consumer, dead letters"

# 4. A certificate nobody trusts: exit 2 at start-up, and why.
p_minion untrusted PULSAR_URL="$HTTPS_URL" -- -- true
p_wait_exit "$P_MINION" 15
[ "$P_RC" -eq 2 ] || t_fail "untrusted: exit $P_RC, not 2: $(cat untrusted.err)"
p_one_line untrusted.err
grep -q "TLS: certificate refused: self-signed certificate" untrusted.err ||
    t_fail "untrusted: $(cat untrusted.err)"
t_ok "a certificate the system does not trust: exit 2 at start-up, one line"

# 5. On http:// OpenSSL is never mapped.
p_minion plain MINION_ENGINE="$T_DIR/lib/pulsar.so" -- -- true
t_wait_until 15 grep -q consuming plain.err || t_fail "plain: $(cat plain.err)"
grep -E 'libssl|libcrypto|tls\.so' "/proc/$P_MINION/maps" &&
    t_fail "a minion on http:// maps OpenSSL"
kill -TERM "$P_MINION"
p_wait_exit "$P_MINION" 15
t_ok "a minion on http:// maps no OpenSSL"
