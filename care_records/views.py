"""Care-record API under /api/care: thin routes over `service`, `guidance_service`, `report`.

Roles: caregivers only their facility's residents, admins all; a family member reads only
`/api/care/family/{resident_id}` for their own relative (plan summary and care delivered, never
staff notes or staff names). Someone else's resident is a 404, not a 403: do not confirm who
lives here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import FileResponse
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from care_hub.kernel.db import now_s
from care_hub.kernel.deps import CurrentUser, Principal, SessionDep, StaffUser
from care_hub.kernel.events import EventBus
from care_hub.kernel.fields import Id, Key
from care_hub.kernel.models import Resident, Room
from care_records import guidance, guidance_service, overdue, pdf, report, scales, service
from care_records.models import CareAudit, CareTask, Guidance
from care_records.schemas import (
    AssessmentCreate,
    AssessmentPublic,
    AuditPublic,
    CompletionCreate,
    CompletionPublic,
    FamilyCareSummary,
    GuidanceDecided,
    GuidanceDecision,
    GuidancePublic,
    ItemPublic,
    MonthlyReport,
    ObservationCreate,
    ObservationPublic,
    PlanPublic,
    PlanUpdate,
    ReminderPublic,
    ResidentCareOverview,
    Scale,
    ScalePublic,
    TaskCreate,
    TaskPublic,
)

api = APIRouter(prefix="/api/care", tags=["care records"])
PAGE = Path(__file__).parent / "static" / "care.html"

SCALE_CONTEXT = {
    "gbt42195": ["coma", "dementia", "mental_disorder", "risk_events_30d"],
    "mmse": ["education_years"],
    "moca": ["education_years"],
}


class _Hub(Protocol):
    @property
    def bus(self) -> EventBus: ...


def get_bus(request: Request) -> EventBus:
    hub: _Hub = request.app.state.hub
    return hub.bus


BusDep = Annotated[EventBus, Depends(get_bus)]


def _actor(user: Principal) -> service.Actor:
    return service.Actor(user.username, user.user_id)


async def visible_resident(session: AsyncSession, resident_id: str, user: Principal) -> Resident:
    resident = await session.get(Resident, resident_id)
    if resident is None or not user.can_see_resident(resident.id, resident.facility_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"resident {resident_id} not found")
    return resident


async def _visible_row(session: AsyncSession, model: Any, row_id: int, user: Principal) -> Any:
    row = await session.get(model, row_id)
    if row is None or not user.can_see_resident(row.resident_id, row.facility_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{model.__tablename__} {row_id} not found")
    return row


@contextmanager
def _unprocessable(*errors: type[Exception]) -> Iterator[None]:
    """A request the records refuse (`errors`) is answered 422 with the refusal's words."""
    try:
        yield
    except errors as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def _residents_of(user: Principal, facility_id: int | None) -> Select[Resident]:
    """The residents a staff listing covers: a caregiver's facility, an admin's choice or all."""
    query = select(Resident)
    if user.role == "caregiver":
        query = query.where(Resident.facility_id == user.facility_id)
    elif facility_id is not None:
        query = query.where(Resident.facility_id == facility_id)
    return query


def guidance_public(g: Guidance) -> GuidancePublic:
    rule = guidance.RULES_BY_ID.get(g.rule_id)
    return GuidancePublic(
        id=g.id,
        resident_id=g.resident_id,
        rule_id=g.rule_id,
        evidence=g.evidence,
        sources=list(rule.sources) if rule else [],
        state=g.state,
        created_at=g.created_at,
        decided_at=g.decided_at,
        decided_by=g.decided_by,
        note=g.note,
    )


def task_public(st: service.TaskStatus) -> TaskPublic:
    t = st.task
    return TaskPublic(
        id=t.id,
        plan_id=t.plan_id,
        kind=t.kind,
        title=t.title,
        recurrence=t.recurrence,
        interval_h=t.interval_h,
        time_of_day=t.time_of_day,
        shift=t.shift,
        shifts=[str(s) for s in t.shifts or []],
        area=t.area,
        active=t.active,
        guidance_id=t.guidance_id,
        last_done_at=st.last_done_at,
        due_at=st.due_at,
        overdue=st.overdue,
    )


# --- scales ---------------------------------------------------------------------------------


