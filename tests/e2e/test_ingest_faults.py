"""Ingest under faults: a message the database refuses, a database that goes away, a flood of
garbage. Nothing acknowledged that was not stored or dead-lettered; the hub never deaf."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text

from care_hub.kernel.db import make_engine
from tests.conftest import (
    PG_URL,
    Backend,
    HubServer,
    demo_seed,
    make_backend,
    prepare_database,
    require_service,
)
from tests.e2e.test_calls import WsReader, alerts
from tests.support.mqtt import close_client, connect_client, publish_and_wait, wait_for
from tests.support.tcp_proxy import TcpProxy

# Mosquitto's default in-flight window is 20 QoS 1 messages per client: more unacknowledged
# messages than that and the broker sends the hub nothing more.
PAST_INFLIGHT_WINDOW = 30


def _run_sql(backend: Backend, sql: str) -> None:
    async def go() -> None:
        engine = make_engine(backend.settings.db_url, schema=backend.db_schema)
        async with engine.begin() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(go())


def _refuse_poison_firmware(backend: Backend) -> None:
    """Make the database itself refuse one kind of row, as a column limit or a constraint would:
    any status whose firmware starts with 'poison'."""
    if backend.name == "real":
        _run_sql(
            backend,
            "ALTER TABLE devices ADD CONSTRAINT refuse_poison CHECK (fw IS NULL OR fw NOT LIKE 'poison%')",
        )
    else:
        _run_sql(
            backend,
            "CREATE TRIGGER refuse_poison BEFORE UPDATE OF fw ON devices "
            "WHEN NEW.fw LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'poison refused'); END",
        )


def status(seq: int, fw: str) -> bytes:
    return orjson.dumps({"ts": time.time(), "seq": seq, "state": "online", "fw": fw})


def press(seq: int) -> bytes:
    return orjson.dumps({"ts": time.time(), "seq": seq, "action": "call"})


@pytest.fixture
def refusing_hub(backend: Backend, prefix: str) -> Iterator[HubServer]:
    prepare_database(backend, demo_seed(prefix))
    _refuse_poison_firmware(backend)
    server = HubServer(backend).start()
    yield server
    server.stop()


@pytest.mark.mosquitto
@pytest.mark.postgres
def test_a_refused_message_is_dead_lettered_and_the_calls_beside_it_are_kept(
    refusing_hub: HubServer, prefix: str
) -> None:
    hub = refusing_hub
    nurse = hub.token("nurse")
    device = connect_client(hub.mqtt_url, f"{prefix}dev")
    try:
        # More refused messages than the broker's in-flight window, a call in the middle of them:
        # before the fix the batch failed whole, was never acknowledged, and the hub went deaf.
        for seq in range(1, PAST_INFLIGHT_WINDOW + 1):
            device.publish(f"care/v1/{prefix}btn-2/status", status(seq, f"poison-{seq}"), qos=1)
            if seq == PAST_INFLIGHT_WINDOW // 2:
                device.publish(f"care/v1/{prefix}btn-1/button", press(1), qos=1)
        assert wait_for(
            lambda: hub.hub.pipeline.metrics.rejected["store_failed"] == PAST_INFLIGHT_WINDOW,
            timeout=30,
        ), hub.hub.pipeline.metrics.as_dict()
        calls = alerts(hub, nurse, type="call")
        assert [a["resident_id"] for a in calls] == ["R-1"]
        # Not deaf: a call after all that is heard too, and health says so.
        publish_and_wait(device, f"care/v1/{prefix}btn-2/button", press(1), qos=1)
        assert wait_for(lambda: len(alerts(hub, nurse, type="call")) == 2, timeout=15)
        with hub.client() as c:
            assert c.get("/api/health").status_code == 200
        admin = hub.token("admin")
        with hub.client(admin) as c:
            info = c.get(f"/api/devices/{prefix}btn-2").json()
        assert info["rejected_by_reason"]["store_failed"] >= 1  # rows, within the rate limit
        assert info["fw"] is None or not str(info["fw"]).startswith("poison")
    finally:
        close_client(device)


@pytest.mark.mosquitto
@pytest.mark.postgres
def test_one_device_flooding_garbage_cannot_flood_the_database(
    hub_server: HubServer, prefix: str
) -> None:
    nurse = hub_server.token("nurse")
    flooder = connect_client(hub_server.mqtt_url, f"{prefix}flood")
    caller = connect_client(hub_server.mqtt_url, f"{prefix}caller")
    n = 3000
    try:
        for i in range(n):
            flooder.publish(f"care/v1/{prefix}kit-1/kit", b"{not json %d" % i, qos=0)
            if i == n // 2:
                caller.publish(f"care/v1/{prefix}btn-1/button", press(1), qos=1)
        metrics = hub_server.hub.pipeline.metrics
        assert wait_for(lambda: metrics.rejected["not_json"] >= n * 0.95, timeout=30), (
            metrics.as_dict()
        )
        assert wait_for(lambda: len(alerts(hub_server, nurse, type="call")) == 1, timeout=10)
        admin = hub_server.token("admin")
        with hub_server.client(admin) as c:
            info = c.get(f"/api/devices/{prefix}kit-1").json()
        stored = info["rejected_by_reason"].get("not_json", 0)
        assert 1 <= stored <= 25, info["rejected_by_reason"]  # a burst, not thousands of rows
        assert metrics.dead_letters_dropped >= metrics.rejected["not_json"] - 25
        assert info["rejected_count"] >= n * 0.95  # every one is still counted
    finally:
        close_client(flooder)
        close_client(caller)


@pytest.mark.mosquitto
@pytest.mark.postgres
def test_database_cut_stalls_health_and_screens_then_nothing_is_lost(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """PostgreSQL unreachable: health 503, a notice on the wall, nothing acknowledged; back: the
    call that arrived meanwhile is raised, health is ok again."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    backend = make_backend("real", tmp_path, request)
    prefix = f"t{uuid.uuid4().hex[:6]}-"
    prepare_database(backend, demo_seed(prefix))
    with TcpProxy("127.0.0.1", 5432) as proxy:
        backend.settings.database.url = PG_URL.replace(":5432/", f":{proxy.port}/")
        backend.settings.ingest_stall_s = 2.0
        hub = HubServer(backend).start()
        device = connect_client(hub.mqtt_url, f"{prefix}dev")
        try:
            nurse = hub.token("nurse")
            screen = WsReader(hub, nurse, since=None)  # no replay query racing the cut
            proxy.cut()
            publish_and_wait(device, f"care/v1/{prefix}btn-1/button", press(1), qos=1)
            notice = screen.next_of("system.health", timeout=20)
            # PROTOCOL: seq is an int; a live notice carries the last one sent, like a ping.
            assert notice["data"]["state"] == "stalled" and isinstance(notice["seq"], int)
            with hub.client() as c:
                r = c.get("/api/health")
            assert r.status_code == 503 and r.json()["status"] == "stalled"
            proxy.restore()
            raised = screen.next_of("alert.raised", timeout=30)
            while raised["data"]["type"] == "ingest_stalled":  # stored once the database is back
                raised = screen.next_of("alert.raised", timeout=30)
            assert raised["data"]["type"] == "call" and raised["data"]["resident_id"] == "R-1"
            # back to ok; a "stalled" notice may still come first: the watcher repeats it every
            # second while stalled, and with a 2 s allowance one more slow store after the restore
            # (a pooled connection the cut broke) can stall again for a moment (seen once in CI)
            deadline = time.monotonic() + 20
            state = screen.next_of("system.health", timeout=10)["data"]["state"]
            while state == "stalled" and time.monotonic() < deadline:
                state = screen.next_of("system.health", timeout=10)["data"]["state"]
            assert state == "ok"
            assert wait_for(
                lambda: hub.client().get("/api/health").status_code == 200, timeout=10
            )
            assert [a["resident_id"] for a in alerts(hub, nurse, type="call")] == ["R-1"]
            screen.close()
        finally:
            close_client(device)
            hub.stop()
