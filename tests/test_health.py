"""`/api/health`: 503 with the reason when the database stops answering or the broker stays away,
200 again when they are back."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from devices.broker import MosquittoProcess, find_mosquitto
from tests.conftest import PG_URL, HubServer, demo_seed, make_backend, prepare_database
from tests.support.mqtt import wait_for
from tests.support.tcp_proxy import TcpProxy


def health(server: HubServer) -> httpx.Response:
    with server.client() as c:
        return c.get("/api/health")


@pytest.mark.postgres
@pytest.mark.mosquitto
def test_database_down_is_503_with_the_reason(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    backend = make_backend("real", tmp_path, request)
    prepare_database(backend, demo_seed(f"t{uuid.uuid4().hex[:6]}-"))
    with TcpProxy("127.0.0.1", 5432) as proxy:
        backend.settings.database.url = PG_URL.replace(":5432/", f":{proxy.port}/")
        backend.settings.health_db_timeout_s = 1.0
        server = HubServer(backend).start()
        try:
            r = health(server)
            assert r.status_code == 200 and r.json()["database"] == {"ok": True, "error": None}
            proxy.cut()
            r = health(server)
            assert r.status_code == 503, r.json()
            body = r.json()
            assert body["database"]["ok"] is False and body["status"] in ("down", "stalled")
            assert any(p.startswith("database: ") for p in body["problems"])
            proxy.restore()
            assert wait_for(lambda: health(server).status_code == 200, timeout=15)
        finally:
            server.stop()


@pytest.mark.mosquitto
@pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto not installed")
def test_broker_down_past_its_grace_is_503_with_the_reason(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    backend = make_backend("embedded", tmp_path, request)
    prepare_database(backend, demo_seed(f"t{uuid.uuid4().hex[:6]}-"))
    broker = MosquittoProcess(tmp_path / "mosquitto")  # this test's own, never the shared one
    broker.start()
    backend.settings.mqtt.url = broker.url
    backend.settings.health_broker_grace_s = 1.0
    server = HubServer(backend).start()
    try:
        assert health(server).status_code == 200
        broker.stop()
        # Within the grace a reconnecting client is degraded, not down; past it, 503.
        assert wait_for(lambda: health(server).status_code == 503, timeout=10)
        body = health(server).json()
        assert body["status"] == "down" and body["mqtt"]["ok"] is False
        assert body["mqtt_connected"] is False
        assert any(p.startswith("broker: not connected for") for p in body["problems"])
        broker.start()  # same port: paho reconnects within its 1-30 s backoff
        assert wait_for(lambda: health(server).status_code == 200, timeout=40)
        assert health(server).json()["status"] == "ok"
    finally:
        server.stop()
        broker.stop()
