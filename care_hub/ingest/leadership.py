"""Which hub process ingests MQTT when several serve one PostgreSQL database.

Exactly one process ingests: the one holding a session-level advisory lock keyed by the database
schema. The others serve the API and websockets, publish device commands through a publish-only
MQTT connection, and retry the lock every `LEADER_RETRY_S`, so when the ingesting process dies
(its connection, and so its lock, goes) another one takes over ingest, with the same stable client
id and persistent session, so the broker hands it the queued QoS 1 messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from alerts.fanout import asyncpg_dsn

log = logging.getLogger(__name__)

# How often a standby process tries to become the ingesting one (failover delay).
LEADER_RETRY_S = 5.0


def _lock_sql(schema: str | None) -> tuple[str, str]:
    return "SELECT pg_try_advisory_lock(hashtext($1))", f"care_hub_ingest.{schema or 'public'}"


async def try_lead(
    db_engine: AsyncEngine,
    *,
    db_schema: str | None,
    take_over: Callable[[], Awaitable[None]],
) -> tuple[bool, asyncio.Task[None]]:
    """Try the ingest lock once. Returns (leading now, the task that holds the lock or waits for
    it); the waiting task calls `take_over` when this process gets the lock."""
    conn = await asyncpg.connect(asyncpg_dsn(db_engine))
    sql, key = _lock_sql(db_schema)
    if await conn.fetchval(sql, key):
        return True, asyncio.create_task(_hold(conn), name="ingest-leadership")
    log.info("another hub process ingests MQTT for this database; standing by")
    return False, asyncio.create_task(_standby(conn, sql, key, take_over), name="ingest-standby")


async def _hold(conn: asyncpg.Connection) -> None:
    """Keep the lock's connection open for the life of the hub (closing it releases the lock)."""
    try:
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(conn.close(timeout=2))


async def _standby(
    conn: asyncpg.Connection, sql: str, key: str, take_over: Callable[[], Awaitable[None]]
) -> None:
    try:
        while not await conn.fetchval(sql, key):
            await asyncio.sleep(LEADER_RETRY_S)
        log.info("this hub process now ingests MQTT")
        await take_over()
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(conn.close(timeout=2))
