#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A test double of an Apache Pulsar broker's HTTP port, for minionize's tests.

Run it with Debian's interpreter (the module is python3-websockets 10.4):

  /usr/bin/python3 tests/pulsar/broker.py --port PORT [--host 127.0.0.1]
      [--token TOKEN] [--forbidden-token TOKEN]
      [--topic persistent://TENANT/NS/NAME]... [--subscription NAME]...
      [--preload N] [--auto-create] [--state FILE]
      [--idle-timeout-ms N] [--ping-interval-ms N] [--max-message-size BYTES]
      [--prefetch] [--split-frames] [--write-delay-ms N] [--coalesce-handshake]
      [--verbose]

It prints "ready PORT" on stdout (flushed) once it listens (--port 0 picks a
free port and prints it), logs to stderr, and exits 0 on SIGTERM/SIGINT.

What it serves (one port, as the broker's webServicePort):
  GET  /ws/v2/consumer/persistent/T/NS/TOPIC/SUB?...   WebSocket consumer
  GET  /ws/v2/producer/persistent/T/NS/TOPIC?...       WebSocket producer
  POST /topics/persistent/T/NS/TOPIC                   REST producer (PIP-64)
  PUT  /admin/v2/persistent/T/NS/TOPIC                 create topic: 204, 409
  DELETE /admin/v2/persistent/T/NS/TOPIC               204; 412 if in use
  GET  /admin/v2/persistent/T/NS                       ["persistent://...",..]
  GET  /admin/v2/persistent/T/NS/TOPIC/stats           topic stats (below)
  GET  /admin/v2/persistent/T/NS/TOPIC/subscriptions   ["sub", ...]
  PUT  /admin/v2/persistent/T/NS/TOPIC/subscription/SUB   create subscription:
       204; 409 "Subscription already exists for topic"; 404 unknown topic.
       Body (optional, JSON, the broker's MessageIdImpl/ResetCursorData):
       {"ledgerId":-1,"entryId":-1} = earliest; no body or ledgerId/entryId
       = 9223372036854775807 = latest (the default, as on the real broker);
       any other ledgerId/entryId = start at that message ("isExcluded":true:
       just after it). pulsar-admin's `create-subscription -m earliest` sends
       exactly the earliest body.
  DELETE /admin/v2/persistent/T/NS/TOPIC/subscription/SUB   204; 412 if a
       consumer is connected; 404 unknown.
Stats fields (real names): msgInCounter, bytesInCounter, msgOutCounter,
bytesOutCounter, storageSize, publishers[{producerName,...}], subscriptions:
{SUB: {msgBacklog, unackedMessages, msgOutCounter, msgDelayed, type,
isDurable, consumers: [{consumerName, unackedMessages, availablePermits,
msgOutCounter, blockedConsumerOnUnackedMsgs, address, connectedSince}]}}.
Unknown paths answer 404, a known path with another method 405; REST errors
carry {"reason": "..."}; a refused WebSocket upgrade is a plain-text HTTP error.

Test hooks (NOT Pulsar APIs; no token needed):
  GET  /test/ping                      200 "ok"
  GET  /test/messages?topic=persistent://T/NS/TOPIC
       {"topic":..., "subscriptions": {SUB: {"start":seq, "readPosition":seq,
        "consumers":[names]}}, "messages": [{"seq", "id" ("ledger:entry:-1"),
        "messageId" (base64, as pushed), "payload" (UTF-8 text),
        "payloadBase64", "properties", "key", "publishTime", "subscriptions":
        {SUB: {"acked": bool, "redeliveryCount": n (in-memory, as pushed next),
        "deliveries": times pushed since start, "consumer": holder or null}}}]}
       Messages before a subscription's start count as acked for it.
  POST /test/drop?consumer=NAME        drop the TCP connection(s) of that
       consumer (or ?producer=NAME) without a close frame; 200 {"dropped":n},
       404 if none. Redelivery happens before the reply.
  POST /test/close?consumer=NAME&code=N[&reason=TEXT]   server-initiated
       close frame (code may be one outside RFC 6455, e.g. 3), 200/404.
  POST /test/fail?status=N[&count=K]   the next K (default 1) WebSocket
       upgrades or REST/admin requests are refused with HTTP status N.

Options:
  --token T            every request but /test/* needs "Authorization: Bearer
                       T" (WebSocket upgrades may use ?token=T when there is no
                       Authorization header) else 401 before any upgrade.
  --forbidden-token T  a token that authenticates but is not authorized: 403.
  --topic NAME         create the topic at start (repeatable).
  --subscription SUB   create SUB on every --topic at the earliest position at
                       start (as deploy-time admin creation would).
  --preload N          fill every --topic that is new (not loaded from
                       --state) with N text messages "1".."N" (for the bench).
  --auto-create        unknown topics are created by a WebSocket consumer or
                       producer, or an admin subscription creation (the REST
                       producer never creates topics, as on the real broker).
  --state FILE         journal topics, messages, subscriptions and acks to FILE
                       (JSON lines, appended on every change, compacted at
                       start) and load it at start. In-memory redelivery counts
                       restart at 0; messages published after a restart go to a
                       new ledger, as after a broker restart.
  --idle-timeout-ms N  close a WebSocket session that saw no frame either way
                       for N ms with close 1001 "Idle Timeout" (the real
                       default, webSocketSessionIdleTimeoutMillis, is 300000;
                       here 0 = off, the default). Client pings keep it alive.
  --ping-interval-ms N the server pings every session every N ms (off).
  --max-message-size B largest client message (default 1048576, as the real
                       webSocketMaxTextFrameSize); larger: close 1009.
  --prefetch           model the proxy's internal consumer queue: each consumer
                       also holds up to receiverQueueSize messages it has not
                       been sent yet (uneven spreading, all redelivered when it
                       leaves). Off: a consumer holds only what it was sent.
  --split-frames       write every byte of a WebSocket connection (the 101
                       response too) in pieces of 1-9 bytes, 1 ms apart.
  --write-delay-ms N   delay every write on WebSocket connections by N ms.
  --coalesce-handshake hold the 101 response until the first frame (or 200 ms)
                       and write both in one write().

Consumer endpoint, as the real WebSocket proxy: the path must have 9
segments (URL-decoded topic and subscription); query parameters
subscriptionType (Exclusive default | Shared | Failover | Key_Shared),
receiverQueueSize (1000 default, larger clamped to 1000; push window =
that, 0 -> 1), ackTimeoutMillis (0 or >= 1000, else 400 "Invalid query params:
Ack timeout should be greater than 1000 ms"), negativeAckRedeliveryDelay
(60000 default), pullMode, consumerName (random 5 characters if absent),
priorityLevel, subscriptionMode (Durable | NonDurable),
subscriptionInitialPosition (Latest default | Earliest; only for a new
subscription), maxRedeliverCount, deadLetterTopic (needs maxRedeliverCount >
0, as the Java client); other parameters are ignored. Bad numbers or enum
names: 400 "Invalid query params: ...". Errors: 401/403 token, 404 unknown
topic, 409 a second consumer on an Exclusive subscription or a consumer of
another subscription type (Failover takes several consumers, as on the real
broker: one is active). Pushed: {"messageId","payload","properties",
"publishTime","redeliveryCount"[,"key"][,"eventTime"]}; messageId = base64 of
the MessageIdData protobuf (ledgerId, entryId), payload base64, times
ISO-8601 with milliseconds and the local offset ("Z" in UTC, as Java's XXX).
Commands: ack {"messageId"} (any JSON object whose "type" is none of the
others), {"type":"negativeAcknowledge","messageId"}, {"type":"permit",
"permitMessages":N}, {"type":"isEndOfTopic"} -> {"endOfTopic":false},
{"type":"unsubscribe"} (deletes the subscription if it is the only consumer;
the session stays open and gets nothing more). Undecodable JSON, a missing
permitMessages, a missing or undecodable messageId: the session is closed with
status 3 (the proxy's "failed to deserialize from JSON" error number, outside
RFC 6455; websockets refuses to serialize it, so the double writes that close
frame itself). Binary frames are ignored; invalid UTF-8 closes with 1007,
unmasked client frames with 1002 (websockets' sans-I/O layer does the framing,
pings/pongs and the close handshake).

Delivery model (one cursor per subscription):
- Shared (and Key_Shared, without key affinity): messages go one by one,
  round-robin, to the consumers with credit, lowest priorityLevel first.
  Push credit: fewer than min(receiverQueueSize,1000) (0 -> 1) messages sent
  and neither acked (on any connection) nor nacked (on this connection); an
  ack timeout does not free the slot (as the proxy). Pull credit: permits.
- Ack: on any connection of the subscription; duplicate or unknown: no-op.
- Nack: frees the slot now; after negativeAckRedeliveryDelay the message is
  redelivered with redeliveryCount + 1 unless acked meanwhile. Ack timeout:
  ackTimeoutMillis after it was sent, same redelivery.
- Disconnect (close, idle timeout, drop): everything the consumer held goes
  back and is redelivered to the others at once with redeliveryCount + 1; if
  it was the last consumer, redelivery counts are cleared (as the broker
  clears its tracker) and the messages wait for the next consumer.
- DLQ (maxRedeliverCount M): a message sent with redeliveryCount >= M that is
  then nacked or times out is published to deadLetterTopic or
  "<full topic>-<subscription>-DLQ" (created if needed), with properties
  REAL_TOPIC and ORIGIN_MESSAGE_ID added, and acked.
- Exclusive/Failover: one active consumer (Failover: lowest priorityLevel,
  then name); redeliveryCount stays 0; a nack or timeout redelivers only that
  message (simplified). NonDurable subscriptions vanish with their last
  consumer. deliverAt/deliverAfterMs (WebSocket producer) delay a message on
  Shared subscriptions.
Producer endpoint: text frames {"payload" (base64), "properties", "context",
"key", "eventTime" (ISO-8601), "deliverAt", "deliverAfterMs", ...} ->
{"result":"ok","messageId","context","errorCode":0,"schemaVersion":0}, or
"send-error:3" (bad JSON) / "send-error:7" (missing or bad base64 payload) with
"errorMsg". A producerName already connected on the topic: 409.
REST producer: {"messages":[{"payload": text, "properties", "key",
"eventTime" (epoch ms string)}], ...} -> 200 {"messagePublishResults":
[{"messageId":"ledger:entry:-1","errorCode":0,"schemaVersion":0}],
"schemaVersion":0}; payloads are UTF-8 text (the default STRING schema; no
other schema is modelled); unknown topic 404; not JSON 400.
Stats counters and delivery counts are in memory (a restart resets them).
Not modelled: partitioned and non-persistent topics, the reader endpoint,
key affinity, batching, schemas, 307 redirects, TLS.
"""

import argparse
import asyncio
import base64
import binascii
import datetime
import heapq
import http
import json
import logging
import os
import random
import re
import signal
import string
import struct
import sys
import time
import urllib.parse
from collections import deque

try:  # websockets >= 11
    from websockets.server import ServerProtocol as WsServerConnection
except ImportError:  # websockets 10.x
    from websockets.server import ServerConnection as WsServerConnection
try:
    from websockets.protocol import CLOSING, OPEN
except ImportError:
    from websockets.connection import CLOSING, OPEN
from websockets.exceptions import ProtocolError
from websockets.frames import Close, Frame, Opcode

LATEST_ID = 9223372036854775807
NO_PROPS = {}  # shared by messages without properties; never mutated
HTTP_IDLE_S = 30.0
MAX_BODY = 256 << 20
CLOSE_WAIT_S = 2.0

log = logging.getLogger("pulsar-double")


def now_ms():
    return int(time.time() * 1000)


def iso_ms(ms):
    """Epoch milliseconds -> 2021-10-29T16:01:38.967-07:00 (local zone)."""
    dt = datetime.datetime.fromtimestamp(ms // 1000).astimezone()
    off = dt.utcoffset() or datetime.timedelta(0)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%03d" % (ms % 1000)
    secs = int(off.total_seconds())
    if secs == 0:
        return text + "Z"
    sign = "+" if secs > 0 else "-"
    secs = abs(secs)
    return text + "%s%02d:%02d" % (sign, secs // 3600, secs % 3600 // 60)


def parse_iso_ms(text):
    dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.astimezone()
    return int(dt.timestamp() * 1000)


# --- message ids: base64 of the MessageIdData protobuf ------------------------

def _varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def encode_message_id(ledger, entry):
    raw = b"\x08" + _varint(ledger) + b"\x10" + _varint(entry)
    return base64.b64encode(raw).decode("ascii")


def _read_varint(raw, pos):
    shift = value = 0
    while True:
        if pos >= len(raw) or shift > 63:
            raise ValueError("truncated varint")
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def decode_message_id(text):
    """base64 MessageIdData -> (ledger, entry); ValueError when malformed."""
    if not isinstance(text, str) or not text:
        raise ValueError("missing messageId")
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("bad base64 messageId") from exc
    fields = {}
    pos = 0
    while pos < len(raw):
        key, pos = _read_varint(raw, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(raw, pos)
            fields[field] = value
        elif wire == 1:
            pos += 8
        elif wire == 2:
            size, pos = _read_varint(raw, pos)
            pos += size
        elif wire == 5:
            pos += 4
        else:
            raise ValueError("bad protobuf wire type")
        if pos > len(raw):
            raise ValueError("truncated protobuf")
    if 1 not in fields or 2 not in fields:
        raise ValueError("messageId lacks ledgerId/entryId")

    def signed(v):
        return v - (1 << 64) if v >= (1 << 63) else v

    return signed(fields[1]), signed(fields[2])


class BadParam(Exception):
    pass


def java_int(text, bits=32):
    if text is None or not re.fullmatch(r"[+-]?[0-9]+", text):
        raise BadParam('For input string: "%s"' % (text if text is not None else ""))
    value = int(text)
    if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
        raise BadParam('For input string: "%s"' % text)
    return value


def java_enum(text, allowed, klass):
    if text not in allowed:
        raise BadParam("No enum constant org.apache.pulsar.client.api.%s.%s" % (klass, text))
    return text


def split_topic(full):
    """persistent://t/ns/name -> (t, ns, name) or None."""
    prefix = "persistent://"
    if not full.startswith(prefix):
        return None
    parts = full[len(prefix):].split("/")
    if len(parts) != 3 or not all(parts):
        return None
    return tuple(parts)


# --- the model ---------------------------------------------------------------

class Message:
    __slots__ = ("seq", "ledger", "entry", "payload", "props", "key",
                 "event_ms", "publish_ms", "deliver_at", "producer",
                 "_id", "_head", "_tail")

    def __init__(self, seq, ledger, entry, payload, props, key, event_ms,
                 publish_ms, deliver_at, producer):
        self.seq = seq
        self.ledger = ledger
        self.entry = entry
        self.payload = payload
        self.props = props
        self.key = key
        self.event_ms = event_ms
        self.publish_ms = publish_ms
        self.deliver_at = deliver_at
        self.producer = producer
        self._id = None
        self._head = None
        self._tail = None

    @property
    def id_b64(self):
        if self._id is None:
            self._id = encode_message_id(self.ledger, self.entry)
        return self._id

    def frame(self, redelivery_count):
        if self._head is None:
            dumps = json.dumps
            self._head = ('{"messageId":%s,"payload":%s,"properties":%s,'
                          '"publishTime":%s,"redeliveryCount":') % (
                dumps(self.id_b64),
                dumps(base64.b64encode(self.payload).decode("ascii")),
                dumps(self.props, separators=(",", ":")),
                dumps(iso_ms(self.publish_ms)))
            tail = ""
            if self.key is not None:
                tail += ',"key":' + dumps(self.key)
            if self.event_ms:
                tail += ',"eventTime":' + dumps(iso_ms(self.event_ms))
            self._tail = tail + "}"
        return self._head + str(redelivery_count) + self._tail

    def rest_id(self):
        return "%d:%d:-1" % (self.ledger, self.entry)


class Topic:
    def __init__(self, broker, name, ledger):
        self.broker = broker
        self.name = name
        self.msgs = []
        self.ledger_first = {}  # ledger id -> seq of its entry 0
        self.by_b64 = {}
        self.ledger = ledger
        self.next_entry = 0
        self.subs = {}
        self.producers = []
        self.msg_in = 0
        self.bytes_in = 0
        self.storage = 0

    def seq_of(self, ledger, entry):
        first = self.ledger_first.get(ledger)
        if first is None or entry < 0:
            return None
        seq = first + entry
        if seq < len(self.msgs) and self.msgs[seq].ledger == ledger and self.msgs[seq].entry == entry:
            return seq
        return None

    def first_seq_at(self, ledger, entry, excluded):
        """Index of the first message at (or after) the position."""
        for seq, m in enumerate(self.msgs):
            pos = (m.ledger, m.entry)
            if pos > (ledger, entry) or (pos == (ledger, entry) and not excluded):
                return seq
        return len(self.msgs)


class Subscription:
    def __init__(self, topic, name, start, durable=True):
        self.topic = topic
        self.broker = topic.broker
        self.name = name
        self.durable = durable
        self.start = start
        self.read_pos = start
        self.type = None
        self.acked = set()
        self.acked_count = 0
        self.replay = []
        self.in_replay = set()
        self.delayed = []
        self.delay_timer = None
        self.pending = {}
        self.counts = {}
        self.deliveries = {}
        self.consumers = []
        self.active = None
        self.rr = 0
        self.msg_out = 0
        self.bytes_out = 0
        self.deleted = False

    @property
    def shared(self):
        return self.type in ("Shared", "Key_Shared")

    def is_acked(self, seq):
        return seq < self.start or seq in self.acked

    def backlog(self):
        return len(self.topic.msgs) - self.start - self.acked_count

    def push_replay(self, seq):
        if seq not in self.in_replay:
            self.in_replay.add(seq)
            heapq.heappush(self.replay, seq)

    def next_seq(self):
        acked, pending = self.acked, self.pending
        while self.replay:
            seq = heapq.heappop(self.replay)
            self.in_replay.discard(seq)
            if seq in acked or seq in pending or seq < self.start:
                continue
            return seq
        msgs = self.topic.msgs
        while self.read_pos < len(msgs):
            seq = self.read_pos
            self.read_pos += 1
            if seq in acked or seq in pending or seq in self.in_replay:
                continue
            m = msgs[seq]
            if m.deliver_at and self.shared and m.deliver_at > now_ms():
                heapq.heappush(self.delayed, (m.deliver_at, seq))
                self._arm_delay()
                continue
            return seq
        return None

    def _arm_delay(self):
        if self.delay_timer is not None:
            self.delay_timer.cancel()
            self.delay_timer = None
        if not self.delayed:
            return
        wait = max(0.0, (self.delayed[0][0] - now_ms()) / 1000.0)
        self.delay_timer = asyncio.get_event_loop().call_later(wait, self._delay_due)

    def _delay_due(self):
        self.delay_timer = None
        t = now_ms()
        while self.delayed and self.delayed[0][0] <= t:
            _, seq = heapq.heappop(self.delayed)
            self.push_replay(seq)
        self._arm_delay()
        self.dispatch()

    def dispatch(self):
        if self.deleted or not self.consumers:
            return
        for c in self.consumers:
            if c.queue:
                c.flush_queue()
        while True:
            cands = [c for c in self.consumers if c.can_take()]
            if not cands:
                return
            seq = self.next_seq()
            if seq is None:
                return
            self._pick(cands).take(seq)

    def _pick(self, cands):
        if len(cands) == 1:
            return cands[0]
        best = min(c.priority for c in cands)
        ok = {id(c) for c in cands if c.priority == best}
        n = len(self.consumers)
        for i in range(n):
            c = self.consumers[(self.rr + i) % n]
            if id(c) in ok:
                self.rr = (self.rr + i + 1) % n
                return c
        return cands[0]

    def ack(self, seq):
        if seq is None or self.is_acked(seq):
            return
        self.acked.add(seq)
        self.acked_count += 1
        owner = self.pending.pop(seq, None)
        if owner is not None:
            owner.forget(seq)
        for c in self.consumers:
            c.slots.discard(seq)
        self.counts.pop(seq, None)
        if self.durable:
            self.broker.journal({"op": "ack", "t": self.topic.name, "s": self.name, "seq": seq})

    def redeliver(self, consumer, seq):
        """The consumer asks for seq again (nack delay or ack timeout)."""
        if self.pending.get(seq) is not consumer or self.is_acked(seq):
            return
        if consumer.max_redeliver and seq in consumer.dlq_candidates:
            self.dead_letter(consumer, seq)
            return
        del self.pending[seq]
        consumer.forget(seq, keep_slot=True)
        if self.shared:
            self.counts[seq] = self.counts.get(seq, 0) + 1
        self.push_replay(seq)

    def dead_letter(self, consumer, seq):
        m = self.topic.msgs[seq]
        name = consumer.dlq_topic or "%s-%s-DLQ" % (self.topic.name, self.name)
        dlq = self.broker.get_topic(name, create=True)
        props = dict(m.props)
        props["REAL_TOPIC"] = self.topic.name
        props["ORIGIN_MESSAGE_ID"] = m.rest_id()
        self.broker.publish(dlq, m.payload, props, m.key, m.event_ms, 0, None)
        log.info("dead letter %s %s -> %s", self.topic.name, m.rest_id(), name)
        self.ack(seq)

    def add_consumer(self, c):
        if not self.consumers:
            self.type = c.sub_type
        self.consumers.append(c)
        self.update_active()
        self.dispatch()

    def remove_consumer(self, c):
        if c not in self.consumers:
            return
        idx = self.consumers.index(c)
        self.consumers.remove(c)
        if self.rr > idx:
            self.rr -= 1
        if self.consumers:
            self.rr %= len(self.consumers)
        else:
            self.rr = 0
        held = sorted(c.pending)
        c.drop_all()
        for seq in held:
            self.pending.pop(seq, None)
        if self.consumers:
            for seq in held:
                if self.shared:
                    self.counts[seq] = self.counts.get(seq, 0) + 1
                self.push_replay(seq)
        else:
            self.counts.clear()
            for seq in held:
                self.push_replay(seq)
            if not self.durable:
                self.broker.delete_subscription(self, journal=False)
                return
        self.update_active()
        self.dispatch()

    def update_active(self):
        if not self.consumers:
            self.active = None
            return
        if self.type != "Failover":
            self.active = self.consumers[0]
            return
        new = min(self.consumers, key=lambda c: (c.priority, c.name, c.order))
        old = self.active
        self.active = new
        if old is not None and old is not new and old in self.consumers:
            for seq in sorted(old.pending):
                self.pending.pop(seq, None)
                self.push_replay(seq)
            old.drop_all()


class Consumer:
    orders = 0

    def __init__(self, broker, session, topic, sub_name, opts):
        Consumer.orders += 1
        self.order = Consumer.orders
        self.broker = broker
        self.session = session
        self.topic = topic
        self.sub_name = sub_name
        self.sub = None
        self.name = opts["consumerName"]
        self.sub_type = opts["subscriptionType"]
        self.window = opts["window"]
        self.queue_cap = opts["receiverQueueSize"]
        self.pull = opts["pullMode"]
        self.ack_timeout = opts["ackTimeoutMillis"] / 1000.0
        self.nack_delay = opts["negativeAckRedeliveryDelay"] / 1000.0
        self.max_redeliver = opts["maxRedeliverCount"]
        self.dlq_topic = opts["deadLetterTopic"]
        self.priority = opts["priorityLevel"]
        self.durable = opts["subscriptionMode"] == "Durable"
        self.initial = opts["subscriptionInitialPosition"]
        self.prefetch = broker.opts.prefetch
        self.permits = 0
        self.slots = set()
        self.pending = set()
        self.queue = deque()
        self.dlq_candidates = set()
        self.ack_deadline = {}
        self.ack_q = deque()
        self.ack_timer = None
        self.nack_q = deque()
        self.nack_timer = None
        self.msg_out = 0
        self.bytes_out = 0
        self.connected_since = iso_ms(now_ms())
        self.detached = False

    # -- lifecycle
    def attach(self):
        topic = self.topic
        sub = topic.subs.get(self.sub_name)
        if sub is None:
            start = 0 if self.initial == "Earliest" else len(topic.msgs)
            sub = self.broker.create_subscription(topic, self.sub_name, start, self.durable)
        self.sub = sub
        log.info("consumer %s joined %s/%s (%s)", self.name, topic.name, sub.name, self.sub_type)
        sub.add_consumer(self)

    def detach(self):
        if self.detached:
            return
        self.detached = True
        for timer in (self.ack_timer, self.nack_timer):
            if timer is not None:
                timer.cancel()
        self.ack_timer = self.nack_timer = None
        if self.sub is not None:
            log.info("consumer %s left %s/%s holding %d", self.name, self.topic.name,
                     self.sub.name, len(self.pending))
            self.sub.remove_consumer(self)

    # -- credit
    def can_write(self):
        if self.pull:
            return self.permits > 0
        return len(self.slots) < self.window

    def can_take(self):
        if self.detached or self.session.closing:
            return False
        sub = self.sub
        if sub.active is not self and not sub.shared:
            return False
        if not self.prefetch:
            return self.can_write()
        return len(self.queue) < self.queue_cap or (not self.queue and self.can_write())

    def take(self, seq):
        self.sub.pending[seq] = self
        self.pending.add(seq)
        if self.prefetch:
            self.queue.append(seq)
            self.flush_queue()
        else:
            self.write(seq)

    def flush_queue(self):
        while self.queue and self.can_write() and not self.session.closing:
            seq = self.queue.popleft()
            if seq in self.pending:
                self.write(seq)

    def write(self, seq):
        sub = self.sub
        m = self.topic.msgs[seq]
        count = sub.counts.get(seq, 0) if sub.shared else 0
        if m._head is None:  # first delivery: let acks find it fast
            self.topic.by_b64[m.id_b64] = seq
        text = m.frame(count)
        self.session.send_text(text)
        self.slots.add(seq)
        if self.pull:
            self.permits -= 1
        sub.deliveries[seq] = sub.deliveries.get(seq, 0) + 1
        sub.msg_out += 1
        sub.bytes_out += len(m.payload)
        self.msg_out += 1
        self.bytes_out += len(m.payload)
        if self.max_redeliver and count >= self.max_redeliver:
            self.dlq_candidates.add(seq)
        if self.ack_timeout:
            deadline = self.broker.loop.time() + self.ack_timeout
            self.ack_deadline[seq] = deadline
            self.ack_q.append((deadline, seq))
            if self.ack_timer is None:
                self._arm_ack_timer()

    def forget(self, seq, keep_slot=False):
        """seq left this consumer (acked, redelivered elsewhere...)."""
        self.pending.discard(seq)
        self.dlq_candidates.discard(seq)
        self.ack_deadline.pop(seq, None)
        if not keep_slot:
            self.slots.discard(seq)

    def drop_all(self):
        self.pending.clear()
        self.slots.clear()
        self.queue.clear()
        self.dlq_candidates.clear()
        self.ack_deadline.clear()
        self.ack_q.clear()
        self.nack_q.clear()

    # -- timers
    def _arm_ack_timer(self):
        if self.ack_q and not self.detached:
            self.ack_timer = self.broker.loop.call_at(self.ack_q[0][0], self._ack_due)
        else:
            self.ack_timer = None

    def _ack_due(self):
        self.ack_timer = None
        t = self.broker.loop.time()
        due = []
        while self.ack_q and self.ack_q[0][0] <= t:
            deadline, seq = self.ack_q.popleft()
            if self.ack_deadline.get(seq) == deadline:
                del self.ack_deadline[seq]
                due.append(seq)
        for seq in due:
            log.info("ack timeout %s on %s", seq, self.name)
            self.sub.redeliver(self, seq)
        self._arm_ack_timer()
        if due:
            self.sub.dispatch()

    def _arm_nack_timer(self):
        if self.nack_q and not self.detached:
            self.nack_timer = self.broker.loop.call_at(self.nack_q[0][0], self._nack_due)
        else:
            self.nack_timer = None

    def _nack_due(self):
        self.nack_timer = None
        t = self.broker.loop.time()
        due = []
        while self.nack_q and self.nack_q[0][0] <= t:
            due.append(self.nack_q.popleft()[1])
        for seq in due:
            self.sub.redeliver(self, seq)
        self._arm_nack_timer()
        if due:
            self.sub.dispatch()

    # -- commands
    def _seq_of(self, cmd):
        mid = cmd.get("messageId")
        seq = self.topic.by_b64.get(mid) if isinstance(mid, str) else None
        if seq is not None:
            return seq
        ledger, entry = decode_message_id(mid)
        return self.topic.seq_of(ledger, entry)

    def on_text(self, text):
        try:
            cmd = json.loads(text)
            if not isinstance(cmd, dict):
                raise ValueError("not a JSON object")
            kind = cmd.get("type")
            kind = None if kind is None else str(kind)
            if kind == "permit":
                n = cmd.get("permitMessages")
                if n is None:
                    raise ValueError("Missing required permitMessages field for 'permit' command")
                if isinstance(n, bool) or not isinstance(n, (int, str)):
                    raise ValueError("bad permitMessages")
                n = int(n)
                if self.pull and n > 0 and self.sub is not None:
                    self.permits += n
                    self.sub.dispatch()
            elif kind == "unsubscribe":
                self._unsubscribe()
            elif kind == "negativeAcknowledge":
                self._nack(self._seq_of(cmd))
            elif kind == "isEndOfTopic":
                self.session.send_text('{"endOfTopic":false}')
            else:
                seq = self._seq_of(cmd)
                if self.sub is not None and not self.sub.deleted:
                    self.sub.ack(seq)
                    self.sub.dispatch()
        except ValueError as exc:
            log.info("consumer %s: bad command %r: %s", self.name, text[:200], exc)
            self.session.close(3, "Failed to deserialize from JSON")

    def _nack(self, seq):
        sub = self.sub
        if sub is None or sub.deleted or seq is None:
            return
        # A nack frees this connection's slot even when the message already
        # went elsewhere (ack timeout), as the proxy's pending counter does.
        freed = seq in self.slots
        self.slots.discard(seq)
        if seq not in self.pending:
            if freed:
                sub.dispatch()
            return
        self.ack_deadline.pop(seq, None)
        self.nack_q.append((self.broker.loop.time() + self.nack_delay, seq))
        if self.nack_timer is None:
            self._arm_nack_timer()
        sub.dispatch()

    def _unsubscribe(self):
        sub = self.sub
        if sub is None or sub.deleted:
            return
        if len(sub.consumers) > 1:
            raise ValueError("Unconnected or shared consumer attempting to unsubscribe")
        self.detached = True
        sub.consumers.clear()
        self.drop_all()
        self.broker.delete_subscription(sub, journal=sub.durable)
        log.info("consumer %s unsubscribed %s", self.name, sub.name)


class Producer:
    def __init__(self, broker, session, topic, name):
        self.broker = broker
        self.session = session
        self.topic = topic
        self.name = name
        self.connected_since = iso_ms(now_ms())
        self.msg_in = 0
        self.detached = False

    def attach(self):
        self.topic.producers.append(self)

    def detach(self):
        if not self.detached:
            self.detached = True
            if self in self.topic.producers:
                self.topic.producers.remove(self)

    def reply(self, obj):
        self.session.send_text(json.dumps(obj, separators=(",", ":")))

    def on_text(self, text):
        try:
            req = json.loads(text)
            if not isinstance(req, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            self.reply({"result": "send-error:3", "errorMsg": str(exc),
                        "errorCode": 0, "schemaVersion": 0})
            return
        context = req.get("context")
        if context is not None and not isinstance(context, str):
            context = json.dumps(context)

        def error(code, msg):
            out = {"result": "send-error:%d" % code, "errorMsg": msg}
            if context is not None:
                out["context"] = context
            out.update(errorCode=0, schemaVersion=0)
            self.reply(out)

        payload = req.get("payload")
        if not isinstance(payload, str):
            return error(7, "Empty or null payload")
        try:
            raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            return error(7, "Invalid base64 payload: %s" % exc)
        props = req.get("properties") or {}
        if not isinstance(props, dict):
            return error(3, "properties must be an object")
        props = {str(k): (v if isinstance(v, str) else json.dumps(v)) for k, v in props.items()}
        key = req.get("key")
        key = None if key is None else str(key)
        event_ms = 0
        if req.get("eventTime"):
            try:
                event_ms = parse_iso_ms(str(req["eventTime"]))
            except ValueError as exc:
                return error(3, "Invalid eventTime: %s" % exc)
        deliver_at = 0
        try:
            if req.get("deliverAt"):
                deliver_at = int(req["deliverAt"])
            elif req.get("deliverAfterMs"):
                deliver_at = now_ms() + int(req["deliverAfterMs"])
        except (TypeError, ValueError) as exc:
            return error(3, "Invalid delivery time: %s" % exc)
        m = self.broker.publish(self.topic, raw, props, key, event_ms, deliver_at, self.name)
        self.msg_in += 1
        out = {"result": "ok", "messageId": m.id_b64}
        if context is not None:
            out["context"] = context
        out.update(errorCode=0, schemaVersion=0)
        self.reply(out)


# --- transport with fault injection ------------------------------------------

class Out:
    def __init__(self, broker, writer, websocket):
        o = broker.opts
        self.loop = broker.loop
        self.transport = writer.transport
        self.split = websocket and o.split_frames
        self.delay = (o.write_delay_ms / 1000.0) if websocket else 0.0
        self.hold_first = websocket and o.coalesce_handshake
        self.held = None
        self.hold_timer = None
        self.queue = deque()
        self.busy = False
        self.closing = False
        self.dead = False

    def write(self, data):
        if self.dead or self.closing:
            return
        if self.hold_first:
            self.hold_first = False
            self.held = data
            self.hold_timer = self.loop.call_later(0.2, self._release)
            return
        if self.held is not None:
            data = self.held + data
            self.held = None
            self.hold_timer.cancel()
        self._send(data)

    def _release(self):
        if self.held is not None:
            data, self.held = self.held, None
            self._send(data)
        if self.closing and not self.busy:
            self._close_now()

    def _send(self, data):
        if not (self.split or self.delay) and not self.busy:
            self.transport.write(data)
            return
        self.queue.append(data)
        if not self.busy:
            self.busy = True
            self.loop.create_task(self._pump())

    async def _pump(self):
        try:
            while self.queue and not self.dead:
                data = self.queue.popleft()
                if self.delay:
                    await asyncio.sleep(self.delay)
                if self.split:
                    i = 0
                    while i < len(data) and not self.dead:
                        n = random.randint(1, 9)
                        self.transport.write(data[i:i + n])
                        i += n
                        await asyncio.sleep(0.001)
                elif not self.dead:
                    self.transport.write(data)
        finally:
            self.busy = False
        if self.closing:
            self._close_now()

    def close(self):
        if self.closing or self.dead:
            return
        if self.held is not None:
            self._release()
        self.closing = True
        if not self.busy:
            self._close_now()

    def _close_now(self):
        if not self.dead:
            self.dead = True
            self.transport.close()

    def abort(self):
        self.dead = True
        self.queue.clear()
        self.transport.abort()


class WsSession:
    def __init__(self, broker, reader, writer, peer):
        self.broker = broker
        self.loop = broker.loop
        self.reader = reader
        self.out = Out(broker, writer, True)
        self.peer = peer
        quiet = logging.getLogger("pulsar-double.websockets")
        self.conn = WsServerConnection(max_size=broker.opts.max_message_size, logger=quiet)
        self.handler = None
        self.closing = False
        self.finished = False
        self.frag_op = None
        self.frags = []
        self.last = self.loop.time()
        self.flush_pending = False
        self.idle_timer = None
        self.ping_timer = None
        self.abort_timer = None

    # -- output
    def send_text(self, text):
        if self.closing or self.conn.state is not OPEN:
            return
        self.conn.send_text(text.encode("utf-8"))
        if not self.flush_pending:
            self.flush_pending = True
            self.loop.call_soon(self.flush)

    def flush(self):
        self.flush_pending = False
        chunks = self.conn.data_to_send()
        if not chunks:
            return
        buf = []
        eof = False
        for chunk in chunks:
            if len(chunk) == 0:
                eof = True
            else:
                buf.append(chunk)
        if buf:
            self.out.write(b"".join(buf))
            self.last = self.loop.time()
        if eof:
            self.out.close()

    def close(self, code, reason=""):
        """Server-initiated close; the consumer's messages go back at once."""
        if self.conn.state is OPEN:
            try:
                Close(code, reason).check()
                self.conn.send_close(code, reason)
            except ProtocolError:
                # Outside RFC 6455 (the proxy's error numbers): websockets
                # refuses to serialize it, so build the close frame here.
                data = struct.pack("!H", code) + reason.encode("utf-8")[:120]
                self.conn.send_frame(Frame(Opcode.CLOSE, data))
                self.conn.close_sent = Close(code, reason)
                self.conn.state = CLOSING
            self.flush()
            if self.abort_timer is None:
                self.abort_timer = self.loop.call_later(CLOSE_WAIT_S, self.drop)
        self.closing = True
        self.detach()

    def drop(self):
        """Drop TCP without a close frame."""
        self.closing = True
        self.out.abort()
        self.detach()

    def detach(self):
        if self.handler is not None:
            handler, self.handler = self.handler, None
            handler.detach()

    # -- timers
    def _arm_idle(self):
        ms = self.broker.opts.idle_timeout_ms
        if ms > 0 and not self.finished:
            self.idle_timer = self.loop.call_at(self.last + ms / 1000.0, self._idle_check)

    def _idle_check(self):
        self.idle_timer = None
        if self.finished or self.closing:
            return
        ms = self.broker.opts.idle_timeout_ms
        if self.loop.time() - self.last >= ms / 1000.0 - 0.0005:
            log.info("idle timeout on %s", self.peer)
            self.close(1001, "Idle Timeout")
        else:
            self._arm_idle()

    def _arm_ping(self):
        ms = self.broker.opts.ping_interval_ms
        if ms > 0 and not self.finished:
            self.ping_timer = self.loop.call_later(ms / 1000.0, self._ping)

    def _ping(self):
        self.ping_timer = None
        if self.conn.state is OPEN and not self.closing:
            self.conn.send_ping(b"")
            self.flush()
            self._arm_ping()

    # -- input
    def on_frame(self, frame):
        self.last = self.loop.time()
        op = frame.opcode
        if op is Opcode.TEXT or op is Opcode.BINARY:
            if frame.fin:
                if op is Opcode.TEXT:
                    self.on_text(frame.data)
            else:
                self.frag_op = op
                self.frags = [frame.data]
        elif op is Opcode.CONT:
            self.frags.append(frame.data)
            if frame.fin:
                data = b"".join(self.frags)
                op, self.frag_op, self.frags = self.frag_op, None, []
                if op is Opcode.TEXT:
                    self.on_text(data)
        elif op is Opcode.CLOSE:
            self.closing = True
            self.detach()

    def on_text(self, data):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.conn.fail(1007, "invalid UTF-8")
            self.closing = True
            self.detach()
            return
        if self.handler is not None and not self.closing:
            self.handler.on_text(text)

    async def run(self):
        self._arm_idle()
        self._arm_ping()
        try:
            while True:
                try:
                    data = await self.reader.read(65536)
                except (ConnectionError, OSError):
                    data = b""
                try:
                    if data:
                        self.conn.receive_data(data)
                    else:
                        self.conn.receive_eof()
                except EOFError:
                    pass
                for event in self.conn.events_received():
                    if isinstance(event, Frame):
                        self.on_frame(event)
                if self.conn.state is not OPEN:
                    self.closing = True
                    self.detach()
                self.flush()
                if not data:
                    break
        finally:
            self.finish()

    def finish(self):
        self.finished = True
        self.closing = True
        self.detach()
        for timer in (self.idle_timer, self.ping_timer, self.abort_timer):
            if timer is not None:
                timer.cancel()
        self.out.close()
        self.broker.sessions.discard(self)


# --- HTTP --------------------------------------------------------------------

class HttpRequest:
    def __init__(self, method, target, version, headers, peer):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.peer = peer
        raw_path, _, raw_query = target.partition("?")
        self.raw_path = raw_path
        self.segs = [urllib.parse.unquote(s) for s in raw_path.split("/")[1:]]
        self.query = {}
        for k, v in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
            self.query.setdefault(k, v)

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    @property
    def keep_alive(self):
        conn = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


def parse_head(head, peer):
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:
        return None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            return None
        key = name.lower()
        value = value.strip()
        headers[key] = headers[key] + ", " + value if key in headers else value
    if not parts[1].startswith("/"):
        return None
    return HttpRequest(parts[0], parts[1], parts[2], headers, peer)


def http_response(status, body=b"", ctype="application/json", close=False, extra=()):
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Status"
    lines = ["HTTP/1.1 %d %s" % (status, phrase),
             "Date: " + datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT"),
             "Server: pulsar-test-double"]
    if status != 204 and status >= 200:
        lines.append("Content-Type: " + ctype)
        lines.append("Content-Length: %d" % len(body))
    if close:
        lines.append("Connection: close")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body if status != 204 else b"")


def jbody(obj):
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def reason(status, text):
    return status, jbody({"reason": text})


# --- the broker ----------------------------------------------------------------

class Broker:
    def __init__(self, opts):
        self.opts = opts
        self.loop = None
        self.topics = {}
        self.sessions = set()
        self.next_ledger = random.randint(10, 99)
        self.fail_status = 0
        self.fail_count = 0
        self.journal_fd = None
        self.replaying = False

    # -- state
    def journal(self, obj):
        if self.journal_fd is not None and not self.replaying:
            os.write(self.journal_fd, json.dumps(obj, separators=(",", ":")).encode("utf-8") + b"\n")

    def load_state(self):
        path = self.opts.state
        entries = []
        try:
            with open(path, "rb") as f:
                for line in f:
                    try:
                        entries.append(json.loads(line))
                    except ValueError:
                        break  # a torn last line (killed mid-write)
        except FileNotFoundError:
            pass
        self.replaying = True
        max_ledger = 0
        for e in entries:
            op = e.get("op")
            if op == "topic":
                self.get_topic(e["t"], create=True)
            elif op == "msg":
                t = self.get_topic(e["t"], create=True)
                t.ledger, t.next_entry = e["l"], e["e"]
                max_ledger = max(max_ledger, e["l"])
                m = self.publish(t, base64.b64decode(e["p"]), e.get("pr") or {}, e.get("k"),
                                 e.get("et", 0), e.get("da", 0), e.get("pn"), publish_ms=e["pt"])
                t.msg_in -= 1
                t.bytes_in -= len(m.payload)
            elif op == "sub":
                t = self.get_topic(e["t"], create=True)
                if e["s"] not in t.subs:
                    self.create_subscription(t, e["s"], e["start"], True)
            elif op in ("ack", "acks"):
                t = self.topics.get(e["t"])
                sub = t and t.subs.get(e["s"])
                if sub:
                    for seq in ([e["seq"]] if op == "ack" else e["seqs"]):
                        if 0 <= seq < len(t.msgs):
                            sub.ack(seq)
            elif op == "unsub":
                t = self.topics.get(e["t"])
                sub = t and t.subs.get(e["s"])
                if sub:
                    self.delete_subscription(sub)
            elif op == "deltopic":
                self.topics.pop(e["t"], None)
        self.replaying = False
        # A restart opens new ledgers; reading starts at the first unacked.
        self.next_ledger = max(self.next_ledger, max_ledger + 1)
        for t in self.topics.values():
            t.ledger = self.next_ledger
            self.next_ledger += 1
            t.next_entry = 0
            for sub in t.subs.values():
                sub.read_pos = sub.start
        # Compact: rewrite the journal as a snapshot, then append to it.
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for t in self.topics.values():
                f.write(json.dumps({"op": "topic", "t": t.name}) + "\n")
                for m in t.msgs:
                    f.write(json.dumps(self._msg_record(t, m), separators=(",", ":")) + "\n")
                for sub in t.subs.values():
                    f.write(json.dumps({"op": "sub", "t": t.name, "s": sub.name, "start": sub.start}) + "\n")
                    if sub.acked:
                        f.write(json.dumps({"op": "acks", "t": t.name, "s": sub.name,
                                            "seqs": sorted(sub.acked)}) + "\n")
        os.replace(tmp, path)
        self.journal_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if entries:
            log.info("state loaded from %s: %d topics", path, len(self.topics))

    @staticmethod
    def _msg_record(t, m):
        rec = {"op": "msg", "t": t.name, "l": m.ledger, "e": m.entry,
               "p": base64.b64encode(m.payload).decode("ascii"), "pt": m.publish_ms}
        if m.props:
            rec["pr"] = m.props
        if m.key is not None:
            rec["k"] = m.key
        if m.event_ms:
            rec["et"] = m.event_ms
        if m.deliver_at:
            rec["da"] = m.deliver_at
        if m.producer:
            rec["pn"] = m.producer
        return rec

    # -- topics, subscriptions, messages
    def get_topic(self, name, create=False):
        t = self.topics.get(name)
        if t is None and create:
            t = Topic(self, name, self.next_ledger)
            self.next_ledger += 1
            self.topics[name] = t
            self.journal({"op": "topic", "t": name})
            log.info("topic %s created", name)
        return t

    def create_subscription(self, topic, name, start, durable=True):
        sub = Subscription(topic, name, start, durable)
        topic.subs[name] = sub
        if durable:
            self.journal({"op": "sub", "t": topic.name, "s": name, "start": start})
        return sub

    def delete_subscription(self, sub, journal=True):
        sub.deleted = True
        if sub.delay_timer is not None:
            sub.delay_timer.cancel()
        if sub.topic.subs.get(sub.name) is sub:
            del sub.topic.subs[sub.name]
        if journal and sub.durable:
            self.journal({"op": "unsub", "t": sub.topic.name, "s": sub.name})

    def publish(self, topic, payload, props, key, event_ms, deliver_at, producer, publish_ms=None):
        seq = len(topic.msgs)
        m = Message(seq, topic.ledger, topic.next_entry, payload, props, key, event_ms,
                    publish_ms if publish_ms is not None else now_ms(), deliver_at, producer)
        topic.next_entry += 1
        topic.msgs.append(m)
        topic.ledger_first.setdefault(m.ledger, seq - m.entry)
        topic.msg_in += 1
        topic.bytes_in += len(payload)
        topic.storage += len(payload)
        if self.journal_fd is not None and not self.replaying:
            self.journal(self._msg_record(topic, m))
        if not self.replaying:
            for sub in list(topic.subs.values()):
                sub.dispatch()
        return m

    def sessions_of(self, consumer=None, producer=None):
        out = []
        for s in list(self.sessions):
            h = s.handler
            if isinstance(h, Consumer) and consumer is not None and h.name == consumer:
                out.append(s)
            elif isinstance(h, Producer) and producer is not None and h.name == producer:
                out.append(s)
        return out

    # -- HTTP plumbing
    async def handle(self, reader, writer):
        sock = writer.get_extra_info("peername") or ("?", 0)
        peer = "/%s:%s" % (sock[0], sock[1])
        upgraded = False
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HTTP_IDLE_S)
                except asyncio.LimitOverrunError:
                    writer.write(http_response(431, b"", close=True))
                    break
                except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, OSError):
                    break
                req = parse_head(head, peer)
                if req is None:
                    writer.write(http_response(400, jbody({"reason": "Bad request"}), close=True))
                    break
                if self.opts.verbose:
                    log.info("%s %s %s", peer, req.method, req.target)
                if req.method == "GET" and req.raw_path.startswith("/ws/"):
                    # From here the session's Out owns (and closes) the socket.
                    upgraded = True
                    try:
                        await self.websocket(req, head, reader, writer)
                    except Exception:
                        log.exception("internal error on %s", req.target)
                        writer.transport.abort()
                    return
                try:
                    body = await self.read_body(req, reader, writer)
                except ValueError as exc:
                    writer.write(http_response(400, jbody({"reason": str(exc)}), close=True))
                    break
                if body is None:
                    break
                try:
                    status, out = self.route(req, body)
                except Exception as exc:  # a bug in the double: say so, keep serving
                    log.exception("internal error on %s %s", req.method, req.target)
                    status, out = reason(500, "test double error: %s" % exc)
                close = not req.keep_alive
                writer.write(http_response(status, out, close=close))
                await writer.drain()
                if close:
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            if not upgraded:
                try:
                    writer.close()
                except Exception:
                    pass

    async def read_body(self, req, reader, writer):
        te = (req.header("transfer-encoding") or "").lower()
        length = req.header("content-length")
        if (req.header("expect") or "").lower() == "100-continue" and (te or (length and length != "0")):
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            if "chunked" in te:
                body = bytearray()
                while True:
                    line = await asyncio.wait_for(reader.readuntil(b"\r\n"), HTTP_IDLE_S)
                    size = int(line.split(b";")[0].strip(), 16)
                    if size == 0:
                        while (await asyncio.wait_for(reader.readuntil(b"\r\n"), HTTP_IDLE_S)) != b"\r\n":
                            pass
                        return bytes(body)
                    body += await asyncio.wait_for(reader.readexactly(size + 2), HTTP_IDLE_S)
                    del body[-2:]
                    if len(body) > MAX_BODY:
                        raise ValueError("body too large")
            if length is None:
                return b""
            if not length.isdigit() or int(length) > MAX_BODY:
                raise ValueError("bad Content-Length")
            n = int(length)
            return await asyncio.wait_for(reader.readexactly(n), HTTP_IDLE_S) if n else b""
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, OSError):
            return None

    def check_auth(self, req, allow_query):
        """None when allowed, else (status, text)."""
        want = self.opts.token
        if not want and not self.opts.forbidden_token:
            return None
        auth = req.header("authorization")
        token = None
        if auth is not None:
            scheme, _, value = auth.partition(" ")
            if scheme.lower() == "bearer":
                token = value.strip()
        elif allow_query:
            token = req.query.get("token")
        if token is not None and token == self.opts.forbidden_token:
            return 403, "Not authorized"
        if want and token != want:
            return 401, "Authentication required"
        return None

    def injected_failure(self):
        if self.fail_count > 0:
            self.fail_count -= 1
            return self.fail_status
        return 0

    # -- WebSocket endpoints
    async def websocket(self, req, head, reader, writer):
        session = WsSession(self, reader, writer, req.peer)

        def refuse(status, text):
            body = (text + "\n").encode("utf-8")
            session.out.write(http_response(status, body, "text/plain; charset=utf-8", close=True))
            session.out.close()

        failed = self.injected_failure()
        if failed:
            return refuse(failed, "Injected failure")
        denied = self.check_auth(req, allow_query=True)
        if denied:
            return refuse(*denied)
        try:
            session.conn.receive_data(head)
            events = session.conn.events_received()
        except Exception as exc:
            return refuse(400, "Failed to open a WebSocket connection: %s" % exc)
        if not events:
            return refuse(400, "Failed to open a WebSocket connection: bad request")
        response = session.conn.accept(events[0])
        if response.status_code != 101:
            session.conn.send_response(response)
            session.flush()
            session.out.close()
            return
        segs = req.segs
        try:
            if segs[:3] == ["ws", "v2", "consumer"]:
                handler = self.prepare_consumer(session, segs, req.query)
            elif segs[:3] == ["ws", "v2", "producer"]:
                handler = self.prepare_producer(session, segs, req.query)
            else:
                raise HandshakeError(404, "Not found (only the v2 consumer and producer endpoints are modelled)")
        except HandshakeError as exc:
            session.conn.send_response(session.conn.reject(http.HTTPStatus(exc.status), exc.text + "\n"))
            session.flush()
            session.out.close()
            return
        session.conn.send_response(response)
        session.flush()
        session.handler = handler
        self.sessions.add(session)
        handler.attach()
        session.flush()
        await session.run()

    def prepare_consumer(self, session, segs, q):
        if len(segs) != 8:
            raise HandshakeError(400, "Invalid query params: Invalid topic name format")
        if segs[3] != "persistent":
            raise HandshakeError(404, "Topic not found (only persistent topics are modelled)")
        tenant, ns, local, sub_name = segs[4:8]
        if not (tenant and ns and local):
            raise HandshakeError(400, "Invalid query params: Invalid topic name format")
        if not sub_name:
            raise HandshakeError(400, "Invalid query params: Empty subscription name")
        try:
            opts = {
                "subscriptionType": java_enum(q.get("subscriptionType", "Exclusive"),
                                              ("Exclusive", "Shared", "Failover", "Key_Shared"),
                                              "SubscriptionType"),
                "subscriptionMode": java_enum(q.get("subscriptionMode", "Durable"),
                                              ("Durable", "NonDurable"), "SubscriptionMode"),
                "subscriptionInitialPosition": java_enum(
                    q.get("subscriptionInitialPosition", "Latest"), ("Latest", "Earliest"),
                    "SubscriptionInitialPosition"),
                "pullMode": q.get("pullMode", "false").lower() == "true",
                "consumerName": q.get("consumerName") or "".join(
                    random.choice(string.ascii_lowercase + string.digits) for _ in range(5)),
            }
            rq = java_int(q["receiverQueueSize"]) if "receiverQueueSize" in q else 1000
            if rq < 0:
                raise BadParam("receiverQueueSize needs to be >= 0")
            rq = min(rq, 1000)
            opts["receiverQueueSize"] = rq
            opts["window"] = max(rq, 1)
            ack = java_int(q["ackTimeoutMillis"], 64) if "ackTimeoutMillis" in q else 0
            if ack != 0 and ack < 1000:
                raise BadParam("Ack timeout should be greater than 1000 ms")
            opts["ackTimeoutMillis"] = ack
            nack = java_int(q["negativeAckRedeliveryDelay"], 64) if "negativeAckRedeliveryDelay" in q else 60000
            if nack < 0:
                raise BadParam("redeliveryDelay needs to be >= 0")
            opts["negativeAckRedeliveryDelay"] = nack
            prio = java_int(q["priorityLevel"]) if "priorityLevel" in q else 0
            if prio < 0:
                raise BadParam("priorityLevel needs to be >= 0")
            opts["priorityLevel"] = prio
            opts["maxRedeliverCount"] = 0
            opts["deadLetterTopic"] = None
            if "maxRedeliverCount" in q or "deadLetterTopic" in q:
                mrc = java_int(q["maxRedeliverCount"]) if "maxRedeliverCount" in q else 0
                if mrc <= 0:
                    raise BadParam("MaxRedeliverCount must be > 0.")
                opts["maxRedeliverCount"] = mrc
                dlq = q.get("deadLetterTopic")
                if dlq:
                    if "://" not in dlq:
                        dlq = "persistent://public/default/" + dlq
                    if split_topic(dlq) is None:
                        raise BadParam("Invalid topic name: " + q["deadLetterTopic"])
                    opts["deadLetterTopic"] = dlq
        except BadParam as exc:
            raise HandshakeError(400, "Invalid query params: %s" % exc)
        name = "persistent://%s/%s/%s" % (tenant, ns, local)
        topic = self.get_topic(name, create=self.opts.auto_create)
        if topic is None:
            raise HandshakeError(404, "Topic not found: Topic %s does not exist" % name)
        sub = topic.subs.get(sub_name)
        if sub is not None and sub.consumers:
            if sub.type != opts["subscriptionType"]:
                raise HandshakeError(409, "Subscription is of different type")
            if sub.type == "Exclusive":
                raise HandshakeError(409, "Exclusive consumer is already connected")
        return Consumer(self, session, topic, sub_name, opts)

    def prepare_producer(self, session, segs, q):
        if len(segs) != 7:
            raise HandshakeError(400, "Invalid query params: Invalid topic name format")
        if segs[3] != "persistent":
            raise HandshakeError(404, "Topic not found (only persistent topics are modelled)")
        tenant, ns, local = segs[4:7]
        if not (tenant and ns and local):
            raise HandshakeError(400, "Invalid query params: Invalid topic name format")
        for key in ("sendTimeoutMillis", "batchingMaxMessages", "maxPendingMessages",
                    "batchingMaxPublishDelay", "initialSequenceId"):
            if key in q:
                try:
                    java_int(q[key], 64)
                except BadParam as exc:
                    raise HandshakeError(400, "Invalid query params: %s" % exc)
        name = "persistent://%s/%s/%s" % (tenant, ns, local)
        topic = self.get_topic(name, create=self.opts.auto_create)
        if topic is None:
            raise HandshakeError(404, "Topic not found: Topic %s does not exist" % name)
        pname = q.get("producerName")
        if pname and any(p.name == pname for p in topic.producers):
            raise HandshakeError(409, "Producer with name '%s' is already connected to topic" % pname)
        return Producer(self, session, topic, pname or "standalone-0-%d" % random.randint(0, 1 << 30))

    # -- REST
    def route(self, req, body):
        segs = req.segs
        if segs[:1] == ["test"]:
            return self.test_hook(req, segs[1:])
        failed = self.injected_failure()
        if failed:
            return reason(failed, "Injected failure")
        denied = self.check_auth(req, allow_query=False)
        if denied:
            return reason(*denied)
        if segs[:3] == ["admin", "v2", "persistent"]:
            return self.admin(req, segs[3:], body)
        if segs[:2] == ["topics", "persistent"] and len(segs) == 5:
            if req.method != "POST":
                return reason(405, "Method Not Allowed")
            return self.rest_produce("persistent://%s/%s/%s" % tuple(segs[2:5]), body)
        if segs[:1] == ["ws"]:
            return reason(405, "Method Not Allowed")
        return reason(404, "Not Found")

    def rest_produce(self, name, body):
        topic = self.topics.get(name)
        if topic is None:
            return reason(404, "Topic not owned by current broker or not found: %s" % name)
        try:
            req = json.loads(body.decode("utf-8") or "null")
            if not isinstance(req, dict) or not isinstance(req.get("messages"), list):
                raise ValueError("expected {\"messages\": [...]}")
        except (ValueError, UnicodeDecodeError) as exc:
            return reason(400, "Invalid request body: %s" % exc)
        results = []
        for item in req["messages"]:
            if not isinstance(item, dict) or not isinstance(item.get("payload"), str):
                results.append({"messageId": "", "errorCode": 2, "errorMsg": "Invalid message: payload must be a string",
                                "schemaVersion": 0})
                continue
            props = item.get("properties") or {}
            if not isinstance(props, dict):
                props = {}
            props = {str(k): (v if isinstance(v, str) else json.dumps(v)) for k, v in props.items()}
            event_ms = 0
            if item.get("eventTime"):
                try:
                    event_ms = int(str(item["eventTime"]))
                except ValueError:
                    results.append({"messageId": "", "errorCode": 2,
                                    "errorMsg": "Invalid eventTime", "schemaVersion": 0})
                    continue
            key = item.get("key")
            m = self.publish(topic, item["payload"].encode("utf-8"), props,
                             None if key is None else str(key), event_ms, 0, req.get("producerName"))
            results.append({"messageId": m.rest_id(), "errorCode": 0, "schemaVersion": 0})
        return 200, jbody({"messagePublishResults": results, "schemaVersion": 0})

    def admin(self, req, rest, body):
        m = req.method
        if len(rest) == 2:
            if m != "GET":
                return reason(405, "Method Not Allowed")
            prefix = "persistent://%s/%s/" % tuple(rest)
            return 200, jbody(sorted(n for n in self.topics if n.startswith(prefix)))
        if len(rest) < 3:
            return reason(404, "Not Found")
        name = "persistent://%s/%s/%s" % tuple(rest[:3])
        topic = self.topics.get(name)
        tail = rest[3:]
        if not tail:
            if m == "PUT":
                if topic is not None:
                    return reason(409, "This topic already exists")
                self.get_topic(name, create=True)
                return 204, b""
            if m == "DELETE":
                if topic is None:
                    return reason(404, "Topic not found")
                if topic.producers or any(s.consumers for s in topic.subs.values()):
                    return reason(412, "Topic has active producers/subscriptions")
                for sub in list(topic.subs.values()):
                    self.delete_subscription(sub, journal=False)
                del self.topics[name]
                self.journal({"op": "deltopic", "t": name})
                return 204, b""
            return reason(405, "Method Not Allowed")
        if tail == ["stats"] or tail == ["subscriptions"]:
            if m != "GET":
                return reason(405, "Method Not Allowed")
            if topic is None:
                return reason(404, "Topic not found")
            if tail == ["subscriptions"]:
                return 200, jbody(sorted(topic.subs))
            return 200, jbody(self.stats(topic))
        if len(tail) == 2 and tail[0] == "subscription":
            sub_name = tail[1]
            if m == "PUT":
                if topic is None:
                    if not self.opts.auto_create:
                        return reason(404, "Topic not found")
                    topic = self.get_topic(name, create=True)
                if sub_name in topic.subs:
                    return reason(409, "Subscription already exists for topic")
                try:
                    pos = json.loads(body.decode("utf-8")) if body.strip() else None
                    if pos is not None and not isinstance(pos, dict):
                        raise ValueError("expected a message id object")
                except (ValueError, UnicodeDecodeError) as exc:
                    return reason(400, "Invalid message id: %s" % exc)
                ledger = (pos or {}).get("ledgerId", LATEST_ID)
                entry = (pos or {}).get("entryId", LATEST_ID)
                if not isinstance(ledger, int) or not isinstance(entry, int):
                    return reason(400, "Invalid message id")
                if ledger == LATEST_ID and entry == LATEST_ID:
                    start = len(topic.msgs)
                elif ledger < 0:
                    start = 0
                else:
                    start = topic.first_seq_at(ledger, entry, bool((pos or {}).get("isExcluded")))
                self.create_subscription(topic, sub_name, start, True)
                return 204, b""
            if m == "DELETE":
                if topic is None or sub_name not in topic.subs:
                    return reason(404, "Subscription not found")
                sub = topic.subs[sub_name]
                if sub.consumers:
                    return reason(412, "Subscription has active connected consumers")
                self.delete_subscription(sub)
                return 204, b""
            return reason(405, "Method Not Allowed")
        return reason(404, "Not Found")

    def stats(self, topic):
        subs = {}
        for sub in topic.subs.values():
            consumers = []
            for c in sub.consumers:
                if c.pull:
                    permits = c.permits
                else:
                    permits = max(0, c.window - len(c.slots))
                consumers.append({
                    "msgRateOut": 0.0, "msgThroughputOut": 0.0, "msgRateRedeliver": 0.0,
                    "bytesOutCounter": c.bytes_out, "msgOutCounter": c.msg_out,
                    "consumerName": c.name, "availablePermits": permits,
                    "unackedMessages": len(c.pending),
                    "blockedConsumerOnUnackedMsgs": False,
                    "address": c.session.peer, "connectedSince": c.connected_since,
                    "metadata": {},
                })
            entry = {
                "msgRateOut": 0.0, "msgThroughputOut": 0.0, "msgRateRedeliver": 0.0,
                "bytesOutCounter": sub.bytes_out, "msgOutCounter": sub.msg_out,
                "msgBacklog": sub.backlog(), "msgBacklogNoDelayed": sub.backlog() - len(sub.delayed),
                "msgDelayed": len(sub.delayed), "unackedMessages": len(sub.pending),
                "blockedSubscriptionOnUnackedMsgs": False,
                "type": sub.type or "None", "isDurable": sub.durable, "isReplicated": False,
                "consumers": consumers,
            }
            if sub.type == "Failover" and sub.active is not None:
                entry["activeConsumerName"] = sub.active.name
            subs[sub.name] = entry
        return {
            "msgRateIn": 0.0, "msgThroughputIn": 0.0, "msgRateOut": 0.0, "msgThroughputOut": 0.0,
            "msgInCounter": topic.msg_in, "bytesInCounter": topic.bytes_in,
            "msgOutCounter": sum(s.msg_out for s in topic.subs.values()),
            "bytesOutCounter": sum(s.bytes_out for s in topic.subs.values()),
            "averageMsgSize": (topic.bytes_in / topic.msg_in) if topic.msg_in else 0.0,
            "storageSize": topic.storage, "backlogSize": topic.storage,
            "publishers": [{"producerName": p.name, "msgRateIn": 0.0, "msgThroughputIn": 0.0,
                            "address": p.session.peer, "connectedSince": p.connected_since}
                           for p in topic.producers],
            "subscriptions": subs,
            "replication": {},
            "deduplicationStatus": "Disabled",
        }

    def test_hook(self, req, rest):
        q = req.query
        if rest == ["ping"]:
            if req.method != "GET":
                return reason(405, "Method Not Allowed")
            return 200, b"ok"
        if rest == ["messages"]:
            if req.method != "GET":
                return reason(405, "Method Not Allowed")
            topic = self.topics.get(q.get("topic", ""))
            if topic is None:
                return reason(404, "Topic not found")
            return 200, jbody(self.dump_messages(topic))
        if rest in (["drop"], ["close"]):
            if req.method != "POST":
                return reason(405, "Method Not Allowed")
            found = self.sessions_of(consumer=q.get("consumer"), producer=q.get("producer"))
            if not found:
                return reason(404, "No such consumer or producer")
            for s in found:
                if rest == ["drop"]:
                    s.drop()
                else:
                    try:
                        code = int(q.get("code", "1000"))
                    except ValueError:
                        return reason(400, "bad code")
                    s.close(code, q.get("reason", ""))
            return 200, jbody({"dropped" if rest == ["drop"] else "closed": len(found)})
        if rest == ["fail"]:
            if req.method != "POST":
                return reason(405, "Method Not Allowed")
            try:
                status = int(q.get("status", ""))
                count = int(q.get("count", "1"))
                http.HTTPStatus(status)
            except ValueError:
                return reason(400, "status=N[&count=K] expected")
            self.fail_status, self.fail_count = status, count
            return 200, jbody({"status": status, "count": count})
        return reason(404, "Not Found")

    def dump_messages(self, topic):
        subs = {}
        for sub in topic.subs.values():
            subs[sub.name] = {"start": sub.start, "readPosition": sub.read_pos, "type": sub.type or "None",
                              "consumers": [c.name for c in sub.consumers]}
        msgs = []
        for m in topic.msgs:
            per = {}
            for sub in topic.subs.values():
                owner = sub.pending.get(m.seq)
                per[sub.name] = {"acked": sub.is_acked(m.seq),
                                 "redeliveryCount": sub.counts.get(m.seq, 0),
                                 "deliveries": sub.deliveries.get(m.seq, 0),
                                 "consumer": owner.name if owner is not None else None}
            item = {"seq": m.seq, "id": m.rest_id(), "messageId": m.id_b64,
                    "payload": m.payload.decode("utf-8", "replace"),
                    "payloadBase64": base64.b64encode(m.payload).decode("ascii"),
                    "properties": m.props, "publishTime": iso_ms(m.publish_ms),
                    "subscriptions": per}
            if m.key is not None:
                item["key"] = m.key
            if m.event_ms:
                item["eventTime"] = iso_ms(m.event_ms)
            msgs.append(item)
        return {"topic": topic.name, "subscriptions": subs, "messages": msgs}


class HandshakeError(Exception):
    def __init__(self, status, text):
        super().__init__(text)
        self.status = status
        self.text = text


def parse_args(argv):
    p = argparse.ArgumentParser(description="Pulsar HTTP-port test double (see the header comment)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--token")
    p.add_argument("--forbidden-token")
    p.add_argument("--topic", action="append", default=[])
    p.add_argument("--subscription", action="append", default=[])
    p.add_argument("--preload", type=int, default=0)
    p.add_argument("--auto-create", action="store_true")
    p.add_argument("--state")
    p.add_argument("--idle-timeout-ms", type=int, default=0)
    p.add_argument("--ping-interval-ms", type=int, default=0)
    p.add_argument("--max-message-size", type=int, default=1 << 20)
    p.add_argument("--prefetch", action="store_true")
    p.add_argument("--split-frames", action="store_true")
    p.add_argument("--write-delay-ms", type=int, default=0)
    p.add_argument("--coalesce-handshake", action="store_true")
    p.add_argument("--verbose", action="store_true")
    opts = p.parse_args(argv)
    for t in opts.topic:
        if split_topic(t) is None:
            p.error("--topic wants persistent://tenant/namespace/name, not %r" % t)
    return opts


async def main(opts):
    broker = Broker(opts)
    broker.loop = asyncio.get_running_loop()
    if opts.state:
        broker.load_state()
    for name in opts.topic:
        fresh = name not in broker.topics
        topic = broker.get_topic(name, create=True)
        for sub in opts.subscription:
            if sub not in topic.subs:
                broker.create_subscription(topic, sub, 0, True)
        if fresh and opts.preload > 0:
            for i in range(1, opts.preload + 1):
                broker.publish(topic, str(i).encode(), NO_PROPS, None, 0, 0, "preload")
    server = await asyncio.start_server(broker.handle, opts.host, opts.port,
                                        reuse_address=True, limit=1 << 16)
    port = server.sockets[0].getsockname()[1]
    log.info("listening on %s:%d", opts.host, port)
    print("ready %d" % port, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        broker.loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    for s in list(broker.sessions):
        s.out.abort()


if __name__ == "__main__":
    options = parse_args(sys.argv[1:])
    logging.basicConfig(level=logging.INFO if options.verbose else logging.WARNING,
                        format="pulsar-double: %(message)s", stream=sys.stderr)
    logging.getLogger("pulsar-double.websockets").setLevel(logging.CRITICAL)
    try:
        asyncio.run(main(options))
    except OSError as err:
        print("pulsar-double: %s" % err, file=sys.stderr)
        sys.exit(1)
