#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The bench's "broker ceiling": an ack-only WebSocket consumer that drains
COUNT messages from the Pulsar test double (or a real broker) as fast as it
can and prints the rate.

  /usr/bin/python3 tests/pulsar/ceiling.py --url 'ws://127.0.0.1:PORT/ws/v2/consumer/persistent/public/default/bench/minions?subscriptionType=Shared&receiverQueueSize=1000' --count N [--token T] [--connections K] [--timeout S]

Prints "ceiling: N msgs in T s = R msgs/s" (from the first message to the
last ack written) and exits 0; exits 1 if fewer than N arrive before --timeout
seconds (default 120) pass without a message. It uses websockets' sans-I/O
client connection (masking, framing, pongs) over asyncio streams and writes
the acks of each read in one write(), so that the client is not the
bottleneck the way a coroutine per message is. Fill the topic first, e.g.
broker.py --topic persistent://public/default/bench --subscription minions
--preload N, or REST POSTs of {"messages":[...]} batches.
"""

import argparse
import asyncio
import sys
import time

try:  # websockets >= 11
    from websockets.client import ClientProtocol as WsClient
except ImportError:  # websockets 10.x
    from websockets.client import ClientConnection as WsClient
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri


async def drain(url, token, state, timeout):
    uri = parse_uri(url)
    reader, writer = await asyncio.open_connection(uri.host, uri.port)
    conn = WsClient(uri, max_size=None)
    request = conn.connect()
    if token:
        request.headers["Authorization"] = "Bearer " + token
    conn.send_request(request)
    writer.write(b"".join(conn.data_to_send()))
    opened = False
    try:
        while state["left"] > 0:
            try:
                data = await asyncio.wait_for(reader.read(1 << 18), timeout)
            except asyncio.TimeoutError:
                return
            if not data:
                return
            conn.receive_data(data)
            for event in conn.events_received():
                if isinstance(event, Response):
                    if event.status_code != 101 or conn.handshake_exc is not None:
                        print("ceiling: handshake refused: %d %s" % (event.status_code, (event.body or b"").decode(errors="replace").strip()),
                              file=sys.stderr)
                        return
                    opened = True
                    continue
                if event.opcode is not Opcode.TEXT or state["left"] <= 0:
                    continue
                if state["t0"] is None:
                    state["t0"] = time.monotonic()
                # The messageId is the first field: cut it out, no full parse.
                raw = event.data
                start = raw.index(b'"messageId":"') + 13
                conn.send_text(b'{"messageId":"' + raw[start:raw.index(b'"', start)] + b'"}')
                state["left"] -= 1
                if state["left"] == 0:
                    state["t1"] = time.monotonic()
            out = conn.data_to_send()
            if out:
                writer.write(b"".join(out))
    finally:
        if opened:
            try:
                conn.send_close(1000)
                writer.write(b"".join(conn.data_to_send()))
                await asyncio.wait_for(writer.drain(), 2)
            except Exception:
                pass
        writer.close()


async def main():
    p = argparse.ArgumentParser(description="ack-only consumer: the broker ceiling in msgs/s")
    p.add_argument("--url", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--token")
    p.add_argument("--connections", type=int, default=1)
    p.add_argument("--timeout", type=float, default=120.0)
    a = p.parse_args()
    state = {"left": a.count, "t0": None, "t1": None}
    await asyncio.gather(*(drain(a.url, a.token, state, a.timeout) for _ in range(a.connections)))
    if state["left"] > 0 or state["t0"] is None:
        print("ceiling: only %d of %d messages arrived" % (a.count - state["left"], a.count), file=sys.stderr)
        return 1
    secs = max(state["t1"] - state["t0"], 1e-6)
    print("ceiling: %d msgs in %.3f s = %.0f msgs/s" % (a.count, secs, a.count / secs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