@api.get("/scales", response_model=list[ScalePublic])
async def list_scales(_: StaffUser) -> list[ScalePublic]:
    return [
        ScalePublic(
            scale=name,
            items=[
                ItemPublic(key=i.key, domain=i.domain, allowed=list(i.allowed))
                for i in scales.items_of(name)
            ],
            needs_education=name in scales.NEEDS_EDUCATION,
            context_keys=SCALE_CONTEXT.get(name, []),
        )
        for name in scales.SCALES
    ]


# --- overview and reminders -----------------------------------------------------------------


@api.get("/residents", response_model=list[ResidentCareOverview])
async def overview(
    session: SessionDep, user: StaffUser, facility_id: Id | None = None
) -> list[ResidentCareOverview]:
    """Every visible resident with their latest assessments, plan summary and what needs doing."""
    query = _residents_of(user, facility_id).order_by(Resident.id).limit(2000)
    residents = list((await session.scalars(query)).all())
    now = now_s()
    due = await report.reminders(session, residents=residents, now=now)
    latest = await service.latest_assessments(session, resident_ids=[r.id for r in residents])
    out = []
    for r in residents:
        room = await session.get(Room, r.room_id) if r.room_id else None
        plan = await service.active_plan(session, resident_id=r.id)
        tasks = await service.task_statuses(
            session, tasks=await service.tasks_of(session, resident_id=r.id), now=now
        )
        open_guidance = len(
            (
                await session.scalars(
                    select(Guidance.id).where(
                        Guidance.resident_id == r.id, Guidance.state == "suggested"
                    )
                )
            ).all()
        )
        out.append(
            ResidentCareOverview(
                resident_id=r.id,
                name=r.name,
                room=room.name if room else None,
                latest={s: report.assessment_public(a) for s, a in latest.get(r.id, {}).items()},
                plan_summary=plan.summary if plan else None,
                open_guidance=open_guidance,
                overdue_tasks=sum(1 for t in tasks if t.overdue),
                reminders=[d for d in due if d.resident_id == r.id],
            )
        )
    return out


@api.get("/reminders", response_model=list[ReminderPublic])
async def list_reminders(
    session: SessionDep, user: StaffUser, facility_id: Id | None = None
) -> list[ReminderPublic]:
    residents = list((await session.scalars(_residents_of(user, facility_id))).all())
    return await report.reminders(session, residents=residents, now=now_s())


# --- assessments ----------------------------------------------------------------------------


@api.get("/residents/{resident_id}/assessments", response_model=list[AssessmentPublic])
async def list_assessments(
    resident_id: Key, session: SessionDep, user: StaffUser, scale: Scale | None = None
) -> list[AssessmentPublic]:
    await visible_resident(session, resident_id, user)
    rows = await service.assessments_of(session, resident_id=resident_id, scale=scale)
    return [report.assessment_public(a) for a in rows]


@api.post(
    "/residents/{resident_id}/assessments",
    response_model=AssessmentPublic,
    status_code=status.HTTP_201_CREATED,
)
async def create_assessment(
    resident_id: Key, body: AssessmentCreate, session: SessionDep, user: StaffUser
) -> AssessmentPublic:
    resident = await visible_resident(session, resident_id, user)
    with _unprocessable(ValueError):  # a scale's ScaleError is a ValueError too
        row = await service.record_assessment(
            session,
            resident=resident,
            scale=body.scale,
            items=body.items,
            context=body.context,
            actor=_actor(user),
            assessed_at=body.assessed_at,
            reason=body.reason,
            note=body.note,
        )
        await guidance_service.refresh(session, resident=resident)
    await session.commit()
    return report.assessment_public(row)


# --- plan and tasks -------------------------------------------------------------------------


async def _plan_public(session: AsyncSession, resident: Resident) -> PlanPublic:
    plan = await service.active_plan(session, resident_id=resident.id)
    tasks = await service.task_statuses(
        session, tasks=await service.tasks_of(session, resident_id=resident.id), now=now_s()
    )
    return PlanPublic(
        id=plan.id if plan else None,
        resident_id=resident.id,
        summary=plan.summary if plan else "",
        goals=[str(g) for g in plan.goals] if plan else [],
        staff_notes=plan.staff_notes if plan else None,
        created_by=plan.created_by if plan else None,
        updated_at=plan.updated_at if plan else None,
        tasks=[task_public(t) for t in tasks],
    )


