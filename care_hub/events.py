"""The event log and live fan-out behind `/ws/events`.

Events are written to `event_log` in the same transaction as the change they announce, then
published to connected clients after commit. The log's `seq` is the resume point: a client that
reconnects with `since=<seq>` is replayed everything after it, so nothing is lost on a drop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from care_hub.models import EventLog

log = logging.getLogger(__name__)

# A screen that falls this far behind is disconnected and resumes with `since`; it never slows the hub.
CLIENT_QUEUE_MAX = 1000
# Serialises event inserts across hub processes on PostgreSQL so seq order is commit order.
EVENT_LOCK_KEY = 7_746_001
_PENDING = "care_hub.pending_events"


@dataclass(frozen=True, slots=True)
class Audience:
    """Who may see an event: everything (admin), one facility (caregiver), some residents (family)."""

    facility_id: int | None = None
    resident_ids: frozenset[str] | None = None
    everything: bool = False
    types: frozenset[str] | None = None  # alert types a family member chose; None = all

    def allows(self, event: dict[str, Any]) -> bool:
        if self.everything:
            return True
        if self.resident_ids is not None:
            if event.get("resident_id") not in self.resident_ids:
                return False
            if self.types is not None:
                alert_type = event.get("data", {}).get("type")
                return alert_type is None or alert_type in self.types
            return True
        return self.facility_id is not None and event.get("facility_id") == self.facility_id


@dataclass(eq=False)
class Subscriber:
    audience: Audience
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(CLIENT_QUEUE_MAX))
    overflowed: bool = False


def public_event(row: EventLog) -> dict[str, Any]:
    return {"seq": row.seq, "type": row.type, "at": row.at, "data": row.data,
            "facility_id": row.facility_id, "resident_id": row.resident_id}


def wire_event(event: dict[str, Any]) -> dict[str, Any]:
    """What a websocket client receives (routing fields stay on the hub)."""
    return {"seq": event["seq"], "type": event["type"], "at": event["at"], "data": event["data"]}


class EventBus:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._subscribers: set[Subscriber] = set()
        self._lock = asyncio.Lock()
        # Hooks called with each committed event (e.g. cross-process NOTIFY).
        self.on_published: list[Callable[[dict[str, Any]], None]] = []

    @staticmethod
    def record(session: AsyncSession, *, type: str, data: dict[str, Any],
               facility_id: int | None, resident_id: str | None) -> None:
        """Queue an event on this session; `commit` writes and publishes it."""
        session.info.setdefault(_PENDING, []).append(
            EventLog(type=type, data=data, facility_id=facility_id, resident_id=resident_id))

    async def commit(self, session: AsyncSession) -> list[dict[str, Any]]:
        """Commit the session; insert its pending events last, under a lock, so seq = commit order."""
        pending: list[EventLog] = session.info.pop(_PENDING, [])
        if not pending:
            await session.commit()
            return []
        async with self._lock:
            if session.bind is not None and session.bind.dialect.name == "postgresql":
                await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": EVENT_LOCK_KEY})
            session.add_all(pending)
            await session.flush()
            await session.commit()
        events = [public_event(row) for row in pending]
        self.publish(events)
        return events

    def publish(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            for sub in list(self._subscribers):
                if sub.overflowed or not sub.audience.allows(event):
                    continue
                try:
                    sub.queue.put_nowait(event)
                except asyncio.QueueFull:
                    sub.overflowed = True  # the socket handler closes it; the client resumes
            for hook in self.on_published:
                hook(event)

    def subscribe(self, audience: Audience) -> Subscriber:
        sub = Subscriber(audience)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def replay(self, since: int, audience: Audience, *, limit: int = 10_000) -> list[dict[str, Any]]:
        async with self._session_factory() as session:
            rows = (await session.scalars(
                select(EventLog).where(EventLog.seq > since).order_by(EventLog.seq).limit(limit))).all()
        return [e for e in (public_event(r) for r in rows) if audience.allows(e)]

    async def last_seq(self) -> int:
        async with self._session_factory() as session:
            value = await session.scalar(select(EventLog.seq).order_by(EventLog.seq.desc()).limit(1))
        return int(value or 0)
