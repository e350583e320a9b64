"""Start the alert engine inside a hub: escalation loop, cross-process fan-out, ingest leadership.

Called from `Hub.start` (one marked hook). On PostgreSQL several hub processes may serve one
site; then:
- events fan out between them through LISTEN/NOTIFY (`care_hub.fanout`);
- exactly one process ingests MQTT: the one holding a session-level advisory lock keyed by the
  database schema. The others serve the API and websockets, publish device commands through a
  publish-only MQTT connection, and retry the lock every `LEADER_RETRY_S`, so when the ingesting
  process dies (its connection, and so its lock, goes) another one takes over ingest, with the
  same stable client id and persistent session, so the broker hands it the queued QoS 1 messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import TYPE_CHECKING

import asyncpg

from alerts.escalation import EscalationEngine
from care_hub.fanout import PgFanout, asyncpg_dsn
from devices.mqtt_client import MqttConnection

if TYPE_CHECKING:
    from care_hub.hub import Hub

log = logging.getLogger(__name__)

# How often a standby process tries to become the ingesting one (failover delay).
LEADER_RETRY_S = 5.0


def _lock_sql(schema: str | None) -> tuple[str, str]:
    return "SELECT pg_try_advisory_lock(hashtext($1))", f"care_hub_ingest.{schema or 'public'}"


async def start_alert_engine(hub: Hub, *, db_schema: str | None, ingest: bool) -> bool:
    """Start the engine's tasks; returns whether this process should start MQTT ingest now."""
    alerts = hub.settings.alerts
    engine = EscalationEngine(hub.session_factory, hub.bus, alerts, tick_s=alerts.escalation_tick_s)
    hub.escalation = engine  # type: ignore[attr-defined]
    hub.fanout = None  # type: ignore[attr-defined]
    hub.ingest_leader = ingest  # type: ignore[attr-defined]
    if hub.engine.dialect.name == "postgresql":
        fanout = PgFanout(hub.bus, hub.engine, schema=db_schema)
        hub.fanout = fanout  # type: ignore[attr-defined]
        hub.tasks.append(await fanout.start())
    hub.tasks.append(asyncio.create_task(engine.run(), name="escalation"))
    if not ingest or hub.engine.dialect.name != "postgresql":
        return ingest
    conn = await asyncpg.connect(asyncpg_dsn(hub.engine))
    sql, key = _lock_sql(db_schema)
    if await conn.fetchval(sql, key):
        hub.tasks.append(asyncio.create_task(_hold(conn), name="ingest-leadership"))
        return True
    hub.ingest_leader = False  # type: ignore[attr-defined]
    log.info("another hub process ingests MQTT for this database; standing by")
    m = hub.settings.mqtt
    client_id = f"{m.client_id or 'care-hub'}-pub-{uuid.uuid4().hex[:6]}"
    # Publish-only: it subscribes to its own private topic alone (paho refuses an empty list).
    hub.conn = MqttConnection(
        hub.mqtt_url,
        client_id=client_id,
        username=m.username,
        subscriptions=((f"care-hub/standby/{client_id}", 0),),
        persistent=False,
        password=m.password.get_secret_value() if m.password else None,
    )
    await asyncio.to_thread(hub.conn.start)
    hub.tasks.append(asyncio.create_task(_standby(hub, conn, sql, key), name="ingest-standby"))
    return False


async def _hold(conn: asyncpg.Connection) -> None:
    """Keep the lock's connection open for the life of the hub (closing it releases the lock)."""
    try:
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(conn.close(timeout=2))


async def _standby(hub: Hub, conn: asyncpg.Connection, sql: str, key: str) -> None:
    try:
        while not await conn.fetchval(sql, key):
            await asyncio.sleep(LEADER_RETRY_S)
        log.info("this hub process now ingests MQTT")
        publisher = hub.conn
        if publisher is not None:
            await asyncio.to_thread(publisher.stop)
        hub.ingest_leader = True  # type: ignore[attr-defined]
        await hub._start_ingest()
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(conn.close(timeout=2))
