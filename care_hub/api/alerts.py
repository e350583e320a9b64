"""Alert listing and handling: thin views over `alerts.service`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from alerts import service
from alerts.calls import command_for
from alerts.models import Alert, AlertEvent
from alerts.policy import ALERT_TYPES, STATES
from care_hub.api.deps import CurrentUser, HubDep, Principal, SessionDep, StaffUser
from care_hub.schemas import AckRequest, ResolveRequest

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


def _scope(query: Any, user: Principal) -> Any:
    if user.role == "caregiver":
        return query.where(Alert.facility_id == user.facility_id)
    if user.role == "family":
        return query.where(Alert.resident_id.in_(user.resident_ids))
    return query


@router.get("")
async def list_alerts(
    session: SessionDep, user: CurrentUser,
    state: Annotated[list[str] | None, Query()] = None,
    type: Annotated[list[str] | None, Query()] = None,
    resident_id: str | None = None,
    since: float | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[dict[str, Any]]:
    for value, allowed, name in ((state, STATES, "state"), (type, ALERT_TYPES, "type")):
        bad = [v for v in value or [] if v not in allowed]
        if bad:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"unknown {name} {bad[0]!r}; one of {', '.join(allowed)}")
    query = _scope(select(Alert), user)
    if state:
        query = query.where(Alert.state.in_(state))
    if type:
        query = query.where(Alert.type.in_(type))
    if resident_id:
        query = query.where(Alert.resident_id == resident_id)
    if since is not None:
        query = query.where(Alert.raised_at >= since)
    rows = (await session.scalars(query.order_by(Alert.raised_at.desc()).limit(limit))).all()
    return [await service.public_alert(session, a) for a in rows]


async def _get_visible(session: Any, alert_id: int, user: Principal) -> Alert:
    alert = await session.get(Alert, alert_id)
    if alert is None or not user.can_see_resident(alert.resident_id, alert.facility_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id} not found")
    return alert  # type: ignore[no-any-return]


@router.get("/{alert_id}")
async def get_alert(alert_id: int, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    alert = await _get_visible(session, alert_id, user)
    out = await service.public_alert(session, alert)
    events = (await session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert_id)
                                    .order_by(AlertEvent.id))).all()
    out["history"] = [{"at": e.at, "action": e.action, "actor": e.actor, "source": e.source,
                       "note": e.note, "data": e.data} for e in events]
    return out


@router.post("/{alert_id}/ack")
async def acknowledge(alert_id: int, session: SessionDep, hub: HubDep, user: StaffUser,
                      body: AckRequest | None = None) -> dict[str, Any]:
    alert = await _get_visible(session, alert_id, user)
    try:
        changed = await service.acknowledge(session, hub.bus, alert, actor=user.username, source="api",
                                            note=body.note if body else None)
    except service.AlertStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    await hub.bus.commit(session)
    if changed and (cmd := command_for(alert, "call_acknowledged")):
        hub.send_command(*cmd)
    return await service.public_alert(session, alert)


@router.post("/{alert_id}/resolve")
async def resolve(alert_id: int, session: SessionDep, hub: HubDep, user: StaffUser,
                  body: ResolveRequest | None = None) -> dict[str, Any]:
    alert = await _get_visible(session, alert_id, user)
    body = body or ResolveRequest()
    changed = await service.resolve(session, hub.bus, alert, actor=user.username, source="api",
                                    note=body.note, outcome=body.outcome, answers=body.answers)
    await hub.bus.commit(session)
    if changed and (cmd := command_for(alert, "call_closed")):
        hub.send_command(*cmd)
    return await service.public_alert(session, alert)