@api.get("/residents/{resident_id}/plan", response_model=PlanPublic)
async def get_plan(resident_id: Key, session: SessionDep, user: StaffUser) -> PlanPublic:
    return await _plan_public(session, await visible_resident(session, resident_id, user))


@api.put("/residents/{resident_id}/plan", response_model=PlanPublic)
async def put_plan(
    resident_id: Key, body: PlanUpdate, session: SessionDep, user: StaffUser
) -> PlanPublic:
    resident = await visible_resident(session, resident_id, user)
    await service.save_plan(
        session,
        resident=resident,
        actor=_actor(user),
        summary=body.summary,
        goals=body.goals,
        staff_notes=body.staff_notes,
    )
    await session.commit()
    return await _plan_public(session, resident)


@api.post(
    "/residents/{resident_id}/plan/tasks",
    response_model=TaskPublic,
    status_code=status.HTTP_201_CREATED,
)
async def create_task(
    resident_id: Key, body: TaskCreate, session: SessionDep, user: StaffUser
) -> TaskPublic:
    resident = await visible_resident(session, resident_id, user)
    plan = await service.active_plan(session, resident_id=resident.id)
    if plan is None:
        plan = await service.save_plan(session, resident=resident, actor=_actor(user))
    with _unprocessable(service.CareRecordError):
        task = await service.add_task(
            session,
            plan=plan,
            actor=_actor(user),
            kind=body.kind,
            title=body.title,
            recurrence=body.recurrence,
            interval_h=body.interval_h,
            time_of_day=body.time_of_day,
            shift=body.shift,
            shifts=body.shifts,
            area={str(k): v for k, v in body.area.items()},
        )
    await session.commit()
    (st,) = await service.task_statuses(session, tasks=[task], now=now_s())
    return task_public(st)


