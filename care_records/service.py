"""Care-record use cases: assessments, plans, tasks, completions, observations; each audited.

Keyword-only; they never commit: the caller commits (through `EventBus.commit` when an alert may
be raised), so a change, its audit row and any event land in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import vitals
from care_hub.kernel.db import now_s
from care_hub.kernel.events import EventBus
from care_hub.kernel.models import Facility, Measurement, Resident
from care_records import scales, schedule
from care_records.models import (
    Assessment,
    CareAudit,
    CarePlan,
    CareTask,
    Observation,
    TaskCompletion,
)

REASONS = ("admission", "routine", "after_fall", "after_hospital", "change", "other")
TASK_OUTCOMES = ("done", "declined")
ACVPU = ("A", "C", "V", "P", "U")
# A counted respiration rate outside 2-80/min is a typing error, not a breathing rate.
RESPIRATION_PLAUSIBLE = (2, 80)


class CareRecordError(ValueError):
    """A request the records cannot take (bad schedule, wrong state); the API answers 422."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change: kept on the record and in the audit."""

    username: str
    user_id: int | None = None


class _Record(Protocol):
    @property
    def id(self) -> int: ...


_T = TypeVar("_T")


def audit(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: int,
    resident_id: str | None,
    data: dict[str, Any] | None = None,
    at: float | None = None,
) -> None:
    session.add(
        CareAudit(
            at=now_s() if at is None else at,
            actor=actor.username,
            action=action,
            entity=entity,
            entity_id=entity_id,
            resident_id=resident_id,
            data=data or {},
        )
    )


async def _add_audited(
    session: AsyncSession,
    row: _Record,
    *,
    actor: Actor,
    action: str,
    entity: str,
    resident_id: str | None,
    data: dict[str, Any] | None = None,
    at: float | None = None,
) -> None:
    """Store a new record and its audit row in one transaction (the flush gives it its id)."""
    session.add(row)
    await session.flush()
    audit(
        session,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=row.id,
        resident_id=resident_id,
        data=data,
        at=at,
    )


async def _all(session: AsyncSession, query: Select[_T]) -> list[_T]:
    return list((await session.scalars(query)).all())


# --- facility time ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FacilityTime:
    tz: ZoneInfo
    shifts: dict[str, str] | None
    settings: dict[str, Any]


async def facility_time(session: AsyncSession, facility_id: int) -> FacilityTime:
    """The facility's time zone and shifts (as the alert roster reads them)."""
    facility = await session.get(Facility, facility_id)
    settings = dict(facility.settings or {}) if facility is not None else {}
    name = getattr(facility, "timezone", None) or settings.get("timezone")
    shifts = settings.get("shifts")
    return FacilityTime(schedule.zone(name), shifts if isinstance(shifts, dict) else None, settings)


# --- assessments -----------------------------------------------------------------------------


async def record_assessment(
    session: AsyncSession,
    *,
    resident: Resident,
    scale: str,
    items: dict[str, Any],
    context: dict[str, Any] | None,
    actor: Actor,
    assessed_at: float | None = None,
    reason: str = "routine",
    note: str | None = None,
) -> Assessment:
    """Score the answers by the scale's rules and store answers and result together."""
    if reason not in REASONS:
        raise CareRecordError(f"reason must be one of {', '.join(REASONS)}")
    result = scales.score(scale, items, context)  # ScaleError (a ValueError) on bad answers
    row = Assessment(
        resident_id=resident.id,
        facility_id=resident.facility_id,
        scale=scale,
        items=dict(items),
        context=dict(context or {}),
        total=result.total,
        level=result.level,
        positive=result.positive,
        subscores=result.subscores,
        result=result.detail,
        reason=reason,
        assessed_at=now_s() if assessed_at is None else assessed_at,
        assessor=actor.username,
        assessor_id=actor.user_id,
        note=note,
    )
    await _add_audited(
        session,
        row,
        actor=actor,
        action="assessment.recorded",
        entity="assessment",
        resident_id=resident.id,
        data={"scale": scale, "total": result.total, "level": result.level},
    )
    return row


async def assessments_of(
    session: AsyncSession, *, resident_id: str, scale: str | None = None, limit: int = 200
) -> list[Assessment]:
    query = select(Assessment).where(Assessment.resident_id == resident_id)
    if scale:
        query = query.where(Assessment.scale == scale)
    query = query.order_by(Assessment.assessed_at.desc(), Assessment.id.desc()).limit(limit)
    return await _all(session, query)


async def latest_assessments(
    session: AsyncSession, *, resident_ids: list[str]
) -> dict[str, dict[str, Assessment]]:
    """resident -> scale -> the newest assessment (one query)."""
    if not resident_ids:
        return {}
    rows = (
        await session.scalars(
            select(Assessment)
            .where(Assessment.resident_id.in_(resident_ids))
            .order_by(Assessment.assessed_at, Assessment.id)
        )
    ).all()
    out: dict[str, dict[str, Assessment]] = {}
    for a in rows:
        out.setdefault(a.resident_id, {})[a.scale] = a
    return out


