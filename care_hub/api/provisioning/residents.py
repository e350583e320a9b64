"""Residents: admit, list, edit, discharge (records kept, devices unbound with history), readmit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from care_hub.api.deps import HubDep
from care_hub.api.provisioning._common import (
    DISCHARGE_KEYS,
    READ,
    WRITE,
    _device,
    _discharged,
    _not_found,
    provisioning_errors,
    resident_public,
)
from care_hub.api.responses import errors
from care_hub.api.schemas import (
    ResidentCreate,
    ResidentDischarge,
    ResidentPublic,
    ResidentUpdate,
)
from care_hub.kernel import accounts
from care_hub.kernel.db import now_s
from care_hub.kernel.deps import AdminUser, CurrentUser, Principal, SessionDep
from care_hub.kernel.fields import Id, Key
from care_hub.kernel.models import Resident
from devices import service as device_service
from devices.models import Device

router = APIRouter(prefix="/api", tags=["provisioning"])


@router.post("/residents", status_code=201, response_model=ResidentPublic, responses=WRITE)
async def create_resident(
    body: ResidentCreate, session: SessionDep, _: AdminUser
) -> ResidentPublic:
    """Admit a resident (to a room of their facility, or none yet)."""
    with provisioning_errors():
        r = await accounts.create_resident(
            session=session,
            resident_id=body.id,
            facility_id=body.facility_id,
            name=body.name,
            room_id=body.room_id,
            lives_alone=body.lives_alone,
            at_risk_wandering=body.at_risk_wandering,
            hypercapnic=body.hypercapnic,
            settings=body.settings,
        )
    await session.commit()
    return await resident_public(session, r)


@router.get("/residents", response_model=list[ResidentPublic], responses=errors(401, 422))
async def list_residents(
    session: SessionDep,
    user: CurrentUser,
    include_discharged: bool = False,
    facility_id: Id | None = None,
) -> list[ResidentPublic]:
    query = select(Resident).order_by(Resident.id)
    if user.role == "family":
        query = query.where(Resident.id.in_(user.resident_ids))
    elif user.role != "admin":  # caregivers and wall screens: their facility
        query = query.where(Resident.facility_id == user.facility_id)
    elif facility_id is not None:
        query = query.where(Resident.facility_id == facility_id)
    rows = [await resident_public(session, r) for r in (await session.scalars(query)).all()]
    # Discharged residents stay in the records (their alerts, trail), not on screens.
    return [r for r in rows if r.discharged_at is None or include_discharged]


async def _resident(session: Any, resident_id: str, user: Principal) -> Resident:
    r = await session.get(Resident, resident_id)
    if r is None or not user.can_see_resident(r.id, r.facility_id):
        raise _not_found(f"resident {resident_id}")
    return r


@router.get("/residents/{resident_id}", response_model=ResidentPublic, responses=READ)
async def get_resident(resident_id: Key, session: SessionDep, user: CurrentUser) -> ResidentPublic:
    return await resident_public(session, await _resident(session, resident_id, user))


@router.patch("/residents/{resident_id}", response_model=ResidentPublic, responses=WRITE)
async def update_resident(
    resident_id: Key, body: ResidentUpdate, session: SessionDep, hub: HubDep, user: AdminUser
) -> ResidentPublic:
    """Edit a resident: name, room (null: none; a room of another facility is a 422), risk
    flags, settings. A discharged resident cannot be given a room (readmit first: 409)."""
    r = await _resident(session, resident_id, user)
    sent = body.model_fields_set
    if "room_id" in sent and body.room_id != r.room_id:
        if body.room_id is not None:
            if _discharged(r):
                raise HTTPException(
                    status.HTTP_409_CONFLICT, f"resident {resident_id} is discharged"
                )
            with provisioning_errors():
                await accounts.check_room_in_facility(session, body.room_id, r.facility_id)
        r.room_id = body.room_id
    for flag in ("name", "lives_alone", "at_risk_wandering", "hypercapnic"):
        value = getattr(body, flag)
        if value is not None:
            setattr(r, flag, value)
    if body.settings is not None:
        kept = {k: v for k, v in (r.settings or {}).items() if k in DISCHARGE_KEYS}
        r.settings = {**body.settings, **kept}
    await session.commit()
    # The registry carries each device's resident flags (lives alone, wandering risk).
    for device_id in await _devices_of(session, resident_id):
        await hub.registry.refresh(device_id)
    return await resident_public(session, r)


async def _devices_of(session: Any, resident_id: str) -> list[str]:
    return list(
        (await session.scalars(select(Device.id).where(Device.resident_id == resident_id))).all()
    )


@router.post("/residents/{resident_id}/discharge", response_model=ResidentPublic, responses=WRITE)
async def discharge_resident(
    resident_id: Key,
    body: ResidentDischarge,
    session: SessionDep,
    hub: HubDep,
    user: AdminUser,
) -> ResidentPublic:
    """Discharge: the resident leaves their room and the screens, their devices are unbound from
    them (binding history kept), and every record stays (alerts, trail, vitals, care records)."""
    r = await _resident(session, resident_id, user)
    if _discharged(r):
        raise HTTPException(status.HTTP_409_CONFLICT, f"resident {resident_id} is discharged")
    device_ids = await _devices_of(session, resident_id)
    for device_id in device_ids:
        d = await _device(session, device_id, user)
        await device_service.rebind_device(
            session=session, device=d, room_id=d.room_id, resident_id=None
        )
    r.settings = {
        **(r.settings or {}),
        "discharged_at": now_s(),
        "discharge_note": body.note,
        "discharged_from_room_id": r.room_id,
    }
    r.room_id = None
    await session.commit()
    for device_id in device_ids:
        await hub.registry.refresh(device_id)
    return await resident_public(session, r)


@router.post("/residents/{resident_id}/readmit", response_model=ResidentPublic, responses=WRITE)
async def readmit_resident(
    resident_id: Key, session: SessionDep, user: AdminUser
) -> ResidentPublic:
    """Undo a discharge (the resident returns; give them a room with PATCH)."""
    r = await _resident(session, resident_id, user)
    if not _discharged(r):
        raise HTTPException(status.HTTP_409_CONFLICT, f"resident {resident_id} is not discharged")
    r.settings = {k: v for k, v in (r.settings or {}).items() if k not in DISCHARGE_KEYS}
    await session.commit()
    return await resident_public(session, r)
