"""Reminders and escalation of unacknowledged alerts, driven by deadlines persisted on the alert.

Every tick the engine reads the open alerts whose `next_reminder_at` or `next_escalation_at` has
passed, claims each (`_claim`: still open and due, as committed) and, in the same transaction
as the events it writes:
- schedules a newly raised alert (its deadlines count from `raised_at`);
- escalates one tier (caregivers -> charge nurse -> family) when the acknowledgement deadline has
  passed, re-announcing it (`alert.escalated`) and setting the next deadline from now;
- otherwise re-announces it (`alert.reminder`) and sets the next reminder.
Nothing lives in memory: a restarted hub resumes from the database, and an alert whose deadline
passed while the hub was down escalates once (the next deadline counts from the restart), never
once per missed deadline. On PostgreSQL the rows are locked with SKIP LOCKED, so several hub
processes can run the engine without escalating one alert twice. SQLite ignores FOR UPDATE, so
within a process ticks run one at a time: two at once would both escalate from the same read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import routing, service
from alerts.models import Alert, AlertEvent
from alerts.policy import MAX_ESCALATION_LEVEL, ack_timeout_s, reminder_interval_s
from care_hub.kernel.events import EventBus
from care_hub.kernel.settings import AlertSettings

log = logging.getLogger(__name__)

# Deadlines are checked this often: a critical alert escalates at most this late (60 s + 1 s).
TICK_S = 1.0
# Alerts handled per transaction; the rest wait for the next tick (bounded transactions).
BATCH = 200

Clock = Callable[[], float]


def timeout_defaults(settings: AlertSettings) -> dict[str, float]:
    """Hub-wide acknowledgement timeouts by severity; `low` never escalates (awareness only)."""
    return {
        "critical": settings.ack_timeout_critical_s,
        "high": settings.ack_timeout_high_s,
        "medium": settings.ack_timeout_medium_s,
    }


async def _claim(session: AsyncSession, alert: Alert, now: float) -> bool:
    """Is the alert, as committed now, still open and still due?

    `service.change_if` writes the tier onto itself only while the row is open, then reads it
    back: on SQLite (which ignores FOR UPDATE) the write takes the database's write lock until
    this tick commits, so an acknowledgement committed after the tick's read is seen here and one
    that comes later waits; the tick never escalates or reminds over it from a stale read. A
    concurrent escalation moved the deadlines, so it is no longer due. On PostgreSQL the row is
    already locked, and the write is a no-op.
    """
    if not await service.change_if(
        session, alert, ("open",), escalation_level=alert.escalation_level
    ):
        return False
    return any(d is not None and d <= now for d in (alert.next_reminder_at, alert.next_escalation_at))


class EscalationEngine:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        bus: EventBus,
        settings: AlertSettings,
        *,
        clock: Clock = time.time,
        tick_s: float = TICK_S,
    ) -> None:
        self.session_factory = session_factory
        self.bus = bus
        self.settings = settings
        self.clock = clock
        self.tick_s = tick_s
        self.escalations = 0
        self.reminders = 0
        self._ticking = asyncio.Lock()

    async def run(self) -> None:
        while True:
            try:
                while await self.tick() >= BATCH:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("escalation tick failed; retrying")
            await asyncio.sleep(self.tick_s)

    async def tick(self) -> int:
        """Handle every due alert once; returns how many were handled."""
        async with self._ticking:
            return await self._tick()

    async def _tick(self) -> int:
        now = self.clock()
        async with self.session_factory() as session:
            due = (
                await session.scalars(
                    select(Alert)
                    .where(
                        Alert.state == "open",
                        or_(Alert.next_reminder_at <= now, Alert.next_escalation_at <= now),
                    )
                    .order_by(Alert.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for alert in due:
                if await _claim(session, alert, now):
                    await self._visit(session, alert, now)
            await self.bus.commit(session)
        return len(due)

    async def _visit(self, session: AsyncSession, alert: Alert, now: float) -> None:
        settings = await routing.facility_settings(session, alert.facility_id)
        timeout = ack_timeout_s(alert.severity, settings, timeout_defaults(self.settings))
        interval = reminder_interval_s(settings, self.settings.reminder_interval_s)
        if alert.escalation_level == 0 and alert.next_reminder_at is None:
            # Newly raised: deadlines count from when it was raised, not from when we saw it.
            explicit = (
                alert.next_escalation_at if alert.next_escalation_at != alert.raised_at else None
            )
            alert.next_escalation_at = explicit or (
                None if timeout is None else alert.raised_at + timeout
            )
            alert.next_reminder_at = None if timeout is None else alert.raised_at + interval
            if alert.next_escalation_at is None or alert.next_escalation_at > now:
                if alert.next_reminder_at is not None and alert.next_reminder_at <= now:
                    await self._remind(session, alert, now, interval)
                return
        if alert.next_escalation_at is not None and alert.next_escalation_at <= now:
            await self._escalate(session, alert, now, timeout, interval)
        else:
            await self._remind(session, alert, now, interval)

    async def _remind(
        self, session: AsyncSession, alert: Alert, now: float, interval: float
    ) -> None:
        reason = "snooze_ended" if alert.snoozed_until is not None else "unacknowledged"
        alert.snoozed_until = None
        alert.next_reminder_at = now + interval
        self.reminders += 1
        await service.announce(
            session,
            self.bus,
            alert,
            "alert.reminder",
            at=now,
            extra={"reason": reason, "open_for_s": now - alert.raised_at},
        )

    async def _escalate(
        self,
        session: AsyncSession,
        alert: Alert,
        now: float,
        timeout: float | None,
        interval: float,
    ) -> None:
        overdue_s = now - (alert.next_escalation_at or now)
        level = min(alert.escalation_level + 1, MAX_ESCALATION_LEVEL)
        alert.escalation_level = level
        alert.snoozed_until = None
        # The next deadline counts from now: a hub that was down escalates once, not per deadline.
        alert.next_escalation_at = (
            (now + timeout) if timeout and level < MAX_ESCALATION_LEVEL else None
        )
        alert.next_reminder_at = now + interval
        tier = routing.tier_name(level)
        session.add(
            AlertEvent(
                alert_id=alert.id,
                at=now,
                action="escalated",
                actor="system",
                source="system",
                data={"level": level, "tier": tier, "overdue_s": round(overdue_s, 3)},
            )
        )
        self.escalations += 1
        extra: dict[str, Any] = {"tier": tier, "level": level, "open_for_s": now - alert.raised_at}
        if tier == "family":
            # Addressed to the resident's family contacts (their audience picks it up by resident);
            # staff screens of the facility see it as well.
            extra["family_user_ids"] = await routing.family_user_ids(session, alert.resident_id)
            await service.announce(
                session, self.bus, alert, "alert.escalated", at=now, extra=extra, recipients=None
            )
        else:
            await service.announce(session, self.bus, alert, "alert.escalated", at=now, extra=extra)
