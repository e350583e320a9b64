"""Alert use cases: raise (one alert per situation), acknowledge, resolve; each audited and announced.

Functions take the session and the event bus explicitly and never commit: the caller commits through
`EventBus.commit`, so an alert change and its event land in one transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.models import Alert, AlertEvent
from alerts.policy import priority
from care_hub.db import now_s
from care_hub.events import EventBus
from care_hub.models import Resident, Room


class AlertStateError(Exception):
    """A transition that the alert's state does not allow (e.g. acknowledging a resolved alert)."""


async def public_alert(session: AsyncSession, alert: Alert) -> dict[str, Any]:
    resident_name = room_name = None
    if alert.resident_id:
        resident = await session.get(Resident, alert.resident_id)
        if resident is not None:
            resident_name = resident.name
            if resident.room_id is not None:
                room = await session.get(Room, resident.room_id)
                room_name = room.name if room else None
    return {
        "id": alert.id, "type": alert.type, "severity": alert.severity,
        "priority": priority(alert.severity), "state": alert.state,
        "resident_id": alert.resident_id, "resident_name": resident_name, "room": room_name,
        "device_id": alert.device_id, "facility_id": alert.facility_id,
        "raised_at": alert.raised_at, "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by, "resolved_at": alert.resolved_at,
        "resolved_by": alert.resolved_by, "outcome": alert.outcome, "count": alert.count,
        "last_seen_at": alert.last_seen_at, "escalation_level": alert.escalation_level,
        "detail": alert.detail,
    }


async def _announce(session: AsyncSession, bus: EventBus, alert: Alert, event_type: str) -> None:
    await session.flush()
    bus.record(session, type=event_type, data=await public_alert(session, alert),
               facility_id=alert.facility_id, resident_id=alert.resident_id)


async def find_active(session: AsyncSession, dedupe_key: str) -> Alert | None:
    return await session.scalar(
        select(Alert).where(Alert.dedupe_key == dedupe_key, Alert.state != "resolved")
        .order_by(Alert.id.desc()).limit(1))


async def raise_alert(
    session: AsyncSession, bus: EventBus, *, type: str, severity: str, facility_id: int | None,
    resident_id: str | None, device_id: str | None, dedupe_key: str, detail: dict[str, Any],
    at: float | None = None, actor: str = "system", next_escalation_at: float | None = None,
) -> tuple[Alert, bool]:
    """Raise an alert, or update the active one for the same situation. Returns (alert, created)."""
    at = now_s() if at is None else at
    alert = await find_active(session, dedupe_key)
    if alert is not None:
        alert.count += 1
        alert.last_seen_at = at
        alert.detail = {**alert.detail, **detail}
        session.add(AlertEvent(alert_id=alert.id, at=at, action="updated", actor=actor,
                               source="device" if device_id else "system", data={"count": alert.count}))
        await _announce(session, bus, alert, "alert.updated")
        return alert, False
    alert = Alert(type=type, severity=severity, state="open", facility_id=facility_id,
                  resident_id=resident_id, device_id=device_id, dedupe_key=dedupe_key,
                  raised_at=at, last_seen_at=at, count=1, detail=detail,
                  next_escalation_at=next_escalation_at)
    session.add(alert)
    await session.flush()
    session.add(AlertEvent(alert_id=alert.id, at=at, action="raised", actor=actor,
                           source="device" if device_id else "system", data={"severity": severity}))
    await _announce(session, bus, alert, "alert.raised")
    return alert, True


async def acknowledge(session: AsyncSession, bus: EventBus, alert: Alert, *, actor: str, source: str,
                      note: str | None = None, at: float | None = None) -> bool:
    """Open -> acknowledged. Returns False (no change) if it was already acknowledged."""
    if alert.state == "resolved":
        raise AlertStateError(f"alert {alert.id} is resolved")
    if alert.state == "acknowledged":
        return False
    at = now_s() if at is None else at
    alert.state = "acknowledged"
    alert.acknowledged_at = at
    alert.acknowledged_by = actor
    alert.next_escalation_at = None
    session.add(AlertEvent(alert_id=alert.id, at=at, action="acknowledged", actor=actor,
                           source=source, note=note))
    await _announce(session, bus, alert, "alert.updated")
    return True


async def resolve(session: AsyncSession, bus: EventBus, alert: Alert, *, actor: str, source: str,
                  note: str | None = None, outcome: str | None = None,
                  answers: dict[str, Any] | None = None, at: float | None = None) -> bool:
    """Open/acknowledged -> resolved. Returns False if it was already resolved."""
    if alert.state == "resolved":
        return False
    at = now_s() if at is None else at
    if alert.acknowledged_at is None:
        alert.acknowledged_at = at
        alert.acknowledged_by = actor
    alert.state = "resolved"
    alert.resolved_at = at
    alert.resolved_by = actor
    alert.outcome = outcome or "resolved"
    alert.next_escalation_at = None
    if answers:
        alert.detail = {**alert.detail, "answers": answers}
    session.add(AlertEvent(alert_id=alert.id, at=at, action="resolved", actor=actor, source=source,
                           note=note, data={"outcome": alert.outcome, "answers": answers or {}}))
    await _announce(session, bus, alert, "alert.updated")
    return True


async def resolve_active(session: AsyncSession, bus: EventBus, *, dedupe_key: str, outcome: str,
                         actor: str, note: str | None = None, source: str = "system",
                         at: float | None = None) -> Alert | None:
    """Resolve the active alert for this situation, if any (e.g. a device back online closes its
    `device_offline`). Returns the alert it resolved, or None when nothing was active."""
    alert = await find_active(session, dedupe_key)
    if alert is None:
        return None
    await resolve(session, bus, alert, actor=actor, source=source, note=note, outcome=outcome, at=at)
    return alert
