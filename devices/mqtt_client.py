"""The hub's MQTT connection: paho's own client in its network thread, a lock-free hand-off queue.

The callback does the least possible work (append to a deque); decoding and everything else happens
in batches in the ingest pipeline. QoS 1 messages are acknowledged only after they are persisted
(manual ack), so a hub crash before commit gets them redelivered by the broker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.contract import SUBSCRIPTION_FILTERS

log = logging.getLogger(__name__)

# Reconnect backoff: start fast after a broker restart, cap so a long outage costs nothing.
RECONNECT_MIN_DELAY_S = 1
RECONNECT_MAX_DELAY_S = 30
KEEPALIVE_S = 30


# One recv() takes up to this much of what the broker sent: at 12k msg/s of ~0.8 KB that is a few
# dozen messages per system call instead of three system calls per message.
RECV_CHUNK_BYTES = 256 * 1024
# Packets handled per network-loop turn while bytes are buffered (then select() again).
MAX_PACKETS_PER_TURN = 10_000
# After a turn that emptied the socket (its last recv() came back short of RECV_CHUNK_BYTES), the
# network thread waits this long before select() again, so the next recv() finds tens of messages
# instead of a few. Each wake-up of the thread costs ~90 us of CPU beside ~2.5 us per message
# (measured on a radar worker at 20,000 residents: 167 wake-ups/s with one worker, ~500/s for each
# of two, whose reads found fewer messages): with two workers the wake-ups alone were most of
# what the second worker cost per message (docs/performance.md, issue 18 goal 3). A message waits
# at most this much longer; a worker batches every 0.2 s anyway. A busy consumer (full reads)
# never waits, nor does a thread with packets to send (a SUBSCRIBE after a reconnect, acks).
READ_COALESCE_S = 0.01


class _BufferedSocket:
    """A plain TCP socket read in large chunks; `pending()` tells paho's loop data is buffered.

    paho reads each packet with 2-4 small recv() calls and one select() per packet; measured here
    those system calls were most of its ~32 us per message. paho already honours `pending()`
    (meant for TLS sockets) by skipping select(), so buffering is invisible to the protocol code.
    `take_publishes` hands complete PUBLISH packets straight from the buffer to a sink.
    """

    __slots__ = ("_sock", "_buf", "_pos", "short_read", "reads")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0
        self.short_read = False  # the last recv() took all the socket had (it came back short)
        self.reads = 0  # recv() system calls made

    def recv(self, n: int) -> bytes:
        avail = len(self._buf) - self._pos
        if avail <= 0:
            size = max(n, RECV_CHUNK_BYTES)
            self.reads += 1
            data = self._sock.recv(size)  # BlockingIOError / b"" pass through
            if not data:
                return data
            self.short_read = len(data) < size
            self._buf, self._pos, avail = data, 0, len(data)
        take = n if n < avail else avail
        out = self._buf[self._pos : self._pos + take]
        self._pos += take
        return out

    def pending(self) -> int:
        return len(self._buf) - self._pos

    def take_publishes(self, sink: Callable[[str, bytes, int, int], None]) -> int:
        """Hand every complete QoS 0/1 PUBLISH packet at the head of the buffer to ``sink(topic,
        payload, qos, mid)``, without paho's per-packet work (MQTTMessage, logging, topic matcher,
        callback locks, three struct copies): ~15 us of the ~20 us paho spent per radar window.

        Stops, leaving the rest for paho, at anything else: another packet type, QoS 2, a packet
        not wholly buffered, a malformed length or a topic that is not UTF-8. Returns the count.
        """
        buf, pos, end = self._buf, self._pos, len(self._buf)
        taken = 0
        while pos < end:
            command = buf[pos]
            if command & 0xF0 != 0x30 or command & 0x06 == 0x06:  # not PUBLISH, or QoS 3 (bad)
                break
            qos = (command & 0x06) >> 1
            if qos == 2:
                break
            # remaining length: 1-4 bytes, 7 bits each, little end first (MQTT 3.1.1, 2.2.3)
            length = shift = 0
            i = pos + 1
            while True:
                if i >= end or i - pos > 4:
                    length = -1
                    break
                byte = buf[i]
                i += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            if length < 2 or i + length > end:
                break  # incomplete (or malformed: paho decides)
            body_end = i + length
            topic_end = i + 2 + ((buf[i] << 8) | buf[i + 1])
            data = topic_end + (2 if qos else 0)
            if data > body_end or topic_end == i + 2:
                break  # malformed: paho reports it
            try:
                topic = buf[i + 2 : topic_end].decode("utf-8")
            except UnicodeDecodeError:
                break
            mid = ((buf[topic_end] << 8) | buf[topic_end + 1]) if qos else 0
            sink(topic, buf[data:body_end], qos, mid)
            pos = body_end
            taken += 1
        self._pos = pos
        return taken

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Client(mqtt.Client):
    """paho's client with buffered reads on plain TCP (TLS and websockets keep paho's own path).

    With a ``publish_sink`` set (and manual acks, MQTT 3.1.1), complete PUBLISH packets already
    buffered go straight to the sink; everything else (CONNACK, SUBACK, PINGRESP, packets split
    across reads) takes paho's own path.
    """

    publish_sink: Callable[[str, bytes, int, int], None] | None = None
    read_coalesce_s: float = READ_COALESCE_S

    def _packet_read(self) -> mqtt.MQTTErrorCode:
        sock, sink = self._sock, self.publish_sink
        if (
            sink is not None
            and type(sock) is _BufferedSocket
            and self._in_packet["command"] == 0
            and self._manual_ack
            and self._protocol == mqtt.MQTTv311
            and sock.take_publishes(sink)
        ):
            with self._msgtime_mutex:
                self._last_bytes_received = mqtt.time_func()
            return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._packet_read()

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        if self._ssl or self._transport != "tcp":
            return sock
        return _BufferedSocket(sock)

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        turns = 0
        while rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and turns < MAX_PACKETS_PER_TURN:
            sock = self._sock
            if not isinstance(sock, _BufferedSocket) or sock.pending() <= 0:
                break
            rc = super().loop_read(max_packets)
            turns += 1
        sock = self._sock
        if (
            rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
            and self.read_coalesce_s > 0
            and type(sock) is _BufferedSocket
            and sock.short_read
            and sock.pending() <= 0
            and not self.want_write()
        ):
            sock.short_read = False
            time.sleep(self.read_coalesce_s)  # let the next read find more (READ_COALESCE_S)
        return rc


# Topic filters per SUBSCRIBE packet (a radar worker may hold thousands of per-device topics).
SUBSCRIBE_CHUNK = 500


class RawMessage(NamedTuple):
    topic: str
    payload: bytes
    qos: int
    mid: int
    received_at: float


_new_tuple = tuple.__new__


def parse_mqtt_url(url: str) -> tuple[str, int, str | None, str | None]:
    parsed = urlparse(url if "://" in url else f"mqtt://{url}")
    if parsed.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"unsupported MQTT URL scheme {parsed.scheme!r} (use mqtt://host:port)")
    return parsed.hostname or "127.0.0.1", parsed.port or 1883, parsed.username, parsed.password


class MqttConnection:
    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        subscriptions: tuple[tuple[str, int], ...] = SUBSCRIPTION_FILTERS,
        persistent: bool = True,
    ) -> None:
        host, port, url_user, url_password = parse_mqtt_url(url)
        self.host, self.port = host, port
        self.subscriptions = subscriptions
        self.queue: deque[RawMessage] = deque()
        self.connected = threading.Event()
        # time.monotonic() when the connection was lost (or made, before the first connect); None
        # while connected. /api/health turns 503 when the broker has been away too long.
        self.disconnected_since: float | None = time.monotonic()
        self.connect_count = 0
        self._client = _Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=not persistent,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        user = username or url_user
        if user:
            self._client.username_pw_set(user, password or url_password)
        self._client.reconnect_delay_set(RECONNECT_MIN_DELAY_S, RECONNECT_MAX_DELAY_S)
        self._client.max_queued_messages_set(0)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._suback_pending: set[int] = set()
        self._client.on_message = self._on_message
        self._client.publish_sink = self._on_publish

    def _on_connect(
        self, client: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT connect to %s:%s refused: %s", self.host, self.port, reason)
            return
        self.connect_count += 1
        subs = list(self.subscriptions)
        # `connected` means subscribed: set when the broker has acknowledged every SUBSCRIBE, so
        # nothing published after start() returns (or after a reconnect) can miss the hub
        pending = self._suback_pending
        pending.clear()
        for i in range(0, len(subs), SUBSCRIBE_CHUNK):  # thousands of per-device topics: in parts
            rc, mid = client.subscribe(subs[i : i + SUBSCRIBE_CHUNK])
            if rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
                pending.add(mid)
        self.disconnected_since = None
        if not pending:
            self.connected.set()
        log.info("MQTT connected to %s:%s", self.host, self.port)

    def _on_subscribe(self, _c: mqtt.Client, _ud: Any, mid: int, reasons: Any, _props: Any) -> None:
        refused = [r for r in reasons if getattr(r, "is_failure", False)]
        if refused:
            log.error("MQTT subscription refused by %s:%s: %s", self.host, self.port, refused)
        self._suback_pending.discard(mid)
        if not self._suback_pending and self.disconnected_since is None:
            self.connected.set()

    def _on_disconnect(
        self, _c: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self.connected.clear()
        if self.disconnected_since is None:
            self.disconnected_since = time.monotonic()
        log.warning("MQTT disconnected (%s); paho reconnects with backoff", reason)

    def subscribe(self, filters: tuple[tuple[str, int], ...]) -> None:
        """Add topic filters now and on every reconnect."""
        self.subscriptions = (*self.subscriptions, *filters)
        if filters and self.connected.is_set():
            self._client.subscribe(list(filters))

    def _on_message(self, _c: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        self.queue.append(RawMessage(msg.topic, bytes(msg.payload), msg.qos, msg.mid, time.time()))

    def _on_publish(self, topic: str, payload: bytes, qos: int, mid: int) -> None:
        """The buffered fast path's sink: the same RawMessage ``_on_message`` makes (built with
        tuple.__new__: the NamedTuple's own __new__ is a Python function, ~5% of the worker)."""
        self.queue.append(_new_tuple(RawMessage, (topic, payload, qos, mid, time.time())))

    def start(self, *, wait_s: float = 10.0) -> None:
        self._client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S)
        self._client.loop_start()
        if not self.connected.wait(wait_s):
            self.stop()
            raise ConnectionError(
                f"no MQTT connection to {self.host}:{self.port} within {wait_s:.0f} s"
            )

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def drain(self, limit: int) -> list[RawMessage]:
        out: list[RawMessage] = []
        pop = self.queue.popleft
        try:
            for _ in range(limit):
                out.append(pop())
        except IndexError:
            pass
        return out

    def ack(self, messages: list[RawMessage]) -> None:
        for m in messages:
            if m.qos > 0:
                self._client.ack(m.mid, m.qos)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=qos, retain=retain)
