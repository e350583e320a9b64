"""Token issue and the caller's own profile."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from care_hub.api.deps import HubDep
from care_hub.kernel.accounts import authenticate
from care_hub.kernel.deps import CurrentUser, SessionDep
from care_hub.kernel.security import PasswordChecksBusy, issue_token

router = APIRouter(prefix="/api", tags=["auth"])


@router.post("/auth/token")
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
        user_id=user.id, role=user.role, secret=hub.secret, ttl_s=hub.settings.token_ttl_s
    )
    return {
        "access_token": access,
        "token_type": "bearer",
        "role": user.role,
        "user_id": user.id,
        "name": user.name,
    }


@router.get("/me")
async def me(user: CurrentUser) -> dict[str, Any]:
    return {
        "id": user.user_id,
        "username": user.username,
        "name": user.name,
        "role": user.role,
        "facility_id": user.facility_id,
        "resident_ids": sorted(user.resident_ids),
    }
