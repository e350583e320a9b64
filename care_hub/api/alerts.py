"""Alert listing and handling, the coverage roster and response-time reports: thin views over
`alerts.service`, `alerts.routing` and `alerts.report`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlalchemy import or_, select

from alerts import report, routing, service
from alerts.calls import command_for
from alerts.escalation import timeout_defaults
from alerts.models import Alert, AlertEvent, CoverageAssignment
from alerts.policy import ALERT_TYPES, STATES, shift_at
from alerts.schemas import (
    AckRequest,
    AssignRequest,
    CommentCreate,
    CoverageCreate,
    ResolveRequest,
    SnoozeRequest,
)
from care_hub.api.deps import HubDep
from care_hub.api.public import (
    AlertPublic,
    AlertWithHistoryPublic,
    CommentPublic,
    CoveragePublic,
    ResponseTimesPublic,
    RosterPublic,
)
from care_hub.kernel.db import now_s
from care_hub.kernel.deps import AdminUser, CurrentUser, Principal, SessionDep, StaffUser
from care_hub.kernel.fields import Id, Key, Seconds, Text
from care_hub.kernel.models import Facility, User
from care_hub.kernel.responses import errors

alerts_router = APIRouter(prefix="/api/alerts", tags=["alerts"])
coverage_router = APIRouter(prefix="/api/coverage", tags=["coverage"])
reports_router = APIRouter(prefix="/api/reports", tags=["reports"])
# main.py includes `router`; the three resources hang off it.
router = APIRouter()


async def _scope(session: Any, query: Any, user: Principal) -> Any:
    if user.role in ("caregiver", "screen"):  # a wall screen sees what its facility's staff see
        return query.where(Alert.facility_id == user.facility_id)
    if user.role == "family":
        # Only their relatives' alerts, and only of the types they chose for each.
        chosen = routing.chosen_types(await routing.family_links(session, user.user_id))
        clauses = [
            Alert.resident_id == rid
            if types is None
            else (Alert.resident_id == rid) & Alert.type.in_(sorted(types))
            for rid, types in chosen.items()
            if rid in user.resident_ids
        ]
        return query.where(or_(*clauses)) if clauses else query.where(Alert.id < 0)
    return query


async def _shape(session: Any, alert: Alert, user: Principal) -> dict[str, Any]:
    out = await service.public_alert(session, alert)
    return routing.family_view(out) if user.role == "family" else out


def _origin(request: Request) -> str | None:
    return request.client.host if request.client else None


@alerts_router.get(
    "",
    response_model=list[AlertPublic],
    # A family member's subset stays a subset: fields their view leaves out are not added.
    response_model_exclude_unset=True,
    responses=errors(401, 422),
)
async def list_alerts(
    session: SessionDep,
    user: CurrentUser,
    state: Annotated[list[Text] | None, Query()] = None,
    type: Annotated[list[Text] | None, Query()] = None,
    resident_id: Key | None = None,
    since: Seconds | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[dict[str, Any]]:
    for value, allowed, name in ((state, STATES, "state"), (type, ALERT_TYPES, "type")):
        bad = [v for v in value or [] if v not in allowed]
        if bad:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"unknown {name} {bad[0]!r}; one of {', '.join(allowed)}",
            )
    query = await _scope(session, select(Alert), user)
    if state:
        query = query.where(Alert.state.in_(state))
    if type:
        query = query.where(Alert.type.in_(type))
    if resident_id:
        query = query.where(Alert.resident_id == resident_id)
    if since is not None:
        query = query.where(Alert.raised_at >= since)
    rows = (await session.scalars(query.order_by(Alert.raised_at.desc()).limit(limit))).all()
    return [await _shape(session, a, user) for a in rows]


async def _get_visible(session: Any, alert_id: int, user: Principal) -> Alert:
    alert = await session.get(Alert, alert_id)
    if alert is None or not user.can_see_resident(alert.resident_id, alert.facility_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id} not found")
    if user.role == "family":
        visible = await session.scalar(
            (await _scope(session, select(Alert.id), user)).where(Alert.id == alert_id)
        )
        if visible is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id} not found")
    return alert


# What a family member sees of the audit trail: when things happened, not who or why.
FAMILY_HISTORY = ("raised", "acknowledged", "resolved")


@alerts_router.get(
    "/{alert_id}", response_model=AlertWithHistoryPublic, responses=errors(401, 404, 422)
)
async def get_alert(alert_id: Id, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """One alert with its audit trail (who, when, from where, note, outcome) and comments."""
    alert = await _get_visible(session, alert_id, user)
    out = await _shape(session, alert, user)
    events = (
        await session.scalars(
            select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
        )
    ).all()
    if user.role == "family":
        out["history"] = [
            {"at": e.at, "action": e.action} for e in events if e.action in FAMILY_HISTORY
        ]
    else:
        out["history"] = [
            {
                "at": e.at,
                "action": e.action,
                "actor": e.actor,
                "source": e.source,
                "note": e.note,
                "data": e.data,
            }
            for e in events
        ]
    return out


@alerts_router.post(
    "/{alert_id}/ack", response_model=AlertPublic, responses=errors(400, 401, 403, 404, 409, 422)
)
async def acknowledge(
    alert_id: Id,
    request: Request,
    session: SessionDep,
    hub: HubDep,
    user: StaffUser,
    body: AckRequest | None = None,
) -> dict[str, Any]:
    alert = await _get_visible(session, alert_id, user)
    try:
        changed = await service.acknowledge(
            session,
            hub.bus,
            alert,
            actor=user.username,
            source="api",
            note=body.note if body else None,
            origin=_origin(request),
        )
    except service.AlertStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    await hub.bus.commit(session)
    if changed and (cmd := command_for(alert, "call_acknowledged")):
        hub.send_command(*cmd)
    return await service.public_alert(session, alert)


@alerts_router.post(
    "/{alert_id}/resolve",
    response_model=AlertPublic,
    responses=errors(400, 401, 403, 404, 409, 422),
)
async def resolve(
    alert_id: Id,
    request: Request,
    session: SessionDep,
    hub: HubDep,
    user: StaffUser,
    body: ResolveRequest | None = None,
) -> dict[str, Any]:
    """Close an alert with an outcome; a fall takes the three answers (on_floor, was_resident,
    unintentional), from which the outcome follows when none is given."""
    alert = await _get_visible(session, alert_id, user)
    body = body or ResolveRequest()
    answers = body.answers.model_dump(exclude_none=True) if body.answers else None
    changed = await service.resolve(
        session,
        hub.bus,
        alert,
        actor=user.username,
        source="api",
        note=body.note,
        outcome=body.outcome,
        answers=answers,
        origin=_origin(request),
    )
    await hub.bus.commit(session)
    if changed and (cmd := command_for(alert, "call_closed")):
        hub.send_command(*cmd)
    return await service.public_alert(session, alert)


@alerts_router.post(
    "/{alert_id}/assign", response_model=AlertPublic, responses=errors(400, 401, 403, 404, 409, 422)
)
async def assign(
    alert_id: Id,
    body: AssignRequest,
    request: Request,
    session: SessionDep,
    hub: HubDep,
    user: StaffUser,
) -> dict[str, Any]:
    alert = await _get_visible(session, alert_id, user)
    try:
        await service.assign(
            session,
            hub.bus,
            alert,
            user_id=body.user_id,
            actor=user.username,
            note=body.note,
            origin=_origin(request),
        )
    except service.AlertStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    await hub.bus.commit(session)
    return await service.public_alert(session, alert)


@alerts_router.post(
    "/{alert_id}/comments",
    status_code=status.HTTP_201_CREATED,
    response_model=CommentPublic,
    responses=errors(400, 401, 403, 404, 422),
)
async def add_comment(
    alert_id: Id, body: CommentCreate, session: SessionDep, hub: HubDep, user: StaffUser
) -> dict[str, Any]:
    alert = await _get_visible(session, alert_id, user)
    row = await service.comment(session, hub.bus, alert, actor=user.username, text=body.text)
    await hub.bus.commit(session)
    return {"id": row.id, "alert_id": alert_id, "at": row.at, "actor": row.actor, "text": row.note}


@alerts_router.get(
    "/{alert_id}/comments",
    response_model=list[CommentPublic],
    responses=errors(401, 403, 404, 422),
)
async def list_comments(alert_id: Id, session: SessionDep, user: StaffUser) -> list[dict[str, Any]]:
    await _get_visible(session, alert_id, user)
    rows = (
        await session.scalars(
            select(AlertEvent)
            .where(AlertEvent.alert_id == alert_id, AlertEvent.action == "comment")
            .order_by(AlertEvent.id)
        )
    ).all()
    return [
        {"id": r.id, "alert_id": alert_id, "at": r.at, "actor": r.actor, "text": r.note}
        for r in rows
    ]


@alerts_router.post(
    "/{alert_id}/snooze", response_model=AlertPublic, responses=errors(400, 401, 403, 404, 409, 422)
)
async def snooze(
    alert_id: Id,
    body: SnoozeRequest,
    request: Request,
    session: SessionDep,
    hub: HubDep,
    user: StaffUser,
) -> dict[str, Any]:
    """Silence a nuisance alert (offline device, low battery, inactivity, bed exit, vitals) for at
    most 30 minutes; reminders and escalation resume when it ends. Audited."""
    alert = await _get_visible(session, alert_id, user)
    try:
        await service.snooze(
            session,
            hub.bus,
            alert,
            seconds=body.seconds,
            actor=user.username,
            note=body.note,
            timeout_defaults=timeout_defaults(hub.settings.alerts),
            origin=_origin(request),
        )
    except service.AlertStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    await hub.bus.commit(session)
    return await service.public_alert(session, alert)


def _coverage_public(row: CoverageAssignment) -> dict[str, Any]:
    return {
        "id": row.id,
        "facility_id": row.facility_id,
        "user_id": row.user_id,
        "shift": row.shift,
        "duty": row.duty,
        "floors": row.floors,
        "wings": row.wings,
        "resident_ids": row.resident_ids,
        "active": row.active,
    }


@coverage_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CoveragePublic,
    responses=errors(400, 401, 403, 422),
)
async def create_coverage(
    body: CoverageCreate, session: SessionDep, _: AdminUser
) -> dict[str, Any]:
    """Put a caregiver (or charge nurse) on a shift for an area: floors, wings or residents."""
    user = await session.get(User, body.user_id)
    if user is None or user.role not in ("caregiver", "admin"):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"user {body.user_id} is not staff"
        )
    if await session.get(Facility, body.facility_id) is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"facility {body.facility_id} does not exist"
        )
    row = CoverageAssignment(**body.model_dump(), active=True)
    session.add(row)
    await session.commit()
    return _coverage_public(row)


@coverage_router.get("", response_model=RosterPublic, responses=errors(401, 403, 422))
async def list_coverage(
    session: SessionDep, user: StaffUser, facility_id: Id | None = None
) -> dict[str, Any]:
    """The roster, with the shift running now at the facility."""
    if user.role == "caregiver":
        facility_id = user.facility_id
    query = select(CoverageAssignment).where(CoverageAssignment.active.is_(True))
    if facility_id is not None:
        query = query.where(CoverageAssignment.facility_id == facility_id)
    rows = (await session.scalars(query.order_by(CoverageAssignment.id))).all()
    settings = await routing.facility_settings(session, facility_id)
    return {
        "current_shift": shift_at(now_s(), settings) if facility_id is not None else None,
        "assignments": [_coverage_public(r) for r in rows],
    }


@coverage_router.delete(
    "/{coverage_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404, 422)
)
async def delete_coverage(coverage_id: Id, session: SessionDep, _: AdminUser) -> None:
    row = await session.get(CoverageAssignment, coverage_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"coverage {coverage_id} not found")
    row.active = False
    await session.commit()


@reports_router.get(
    "/response-times", response_model=ResponseTimesPublic, responses=errors(401, 403, 422)
)
async def response_times(
    session: SessionDep,
    user: StaffUser,
    facility_id: Id | None = None,
    from_: Annotated[Seconds | None, Query(alias="from")] = None,
    to: Seconds | None = None,
) -> dict[str, Any]:
    """Median and p90 of raise -> acknowledge, acknowledge -> presence and presence -> resolve per
    facility, shift and type, and false-alarm rates (definitions in the response)."""
    if user.role == "caregiver":
        facility_id = user.facility_id
    until = to if to is not None else now_s()
    since = from_ if from_ is not None else until - 30 * 86_400
    return await report.build_report(session, since=since, until=until, facility_id=facility_id)


router.include_router(alerts_router)
router.include_router(coverage_router)
router.include_router(reports_router)
