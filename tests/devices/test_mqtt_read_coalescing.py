"""The MQTT network thread waits a little after a read that emptied the socket (READ_COALESCE_S),
so a consumer that keeps up makes far fewer wake-ups and recv() calls; nothing is lost or
reordered, and a busy consumer (full reads) never waits."""

from __future__ import annotations

import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices import mqtt_client
from devices.mqtt_client import RECV_CHUNK_BYTES, MqttConnection, _BufferedSocket
from tests.conftest import SHARED_MQTT_URL, require_service


class _FakeSock:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def recv(self, n: int) -> bytes:
        data = self.chunks.pop(0)
        assert len(data) <= n
        return data


def test_a_short_read_is_flagged_and_a_full_one_is_not() -> None:
    sock = _BufferedSocket(_FakeSock([b"x" * RECV_CHUNK_BYTES, b"y" * 10]))
    assert sock.recv(2) == b"xx"
    assert not sock.short_read  # the socket may hold more: read again at once
    sock.recv(RECV_CHUNK_BYTES)  # the rest of the first chunk, no system call
    assert sock.reads == 1
    assert sock.recv(4) == b"yyyy"
    assert sock.short_read and sock.reads == 2


def _received_with(coalesce_s: float, n: int, gap_s: float) -> tuple[list[bytes], int]:
    """Publish ``n`` messages ``gap_s`` apart to a fresh topic; what a connection with that
    coalescing received, in order, and how many recv() calls it made meanwhile."""
    topic = f"test/coalesce/{uuid.uuid4().hex}"
    conn = MqttConnection(
        SHARED_MQTT_URL,
        client_id=f"coalesce-{uuid.uuid4().hex[:8]}",
        subscriptions=((topic, 0),),
        persistent=False,
    )
    conn._client.read_coalesce_s = coalesce_s
    conn.start()
    pub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    pub.connect("127.0.0.1", 1883)
    pub.loop_start()
    try:
        time.sleep(0.3)  # the subscription is in place
        sock = conn._client._sock
        assert isinstance(sock, _BufferedSocket)
        reads0 = sock.reads
        for i in range(n):
            pub.publish(topic, f"{i:05d}".encode(), qos=0)
            time.sleep(gap_s)
        deadline = time.monotonic() + 10
        while len(conn.queue) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        reads = sock.reads - reads0
        return [m.payload for m in conn.drain(n + 10)], reads
    finally:
        pub.loop_stop()
        pub.disconnect()
        conn.stop()


def test_a_consumer_that_keeps_up_reads_in_fewer_calls_and_loses_nothing() -> None:
    require_service("Mosquitto", "127.0.0.1", 1883)
    n, gap_s = 400, 0.001
    got, reads = _received_with(0.02, n, gap_s)
    assert got == [f"{i:05d}".encode() for i in range(n)]  # all of it, in order
    # ~0.4-0.5 s of publishing: at most one read per 20 ms wait, plus a few around it (a loaded
    # machine only lowers the count). Without the wait an idle consumer reads every message or two.
    assert reads <= 0.5 / 0.02 * 2 + 10, reads


@pytest.mark.parametrize("coalesce_s", [0.0, mqtt_client.READ_COALESCE_S])
def test_either_way_every_message_arrives_in_order(coalesce_s: float) -> None:
    require_service("Mosquitto", "127.0.0.1", 1883)
    got, _ = _received_with(coalesce_s, 200, 0.0)
    assert got == [f"{i:05d}".encode() for i in range(200)]


def test_connected_means_subscribed_so_nothing_published_after_start_is_missed() -> None:
    """start() returns once the broker has acknowledged every SUBSCRIBE (thousands of filters go
    in parts): a message published the moment it returns reaches the connection."""
    require_service("Mosquitto", "127.0.0.1", 1883)
    base = f"test/subscribed/{uuid.uuid4().hex}"
    filters = tuple((f"{base}/{i}", 1) for i in range(3000))  # 6 SUBSCRIBE packets
    conn = MqttConnection(
        SHARED_MQTT_URL,
        client_id=f"subscribed-{uuid.uuid4().hex[:8]}",
        subscriptions=filters,
        persistent=False,
    )
    pub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    pub.connect("127.0.0.1", 1883)
    pub.loop_start()
    try:
        conn.start()
        pub.publish(f"{base}/2999", b"last", qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 5
        while not conn.queue and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [m.payload for m in conn.drain(10)] == [b"last"]
    finally:
        pub.loop_stop()
        pub.disconnect()
        conn.stop()
