"""Wall screens (kiosk TVs): a screen's own sign-in, and acknowledging at the TV by person.

A screen is a user of role `screen` bound to one facility, created by an admin. Its token lives
long (a TV must not go dark after a nurse's 12 h session) and is revoked like any user's: a
deactivation or `PATCH /api/users/{id}` with `revoke_sessions` bumps its token version and
closes its sockets. A screen sees what a caregiver of its facility sees; it cannot act on its
own: at the TV a person picks their name from the on-duty roster, and the alert records them.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from alerts import routing, service
from alerts.calls import command_for
from alerts.models import Alert, CoverageAssignment
from alerts.policy import shift_at
from alerts.schemas import FallAnswers, Outcome
from care_hub.api.deps import HubDep
from care_hub.kernel.db import now_s
from care_hub.kernel.deps import AdminUser, CurrentUser, Principal, SessionDep
from care_hub.kernel.fields import ApiModel, Id, Text
from care_hub.kernel.models import Facility, User
from care_hub.kernel.security import hash_password_off_loop, issue_token

router = APIRouter(prefix="/api/screens", tags=["screens"])

SCREEN_ROLE = "screen"
# A year: a TV on a ward wall is signed in once, at installation, and revoked when replaced.
SCREEN_TOKEN_TTL_S = 365 * 86_400
# People who may be named as the one who acknowledged or resolved at a screen.
STAFF_ROLES = ("caregiver", "admin")


def require_screen_or_staff(user: CurrentUser) -> Principal:
    if user.role not in (SCREEN_ROLE, *STAFF_ROLES):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "needs a wall screen or staff")
    return user


ScreenOrStaff = Annotated[Principal, Depends(require_screen_or_staff)]


class ScreenCreate(ApiModel):
    facility_id: Id
    name: Text = Field(min_length=1, max_length=200, examples=["2F nursing station"])
    ttl_s: int = Field(default=SCREEN_TOKEN_TTL_S, ge=60, le=5 * 365 * 86_400)


class TokenRequest(ApiModel):
    ttl_s: int = Field(default=SCREEN_TOKEN_TTL_S, ge=60, le=5 * 365 * 86_400)


class ScreenPublic(BaseModel):
    id: int
    username: str
    name: str
    facility_id: int | None
    active: bool


class ScreenToken(ScreenPublic):
    access_token: str
    expires_at: float


class RosterPerson(BaseModel):
    id: int
    username: str
    name: str
    duty: str | None = Field(
        description="caregiver or charge_nurse on this shift; None: off roster"
    )


class Roster(BaseModel):
    shift: str
    people: list[RosterPerson]


class ScreenAck(ApiModel):
    user_id: Id = Field(description="the person acknowledging, picked at the screen")


class ScreenResolve(ApiModel):
    user_id: Id
    note: Text | None = Field(default=None, max_length=2000)
    outcome: Outcome | None = None
    answers: FallAnswers | None = None


def _public(u: User) -> ScreenPublic:
    return ScreenPublic(
        id=u.id, username=u.username, name=u.name, facility_id=u.facility_id, active=u.is_active
    )


def _token(u: User, hub: Any, ttl_s: int) -> ScreenToken:
    # Bound to the user's token version where the hub has one (revocation ends it).
    version: dict[str, Any] = (
        {"token_version": getattr(u, "token_version", 0) or 0}
        if hasattr(u, "token_version")
        else {}
    )
    token = issue_token(user_id=u.id, role=u.role, secret=hub.secret, ttl_s=ttl_s, **version)
    return ScreenToken(
        **_public(u).model_dump(), access_token=token, expires_at=time.time() + ttl_s
    )


@router.post("", status_code=201, response_model=ScreenToken)
async def create_screen(
    body: ScreenCreate, session: SessionDep, hub: HubDep, _: AdminUser
) -> ScreenToken:
    """A screen of a facility and its token: open `/wall?floor=..#screen=<token>` on the TV once."""
    if await session.get(Facility, body.facility_id) is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"facility {body.facility_id} does not exist"
        )
    user = User(
        username=f"screen-{body.facility_id}-{secrets.token_hex(4)}",
        name=body.name,
        # Nobody signs in with a password as a screen: a random one nobody knows.
        password_hash=await hash_password_off_loop(secrets.token_urlsafe(32)),
        role=SCREEN_ROLE,
        facility_id=body.facility_id,
    )
    session.add(user)
    await session.commit()
    return _token(user, hub, body.ttl_s)


@router.get("", response_model=list[ScreenPublic])
async def list_screens(session: SessionDep, _: AdminUser) -> list[ScreenPublic]:
    rows = await session.scalars(select(User).where(User.role == SCREEN_ROLE).order_by(User.id))
    return [_public(u) for u in rows.all()]


@router.post("/{screen_id}/token", response_model=ScreenToken)
async def new_screen_token(
    screen_id: Id, session: SessionDep, hub: HubDep, _: AdminUser, body: TokenRequest | None = None
) -> ScreenToken:
    """A fresh token for a screen (e.g. a replaced TV); revoke old ones with PATCH /api/users."""
    user = await session.get(User, screen_id)
    if user is None or user.role != SCREEN_ROLE or not user.is_active:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"screen {screen_id} not found")
    return _token(user, hub, (body or TokenRequest()).ttl_s)


async def _on_duty(session: Any, facility_id: int) -> tuple[str, list[RosterPerson]]:
    settings = await routing.facility_settings(session, facility_id)
    shift = shift_at(now_s(), settings)
    rows = (
        await session.scalars(
            select(CoverageAssignment).where(
                CoverageAssignment.facility_id == facility_id,
                CoverageAssignment.shift == shift,
                CoverageAssignment.active.is_(True),
            )
        )
    ).all()
    duty = {r.user_id: r.duty for r in rows}
    staff = (
        await session.scalars(
            select(User)
            .where(User.role.in_(STAFF_ROLES), User.is_active.is_(True))
            .where((User.facility_id == facility_id) | (User.facility_id.is_(None)))
            .order_by(User.name)
        )
    ).all()
    # Those on this shift first; the rest of the facility's staff after (a nurse covering).
    people = [
        RosterPerson(id=u.id, username=u.username, name=u.name, duty=duty.get(u.id))
        for u in staff
        if u.role == "caregiver" or u.id in duty
    ]
    people.sort(key=lambda p: (p.duty is None, p.name))
    return shift, people


@router.get("/roster", response_model=Roster)
async def roster(session: SessionDep, user: ScreenOrStaff, facility_id: Id | None = None) -> Roster:
    """Who may be named at this screen: the shift's roster first, then the facility's caregivers."""
    fid = user.facility_id if user.role != "admin" else facility_id
    if fid is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "facility_id is needed")
    shift, people = await _on_duty(session, fid)
    return Roster(shift=shift, people=people)


async def _alert_and_person(
    session: Any, alert_id: int, person_id: int, user: Principal
) -> tuple[Alert, User]:
    alert = await session.get(Alert, alert_id)
    if alert is None or not user.can_see_resident(alert.resident_id, alert.facility_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id} not found")
    person = await session.get(User, person_id)
    if (
        person is None
        or not person.is_active
        or person.role not in STAFF_ROLES
        or (person.facility_id is not None and person.facility_id != alert.facility_id)
    ):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"user {person_id} is not staff of this home"
        )
    return alert, person


def _where(request: Request, user: Principal) -> str:
    client = request.client.host if request.client else "?"
    return f"{client} ({user.name or user.username})"


@router.post("/alerts/{alert_id}/ack")
async def acknowledge_at_screen(
    alert_id: Id,
    body: ScreenAck,
    request: Request,
    session: SessionDep,
    hub: HubDep,
    user: ScreenOrStaff,
) -> dict[str, Any]:
    """Acknowledge in the name of the person at the screen; a call's button lights (help coming)."""
    alert, person = await _alert_and_person(session, alert_id, body.user_id, user)
    try:
        changed = await service.acknowledge(
            session,
            hub.bus,
            alert,
            actor=person.username,
            source="screen",
            note=None,
            origin=_where(request, user),
        )
    except service.AlertStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    await hub.bus.commit(session)
    if changed and (cmd := command_for(alert, "call_acknowledged")):
        hub.send_command(*cmd)
    return await service.public_alert(session, alert)


@router.post("/alerts/{alert_id}/resolve")
async def resolve_at_screen(
    alert_id: Id,
    body: ScreenResolve,
    request: Request,
    session: SessionDep,
    hub: HubDep,
    user: ScreenOrStaff,
) -> dict[str, Any]:
    alert, person = await _alert_and_person(session, alert_id, body.user_id, user)
    changed = await service.resolve(
        session,
        hub.bus,
        alert,
        actor=person.username,
        source="screen",
        note=body.note,
        outcome=body.outcome,
        answers=body.answers.model_dump(exclude_none=True) if body.answers else None,
        origin=_where(request, user),
    )
    await hub.bus.commit(session)
    if changed and (cmd := command_for(alert, "call_closed")):
        hub.send_command(*cmd)
    return await service.public_alert(session, alert)
