"""Token issue, websocket tickets, the caller's own profile, and ending sessions (PATCH a user)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from care_hub.api.deps import HubDep
from care_hub.api.public import MePublic, TokenPublic
from care_hub.kernel import accounts
from care_hub.kernel.accounts import authenticate
from care_hub.kernel.deps import CurrentUser, SessionDep
from care_hub.kernel.fields import ApiModel, Id, Text
from care_hub.kernel.models import User
from care_hub.kernel.responses import ErrorPublic, errors
from care_hub.kernel.security import (
    PasswordChecksBusy,
    TokenClaims,
    issue_ticket,
    issue_token,
    verify_password_off_loop,
)

router = APIRouter(prefix="/api", tags=["auth"])


@router.post("/auth/token", response_model=TokenPublic, responses=errors(400, 401, 422, 429, 503))
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    hub: HubDep,
    session: SessionDep,
    request: Request,
) -> dict[str, Any]:
    address = request.client.host if request.client else "?"
    wait_s = hub.login_throttle.retry_after(form.username, address)
    if wait_s > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed sign-ins; try again later",
            headers={"Retry-After": str(int(wait_s) + 1)},
        )
    # Counted as failed until proven right, so concurrent guesses cannot all pass the check above.
    hub.login_throttle.failed(form.username, address)
    try:
        user = await authenticate(session=session, username=form.username, password=form.password)
    except PasswordChecksBusy:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "too many sign-ins at once; try again shortly",
            headers={"Retry-After": "1"},
        ) from None
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    hub.login_throttle.succeeded(form.username, address)
    access = issue_token(
        user_id=user.id,
        role=user.role,
        secret=hub.secret,
        ttl_s=hub.settings.token_ttl_s,
        token_version=user.token_version,
    )
    return {
        "access_token": access,
        "token_type": "bearer",
        "role": user.role,
        "user_id": user.id,
        "name": user.name,
    }


@router.get("/me", response_model=MePublic, responses=errors(401))
async def me(user: CurrentUser) -> dict[str, Any]:
    return {
        "id": user.user_id,
        "username": user.username,
        "name": user.name,
        "role": user.role,
        "facility_id": user.facility_id,
        "resident_ids": sorted(user.resident_ids),
    }


class WsTicket(BaseModel):
    ticket: str = Field(description="one use, for /ws/events?ticket=<ticket>")
    expires_in: int = Field(description="seconds left to open the socket with it")


@router.post("/auth/ws-ticket", response_model=WsTicket, responses=errors(401))
async def ws_ticket(user: CurrentUser, hub: HubDep) -> WsTicket:
    """A one-time ticket (30 s) to open `/ws/events?ticket=...`: the bearer token itself never
    goes into a URL (URLs end up in access logs and proxies). The socket it opens is bound to
    this user and token version, and closes (4401) when the token expires or is revoked."""
    expires_at = user.session_expires_at
    if expires_at is None:  # a principal not from a token (never, over HTTP)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not authenticated")
    claims = TokenClaims(
        user_id=user.user_id,
        role=user.role,
        expires_at=expires_at,
        token_version=user.token_version,
    )
    ticket, ticket_expires_at = issue_ticket(claims, secret=hub.secret)
    return WsTicket(ticket=ticket, expires_in=max(0, int(ticket_expires_at - time.time())))


class UserUpdate(ApiModel):
    """Admin: `active` and `password` of anyone. Anyone: their own `password` (with
    `current_password`) and `revoke_sessions`. A new password, deactivation and
    `revoke_sessions` end every token and open socket of that user (4401)."""

    active: bool | None = None
    password: Text | None = Field(default=None, min_length=8, max_length=200)
    current_password: Text | None = Field(default=None, max_length=200)
    revoke_sessions: bool = False


class UserUpdated(BaseModel):
    id: int
    username: str
    name: str
    role: str
    facility_id: int | None
    active: bool
    # A fresh token when the caller ended their own sessions (new password, revoke_sessions).
    access_token: str | None = None


@router.patch(
    "/users/{user_id}",
    response_model=UserUpdated,
    tags=["users"],
    responses={
        **errors(400, 401, 404, 422, 503),
        403: {"model": ErrorPublic, "description": "not admin, nor your own password"},
    },
)
async def update_user(
    user_id: Id, body: UserUpdate, caller: CurrentUser, session: SessionDep, hub: HubDep
) -> UserUpdated:
    is_admin = caller.role == "admin"
    own = caller.user_id == user_id
    if not is_admin and (not own or body.active is not None):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "needs role admin")
    user = await session.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"user {user_id} not found")
    if own and body.active is False:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "you cannot deactivate yourself")
    if own and body.password is not None:
        # A stolen token alone must not be enough to take the account over.
        try:
            ok = body.current_password is not None and await verify_password_off_loop(
                user.password_hash, body.current_password
            )
        except PasswordChecksBusy:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "busy; try again shortly"
            ) from None
        if not ok:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "current password is wrong")
    try:
        revoked = await accounts.update_user(
            session=session,
            user=user,
            active=body.active,
            password=body.password,
            revoke_sessions=body.revoke_sessions,
        )
    except accounts.ProvisioningError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    await session.commit()
    fresh = None
    if revoked:
        hub.bus.revoke_user(user.id)
        if own and user.is_active:
            fresh = issue_token(
                user_id=user.id,
                role=user.role,
                secret=hub.secret,
                ttl_s=hub.settings.token_ttl_s,
                token_version=user.token_version,
            )
    return UserUpdated(
        id=user.id,
        username=user.username,
        name=user.name,
        role=user.role,
        facility_id=user.facility_id,
        active=user.is_active,
        access_token=fresh,
    )
