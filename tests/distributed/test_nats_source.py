"""NatsSource against a real nats-server: devices reach their partition through the MQTT
listener, commands reach the device, and a crashed node's partitions move in order."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path

import nats
import orjson
import paho.mqtt.client as mqtt
import pytest
from nats.aio.msg import Msg
from paho.mqtt.enums import CallbackAPIVersion

from care_hub.kernel.security import redact
from devices.broker import find_free_port
from devices.broker_config import write_broker_config, write_nats_config
from devices.mqtt_client import RawMessage
from devices.nats_source import NatsSource
from devices.nats_subjects import partition_of
from tests.conftest import _port_open
from tests.distributed.conftest import NATS_SERVER, NatsServer, start_nats, with_credentials
from tests.support.mqtt import close_client, url_credentials, wait_for
from tests.support.presses import PressPublisher


def _device(server: NatsServer, client_id: str, password: str | None = None) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
    if password is not None:
        client.username_pw_set(client_id, password)
    elif (hub := url_credentials(server.mqtt_url)) is not None:
        client.username_pw_set(*hub)  # the fixture's server admits only the hub's user
    connected = threading.Event()
    client.on_connect = lambda *_a: connected.set()
    client.max_inflight_messages_set(200)
    client.connect("127.0.0.1", server.mqtt_port)
    client.loop_start()
    assert connected.wait(10)
    return client


def test_a_device_reaches_its_partition_and_hears_its_commands(nats_server: NatsServer) -> None:
    ids = [f"dev-{n}" for n in range(40)] + ["R_0042", "a-b_c-9"]
    got: list[str] = []

    async def listen() -> None:
        nc = await nats.connect(nats_server.url)

        async def cb(msg: Msg) -> None:
            got.append(msg.subject)

        await nc.subscribe("care.p.>", cb=cb)
        await nc.flush()
        publisher = _device(nats_server, "publisher")
        for device_id in ids:
            payload = b'{"ts": 1.0, "seq": 1, "action": "call"}'
            publisher.publish(f"care/v1/{device_id}/button", payload, qos=1).wait_for_publish(5)
            publisher.publish(f"care/v1/{device_id}/radar/frames", b"{}", qos=0)
        deadline = time.monotonic() + 10
        while len(got) < 2 * len(ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        publisher.disconnect()
        publisher.loop_stop()
        await nc.close()

    asyncio.run(listen())
    assert len(got) == 2 * len(ids)
    for subject in got:
        _, _, k, _, device_id, *_ = subject.split(".")
        assert int(k) == partition_of(device_id, nats_server.partitions), subject
    assert len({s.split(".")[2] for s in got}) == nats_server.partitions  # all are used

    # A command from the hub reaches the device's cmd topic through the MQTT listener.
    device = _device(nats_server, "dev-7")
    commands: list[tuple[str, bytes]] = []
    device.on_message = lambda _c, _u, m: commands.append((m.topic, bytes(m.payload)))
    device.subscribe("care/v1/dev-7/cmd", qos=1)
    source = NatsSource(nats_server.url, node_id="n1", partitions=nats_server.partitions)
    source.start()
    try:
        time.sleep(0.3)
        source.publish("care/v1/dev-7/cmd", b'{"cmd": "call_acknowledged", "alert_id": "7"}')
        assert wait_for(lambda: bool(commands), timeout=10)
        assert commands[0][0] == "care/v1/dev-7/cmd"
    finally:
        source.stop()
        device.disconnect()
        device.loop_stop()


class Consumer:
    """A stand-in for the ingest pipeline: drain, 'store' (record), acknowledge."""

    def __init__(self, source: NatsSource) -> None:
        self.source = source
        self.seen: dict[str, list[int]] = defaultdict(list)
        self.acked: dict[str, list[int]] = defaultdict(list)
        self.held: list[RawMessage] = []
        self.acking = True
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            batch = self.source.drain(200)
            if not batch:
                time.sleep(0.01)
                continue
            for m in batch:
                body = orjson.loads(m.payload)
                self.seen[m.topic.split("/")[2]].append(body["seq"])
            if self.acking:
                self.source.ack(batch)
                for m in batch:
                    self.acked[m.topic.split("/")[2]].append(orjson.loads(m.payload)["seq"])
            else:
                self.held += batch


def test_a_crashed_nodes_partitions_move_in_order_and_nothing_is_lost(
    nats_server: NatsServer,
) -> None:
    devices = [f"dev-{n}" for n in range(24)]
    per_device = 120
    a = NatsSource(nats_server.url, node_id="a", partitions=4, lease_ttl_s=2.0)
    a.start()
    b = NatsSource(nats_server.url, node_id="b", partitions=4, lease_ttl_s=2.0)
    b.start()
    assert wait_for(lambda: len(a.owned) == 2 and len(b.owned) == 2, timeout=20)
    assert a.owned | b.owned == {0, 1, 2, 3}
    ca, cb = Consumer(a), Consumer(b)
    ca.thread.start()
    cb.thread.start()
    publisher = _device(nats_server, "publisher")
    infos = []
    for seq in range(1, per_device + 1):
        if seq == per_device // 2:
            ca.acking = False  # a stores but never acknowledges what it takes from now on...
            time.sleep(0.3)
        if seq == per_device // 2 + 10:
            ca.stop.set()
            a.stop(release=False)  # ...and dies: its leases lapse after their TTL
        for device_id in devices:
            body = orjson.dumps({"ts": 1e9 + seq, "seq": seq, "action": "call"})
            infos.append(publisher.publish(f"care/v1/{device_id}/button", body, qos=1))
        time.sleep(0.005)
    for info in infos:
        info.wait_for_publish(10)
    owned_by_a = {k for k in range(4) if k not in b.owned}
    assert wait_for(lambda: b.owned == {0, 1, 2, 3}, timeout=20), b.owned

    def complete() -> bool:
        return all(len(set(ca.acked[d]) | set(cb.seen[d])) == per_device for d in devices)

    assert wait_for(complete, timeout=30)
    time.sleep(0.5)
    cb.stop.set()
    b.stop()
    publisher.disconnect()
    publisher.loop_stop()
    for device_id in devices:
        seqs = cb.seen[device_id]
        # Per device, b saw a strictly rising run: a's unacknowledged messages again, in order,
        # then the new ones; nothing a had acknowledged, nothing twice.
        assert seqs == sorted(set(seqs)), (device_id, seqs[:20])
        assert not set(seqs) & set(ca.acked[device_id])
        assert set(seqs) | set(ca.acked[device_id]) == set(range(1, per_device + 1))
    # What a took and never acknowledged was delivered again to b.
    assert ca.held
    for m in ca.held:
        device_id = m.topic.split("/")[2]
        assert partition_of(device_id, 4) in owned_by_a
        assert orjson.loads(m.payload)["seq"] in cb.seen[device_id]


def test_a_device_can_publish_neither_controls_nor_as_another_device(tmp_path: Path) -> None:
    """With `authorization()`, each device writes only its own subjects: a control message into
    a partition (which could cancel a resident's fall) or a press under another device's id is
    refused by the server; its own press and its commands pass."""
    server = start_nats(
        tmp_path / "nats", 4, auth=(("hub", "hub-secret"), {"dev-1": "pw-1", "dev-2": "pw-2"})
    )
    device = None
    source = NatsSource(
        server.url.replace("nats://", "nats://hub:hub-secret@"), node_id="n1", partitions=4
    )
    try:
        source.start()
        assert wait_for(lambda: source.owned == {0, 1, 2, 3}, timeout=10)
        device = _device(server, "dev-1", "pw-1")
        commands: list[str] = []
        device.on_message = lambda _c, _u, m: commands.append(m.topic)
        device.subscribe("care/v1/dev-1/cmd", qos=1)
        body = b'{"ts": 1.0, "seq": 1, "action": "cancel"}'
        for topic in ("care/p/0/ctl/cancel", "care/v1/dev-2/button", "care/v1/dev-1/button"):
            device.publish(topic, body, qos=1).wait_for_publish(5)
        got: list[str] = []

        def received() -> bool:
            got.extend(m.topic for m in source.drain(100))
            return bool(got)

        # The refused two were sent first on the same connection: they would be ahead of it.
        assert wait_for(received, timeout=10)
        time.sleep(0.5)
        received()
        assert got == ["care/v1/dev-1/button"]
        time.sleep(0.3)
        source.publish("care/v1/dev-1/cmd", b'{"cmd": "call_acknowledged", "alert_id": "7"}')
        assert wait_for(lambda: commands == ["care/v1/dev-1/cmd"], timeout=10)
        assert "Publish Violation" in (tmp_path / "nats" / "nats.log").read_text()
    finally:
        source.stop()
        if device is not None:
            device.disconnect()
            device.loop_stop()
        server.process.terminate()
        server.process.wait(10)


def test_the_generated_nats_config_admits_devices_by_their_broker_password(
    tmp_path: Path,
) -> None:
    """`care-hub broker-config --nats-partitions` (devices.broker_config.write_nats_config): a
    real nats-server on that file (bcrypt hashes of the passwords) lets a device in with the
    password it has for Mosquitto and delivers its press to the hub's partitions; a wrong
    password is refused at connect."""
    if NATS_SERVER is None:
        start_nats(tmp_path, 1)  # skips locally, fails in CI
    files = write_broker_config(tmp_path / "broker", ["dev-1", "dev-2"], "hub")
    port, mqtt_port = find_free_port(), find_free_port()
    conf = write_nats_config(
        files, partitions=4, store_dir=tmp_path / "js", port=port, mqtt_port=mqtt_port,
        host="127.0.0.1",
    )  # fmt: skip
    log = open(tmp_path / "nats.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen([str(NATS_SERVER), "-c", str(conf)], stdout=log, stderr=log)
    server = NatsServer(
        f"nats://127.0.0.1:{port}", f"mqtt://127.0.0.1:{mqtt_port}", mqtt_port, 4, process
    )
    source = NatsSource(
        f"nats://hub:{files.hub_password}@127.0.0.1:{port}", node_id="n1", partitions=4
    )
    device = None
    try:
        assert wait_for(lambda: _port_open("127.0.0.1", mqtt_port), timeout=10)
        source.start()
        assert wait_for(lambda: source.owned == {0, 1, 2, 3}, timeout=10)
        device = _device(server, "dev-1", files.password_for("dev-1"))
        device.publish("care/v1/dev-1/button", b'{"ts": 1.0, "seq": 1}', qos=1).wait_for_publish(5)
        got: list[str] = []

        def received() -> bool:
            got.extend(m.topic for m in source.drain(100))
            return bool(got)

        assert wait_for(received, timeout=10) and got == ["care/v1/dev-1/button"]
        refused = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="dev-2")
        refused.username_pw_set("dev-2", files.password_for("dev-1"))
        codes: list[object] = []
        refused.on_connect = lambda _c, _u, _f, rc, _p: codes.append(rc)
        refused.connect("127.0.0.1", mqtt_port)
        refused.loop_start()
        try:
            assert wait_for(lambda: bool(codes), timeout=10)
            assert getattr(codes[0], "is_failure", True)
        finally:
            refused.loop_stop()
    finally:
        source.stop()
        if device is not None:
            device.disconnect()
            device.loop_stop()
        process.terminate()
        process.wait(10)


def test_no_password_of_the_nats_url_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    """The settings take the hub's NATS password in the URL (CARE_HUB_INGEST__NATS_URL); a server
    that is not there is named without it, and the log filter masks URL passwords anywhere."""
    port = find_free_port()  # nothing listens there
    source = NatsSource(f"nats://hub:s3cret-pw@127.0.0.1:{port}", node_id="n1", partitions=4)
    with pytest.raises(ConnectionError) as e:
        source.start(wait_s=1.0)
    assert "s3cret-pw" not in str(e.value) and f"nats://hub:***@127.0.0.1:{port}" in str(e.value)
    assert redact("mqtt://dev-1:pw-9@broker:1883 and postgresql://care:x@db/care") == (
        "mqtt://dev-1:***@broker:1883 and postgresql://care:***@db/care"
    )
    assert redact("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"


def test_a_server_gone_is_one_line_in_the_log_not_a_traceback_a_second(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    """While nats-server is away the client retries every second; each failure used to log a
    whole traceback (nats-py's default error callback). Now one warning line, no traceback."""
    source = NatsSource(nats_server.url, node_id="n1", partitions=nats_server.partitions)
    source.start()
    try:
        with caplog.at_level(logging.WARNING):
            nats_server.process.kill()
            nats_server.process.wait(10)

            def ours() -> list[logging.LogRecord]:
                return [r for r in caplog.records if "NATS connection error" in r.getMessage()]

            assert wait_for(lambda: bool(ours()), timeout=10)
            time.sleep(2.5)  # two or three more failed reconnects
        assert len(ours()) == 1 and ours()[0].exc_info is None
        assert not [r for r in caplog.records if "encountered error" in r.getMessage()]
        assert not [r for r in caplog.records if r.exc_info]
    finally:
        source.stop(release=False)


def test_presses_acknowledged_by_the_mqtt_listener_survive_a_killed_nats_server(
    tmp_path: Path,
) -> None:
    """Nothing lost on the NATS backend: every QoS 1 press that the MQTT listener acknowledged
    (PUBACK) is still in the stream after nats-server is killed (SIGKILL, right after the last
    PUBACK) and restarted on the same store, and reaches a hub node then."""
    hub = ("hub", "hub-restart-secret")
    server = start_nats(tmp_path, 4, auth=(hub, {}))
    url, mqtt_url = with_credentials(server.url, hub), with_credentials(server.mqtt_url, hub)
    process = server.process
    try:
        # the stream exists once a node has started; no node consumes while presses arrive
        first = NatsSource(url, node_id="n1", partitions=4)
        first.start()
        first.stop()
        publisher = PressPublisher(mqtt_url, "restart-publisher")
        try:
            presses = [publisher.press(f"btn-{n % 16}") for n in range(240)]
            assert wait_for(lambda: all(p.info.is_published() for p in presses), timeout=20)
        finally:
            close_client(publisher.client)
        process.kill()  # SIGKILL: no flush, no goodbye
        process.wait(10)
        log = open(tmp_path / "nats-restarted.log", "wb")  # noqa: SIM115 (closed with it)
        process = subprocess.Popen(
            [str(NATS_SERVER), "-c", str(tmp_path / "nats.conf")], stdout=log, stderr=log
        )
        assert wait_for(lambda: _port_open("127.0.0.1", server.mqtt_port), timeout=10)
        second = NatsSource(url, node_id="n2", partitions=4)
        second.start()
        got: set[tuple[str, int]] = set()
        try:

            def all_in() -> bool:
                for m in second.drain(500):
                    got.add((m.topic.split("/")[2], orjson.loads(m.payload)["seq"]))
                return len(got) >= len(presses)

            assert wait_for(all_in, timeout=20)
        finally:
            second.stop()
        assert got == {(p.device_id, p.seq) for p in presses}
    finally:
        process.kill()
        process.wait(10)
