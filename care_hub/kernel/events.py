"""The event log and live fan-out behind `/ws/events`.

Events are written to `event_log` in the same transaction as the change they announce, then
published to connected clients after commit. The log's `seq` is the resume point: a client that
reconnects with `since=<seq>` is replayed everything after it, so nothing is lost on a drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from care_hub.kernel.models import EventLog

log = logging.getLogger(__name__)

# A screen that falls this far behind is disconnected and resumes with `since`; it never slows the hub.
CLIENT_QUEUE_MAX = 1000
# Serialises event inserts across hub processes on PostgreSQL so seq order is commit order.
EVENT_LOCK_KEY = 7_746_001
_PENDING = "care_hub.pending_events"
# Rows read per replay query: a reconnecting screen's memory stays bounded however long it was
# away, and 1,000 rows keep the round trips few (12,000 events: 12 queries).
REPLAY_PAGE_ROWS = 1000


# Everything a family member may receive, whatever the event kind: an allow-list, so a kind
# added later (raw detections like `fall.suspected` with device ids and coordinates, system
# notices, care records) reaches families only once someone adds it here, and to
# `alerts.routing.wire_view`'s family shape. Reminders, comments and assignments are staff
# matters; live `system.health` notices are the staff's to act on (the family page is no console).
# `presence.changed` (which zone the resident is in now) is what the family page's trail shows.
FAMILY_EVENT_TYPES = frozenset(
    {"alert.raised", "alert.updated", "alert.escalated", "presence.changed"}
)


@dataclass(frozen=True, slots=True)
class Audience:
    """Who may see an event: everything (admin), one facility (caregiver), some residents (family).

    Narrowed further by place (a wall screen per floor or wing) and by the roster (`personal`: a
    caregiver's own device receives only events addressed to them, or addressed to nobody).
    """

    facility_id: int | None = None
    resident_ids: frozenset[str] | None = None
    everything: bool = False
    types: frozenset[str] | None = None  # alert types a family member chose; None = all
    # Per-resident choice of alert types for a family member (None or absent: all types).
    family_types: dict[str, frozenset[str] | None] | None = field(default=None, hash=False)
    floors: frozenset[str] | None = None
    wings: frozenset[str] | None = None
    user_id: int | None = None
    personal: bool = False

    @property
    def family(self) -> bool:
        return self.resident_ids is not None and not self.everything

    def allows(self, event: dict[str, Any]) -> bool:
        if not self._in_scope(event):
            return False
        floor, wing = event.get("floor"), event.get("wing")
        # Events with no place (a hub-wide notice) reach every screen of the facility.
        if self.floors is not None and floor is not None and str(floor) not in self.floors:
            return False
        if self.wings is not None and wing is not None and str(wing) not in self.wings:
            return False
        if self.personal and not self.family:
            recipients = event.get("recipients")
            if recipients is not None and self.user_id not in recipients:
                return False
        return True

    def _in_scope(self, event: dict[str, Any]) -> bool:
        if self.everything:
            return True
        if self.resident_ids is not None:
            resident_id = event.get("resident_id")
            if resident_id not in self.resident_ids:
                return False
            if event.get("type") not in FAMILY_EVENT_TYPES:
                return False
            data = event.get("data") or {}
            if event.get("type") == "alert.escalated":
                # Only the family tier is addressed to them, and it reaches them whatever they chose.
                return data.get("tier") == "family"
            alert_type = data.get("type")
            if alert_type is None:
                return True
            chosen = self.family_types.get(resident_id) if self.family_types else self.types
            return chosen is None or alert_type in chosen
        return self.facility_id is not None and event.get("facility_id") == self.facility_id


def audience_clause(audience: Audience, dialect: str) -> ColumnElement[bool]:
    """`Audience.allows` as a WHERE clause over `event_log`, for replay.

    It follows `allows` case for case (facility or residents, the family's event and alert types,
    floor and wing, the roster's recipients); tests compare the two over every combination.
    """
    clauses = [_scope_clause(audience)]
    if audience.floors is not None:
        clauses.append(or_(EventLog.floor.is_(None), EventLog.floor.in_(sorted(audience.floors))))
    if audience.wings is not None:
        clauses.append(or_(EventLog.wing.is_(None), EventLog.wing.in_(sorted(audience.wings))))
    if audience.personal and not audience.family and audience.user_id is not None:
        clauses.append(_addressed_to(audience.user_id, dialect))
    return and_(*clauses)


def _scope_clause(audience: Audience) -> ColumnElement[bool]:
    if audience.everything:
        return true()
    if audience.resident_ids is not None:
        per_resident = []
        for resident_id in sorted(audience.resident_ids):
            chosen = (
                audience.family_types.get(resident_id) if audience.family_types else audience.types
            )
            per_resident.append(
                and_(EventLog.resident_id == resident_id, _family_type_clause(chosen))
            )
        return or_(false(), *per_resident)
    if audience.facility_id is None:
        return false()
    return EventLog.facility_id == audience.facility_id


def _family_type_clause(chosen: frozenset[str] | None) -> ColumnElement[bool]:
    escalated = and_(
        EventLog.type == "alert.escalated", EventLog.data["tier"].as_string() == "family"
    )
    others: ColumnElement[bool] = EventLog.type.in_(
        sorted(FAMILY_EVENT_TYPES - {"alert.escalated"})
    )
    if chosen is not None:
        alert_type = EventLog.data["type"].as_string()
        others = and_(others, or_(alert_type.is_(None), alert_type.in_(sorted(chosen))))
    return or_(escalated, others)


def _addressed_to(user_id: int, dialect: str) -> ColumnElement[bool]:
    """Recipients are null (everyone of the facility) or list this user (a JSON array)."""
    if dialect == "postgresql":
        is_null = func.json_typeof(EventLog.recipients) == "null"
        listed = cast(EventLog.recipients, JSONB).contains(
            cast(literal(f"[{int(user_id)}]"), JSONB)
        )
    elif dialect == "sqlite":
        is_null = func.json_type(EventLog.recipients) == "null"
        each = func.json_each(EventLog.recipients).table_valued("value")
        listed = exists(select(1).select_from(each).where(each.c.value == int(user_id)))
    else:
        return true()  # `allows` judges it after the query
    return or_(EventLog.recipients.is_(None), is_null, listed)


@dataclass(eq=False)
class Subscriber:
    audience: Audience
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(CLIENT_QUEUE_MAX)
    )
    overflowed: bool = False
    # Whose socket this is, so a revocation (password change, deactivation) can end it.
    user_id: int | None = None
    revoked: bool = False


# Put on a revoked subscriber's queue to wake its socket, which then closes with 4401.
REVOKED_NOTICE = "user.revoked"


def public_event(row: EventLog) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "type": row.type,
        "at": row.at,
        "data": row.data,
        "facility_id": row.facility_id,
        "resident_id": row.resident_id,
        "floor": row.floor,
        "wing": row.wing,
        "recipients": row.recipients,
    }


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
        # Multi-process mode (alerts.fanout): commits NOTIFY this channel, and delivery is
        # strictly in seq order through `deliver_through`, reading rows other processes wrote.
        self.notify_channel: str | None = None
        self.origin = uuid.uuid4().hex[:12]  # tells this process's own notifications apart
        self._delivered_upto: int | None = None
        self._deliver_lock = asyncio.Lock()

    @staticmethod
    def record(
        session: AsyncSession,
        *,
        type: str,
        data: dict[str, Any],
        facility_id: int | None,
        resident_id: str | None,
        floor: str | None = None,
        wing: str | None = None,
        recipients: list[int] | None = None,
    ) -> None:
        """Queue an event on this session; `commit` writes and publishes it."""
        session.info.setdefault(_PENDING, []).append(
            EventLog(
                type=type,
                data=data,
                facility_id=facility_id,
                resident_id=resident_id,
                floor=floor,
                wing=wing,
                recipients=recipients,
            )
        )

    async def commit(self, session: AsyncSession) -> list[dict[str, Any]]:
        """Commit the session; insert its pending events last, under a lock, so seq = commit order."""
        pending: list[EventLog] = session.info.pop(_PENDING, [])
        if not pending:
            await session.commit()
            return []
        async with self._lock:
            if session.bind is not None and session.bind.dialect.name == "postgresql":
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": EVENT_LOCK_KEY}
                )
            session.add_all(pending)
            await session.flush()
            if self.notify_channel is not None:
                # Sent by PostgreSQL at commit, so other processes never hear of a rolled-back
                # event; the payload is only the seq (NOTIFY payloads must stay under 8000 bytes).
                await session.execute(
                    text("SELECT pg_notify(:c, :p)"),
                    {"c": self.notify_channel, "p": str(pending[-1].seq)},
                )
            await session.commit()
        events = [public_event(row) for row in pending]
        if self._delivered_upto is None:
            self.publish(events)
        else:
            await self.deliver_through(events[-1]["seq"], local=events)
        return events

    def start_ordered_delivery(self, delivered_upto: int) -> None:
        """Multi-process mode: deliver every committed event once, in seq order, from here on."""
        self._delivered_upto = delivered_upto

    async def deliver_through(self, seq: int, *, local: list[dict[str, Any]] | None = None) -> None:
        """Publish every event up to `seq` not yet delivered here, in seq order.

        Seqs are assigned under a cross-process lock held until commit, so once `seq` is committed
        every lower seq is committed (or rolled back, a gap forever): reading the range is complete.
        """
        async with self._deliver_lock:
            upto = self._delivered_upto
            if upto is None or seq <= upto:
                return
            if local and local[0]["seq"] == upto + 1:
                events = local
            else:
                async with self._session_factory() as session:
                    rows = (
                        await session.scalars(
                            select(EventLog)
                            .where(EventLog.seq > upto, EventLog.seq <= seq)
                            .order_by(EventLog.seq)
                        )
                    ).all()
                events = [public_event(r) for r in rows]
            self.publish(events)
            self._delivered_upto = seq

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

    def subscribe(self, audience: Audience, *, user_id: int | None = None) -> Subscriber:
        sub = Subscriber(audience, user_id=user_id)
        self._subscribers.add(sub)
        return sub

    def revoke_user(self, user_id: int) -> int:
        """Mark this user's subscribers revoked and wake them (their sockets close with 4401).

        In this process only; sockets held by other hub processes notice within their periodic
        session check (care_hub.api.ws.SESSION_CHECK_S). Returns how many were revoked.
        """
        count = 0
        for sub in list(self._subscribers):
            if sub.user_id != user_id:
                continue
            sub.revoked = True
            count += 1
            notice: dict[str, Any] = {"seq": None, "type": REVOKED_NOTICE, "at": 0.0, "data": {}}
            # A full queue wakes its socket anyway, which checks `revoked` first.
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(notice)
        return count

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def replay_pages(
        self,
        since: int,
        audience: Audience,
        *,
        upto: int | None = None,
        page_rows: int = REPLAY_PAGE_ROWS,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """This audience's events after `since` (through `upto`), in seq order, a page at a time.

        The query selects by audience (`audience_clause`), so a caregiver away during a busy night
        elsewhere reads only their facility's rows; `Audience.allows` still judges every event,
        so the query may only ever be looser than it, never stricter. Pages follow the seq of the
        last row read, so every page makes progress and none is skipped.
        """
        cursor = since
        while True:
            async with self._session_factory() as session:
                dialect = session.get_bind().dialect.name
                query = (
                    select(EventLog)
                    .where(EventLog.seq > cursor, audience_clause(audience, dialect))
                    .order_by(EventLog.seq)
                    .limit(page_rows)
                )
                if upto is not None:
                    query = query.where(EventLog.seq <= upto)
                rows = (await session.scalars(query)).all()
            if not rows:
                return
            cursor = rows[-1].seq
            events = [e for e in (public_event(r) for r in rows) if audience.allows(e)]
            if events:
                yield events
            if len(rows) < page_rows:
                return

    async def replay(
        self, since: int, audience: Audience, *, upto: int | None = None
    ) -> list[dict[str, Any]]:
        """Every page of `replay_pages` in one list (tests, small gaps)."""
        return [e async for page in self.replay_pages(since, audience, upto=upto) for e in page]

    async def last_seq(self) -> int:
        async with self._session_factory() as session:
            value = await session.scalar(
                select(EventLog.seq).order_by(EventLog.seq.desc()).limit(1)
            )
        return int(value or 0)
