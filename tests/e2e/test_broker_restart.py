"""No data lost across a broker restart: persistent session, QoS 1, reconnect, exactly-once ingest."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from care_hub.kernel.models import Measurement
from devices.broker import MosquittoProcess, find_mosquitto
from tests.conftest import Backend, HubServer, demo_seed, prepare_database
from tests.e2e.test_ingest_trust import db
from tests.support.mqtt import close_client, connect_client, wait_for

pytestmark = [
    pytest.mark.mosquitto,
    pytest.mark.slow,
    pytest.mark.skipif(find_mosquitto() is None, reason="needs the mosquitto binary"),
]


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_every_qos1_message_is_ingested_exactly_once_across_a_broker_restart(
    backend: Backend, prefix: str, tmp_path: Path
) -> None:
    broker = MosquittoProcess(tmp_path / "broker")  # our own, on a spare port: never the shared one
    broker.start()
    backend.settings.mqtt.url = broker.url
    prepare_database(backend, demo_seed(prefix))
    server = HubServer(backend).start()
    device = connect_client(broker.url, f"{prefix}kit-1", clean_session=False)
    topic = f"care/v1/{prefix}kit-1/kit"
    sent = 0
    stop = threading.Event()

    def publish_steadily() -> None:
        nonlocal sent
        while not stop.is_set() and sent < 300:
            sent += 1
            payload = orjson.dumps(
                {
                    "ts": time.time(),
                    "seq": sent,
                    "resident": "R-1",
                    "kind": "pulse",
                    "values": {"bpm": 60 + sent % 40},
                }
            )
            device.publish(topic, payload, qos=1)  # paho queues it while the broker is down
            time.sleep(0.01)

    publisher = threading.Thread(target=publish_steadily)
    publisher.start()
    try:
        time.sleep(1.0)
        broker.stop()  # SIGTERM: Mosquitto writes its persistence file, sessions included
        time.sleep(1.5)
        broker.start()  # same port, same data dir
        publisher.join(timeout=30)
        assert sent == 300

        def stored() -> tuple[int, int]:
            row = db(
                server,
                select(func.count(), func.count(func.distinct(Measurement.ts))).select_from(
                    Measurement
                ),
            )[0]
            return int(row[0]), int(row[1])

        assert wait_for(lambda: stored()[0] >= sent, timeout=60), stored()
        time.sleep(1.0)  # any late redelivery would show up now
        total, distinct = stored()
        assert total == sent and distinct == sent  # every message once, none twice
        assert server.hub.conn.connect_count >= 2  # the hub really did reconnect
    finally:
        stop.set()
        close_client(device)
        server.stop()
        broker.stop()
