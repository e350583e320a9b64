"""Cross-process event fan-out through PostgreSQL LISTEN/NOTIFY.

Several hub processes serving one site share one PostgreSQL database. Every commit that writes
events NOTIFYs a channel with the last seq it wrote (and its origin, so a process ignores its own) (`EventBus.commit`); each process LISTENs and
then reads the committed rows it has not delivered yet (`EventBus.deliver_through`), so a
websocket on process B sees an alert raised through process A, in seq order.

NOTIFY delivers at most once and only to connected listeners (FIELD-NOTES), so it is a doorbell,
not the data path: the event log is. A poll of the highest seq every `POLL_S` catches anything a
dropped listener connection missed, and a listener reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from care_hub.kernel.events import EventBus

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "care_hub_events"
# The safety net behind NOTIFY: at worst an event from another process arrives this late.
POLL_S = 2.0
RECONNECT_MAX_S = 10.0


def channel_for(schema: str | None) -> str:
    """One channel per schema: NOTIFY is per database, and tests share one database."""
    return f"{CHANNEL_PREFIX}.{schema or 'public'}"


def asyncpg_dsn(engine: AsyncEngine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class PgFanout:
    def __init__(self, bus: EventBus, engine: AsyncEngine, *, schema: str | None) -> None:
        self.bus = bus
        self.dsn = asyncpg_dsn(engine)
        self.schema = schema
        self.channel = channel_for(schema)
        self._wake = asyncio.Event()
        self._latest = 0
        self.notifications = 0  # received from any process (metrics, tests)

    async def start(self) -> asyncio.Task[None]:
        """Switch the bus to ordered, NOTIFY-ing delivery and start listening."""
        self.bus.start_ordered_delivery(await self.bus.last_seq())
        self.bus.notify_channel = self.channel
        return asyncio.create_task(self.run(), name="event-fanout")

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        seq, _, origin = payload.partition(" ")
        if origin == self.bus.origin:
            return  # our own commit: delivered locally, with no database read
        with contextlib.suppress(ValueError):
            self._latest = max(self._latest, int(seq))
            self.notifications += 1
            self._wake.set()

    async def run(self) -> None:
        backoff = 0.5
        while True:
            conn = None
            try:
                settings = {"search_path": self.schema} if self.schema else {}
                conn = await asyncpg.connect(self.dsn, server_settings=settings)
                await conn.add_listener(self.channel, self._on_notify)
                backoff = 0.5
                await self._deliver_loop(conn)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning(
                    "event fan-out listener lost; reconnecting in %.1f s", backoff, exc_info=True
                )
                await asyncio.sleep(backoff)
                backoff = min(RECONNECT_MAX_S, backoff * 2)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))

    async def _deliver_loop(self, conn: asyncpg.Connection) -> None:
        # Catch up on anything committed while we were not listening, then follow the doorbell.
        await self.bus.deliver_through(await self.bus.last_seq())
        while not conn.is_closed():
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_S)
            except TimeoutError:
                self._latest = max(self._latest, await self.bus.last_seq())
            self._wake.clear()
            await self.bus.deliver_through(self._latest)
        raise ConnectionError("listener connection closed")
