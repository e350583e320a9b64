"""Token issue and the caller's own profile."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from care_hub.api.deps import CurrentUser, HubDep, SessionDep
from care_hub.security import issue_token
from care_hub.service import authenticate

router = APIRouter(prefix="/api", tags=["auth"])


@router.post("/auth/token")
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], hub: HubDep, session: SessionDep
) -> dict[str, Any]:
    user = await authenticate(session=session, username=form.username, password=form.password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
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
