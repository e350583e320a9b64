"""Request dependencies: the hub, a database session, the current user and role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from care_hub.hub import Hub
from care_hub.models import User
from care_hub.security import InvalidToken, read_token
from care_hub.service import linked_resident_ids

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def get_hub(request: Request) -> Hub:
    return request.app.state.hub


HubDep = Annotated[Hub, Depends(get_hub)]


async def get_session(hub: HubDep) -> AsyncIterator[AsyncSession]:
    async with hub.session_factory() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, with what their role lets them see."""

    user_id: int
    username: str
    name: str
    role: str
    facility_id: int | None
    resident_ids: frozenset[str]

    def can_see_resident(self, resident_id: str | None, facility_id: int | None) -> bool:
        if self.role == "admin":
            return True
        if self.role == "family":
            return resident_id is not None and resident_id in self.resident_ids
        return facility_id is not None and facility_id == self.facility_id


async def principal_from_token(hub: Hub, session: AsyncSession, token: str | None) -> Principal:
    unauthorised = HTTPException(
        status.HTTP_401_UNAUTHORIZED, "not authenticated", headers={"WWW-Authenticate": "Bearer"}
    )
    if not token:
        raise unauthorised
    try:
        claims = read_token(token, secret=hub.secret)
    except InvalidToken:
        raise unauthorised from None
    user = await session.get(User, claims.user_id)
    if user is None or not user.is_active:
        raise unauthorised
    residents = (
        await linked_resident_ids(session=session, user_id=user.id) if user.role == "family" else []
    )
    return Principal(
        user_id=user.id,
        username=user.username,
        name=user.name,
        role=user.role,
        facility_id=user.facility_id,
        resident_ids=frozenset(residents),
    )


async def get_principal(
    hub: HubDep, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    return await principal_from_token(hub, session, token)


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str):
    async def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs role {' or '.join(roles)}")
        return user

    return Depends(check)


AdminUser = Annotated[Principal, require_roles("admin")]
StaffUser = Annotated[Principal, require_roles("admin", "caregiver")]
