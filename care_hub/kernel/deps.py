"""Request dependencies every router may use: a database session, the current user, role checks.

They need only what `Services` names from the running app (`app.state.hub`), so the family portal
and the API share them without importing the assembly.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from care_hub.kernel.accounts import linked_resident_ids
from care_hub.kernel.models import User
from care_hub.kernel.security import (
    DEVICE_ROLES,
    InvalidToken,
    UsedTickets,
    read_ticket,
    read_token,
)

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
    # The session behind this request or socket: the token's version and expiry (epoch s).
    token_version: int = 0
    session_expires_at: float | None = None

    def can_see_resident(self, resident_id: str | None, facility_id: int | None) -> bool:
        if self.role == "admin":
            return True
        if self.role == "family":
            return resident_id is not None and resident_id in self.resident_ids
        return facility_id is not None and facility_id == self.facility_id


def _unauthorised() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, "not authenticated", headers={"WWW-Authenticate": "Bearer"}
    )


async def principal_for_session(
    session: AsyncSession, *, user_id: int, token_version: int, expires_at: float | None
) -> Principal | None:
    """The principal of a token or ticket still valid: an active user whose token_version is
    the one it was issued with (a password change, deactivation or revocation bumps it)."""
    user = await session.get(User, user_id, populate_existing=True)
    if user is None or not user.is_active or user.token_version != token_version:
        return None
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
        token_version=user.token_version,
        session_expires_at=expires_at,
    )


async def principal_from_token(
    hub: Services, session: AsyncSession, token: str | None
) -> Principal:
    if not token:
        raise _unauthorised()
    try:
        claims = read_token(token, secret=hub.secret)
    except InvalidToken:
        raise _unauthorised() from None
    principal = await principal_for_session(
        session,
        user_id=claims.user_id,
        token_version=claims.token_version,
        expires_at=claims.expires_at,
    )
    if principal is None:
        raise _unauthorised()
    return principal


async def principal_for_socket(
    hub: Services,
    session: AsyncSession,
    *,
    token: str | None,
    ticket: str | None,
    used_tickets: UsedTickets,
) -> Principal | None:
    """The principal of a websocket: a one-time `ticket` (preferred) or a bearer `token`."""
    if ticket:
        try:
            claims = read_ticket(ticket, secret=hub.secret)
        except InvalidToken:
            return None
        if not used_tickets.redeem(claims.ticket_id, expires_at=time.time() + 60):
            return None  # single use
        return await principal_for_session(
            session,
            user_id=claims.user_id,
            token_version=claims.token_version,
            expires_at=claims.session_expires_at,
        )
    try:
        return await principal_from_token(hub, session, token)
    except HTTPException:
        return None


async def get_any_principal(
    hub: ServicesDep, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    """Any signed-in caller, device roles included: only for routes made for those devices."""
    return await principal_from_token(hub, session, token)


async def get_principal(
    hub: ServicesDep, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    principal = await principal_from_token(hub, session, token)
    # A device bound to one resident (a resident's video screen) may use only the routes made
    # for it (`AnyPrincipal`): elsewhere its role is unknown and must not fall into staff scope.
    if principal.role in DEVICE_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this device may use only its own page")
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]
AnyPrincipal = Annotated[Principal, Depends(get_any_principal)]


def require_roles(*roles: str):
    async def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs role {' or '.join(roles)}")
        return user

    return Depends(check)


AdminUser = Annotated[Principal, require_roles("admin")]
StaffUser = Annotated[Principal, require_roles("admin", "caregiver")]
