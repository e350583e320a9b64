"""Alert use cases: raise (one alert per situation), acknowledge, resolve; each audited and announced.

Functions take the session and the event bus explicitly and never commit: the caller commits through
`EventBus.commit`, so an alert change and its event land in one transaction.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import routing
from alerts.models import Alert, AlertEvent
from alerts.policy import (
    MAX_SNOOZE_S,
    SNOOZABLE,
    ack_timeout_s,
    effective_severity,
    fall_was_real,
    priority,
    shift_at,
)
from care_hub.kernel.db import now_s
from care_hub.kernel.events import EventBus
from care_hub.kernel.models import Resident, Room, User


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
        "id": alert.id,
        "type": alert.type,
        "severity": alert.severity,
        "priority": priority(alert.severity),
        "state": alert.state,
        "resident_id": alert.resident_id,
        "resident_name": resident_name,
        "room": room_name,
        "device_id": alert.device_id,
        "facility_id": alert.facility_id,
        "raised_at": alert.raised_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "resolved_at": alert.resolved_at,
        "resolved_by": alert.resolved_by,
        "outcome": alert.outcome,
        "count": alert.count,
        "last_seen_at": alert.last_seen_at,
        "escalation_level": alert.escalation_level,
        "detail": alert.detail,
        "floor": alert.floor,
        "wing": alert.wing,
        "assigned_to": alert.assigned_to,
        "snoozed_until": alert.snoozed_until,
        "next_escalation_at": alert.next_escalation_at,
    }


async def announce(
    session: AsyncSession,
    bus: EventBus,
    alert: Alert,
    event_type: str,
    *,
    at: float | None = None,
    extra: dict[str, Any] | None = None,
    recipients: list[int] | None | bool = True,
) -> None:
    """Record an event about this alert, routed by its place and by the roster at time `at`.

    `recipients=True` asks the roster; a list or None (everyone in the facility) sets them.
    """
    await session.flush()
    if recipients is True:
        settings = await routing.facility_settings(session, alert.facility_id)
        shift = shift_at(now_s() if at is None else at, settings)
        recipients = await routing.staff_recipients(session, alert, shift=shift)
    data = await public_alert(session, alert)
    if extra:
        data.update(extra)
    bus.record(
        session,
        type=event_type,
        data=data,
        facility_id=alert.facility_id,
        resident_id=alert.resident_id,
        floor=alert.floor,
        wing=alert.wing,
        recipients=recipients if isinstance(recipients, list) else None,
    )


async def _announce(
    session: AsyncSession, bus: EventBus, alert: Alert, event_type: str, at: float | None = None
) -> None:
    await announce(session, bus, alert, event_type, at=at)


ACTIVE_STATES = ("open", "acknowledged")


async def find_active(
    session: AsyncSession, dedupe_key: str, *, lock: bool = False
) -> Alert | None:
    """The unresolved alert of a situation, if any.

    `lock=True` is for callers about to change it: on PostgreSQL the row is read afresh `FOR
    UPDATE`, so a resolve running concurrently has either committed (and the alert is not
    returned: PostgreSQL re-checks the state after the wait) or waits for this transaction.
    """
    query = (
        select(Alert)
        .where(Alert.dedupe_key == dedupe_key, Alert.state != "resolved")
        .order_by(Alert.id.desc())
        .limit(1)
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def change_if(
    session: AsyncSession, alert: Alert, states: tuple[str, ...], **values: Any
) -> bool:
    """Write `values` to the alert's row only if its committed state is still one of `states`.

    A conditional UPDATE checked by its row count, then the row read back: on PostgreSQL it waits
    for a concurrent change of the row and re-checks the state after it; on SQLite it opens the
    write transaction, which serialises writers. So a call is never folded into an alert a nurse
    resolved meanwhile, and no transition happens twice. Returns True if the row changed.
    """
    result = cast(
        "CursorResult[Any]",
        await session.execute(
            update(Alert)
            .where(Alert.id == alert.id, Alert.state.in_(states))
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    await session.refresh(alert)
    return bool(result.rowcount == 1)


async def raise_alert(
    session: AsyncSession,
    bus: EventBus,
    *,
    type: str,
    severity: str,
    facility_id: int | None,
    resident_id: str | None,
    device_id: str | None,
    dedupe_key: str,
    detail: dict[str, Any],
    at: float | None = None,
    actor: str = "system",
    next_escalation_at: float | None = None,
) -> tuple[Alert, bool]:
    """Raise an alert, or update the active one for the same situation. Returns (alert, created).

    The facility may override the severity of nuisance-prone types (`policy.effective_severity`).
    The escalation engine schedules reminders and escalation from `raised_at` on its next tick
    (`alerts.escalation`), so the schedule follows the hub's and the facility's settings.
    """
    at = now_s() if at is None else at
    alert = await find_active(session, dedupe_key, lock=True)
    if alert is not None and not await change_if(session, alert, ACTIVE_STATES, last_seen_at=at):
        alert = None  # resolved since it was read: this is a new situation
    if alert is not None:
        alert.count += 1
        alert.last_seen_at = at
        alert.detail = {**alert.detail, **detail}
        session.add(
            AlertEvent(
                alert_id=alert.id,
                at=at,
                action="updated",
                actor=actor,
                source="device" if device_id else "system",
                data={"count": alert.count},
            )
        )
        await _announce(session, bus, alert, "alert.updated", at)
        return alert, False
    settings = await routing.facility_settings(session, facility_id)
    severity = effective_severity(type, severity, settings, shift_at(at, settings))
    floor, wing = await routing.place_of(session, resident_id=resident_id, device_id=device_id)
    alert = Alert(
        type=type,
        severity=severity,
        state="open",
        facility_id=facility_id,
        resident_id=resident_id,
        device_id=device_id,
        dedupe_key=dedupe_key,
        raised_at=at,
        last_seen_at=at,
        count=1,
        detail=detail,
        floor=floor,
        wing=wing,
        escalation_level=0,
        next_reminder_at=None,
        # `at` marks "not scheduled yet" for the engine; an explicit deadline is kept.
        next_escalation_at=at if next_escalation_at is None else next_escalation_at,
    )
    session.add(alert)
    await session.flush()
    session.add(
        AlertEvent(
            alert_id=alert.id,
            at=at,
            action="raised",
            actor=actor,
            source="device" if device_id else "system",
            data={"severity": severity},
        )
    )
    await _announce(session, bus, alert, "alert.raised", at)
    return alert, True


async def acknowledge(
    session: AsyncSession,
    bus: EventBus,
    alert: Alert,
    *,
    actor: str,
    source: str,
    note: str | None = None,
    at: float | None = None,
    origin: str | None = None,
) -> bool:
    """Open -> acknowledged. Returns False (no change) if it was already acknowledged."""
    if alert.state == "resolved":
        raise AlertStateError(f"alert {alert.id} is resolved")
    if alert.state == "acknowledged":
        return False
    if not await change_if(session, alert, ("open",), state="acknowledged"):
        if alert.state == "resolved":  # resolved meanwhile (read back by change_if)
            raise AlertStateError(f"alert {alert.id} is resolved")
        return False
    at = now_s() if at is None else at
    alert.acknowledged_at = at
    alert.acknowledged_by = actor
    _stop_schedule(alert)
    session.add(
        AlertEvent(
            alert_id=alert.id,
            at=at,
            action="acknowledged",
            actor=actor,
            source=source,
            note=note,
            data=_where(origin),
        )
    )
    await _announce(session, bus, alert, "alert.updated", at)
    return True


async def resolve(
    session: AsyncSession,
    bus: EventBus,
    alert: Alert,
    *,
    actor: str,
    source: str,
    note: str | None = None,
    outcome: str | None = None,
    answers: dict[str, Any] | None = None,
    at: float | None = None,
    origin: str | None = None,
) -> bool:
    """Open/acknowledged -> resolved. Returns False if it was already resolved.

    Closing a fall with the three care-home answers (on_floor, was_resident, unintentional) and no
    outcome records `real_fall` or `false_alarm` from them; they feed the false-alarm statistics.
    """
    if alert.state == "resolved":
        return False
    if not await change_if(session, alert, ACTIVE_STATES, state="resolved"):
        return False  # resolved meanwhile by someone else
    at = now_s() if at is None else at
    if alert.acknowledged_at is None:
        alert.acknowledged_at = at
        alert.acknowledged_by = actor
    alert.state = "resolved"
    alert.resolved_at = at
    alert.resolved_by = actor
    if outcome is None and alert.type == "fall" and (real := fall_was_real(answers)) is not None:
        outcome = "real_fall" if real else "false_alarm"
    alert.outcome = outcome or "resolved"
    _stop_schedule(alert)
    if answers:
        alert.detail = {**alert.detail, "answers": answers}
    session.add(
        AlertEvent(
            alert_id=alert.id,
            at=at,
            action="resolved",
            actor=actor,
            source=source,
            note=note,
            data={"outcome": alert.outcome, "answers": answers or {}, **_where(origin)},
        )
    )
    await _announce(session, bus, alert, "alert.updated", at)
    return True


async def resolve_active(
    session: AsyncSession,
    bus: EventBus,
    *,
    dedupe_key: str,
    outcome: str,
    actor: str,
    note: str | None = None,
    source: str = "system",
    at: float | None = None,
) -> Alert | None:
    """Resolve the active alert for this situation, if any (e.g. a device back online closes its
    `device_offline`). Returns the alert it resolved, or None when nothing was active."""
    alert = await find_active(session, dedupe_key, lock=True)
    if alert is None:
        return None
    resolved = await resolve(
        session, bus, alert, actor=actor, source=source, note=note, outcome=outcome, at=at
    )
    return alert if resolved else None


def _stop_schedule(alert: Alert) -> None:
    """Reminders and escalation stop on acknowledgement (and, of course, on resolution)."""
    alert.next_escalation_at = None
    alert.next_reminder_at = None
    alert.snoozed_until = None


def _where(origin: str | None) -> dict[str, Any]:
    return {"where": origin} if origin else {}


async def assign(
    session: AsyncSession,
    bus: EventBus,
    alert: Alert,
    *,
    user_id: int,
    actor: str,
    source: str = "api",
    note: str | None = None,
    at: float | None = None,
    origin: str | None = None,
) -> None:
    """Give the alert to one caregiver (or admin) of its facility; audited and announced."""
    if alert.state == "resolved":
        raise AlertStateError(f"alert {alert.id} is resolved")
    user = await session.get(User, user_id)
    if (
        user is None
        or not user.is_active
        or user.role not in ("caregiver", "admin")
        or (user.role == "caregiver" and user.facility_id != alert.facility_id)
    ):
        raise AlertStateError(f"user {user_id} is not staff of this alert's facility")
    at = now_s() if at is None else at
    previous = alert.assigned_to
    alert.assigned_to = user_id
    session.add(
        AlertEvent(
            alert_id=alert.id,
            at=at,
            action="assigned",
            actor=actor,
            source=source,
            note=note,
            data={
                "user_id": user_id,
                "username": user.username,
                "previous": previous,
                **_where(origin),
            },
        )
    )
    await _announce(session, bus, alert, "alert.updated", at)


async def comment(
    session: AsyncSession,
    bus: EventBus,
    alert: Alert,
    *,
    actor: str,
    text: str,
    source: str = "api",
    at: float | None = None,
) -> AlertEvent:
    at = now_s() if at is None else at
    row = AlertEvent(
        alert_id=alert.id, at=at, action="comment", actor=actor, source=source, note=text
    )
    session.add(row)
    await session.flush()
    bus.record(
        session,
        type="alert.comment",
        data={"alert_id": alert.id, "at": at, "actor": actor, "text": text},
        facility_id=alert.facility_id,
        resident_id=alert.resident_id,
        floor=alert.floor,
        wing=alert.wing,
    )
    return row


async def snooze(
    session: AsyncSession,
    bus: EventBus,
    alert: Alert,
    *,
    seconds: float,
    actor: str,
    timeout_defaults: dict[str, float],
    note: str | None = None,
    at: float | None = None,
    origin: str | None = None,
) -> None:
    """Silence a nuisance alert's reminders and escalation for at most MAX_SNOOZE_S; audited.

    When the snooze ends the alert is re-announced and its acknowledgement clock starts again.
    """
    if alert.state != "open":
        raise AlertStateError(f"only an open alert can be snoozed (this one is {alert.state})")
    if alert.type not in SNOOZABLE:
        raise AlertStateError(f"a {alert.type} alert cannot be snoozed")
    if not 0 < seconds <= MAX_SNOOZE_S:
        raise AlertStateError(f"a snooze lasts 1 to {MAX_SNOOZE_S} seconds")
    at = now_s() if at is None else at
    until = at + seconds
    settings = await routing.facility_settings(session, alert.facility_id)
    timeout = ack_timeout_s(alert.severity, settings, timeout_defaults)
    alert.snoozed_until = until
    alert.next_reminder_at = until
    alert.next_escalation_at = None if timeout is None else until + timeout
    session.add(
        AlertEvent(
            alert_id=alert.id,
            at=at,
            action="snoozed",
            actor=actor,
            source="api",
            note=note,
            data={"until": until, "seconds": seconds, **_where(origin)},
        )
    )
    await _announce(session, bus, alert, "alert.updated", at)


async def record_presence(
    session: AsyncSession,
    bus: EventBus,
    alert: Alert,
    *,
    actor: str,
    at: float | None = None,
    device_ts: float | None = None,
) -> bool:
    """Staff presence in the room (nurse-call Presence). Acknowledges an open alert; on an alert
    already acknowledged from a screen it is still audited, since it is when help arrived.
    Returns True if the alert was open (so the button should light)."""
    if alert.state == "resolved":
        return False
    at = now_s() if at is None else at
    was_open = alert.state == "open"
    if "presence_at" not in alert.detail:
        alert.detail = {**alert.detail, "presence_at": at, "presence_device_ts": device_ts}
    if was_open:
        await acknowledge(
            session,
            bus,
            alert,
            actor=actor,
            source="device",
            note="staff presence at the button",
            at=at,
        )
    else:
        session.add(
            AlertEvent(
                alert_id=alert.id,
                at=at,
                action="acknowledged",
                actor=actor,
                source="device",
                note="staff presence at the button",
                data={"presence": True},
            )
        )
        await _announce(session, bus, alert, "alert.updated", at)
    return was_open