# --- plans and tasks -------------------------------------------------------------------------


async def active_plan(session: AsyncSession, *, resident_id: str) -> CarePlan | None:
    return await session.scalar(
        select(CarePlan)
        .where(CarePlan.resident_id == resident_id, CarePlan.active.is_(True))
        .order_by(CarePlan.id.desc())
        .limit(1)
    )


async def save_plan(
    session: AsyncSession,
    *,
    resident: Resident,
    actor: Actor,
    summary: str | None = None,
    goals: list[str] | None = None,
    staff_notes: str | None = None,
) -> CarePlan:
    """Create the resident's active plan, or change the fields given; audited with the old values."""
    plan = await active_plan(session, resident_id=resident.id)
    at = now_s()
    if plan is None:
        plan = CarePlan(
            resident_id=resident.id,
            facility_id=resident.facility_id,
            summary=summary or "",
            goals=list(goals or []),
            staff_notes=staff_notes,
            created_by=actor.username,
            created_at=at,
            updated_at=at,
        )
        await _add_audited(
            session,
            plan,
            actor=actor,
            action="plan.created",
            entity="plan",
            resident_id=resident.id,
            at=at,
        )
        return plan
    before: dict[str, Any] = {}
    for name, value in (("summary", summary), ("goals", goals), ("staff_notes", staff_notes)):
        if value is not None and getattr(plan, name) != value:
            before[name] = getattr(plan, name)
            setattr(plan, name, list(value) if name == "goals" else value)
    if before:
        plan.updated_at = at
        audit(
            session,
            actor=actor,
            action="plan.updated",
            entity="plan",
            entity_id=plan.id,
            resident_id=resident.id,
            data={"before": before},
            at=at,
        )
    return plan


def schedule_of(task: CareTask) -> schedule.TaskSchedule:
    return schedule.TaskSchedule(
        recurrence=task.recurrence,
        starts_at=task.starts_at,
        interval_h=task.interval_h,
        time_of_day=task.time_of_day,
        shift=task.shift,
        shifts=tuple(str(s) for s in task.shifts or ()),
    )


async def add_task(
    session: AsyncSession,
    *,
    plan: CarePlan,
    actor: Actor,
    kind: str,
    recurrence: str,
    interval_h: float | None = None,
    time_of_day: str | None = None,
    shift: str | None = None,
    shifts: list[str] | None = None,
    area: dict[str, Any] | None = None,
    title: str = "",
    guidance_id: int | None = None,
    starts_at: float | None = None,
) -> CareTask:
    """Add a recurring task; its schedule is checked against the facility's shifts first."""
    task = CareTask(
        plan_id=plan.id,
        resident_id=plan.resident_id,
        facility_id=plan.facility_id,
        kind=kind,
        title=title,
        recurrence=recurrence,
        interval_h=interval_h,
        time_of_day=time_of_day,
        shift=shift,
        shifts=list(shifts or []),
        area=dict(area or {}),
        active=True,
        starts_at=now_s() if starts_at is None else starts_at,
        guidance_id=guidance_id,
        created_by=actor.username,
    )
    ft = await facility_time(session, plan.facility_id)
    try:
        schedule.next_due(schedule_of(task), None, shifts=ft.shifts, tz=ft.tz)
    except ValueError as exc:
        raise CareRecordError(str(exc)) from None
    await _add_audited(
        session,
        task,
        actor=actor,
        action="task.added",
        entity="task",
        resident_id=plan.resident_id,
        data={"kind": kind, "recurrence": recurrence, "guidance_id": guidance_id},
    )
    return task


async def end_task(session: AsyncSession, *, task: CareTask, actor: Actor) -> None:
    if not task.active:
        return
    task.active = False
    audit(
        session,
        actor=actor,
        action="task.ended",
        entity="task",
        entity_id=task.id,
        resident_id=task.resident_id,
    )


async def complete_task(
    session: AsyncSession,
    *,
    task: CareTask,
    actor: Actor,
    outcome: str = "done",
    done_at: float | None = None,
    note: str | None = None,
) -> TaskCompletion:
    if outcome not in TASK_OUTCOMES:
        raise CareRecordError(f"outcome must be one of {', '.join(TASK_OUTCOMES)}")
    if not task.active:
        raise CareRecordError(f"task {task.id} has ended")
    done = TaskCompletion(
        task_id=task.id,
        resident_id=task.resident_id,
        done_at=now_s() if done_at is None else done_at,
        outcome=outcome,
        done_by=actor.username,
        note=note,
    )
    await _add_audited(
        session,
        done,
        actor=actor,
        action="task.completed",
        entity="completion",
        resident_id=task.resident_id,
        data={"task_id": task.id, "outcome": outcome},
    )
    return done


