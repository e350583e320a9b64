"""Overdue care tasks on the wall screen: a periodic sweep raises a low-severity
`care_task_overdue` alert per overdue task and resolves it once the task is done.

Started by the assembly (`Hub.start`) with a session factory and the event bus; this package never
sees the hub. Low alerts neither remind nor escalate (alerts.escalation), so they sit on the wall
as awareness items (IEC 60601-1-8 low priority). The alert carries no resident id on purpose: it
is a staff work item, and a resident's family receive their relative's alerts; the resident's
name and room are in its detail for the screen.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import service as alert_service
from alerts.models import Alert
from alerts.policy import DEFAULT_SEVERITY
from care_hub.kernel.events import EventBus
from care_hub.kernel.models import Resident, Room
from care_records import guidance_service, service
from care_records.models import CareTask

log = logging.getLogger(__name__)

ALERT_TYPE = "care_task_overdue"
SWEEP_INTERVAL_S = 60.0  # a task is overdue 30 min after due; a minute more to show it is fine
# Guidance from sensor data changes over days; checking every resident six-hourly is plenty.
GUIDANCE_INTERVAL_S = 6 * 3600.0
# On PostgreSQL several hub processes may run the sweep: one at a time (transaction lock).
SWEEP_LOCK_KEY = 7_746_016


def dedupe_key(task_id: int) -> str:
    return f"{ALERT_TYPE}:{task_id}"


async def _lead(session: AsyncSession) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True
    got = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SWEEP_LOCK_KEY})
    return bool(got)


async def sweep(session: AsyncSession, bus: EventBus, *, now: float) -> tuple[int, int]:
    """Raise an alert for each newly overdue task and resolve those no longer overdue.
    Returns (raised, resolved). The caller commits through the bus."""
    if not await _lead(session):
        return 0, 0
    tasks = list((await session.scalars(select(CareTask).where(CareTask.active.is_(True)))).all())
    statuses = await service.task_statuses(session, tasks=tasks, now=now)
    active = {
        key
        for key in (
            await session.scalars(
                select(Alert.dedupe_key).where(Alert.type == ALERT_TYPE, Alert.state != "resolved")
            )
        ).all()
    }
    raised = resolved = 0
    for st in statuses:
        key = dedupe_key(st.task.id)
        if st.overdue and key not in active:
            await _raise(session, bus, st, now)
            raised += 1
        elif not st.overdue and key in active:
            await clear(session, bus, task_id=st.task.id, at=now)
            resolved += 1
    # Tasks ended while their alert was open.
    live = {dedupe_key(t.id) for t in tasks}
    for key in active - live:
        await alert_service.resolve_active(
            session, bus, dedupe_key=key, outcome="no_action_needed", actor="system", at=now
        )
        resolved += 1
    return raised, resolved


async def _raise(session: AsyncSession, bus: EventBus, st: service.TaskStatus, now: float) -> None:
    resident = await session.get(Resident, st.task.resident_id)
    room = await session.get(Room, resident.room_id) if resident and resident.room_id else None
    await alert_service.raise_alert(
        session,
        bus,
        type=ALERT_TYPE,
        severity=DEFAULT_SEVERITY[ALERT_TYPE],
        facility_id=st.task.facility_id,
        resident_id=None,
        device_id=None,
        dedupe_key=dedupe_key(st.task.id),
        at=now,
        detail={
            "resident": resident.name if resident else st.task.resident_id,
            "room": room.name if room else None,
            "task": st.task.kind,
            "task_title": st.task.title or None,
            "task_id": st.task.id,
            "care_resident_id": st.task.resident_id,
            "due_at": st.due_at,
        },
    )


async def clear(session: AsyncSession, bus: EventBus, *, task_id: int, at: float) -> None:
    """Resolve the task's overdue alert, if any (the task was done)."""
    await alert_service.resolve_active(
        session,
        bus,
        dedupe_key=dedupe_key(task_id),
        outcome="resolved",
        actor="system",
        at=at,
        note="care task done",
    )


async def refresh_all_guidance(
    session_factory: async_sessionmaker[AsyncSession], *, clock: Callable[[], float]
) -> int:
    """Guidance for every resident, one short transaction each: on SQLite a long write
    transaction would hold ingest back."""
    async with session_factory() as session:
        ids = list((await session.scalars(select(Resident.id).order_by(Resident.id))).all())
    created = 0
    for resident_id in ids:
        async with session_factory() as session:
            if not await _lead(session):
                return created
            resident = await session.get(Resident, resident_id)
            if resident is not None:
                created += len(
                    await guidance_service.refresh(session, resident=resident, now=clock())
                )
            await session.commit()
    return created


async def run(
    session_factory: async_sessionmaker[AsyncSession],
    bus: EventBus,
    *,
    interval_s: float = SWEEP_INTERVAL_S,
    guidance_interval_s: float = GUIDANCE_INTERVAL_S,
    clock: Callable[[], float] | None = None,
) -> None:
    """The periodic loop: overdue tasks every `interval_s`, guidance every `guidance_interval_s`.
    A failing turn is logged and the loop goes on."""
    clock = clock or time.time
    next_guidance = clock() + guidance_interval_s
    while True:
        try:
            async with session_factory() as session:
                await sweep(session, bus, now=clock())
                await bus.commit(session)
            if clock() >= next_guidance:
                next_guidance = clock() + guidance_interval_s
                await refresh_all_guidance(session_factory, clock=clock)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("care task sweep failed; trying again in %.0f s", interval_s)
        await asyncio.sleep(interval_s)
