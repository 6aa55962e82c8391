#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks of the Pulsar test double (broker.py), driven by broker_selftest.sh.

  selftest.py PHASE --port PORT [--token T] [--forbidden-token T]

PHASE: main (protocol and delivery semantics), faults (idle timeout, pings,
coalesced 101), split (--split-frames), state1 / state2 (before and after a
kill -9 and restart with --state). Prints "ok: ..." per check; exits 1 with
"FAIL: ..." on the first failure. Uses websockets' asyncio client and, where
the client library would hide the wire (close status 3, unmasked frames,
error bodies), a raw socket.
"""

import argparse
import asyncio
import base64
import json
import os
import re
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

OPTS = None
NS = "persistent://public/default/"


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def ok(what):
    print("ok: " + what, flush=True)


def auth_headers(token=None):
    token = OPTS.token if token is None else token
    return {"Authorization": "Bearer " + token} if token else {}


def http_call(method, path, body=None, token=None, ctype="application/json"):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (OPTS.port, path), data=data, method=method)
    for k, v in auth_headers(token).items():
        req.add_header(k, v)
    if data is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, raw
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def jcall(method, path, body=None, token=None):
    status, raw = http_call(method, path, body, token)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw


def new_topic(local):
    status, _ = http_call("PUT", "/admin/v2/persistent/public/default/" + local)
    check(status == 204, "create topic %s: %s" % (local, status))
    return NS + local


def produce(topic, *payloads, props=None, key=None, event_ms=None):
    msgs = []
    for p in payloads:
        m = {"payload": p}
        if props:
            m["properties"] = props
        if key:
            m["key"] = key
        if event_ms:
            m["eventTime"] = str(event_ms)
        msgs.append(m)
    status, out = jcall("POST", "/topics/persistent/" + topic[len("persistent://"):],
                        {"producerName": "selftest", "messages": msgs})
    check(status == 200, "REST produce to %s: %s %s" % (topic, status, out))
    return [r["messageId"] for r in out["messagePublishResults"]]


def stats(topic):
    status, out = jcall("GET", "/admin/v2/persistent/" + topic[len("persistent://"):] + "/stats")
    check(status == 200, "stats %s: %s" % (topic, status))
    return out


def messages(topic):
    status, out = jcall("GET", "/test/messages?topic=" + urllib.parse.quote(topic, safe=""), token="")
    check(status == 200, "test/messages %s: %s" % (topic, status))
    return out


def consumer_path(topic, sub, **params):
    path = "/ws/v2/consumer/persistent/%s/%s" % (topic[len("persistent://"):], urllib.parse.quote(sub, safe=""))
    if params:
        path += "?" + urllib.parse.urlencode(params)
    return path


def producer_path(topic, **params):
    path = "/ws/v2/producer/persistent/" + topic[len("persistent://"):]
    if params:
        path += "?" + urllib.parse.urlencode(params)
    return path


async def ws_open(path, token=None, headers=None, **kw):
    hdrs = dict(auth_headers(token))
    if headers:
        hdrs.update(headers)
    return await websockets.connect("ws://127.0.0.1:%d%s" % (OPTS.port, path), extra_headers=hdrs,
                                    compression=None, ping_interval=kw.pop("ping_interval", None),
                                    open_timeout=5, close_timeout=2, **kw)


async def consumer(topic, sub, **params):
    return await ws_open(consumer_path(topic, sub, **params))


async def ws_status(path, token=None):
    """HTTP status of a refused upgrade (101 when accepted)."""
    try:
        ws = await ws_open(path, token=token)
    except InvalidStatusCode as exc:
        return exc.status_code
    await ws.close()
    return 101


async def recv(ws, timeout=3.0):
    try:
        raw = await asyncio.wait_for(ws.recv(), timeout)
    except asyncio.TimeoutError:
        raise Fail("no message within %.1fs" % timeout)
    return json.loads(raw)


async def recv_n(ws, n, timeout=3.0):
    return [await recv(ws, timeout) for _ in range(n)]


async def nothing(ws, wait=0.3):
    try:
        raw = await asyncio.wait_for(ws.recv(), wait)
    except asyncio.TimeoutError:
        return True
    raise Fail("unexpected frame: %s" % raw[:200])


def text(msg):
    return base64.b64decode(msg["payload"]).decode()


async def ack(ws, msg):
    await ws.send(json.dumps({"messageId": msg["messageId"]}))


async def nack(ws, msg):
    await ws.send(json.dumps({"type": "negativeAcknowledge", "messageId": msg["messageId"]}))


async def settle(cond, what, limit=3.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if cond():
            return
        await asyncio.sleep(0.02)
    raise Fail(what)


# --- raw WebSocket, to see the wire ------------------------------------------

class Raw:
    def __init__(self, reader, writer, status, head, rest):
        self.reader, self.writer, self.status, self.head, self.buf = reader, writer, status, head, rest

    @classmethod
    async def open(cls, path, headers=None, token=None):
        reader, writer = await asyncio.open_connection("127.0.0.1", OPTS.port)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % OPTS.port, "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        for k, v in dict(auth_headers(token), **(headers or {})).items():
            lines.append("%s: %s" % (k, v))
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1]) if head else 0
        return cls(reader, writer, status, head.decode("latin-1"), rest)

    async def body(self):
        m = re.search(r"(?i)content-length: *(\d+)", self.head)
        n = int(m.group(1)) if m else 0
        while len(self.buf) < n:
            chunk = await asyncio.wait_for(self.reader.read(65536), 5)
            if not chunk:
                break
            self.buf += chunk
        return self.buf[:n].decode()

    def send(self, opcode, payload, masked=True, fin=True):
        head = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        mbit = 0x80 if masked else 0
        if n < 126:
            head += bytes([mbit | n])
        elif n < 65536:
            head += bytes([mbit | 126]) + struct.pack("!H", n)
        else:
            head += bytes([mbit | 127]) + struct.pack("!Q", n)
        if masked:
            mask = os.urandom(4)
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            head += mask
        self.writer.write(head + payload)

    async def _need(self, n):
        while len(self.buf) < n:
            chunk = await asyncio.wait_for(self.reader.read(65536), 5)
            if not chunk:
                raise EOFError
            self.buf += chunk

    async def frame(self):
        await self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        check(not b1 & 0x80, "server frames must be unmasked")
        n, off = b1 & 0x7F, 2
        if n == 126:
            await self._need(4)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            await self._need(10)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        await self._need(off + n)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return b0 & 0x0F, payload

    async def close_code(self):
        """Read frames up to the close frame; its status code."""
        while True:
            op, payload = await self.frame()
            if op == 8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005

    def done(self):
        self.writer.close()


# --- phases --------------------------------------------------------------------

async def phase_main():
    # Unknown paths and methods.
    check(http_call("GET", "/nowhere")[0] == 404, "unknown path is 404")
    check(http_call("POST", "/admin/v2/persistent/public/default/x/stats")[0] == 405, "wrong method is 405")
    ok("404 unknown path, 405 wrong method")

    # Authentication.
    t = new_topic("auth")
    path = consumer_path(t, "s", subscriptionType="Shared")
    check(await ws_status(path, token="") == 401, "WS without token is 401")
    check(await ws_status(path, token="wrong") == 401, "WS with a bad token is 401")
    if OPTS.forbidden_token:
        check(await ws_status(path, token=OPTS.forbidden_token) == 403, "forbidden token is 403")
    ws = await websockets.connect("ws://127.0.0.1:%d%s&token=%s" % (OPTS.port, path, OPTS.token),
                                  compression=None, ping_interval=None)
    await ws.close()
    check(await ws_status(path) == 101, "WS with the Bearer header is accepted")
    check(http_call("POST", "/topics/persistent/public/default/auth", {"messages": []}, token="")[0] == 401,
          "REST produce without token is 401")
    check(http_call("GET", "/admin/v2/persistent/public/default/auth/stats", token="bad")[0] == 401,
          "stats with a bad token is 401")
    raw = await Raw.open(path, token="")
    check(raw.status == 401, "raw upgrade without token is 401, got %s" % raw.status)
    raw.done()
    ok("401 without/with a bad token (WS, REST, admin); token= query and Bearer accepted")

    # 404 unknown topic.
    check(await ws_status(consumer_path(NS + "ghost", "s")) == 404, "consumer on unknown topic is 404")
    check(await ws_status(producer_path(NS + "ghost")) == 404, "producer on unknown topic is 404")
    check(http_call("POST", "/topics/persistent/public/default/ghost", {"messages": [{"payload": "x"}]})[0] == 404,
          "REST produce to unknown topic is 404")
    check(http_call("PUT", "/admin/v2/persistent/public/default/auth")[0] == 409, "topic exists is 409")
    ok("404 unknown topic (consumer, producer, REST); 409 topic exists")

    # 400 bad params, 9 segments.
    t = new_topic("params")
    raw = await Raw.open(consumer_path(t, "s", subscriptionType="Shared", ackTimeoutMillis=500))
    check(raw.status == 400, "ackTimeoutMillis=500 is 400, got %s" % raw.status)
    body = await raw.body()
    check("Invalid query params" in body, "400 body says Invalid query params: %r" % body)
    raw.done()
    check(await ws_status(consumer_path(t, "s", receiverQueueSize="x")) == 400, "receiverQueueSize=x is 400")
    check(await ws_status(consumer_path(t, "s", subscriptionType="Bogus")) == 400, "bad subscriptionType is 400")
    check(await ws_status(consumer_path(t, "s", deadLetterTopic="d")) == 400, "deadLetterTopic alone is 400")
    check(await ws_status(consumer_path(t, "s") + "/extra") == 400, "10 segments is 400")
    check(await ws_status(consumer_path(t, "s", ackTimeoutMillis=1000, foo="bar")) == 101,
          "ackTimeoutMillis=1000 and an unknown param are accepted")
    ok("400 ackTimeoutMillis=500 (Invalid query params), bad numbers/enums, 10 segments")

    # 409 second Exclusive consumer, or another type.
    t = new_topic("excl")
    c1 = await consumer(t, "s")
    check(await ws_status(consumer_path(t, "s")) == 409, "second Exclusive consumer is 409")
    check(await ws_status(consumer_path(t, "s", subscriptionType="Shared")) == 409, "Shared on Exclusive is 409")
    await c1.close()
    c1 = await consumer(t, "s", subscriptionType="Shared")
    c2 = await consumer(t, "s", subscriptionType="Shared")
    await c1.close()
    await c2.close()
    ok("409 second Exclusive consumer and type mismatch; Shared takes several")

    # Latest vs Earliest, and the pushed JSON.
    t = new_topic("pos")
    produce(t, "before")
    latest = await consumer(t, "late", subscriptionType="Shared")
    earliest = await consumer(t, "early", subscriptionType="Shared", subscriptionInitialPosition="Earliest")
    await nothing(latest)
    ids = produce(t, "after", props={"k": "v"}, key="K", event_ms=1603045262772)
    m = await recv(latest)
    check(text(m) == "after", "Latest subscription gets only new messages, got %r" % text(m))
    check(m["properties"] == {"k": "v"} and m["key"] == "K" and m["redeliveryCount"] == 0, "fields: %s" % m)
    iso = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$"
    check(re.match(iso, m["publishTime"]) and re.match(iso, m["eventTime"]), "ISO times: %s" % m)
    check(set(m) == {"messageId", "payload", "properties", "publishTime", "redeliveryCount", "key", "eventTime"},
          "message fields: %s" % sorted(m))
    got = [text(x) for x in await recv_n(earliest, 2)]
    check(got == ["before", "after"], "Earliest subscription gets all, got %s" % got)
    check(ids[0].endswith(":-1") and ids[0].count(":") == 2, "REST id ledger:entry:-1: %s" % ids)
    check(messages(t)["messages"][1]["messageId"] == m["messageId"], "messageId matches the hook")
    await latest.close()
    await earliest.close()
    ok("subscription Latest vs Earliest; REST produce then consume; message JSON fields")

    # Admin-created subscription at earliest / latest.
    t = new_topic("adm")
    produce(t, "x")
    check(http_call("PUT", "/admin/v2/persistent/public/default/adm/subscription/early",
                    {"ledgerId": -1, "entryId": -1})[0] == 204, "admin create at earliest is 204")
    check(http_call("PUT", "/admin/v2/persistent/public/default/adm/subscription/early",
                    {"ledgerId": -1, "entryId": -1})[0] == 409, "admin create again is 409")
    check(http_call("PUT", "/admin/v2/persistent/public/default/adm/subscription/late")[0] == 204,
          "admin create without body (latest) is 204")
    check(http_call("PUT", "/admin/v2/persistent/public/default/ghost/subscription/s")[0] == 404,
          "admin create on unknown topic is 404")
    c1 = await consumer(t, "early", subscriptionType="Shared")
    c2 = await consumer(t, "late", subscriptionType="Shared", subscriptionInitialPosition="Earliest")
    check(text(await recv(c1)) == "x", "admin earliest subscription gets the old message")
    await nothing(c2)
    await c1.close()
    await c2.close()
    ok("admin-created subscription at earliest (204, 409 again); without body it is latest")

    # Shared round-robin.
    t = new_topic("rr")
    c1 = await consumer(t, "s", subscriptionType="Shared", receiverQueueSize=10, consumerName="rr1")
    c2 = await consumer(t, "s", subscriptionType="Shared", receiverQueueSize=10, consumerName="rr2")
    produce(t, *[str(i) for i in range(10)])
    a = [text(x) for x in await recv_n(c1, 5)]
    b = [text(x) for x in await recv_n(c2, 5)]
    await nothing(c1, 0.2)
    await nothing(c2, 0.05)
    check(sorted(a + b, key=int) == [str(i) for i in range(10)], "each message once: %s %s" % (a, b))
    check(a == ["0", "2", "4", "6", "8"], "round-robin: %s / %s" % (a, b))
    st = stats(t)
    sub = st["subscriptions"]["s"]
    check(st["msgInCounter"] == 10 and sub["msgBacklog"] == 10 and sub["unackedMessages"] == 10,
          "stats before acks: %s" % sub)
    check(sorted(c["consumerName"] for c in sub["consumers"]) == ["rr1", "rr2"], "consumer names in stats")
    check(all(c["unackedMessages"] == 5 for c in sub["consumers"]), "per-consumer unacked")
    ok("Shared round-robin between two consumers; stats fields")

    # Ack on another connection, duplicate ack.
    msgs = messages(t)["messages"]
    for item in msgs:
        await c2.send(json.dumps({"messageId": item["messageId"]}))  # c1's too
    await c2.send(json.dumps({"messageId": msgs[0]["messageId"]}))  # duplicate
    await settle(lambda: stats(t)["subscriptions"]["s"]["msgBacklog"] == 0, "acks from another connection")
    check(stats(t)["subscriptions"]["s"]["unackedMessages"] == 0, "nothing unacked")
    await c1.close()
    await c2.close()
    ok("ack on another connection of the subscription; duplicate ack is a no-op")

    # Push window = receiverQueueSize; ack frees a slot.
    t = new_topic("win")
    c = await consumer(t, "s", subscriptionType="Shared", receiverQueueSize=2)
    produce(t, "1", "2", "3", "4")
    got = await recv_n(c, 2)
    await nothing(c)
    await ack(c, got[0])
    check(text(await recv(c)) == "3", "an ack frees one slot")
    await nothing(c, 0.2)
    await nack(c, got[1])
    check(text(await recv(c)) == "4", "a nack frees one slot")
    await c.close()
    ok("push window = receiverQueueSize; ack and nack free a slot")

    # Nack: redelivered after the delay with redeliveryCount + 1.
    t = new_topic("nack")
    c = await consumer(t, "s", subscriptionType="Shared", negativeAckRedeliveryDelay=300)
    produce(t, "n")
    m1 = await recv(c)
    t0 = time.monotonic()
    await nack(c, m1)
    m2 = await recv(c)
    dt = time.monotonic() - t0
    check(m2["messageId"] == m1["messageId"] and m2["redeliveryCount"] == 1, "nack redelivery: %s" % m2)
    check(0.25 <= dt <= 2.0, "after negativeAckRedeliveryDelay (%.2fs)" % dt)
    await ack(c, m2)
    await settle(lambda: stats(t)["subscriptions"]["s"]["msgBacklog"] == 0, "backlog 0 after ack")
    await c.close()
    ok("nack redelivery after negativeAckRedeliveryDelay with redeliveryCount + 1 (%.2fs)" % dt)

    # Ack timeout.
    t = new_topic("ackto")
    c = await consumer(t, "s", subscriptionType="Shared", ackTimeoutMillis=1000)
    produce(t, "late")
    m1 = await recv(c)
    t0 = time.monotonic()
    m2 = await recv(c, 3)
    dt = time.monotonic() - t0
    check(m2["messageId"] == m1["messageId"] and m2["redeliveryCount"] == 1, "ack timeout redelivery: %s" % m2)
    check(0.9 <= dt <= 2.5, "after ackTimeoutMillis (%.2fs)" % dt)
    await ack(c, m2)
    await c.close()
    ok("ack timeout redelivery with redeliveryCount + 1 (%.2fs)" % dt)

    # Disconnect: the held message goes to the other consumer at once.
    t = new_topic("disc")
    c1 = await consumer(t, "s", subscriptionType="Shared", consumerName="d1")
    produce(t, "held")
    m1 = await recv(c1)
    c2 = await consumer(t, "s", subscriptionType="Shared", consumerName="d2", receiverQueueSize=1)
    await nothing(c2, 0.2)
    await c1.close()
    m2 = await recv(c2, 2)
    check(m2["messageId"] == m1["messageId"] and m2["redeliveryCount"] == 1, "disconnect redelivery: %s" % m2)
    # Same with a TCP drop (no close frame) through the hook. c2 is full
    # (window 1), so the new message goes to c3.
    c3 = await consumer(t, "s", subscriptionType="Shared", consumerName="d3")
    produce(t, "second")
    m3 = await recv(c3)
    status, out = jcall("POST", "/test/drop?consumer=d3", token="")
    check(status == 200 and out == {"dropped": 1}, "drop hook: %s %s" % (status, out))
    try:
        await asyncio.wait_for(c3.recv(), 2)
        raise Fail("dropped connection still delivers")
    except ConnectionClosed as exc:
        check(exc.rcvd is None, "a drop sends no close frame")
    await nothing(c2, 0.2)
    await ack(c2, m2)
    m4 = await recv(c2, 2)
    check(m4["messageId"] == m3["messageId"] and m4["redeliveryCount"] == 1, "drop redelivery: %s" % m4)
    check(jcall("POST", "/test/drop?consumer=nobody", token="")[0] == 404, "drop of nobody is 404")
    # The last consumer leaves: its message waits for the next one.
    await c2.close()
    c4 = await consumer(t, "s", subscriptionType="Shared")
    m5 = await recv(c4, 2)
    check(text(m5) == "second", "message kept for the next consumer: %s" % m5)
    await nothing(c4, 0.2)
    await c4.close()
    ok("disconnect (close and TCP drop) redelivers to the other consumer with count + 1; kept when none left")

    # Pull mode: permits.
    t = new_topic("pull")
    check(http_call("PUT", "/admin/v2/persistent/public/default/pull/subscription/s",
                    {"ledgerId": -1, "entryId": -1})[0] == 204, "create pull subscription")
    produce(t, "1", "2", "3")
    c = await consumer(t, "s", subscriptionType="Shared", pullMode="true")
    await nothing(c)
    await c.send(json.dumps({"type": "permit", "permitMessages": 2}))
    got = [text(x) for x in await recv_n(c, 2)]
    await nothing(c)
    for m in got:
        await c.send(json.dumps({"messageId": messages(t)["messages"][int(m) - 1]["messageId"]}))
    await nothing(c, 0.2)
    await c.send(json.dumps({"type": "permit", "permitMessages": 5}))
    check(text(await recv(c)) == "3", "third after a new permit")
    await c.send(json.dumps({"type": "isEndOfTopic"}))
    check(await recv(c) == {"endOfTopic": False}, "isEndOfTopic")
    await c.close()
    ok("pull mode delivers only against permits (acks give no credit); isEndOfTopic -> false")

    # DLQ after maxRedeliverCount.
    t = new_topic("poison")
    c = await consumer(t, "s", subscriptionType="Shared", maxRedeliverCount=2, negativeAckRedeliveryDelay=50)
    produce(t, "poison", props={"p": "1"})
    counts = []
    for _ in range(3):
        m = await recv(c)
        counts.append(m["redeliveryCount"])
        await nack(c, m)
    await nothing(c, 0.4)
    check(counts == [0, 1, 2], "deliveries before the DLQ: %s" % counts)
    dlq = messages(t + "-s-DLQ")["messages"]
    check(len(dlq) == 1 and dlq[0]["payload"] == "poison", "DLQ content: %s" % dlq)
    check(dlq[0]["properties"].get("REAL_TOPIC") == t and dlq[0]["properties"].get("p") == "1",
          "DLQ properties: %s" % dlq[0]["properties"])
    orig = messages(t)["messages"][0]["subscriptions"]["s"]
    check(orig["acked"] and orig["deliveries"] == 3, "original acked after 3 deliveries: %s" % orig)
    await c.close()
    ok("DLQ after maxRedeliverCount=2 (3 deliveries, counts 0,1,2), original acked")

    # WebSocket producer.
    t = new_topic("wsprod")
    p = await ws_open(producer_path(t, producerName="wp"))
    check(await ws_status(producer_path(t, producerName="wp")) == 409, "same producerName is 409")
    await p.send(json.dumps({"payload": base64.b64encode(b"hi").decode(), "properties": {"a": "1"},
                             "context": "c1", "key": "k"}))
    r = json.loads(await asyncio.wait_for(p.recv(), 3))
    check(r.get("result") == "ok" and r.get("context") == "c1" and r.get("messageId"), "producer ack: %s" % r)
    await p.send(json.dumps({"payload": "***", "context": "c2"}))
    r2 = json.loads(await asyncio.wait_for(p.recv(), 3))
    check(r2.get("result") == "send-error:7" and r2.get("context") == "c2", "bad base64: %s" % r2)
    await p.send("{not json")
    r3 = json.loads(await asyncio.wait_for(p.recv(), 3))
    check(r3.get("result") == "send-error:3", "bad JSON: %s" % r3)
    c = await consumer(t, "s", subscriptionType="Shared", subscriptionInitialPosition="Earliest")
    m = await recv(c)
    check(m["messageId"] == r["messageId"] and text(m) == "hi", "consumer sees the produced message")
    check(stats(t)["publishers"][0]["producerName"] == "wp", "publisher in stats")
    await p.close()
    await c.close()
    ok("WS producer: ok/messageId/context, send-error:7 and :3, 409 duplicate name")

    # Bad JSON / missing permitMessages / bad messageId: close status 3.
    t = new_topic("badjson")
    for frame in (b"{nope", b'{"type":"permit"}', b'{"messageId":"!!"}'):
        raw = await Raw.open(consumer_path(t, "s", subscriptionType="Shared"))
        check(raw.status == 101, "raw consumer accepted")
        raw.send(1, frame)
        code = await raw.close_code()
        check(code == 3, "%r closes with status 3, got %s" % (frame, code))
        raw.done()
    raw = await Raw.open(consumer_path(t, "s", subscriptionType="Shared"))
    raw.send(1, b'{"type":"isEndOfTopic"}', masked=False)
    check(await raw.close_code() == 1002, "unmasked client frame closes with 1002")
    raw.done()
    raw = await Raw.open(consumer_path(t, "s", subscriptionType="Shared"))
    raw.send(1, b'{"type":"isEnd', fin=False)
    raw.send(9, b"p1")
    raw.send(0, b'OfTopic"}')
    op, payload = await raw.frame()
    check(op == 10 and payload == b"p1", "ping between fragments answered by a pong")
    op, payload = await raw.frame()
    check(op == 1 and json.loads(payload) == {"endOfTopic": False}, "fragmented command reassembled")
    raw.send(8, struct.pack("!H", 1000))
    check(await raw.close_code() == 1000, "close handshake echoed")
    raw.done()
    ok("bad JSON, missing permitMessages, bad messageId -> close 3; unmasked -> 1002; fragments, ping, close")


async def phase_faults():
    t = NS + "f"
    # Coalesced handshake: 101 and the first message in one write.
    raw = await Raw.open(consumer_path(t, "s", subscriptionType="Shared", receiverQueueSize=1))
    check(raw.status == 101 and len(raw.buf) > 0, "101 arrived with a frame behind it (%d bytes)" % len(raw.buf))
    op, payload = await raw.frame()
    check(op == 1 and json.loads(payload)["payload"], "first message right after the 101")
    raw.done()
    ok("--coalesce-handshake: 101 and the first message in the same read")
    # Idle timeout: a silent client is closed with 1001, a pinging one survives.
    t0 = time.monotonic()
    quiet = await ws_open(consumer_path(NS + "idle", "q", subscriptionType="Shared"))
    pinger = await ws_open(consumer_path(NS + "idle", "p", subscriptionType="Shared"), ping_interval=0.2)
    try:
        await asyncio.wait_for(quiet.recv(), 3)
        raise Fail("idle session got a message")
    except ConnectionClosed as exc:
        dt = time.monotonic() - t0
        check(exc.rcvd is not None and exc.rcvd.code == 1001, "idle close code: %s" % exc.rcvd)
    check(0.5 <= dt <= 2.0, "closed after about --idle-timeout-ms (%.2fs)" % dt)
    await asyncio.sleep(max(0.0, 1.5 - dt))
    check(pinger.open, "a client that pings survives the idle timeout")
    await pinger.send(json.dumps({"type": "isEndOfTopic"}))
    check(await recv(pinger) == {"endOfTopic": False}, "pinging session still answers")
    await pinger.close()
    ok("--idle-timeout-ms closes a silent session with 1001 after %.2fs; pings keep one alive" % dt)


async def phase_split():
    t = NS + "sp"
    c = await consumer(t, "s", subscriptionType="Shared")
    got = []
    for _ in range(5):
        m = await recv(c, 5)
        got.append(text(m))
        await ack(c, m)
    check(got == ["1", "2", "3", "4", "5"], "split frames reassembled in order: %s" % got)
    await settle(lambda: stats(t)["subscriptions"]["s"]["msgBacklog"] == 0, "all acked through split frames")
    await c.close()
    ok("--split-frames: messages arrive intact, acks work (--preload 5 + --subscription)")


async def phase_state1():
    t = NS + "st"
    produce(t, "1", "2", "3", "4", "5")
    c = await consumer(t, "w", subscriptionType="Shared", negativeAckRedeliveryDelay=100)
    got = {text(m): m for m in await recv_n(c, 5)}
    await ack(c, got["1"])
    await ack(c, got["2"])
    await nack(c, got["3"])
    m = await recv(c)
    check(text(m) == "3" and m["redeliveryCount"] == 1, "nacked before the restart: %s" % m)
    await settle(lambda: stats(t)["subscriptions"]["w"]["msgBacklog"] == 3, "two acked before the kill")
    # Leave the connection open: the broker is killed under it.
    print("ok: state before the restart: 1, 2 acked; 3 redelivered once; 3-5 unacked", flush=True)
    await asyncio.sleep(0.1)


async def phase_state2():
    t = NS + "st"
    c = await consumer(t, "w", subscriptionType="Shared")
    got = await recv_n(c, 3)
    await nothing(c)
    check(sorted(text(m) for m in got) == ["3", "4", "5"], "only unacked after restart: %s" % [text(m) for m in got])
    check(all(m["redeliveryCount"] == 0 for m in got), "redeliveryCount back to 0")
    old = messages(t)["messages"]
    check([x["subscriptions"]["w"]["acked"] for x in old] == [True, True, False, False, False], "acked flags kept")
    new_id = produce(t, "6")[0]
    check(new_id.split(":")[0] != old[0]["id"].split(":")[0], "a new ledger after restart (%s vs %s)"
          % (new_id, old[0]["id"]))
    check(text(await recv(c)) == "6", "new message delivered")
    await c.close()
    ok("restart with --state: acked stay acked, unacked come back with count 0, new ledger")


async def run(phase):
    await {"main": phase_main, "faults": phase_faults, "split": phase_split,
           "state1": phase_state1, "state2": phase_state2}[phase]()


def main():
    global OPTS
    p = argparse.ArgumentParser()
    p.add_argument("phase", choices=["main", "faults", "split", "state1", "state2"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", default="")
    p.add_argument("--forbidden-token", default="")
    OPTS = p.parse_args()
    try:
        asyncio.run(asyncio.wait_for(run(OPTS.phase), 60))
    except Fail as exc:
        print("FAIL: %s" % exc, file=sys.stderr)
        sys.exit(1)
    except (asyncio.TimeoutError, ConnectionClosed, OSError, InvalidStatusCode) as exc:
        print("FAIL: %s: %r" % (OPTS.phase, exc), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
