"""MQTT test helpers: polling, a thread-safe collecting subscriber, and connected paho clients."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

# Long enough for a loaded CI machine, short enough that a broken test fails quickly.
DEFAULT_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.02


def wait_for(
    predicate: Callable[[], bool],
    timeout: float = DEFAULT_TIMEOUT_S,
    interval: float = POLL_INTERVAL_S,
) -> bool:
    """Poll `predicate` until it is true (returns True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def parse_mqtt_url(url: str) -> tuple[str, int]:
    """`mqtt://host:port` -> (host, port); port defaults to 1883."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"unsupported MQTT URL scheme in {url!r}")
    return parts.hostname or "127.0.0.1", parts.port or 1883


def url_credentials(url: str) -> tuple[str, str] | None:
    """`mqtt://user:password@host:port` -> (user, password); None without a user."""
    parts = urlsplit(url)
    return None if parts.username is None else (parts.username, parts.password or "")


class MqttConnectError(RuntimeError):
    """The broker refused the connection (CONNACK failure) or never answered."""

    def __init__(self, message: str, reason_code: ReasonCode | None = None) -> None:
        super().__init__(message)
        self.reason_code = reason_code


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    topic: str
    payload: bytes
    qos: int
    retain: bool


def connect_client(
    url: str,
    client_id: str,
    username: str | None = None,
    password: str | None = None,
    *,
    clean_session: bool = True,
    on_message: Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> mqtt.Client:
    """A paho 2.x client (MQTT 3.1.1), connected with its network loop running.

    Raises MqttConnectError if the broker refuses (wrong password, anonymous not allowed).
    The caller disconnects: `client.disconnect(); client.loop_stop()` (see `close_client`).
    """
    host, port = parse_mqtt_url(url)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
    )
    if username is None and (creds := url_credentials(url)) is not None:
        username, password = creds
    if username is not None:
        client.username_pw_set(username, password)
    if on_message is not None:
        client.on_message = on_message
    connected = threading.Event()
    result: list[ReasonCode] = []

    def on_connect(
        _client: mqtt.Client, _userdata: Any, _flags: Any, reason_code: ReasonCode, _props: Any
    ) -> None:
        result.append(reason_code)
        connected.set()

    client.on_connect = on_connect
    # Without this, a refused client would keep retrying in the background after we give up.
    client.reconnect_delay_set(min_delay=1, max_delay=2)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    if not connected.wait(timeout):
        close_client(client)
        raise MqttConnectError(f"no CONNACK from {url} within {timeout} s")
    reason = result[0]
    if reason.is_failure:
        close_client(client)
        raise MqttConnectError(f"{url} refused {client_id!r}: {reason}", reason)
    return client


def close_client(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def publish_and_wait(
    client: mqtt.Client,
    topic: str,
    payload: bytes | str,
    qos: int = 1,
    *,
    retain: bool = False,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> None:
    """Publish and, for QoS > 0, wait for the broker's acknowledgement."""
    info = client.publish(topic, payload, qos=qos, retain=retain)
    info.wait_for_publish(timeout)


class Collector:
    """A subscriber that records every message it receives, safe to read from the test thread.

    Subscriptions are (re)made in on_connect, so they survive reconnects; `subscribed` is set
    once the broker has answered the first SUBACK (check `granted` for refused filters).
    """

    def __init__(
        self,
        url: str,
        topics: str | Iterable[str],
        *,
        client_id: str,
        qos: int = 1,
        username: str | None = None,
        password: str | None = None,
        clean_session: bool = True,
    ) -> None:
        self.url = url
        self.topics = [topics] if isinstance(topics, str) else list(topics)
        self.client_id = client_id
        self.qos = qos
        self.username = username
        self.password = password
        self.clean_session = clean_session
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []
        self.subscribed = threading.Event()
        self.granted: list[ReasonCode] = []
        self.client: mqtt.Client | None = None

    def start(self, timeout: float = DEFAULT_TIMEOUT_S) -> Self:
        self.subscribed.clear()
        self.client = connect_client(
            self.url,
            self.client_id,
            self.username,
            self.password,
            clean_session=self.clean_session,
            on_message=self._on_message,
            timeout=timeout,
        )
        self.client.on_subscribe = self._on_subscribe
        self.client.on_connect = self._on_reconnect
        self._subscribe(self.client)
        if not self.subscribed.wait(timeout):
            raise MqttConnectError(f"no SUBACK from {self.url} within {timeout} s")
        return self

    def stop(self) -> None:
        if self.client is not None:
            close_client(self.client)
            self.client = None

    def _subscribe(self, client: mqtt.Client) -> None:
        client.subscribe([(topic, self.qos) for topic in self.topics])

    def _on_reconnect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason_code: ReasonCode, _props: Any
    ) -> None:
        if not reason_code.is_failure:
            self._subscribe(client)

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        reason_codes: list[ReasonCode],
        _props: Any,
    ) -> None:
        self.granted = list(reason_codes)
        self.subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        received = ReceivedMessage(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain))
        with self._lock:
            self._messages.append(received)

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    def payloads(self, topic: str | None = None) -> list[bytes]:
        return [m.payload for m in self.messages if topic is None or m.topic == topic]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def wait_count(self, count: int, timeout: float = DEFAULT_TIMEOUT_S) -> bool:
        return wait_for(lambda: len(self.messages) >= count, timeout)

    def commands(self, *, receipts: bool = False) -> list[dict[str, Any]]:
        """Hub -> device commands heard (JSON), without the hub's receipts (``"received"``, sent
        for every press it stored) unless ``receipts``: only those."""
        out = [orjson.loads(p) for p in self.payloads()]
        return [c for c in out if (c.get("cmd") == "received") == receipts]

    def wait_commands(
        self, count: int, timeout: float = DEFAULT_TIMEOUT_S, *, receipts: bool = False
    ) -> bool:
        return wait_for(lambda: len(self.commands(receipts=receipts)) >= count, timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
