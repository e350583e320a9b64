"""Request dependencies every router may use: a database session, the current user, role checks.

They need only what `Services` names from the running app (`app.state.hub`), so the family portal
and the API share them without importing the assembly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from care_hub.kernel.accounts import linked_resident_ids
from care_hub.kernel.models import User
from care_hub.kernel.security import InvalidToken, read_token

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


class Services(Protocol):
    """What request dependencies need of the running hub."""

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def secret(self) -> str: ...


def get_services(request: Request) -> Services:
    return request.app.state.hub


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(hub: ServicesDep) -> AsyncIterator[AsyncSession]:
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


async def principal_from_token(hub: Services, session: AsyncSession, token: str | None) -> Principal:
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
    hub: ServicesDep, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
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