@api.delete("/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_task(task_id: Id, session: SessionDep, user: StaffUser, bus: BusDep) -> Response:
    task = await _visible_row(session, CareTask, task_id, user)
    await service.end_task(session, task=task, actor=_actor(user))
    await overdue.clear(session, bus, task_id=task.id, at=now_s())
    await bus.commit(session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@api.post(
    "/tasks/{task_id}/complete",
    response_model=CompletionPublic,
    status_code=status.HTTP_201_CREATED,
)
async def complete_task(
    task_id: Id, body: CompletionCreate, session: SessionDep, user: StaffUser, bus: BusDep
) -> CompletionPublic:
    task = await _visible_row(session, CareTask, task_id, user)
    with _unprocessable(service.CareRecordError):
        done = await service.complete_task(
            session,
            task=task,
            actor=_actor(user),
            outcome=body.outcome,
            done_at=body.done_at,
            note=body.note,
        )
    await overdue.clear(session, bus, task_id=task.id, at=done.done_at)
    await bus.commit(session)
    return CompletionPublic.model_validate(done, from_attributes=True)


# --- guidance -------------------------------------------------------------------------------


@api.get("/residents/{resident_id}/guidance", response_model=list[GuidancePublic])
async def list_guidance(
    resident_id: Key, session: SessionDep, user: StaffUser
) -> list[GuidancePublic]:
    await visible_resident(session, resident_id, user)
    rows = (
        await session.scalars(
            select(Guidance)
            .where(Guidance.resident_id == resident_id)
            .order_by(Guidance.created_at.desc())
            .limit(200)
        )
    ).all()
    return [guidance_public(g) for g in rows]


@api.post("/residents/{resident_id}/guidance/refresh", response_model=list[GuidancePublic])
async def refresh_guidance(
    resident_id: Key, session: SessionDep, user: StaffUser
) -> list[GuidancePublic]:
    """Run the guidance rules now; returns the new suggestions."""
    resident = await visible_resident(session, resident_id, user)
    created = await guidance_service.refresh(session, resident=resident)
    await session.commit()
    return [guidance_public(g) for g in created]


@api.post("/guidance/{guidance_id}/decision", response_model=GuidanceDecided)
async def decide_guidance(
    guidance_id: Id, body: GuidanceDecision, session: SessionDep, user: StaffUser, request: Request
) -> GuidanceDecided:
    item = await _visible_row(session, Guidance, guidance_id, user)
    try:  # decided already: 409; a task it adds that the schedule refuses: 422
        with _unprocessable(service.CareRecordError):
            changes = await guidance_service.decide(
                session, item=item, accept=body.accept, actor=_actor(user), note=body.note
            )
    except guidance_service.GuidanceStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    await session.commit()
    if changes["resident"]:
        await _refresh_devices(request, session, item.resident_id)
    return GuidanceDecided(guidance=guidance_public(item), changes=changes)


async def _refresh_devices(request: Request, session: AsyncSession, resident_id: str) -> None:
    """The radar reads the resident's flags (bed-exit and wandering alerts) from the registry."""
    from devices.models import Device

    registry = getattr(request.app.state.hub, "registry", None)
    if registry is None:
        return
    for device_id in (
        await session.scalars(select(Device.id).where(Device.resident_id == resident_id))
    ).all():
        await registry.refresh(device_id)


# --- observations ---------------------------------------------------------------------------


@api.post(
    "/residents/{resident_id}/observations",
    response_model=ObservationPublic,
    status_code=status.HTTP_201_CREATED,
)
async def create_observation(
    resident_id: Key, body: ObservationCreate, session: SessionDep, user: StaffUser, bus: BusDep
) -> ObservationPublic:
    resident = await visible_resident(session, resident_id, user)
    with _unprocessable(service.CareRecordError):
        row = await service.record_observation(
            session,
            bus,
            resident=resident,
            actor=_actor(user),
            consciousness=body.consciousness,
            supplemental_oxygen=body.supplemental_oxygen,
            respiration_rate=body.respiration_rate,
            observed_at=body.observed_at,
            note=body.note,
        )
    await bus.commit(session)
    return ObservationPublic.model_validate(row, from_attributes=True)


@api.get("/residents/{resident_id}/observations", response_model=list[ObservationPublic])
async def list_observations(
    resident_id: Key, session: SessionDep, user: StaffUser
) -> list[ObservationPublic]:
    await visible_resident(session, resident_id, user)
    rows = await service.observations_of(session, resident_id=resident_id)
    return [ObservationPublic.model_validate(o, from_attributes=True) for o in rows]


# --- audit, family, report ------------------------------------------------------------------


@api.get("/residents/{resident_id}/audit", response_model=list[AuditPublic])
async def list_audit(resident_id: Key, session: SessionDep, user: StaffUser) -> list[AuditPublic]:
    await visible_resident(session, resident_id, user)
    rows = (
        await session.scalars(
            select(CareAudit)
            .where(CareAudit.resident_id == resident_id)
            .order_by(CareAudit.id.desc())
            .limit(500)
        )
    ).all()
    return [AuditPublic.model_validate(a, from_attributes=True) for a in rows]


@api.get("/family/{resident_id}", response_model=FamilyCareSummary)
async def family_summary(
    resident_id: Key,
    session: SessionDep,
    user: CurrentUser,
    days: Annotated[int, Query(ge=1, le=92)] = 31,
) -> FamilyCareSummary:
    """The plan's summary and the care delivered: what a relative may read (staff may too)."""
    resident = await visible_resident(session, resident_id, user)
    return await report.family_summary(session, resident=resident, now=now_s(), days=days)


# Years a care record can be about (a bounded year keeps the month's dates valid).
Month = Annotated[str, Query(pattern=r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$")]
Lang = Annotated[str, Query(pattern=r"^(zh-CN|en)$")]


@api.get("/residents/{resident_id}/report", response_model=MonthlyReport)
async def monthly_report(
    resident_id: Key, month: Month, session: SessionDep, user: StaffUser
) -> MonthlyReport:
    resident = await visible_resident(session, resident_id, user)
    return await report.monthly(session, resident=resident, month=month)


@api.get(
    "/residents/{resident_id}/report.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def monthly_report_pdf(
    resident_id: Key, month: Month, session: SessionDep, user: StaffUser, lang: Lang = "zh-CN"
) -> Response:
    resident = await visible_resident(session, resident_id, user)
    data = await report.monthly(session, resident=resident, month=month)
    body = pdf.render(data, lang=lang)
    name = f"care-report-{resident.id}-{month}-{lang}.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


async def care_page() -> FileResponse:
    return FileResponse(PAGE)


# What the assembly includes: the API and the caregivers' page.
router = APIRouter()
router.include_router(api)
router.add_api_route("/care", care_page, include_in_schema=False)
