"""Users and family links: create, list, get, which residents a family member sees."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from care_hub.api.deps import HubDep
from care_hub.api.provisioning._common import (
    READ,
    WRITE,
    _facility_scope,
    _not_found,
    provisioning_errors,
    user_public,
)
from care_hub.api.schemas import (
    FamilyLinksUpdate,
    UserCreate,
    UserPublic,
)
from care_hub.kernel import accounts
from care_hub.kernel.deps import AdminUser, Principal, SessionDep, StaffUser
from care_hub.kernel.fields import Id, Text
from care_hub.kernel.models import Facility, FamilyLink, Resident, User

router = APIRouter(prefix="/api", tags=["provisioning"])


@router.post("/users", status_code=201, response_model=UserPublic, responses=WRITE)
async def create_user(body: UserCreate, session: SessionDep, _: AdminUser) -> UserPublic:
    if body.facility_id is not None and await session.get(Facility, body.facility_id) is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"facility {body.facility_id} does not exist")
    with provisioning_errors():
        u = await accounts.create_user(
            session=session,
            username=body.username,
            password=body.password,
            role=body.role,
            name=body.name,
            facility_id=body.facility_id,
            resident_ids=body.resident_ids,
        )
    await session.commit()
    return await user_public(session, u)


@router.get("/users", response_model=list[UserPublic], responses=READ)
async def list_users(
    session: SessionDep,
    user: StaffUser,
    facility_id: Id | None = None,
    role: Text | None = None,
    include_inactive: bool = False,
) -> list[UserPublic]:
    """Admins: everyone (or one facility's). Caregivers: the staff of their own facility."""
    query = select(User).order_by(User.id)
    scope = _facility_scope(user, facility_id)
    if scope is not None:
        query = query.where(User.facility_id == scope)
    if user.role != "admin":
        query = query.where(User.role.in_(("admin", "caregiver")))
    if role is not None:
        query = query.where(User.role == role)
    if not include_inactive:
        query = query.where(User.is_active.is_(True))
    return [await user_public(session, u) for u in (await session.scalars(query)).all()]


async def _user(session: Any, user_id: int, caller: Principal) -> User:
    u = await session.get(User, user_id)
    visible = u is not None and (
        caller.role == "admin"
        or (u.facility_id == caller.facility_id and u.role in ("admin", "caregiver"))
    )
    if u is None or not visible:
        raise _not_found(f"user {user_id}")
    return u


@router.get("/users/{user_id}", response_model=UserPublic, responses=READ)
async def get_user(user_id: Id, session: SessionDep, user: StaffUser) -> UserPublic:
    return await user_public(session, await _user(session, user_id, user))


@router.put("/users/{user_id}/residents", response_model=UserPublic, responses=WRITE)
async def set_family_links(
    user_id: Id, body: FamilyLinksUpdate, session: SessionDep, hub: HubDep, caller: AdminUser
) -> UserPublic:
    """The residents a family member sees (their alert-type choices kept where a link stays)."""
    u = await _user(session, user_id, caller)
    if u.role != "family":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "only family members")
    wanted = set(body.resident_ids)
    for resident_id in wanted:
        if await session.get(Resident, resident_id) is None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"resident {resident_id} does not exist")
    links = (await session.scalars(select(FamilyLink).where(FamilyLink.user_id == u.id))).all()
    removed = [link for link in links if link.resident_id not in wanted]
    for link in removed:
        await session.delete(link)
    for resident_id in wanted - {link.resident_id for link in links}:
        session.add(FamilyLink(user_id=u.id, resident_id=resident_id))
    if removed:
        # Tokens and sockets carry the old list: end them, so nobody keeps seeing a resident
        # they were unlinked from (they sign in again).
        await accounts.update_user(session=session, user=u, revoke_sessions=True)
    await session.commit()
    if removed:
        hub.bus.revoke_user(u.id)
    return await user_public(session, u)