async def last_done(session: AsyncSession, *, task_ids: list[int]) -> dict[int, float]:
    """task -> time of its latest completion (one grouped query)."""
    if not task_ids:
        return {}
    rows = await session.execute(
        select(TaskCompletion.task_id, func.max(TaskCompletion.done_at))
        .where(TaskCompletion.task_id.in_(task_ids))
        .group_by(TaskCompletion.task_id)
    )
    return {int(task_id): float(at) for task_id, at in rows.all()}


@dataclass(frozen=True, slots=True)
class TaskStatus:
    task: CareTask
    last_done_at: float | None
    due_at: float
    overdue: bool


async def task_statuses(
    session: AsyncSession, *, tasks: list[CareTask], now: float
) -> list[TaskStatus]:
    done = await last_done(session, task_ids=[t.id for t in tasks])
    times: dict[int, FacilityTime] = {}
    out = []
    for t in tasks:
        ft = times.get(t.facility_id) or await facility_time(session, t.facility_id)
        times[t.facility_id] = ft
        due = schedule.next_due(schedule_of(t), done.get(t.id), shifts=ft.shifts, tz=ft.tz)
        out.append(TaskStatus(t, done.get(t.id), due, now > due + schedule.OVERDUE_GRACE_S))
    return out


async def tasks_of(
    session: AsyncSession, *, resident_id: str, active: bool = True
) -> list[CareTask]:
    query = select(CareTask).where(CareTask.resident_id == resident_id)
    if active:
        query = query.where(CareTask.active.is_(True))
    return await _all(session, query.order_by(CareTask.id))


async def completions_of(
    session: AsyncSession, *, resident_id: str, start: float, end: float, limit: int = 2000
) -> list[TaskCompletion]:
    return await _all(
        session,
        select(TaskCompletion)
        .where(
            TaskCompletion.resident_id == resident_id,
            TaskCompletion.done_at >= start,
            TaskCompletion.done_at < end,
        )
        .order_by(TaskCompletion.done_at.desc())
        .limit(limit),
    )


# --- observations by hand (NEWS2 inputs) -----------------------------------------------------


async def record_observation(
    session: AsyncSession,
    bus: EventBus,
    *,
    resident: Resident,
    actor: Actor,
    consciousness: str | None = None,
    supplemental_oxygen: bool | None = None,
    respiration_rate: int | None = None,
    observed_at: float | None = None,
    note: str | None = None,
) -> Observation:
    """Store what the caregiver observed, copy it to `measurements` (source `manual`) for NEWS2,
    and judge NEWS2 again with it (alerts.vitals), which may raise or update a vitals alert."""
    if consciousness is None and supplemental_oxygen is None and respiration_rate is None:
        raise CareRecordError("record at least one of consciousness, oxygen, respiration rate")
    if consciousness is not None and consciousness not in ACVPU:
        raise CareRecordError("consciousness is one of A, C, V, P, U (ACVPU)")
    low, high = RESPIRATION_PLAUSIBLE
    if respiration_rate is not None and not low <= respiration_rate <= high:
        raise CareRecordError(f"respiration rate {respiration_rate}/min is not plausible")
    at = now_s() if observed_at is None else observed_at
    values: dict[str, Any] = {
        k: v
        for k, v in (
            ("consciousness", consciousness),
            ("supplemental_oxygen", supplemental_oxygen),
            ("respiration_rate", respiration_rate),
        )
        if v is not None
    }
    measurement = Measurement(
        resident_id=resident.id,
        device_id=None,
        kind=vitals.MANUAL_KIND,
        ts=at,
        values=values,
        source=vitals.MANUAL_SOURCE,
    )
    session.add(measurement)
    await session.flush()
    row = Observation(
        resident_id=resident.id,
        facility_id=resident.facility_id,
        observed_at=at,
        consciousness=consciousness,
        supplemental_oxygen=supplemental_oxygen,
        respiration_rate=respiration_rate,
        recorded_by=actor.username,
        note=note,
        measurement_id=measurement.id,
    )
    await _add_audited(
        session,
        row,
        actor=actor,
        action="observation.recorded",
        entity="observation",
        resident_id=resident.id,
        data=values,
    )
    await vitals.judge_manual_observation(
        session, bus, resident=resident, at=at, actor=actor.username
    )
    return row


async def observations_of(
    session: AsyncSession, *, resident_id: str, limit: int = 100
) -> list[Observation]:
    return await _all(
        session,
        select(Observation)
        .where(Observation.resident_id == resident_id)
        .order_by(Observation.observed_at.desc())
        .limit(limit),
    )
