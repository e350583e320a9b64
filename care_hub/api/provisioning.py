"""Provisioning (admin): facilities, rooms, residents, devices, users; listing for staff and family."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import func, select

from care_hub.api.deps import HubDep
from care_hub.api.schemas import (
    DeviceCreate,
    DeviceRebind,
    FacilityCreate,
    ResidentCreate,
    RoomCreate,
    UserCreate,
    zone_map_dict,
)
from care_hub.kernel import accounts
from care_hub.kernel.deps import AdminUser, CurrentUser, SessionDep
from care_hub.kernel.fields import Key
from care_hub.kernel.models import Facility, Resident, Room, User
from devices import service as device_service
from devices.models import DeadLetter, Device, DeviceBinding

router = APIRouter(prefix="/api", tags=["provisioning"])


def _conflict(exc: Exception) -> HTTPException:
    if isinstance(exc, accounts.FacilityMismatch):
        # Crossing a facility boundary is invalid input, not a clash with existing data.
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


async def resident_public(session: Any, r: Resident) -> dict[str, Any]:
    room = await session.get(Room, r.room_id) if r.room_id else None
    return {
        "id": r.id,
        "name": r.name,
        "facility_id": r.facility_id,
        "room_id": r.room_id,
        "room": room.name if room else None,
        "lives_alone": r.lives_alone,
        "at_risk_wandering": r.at_risk_wandering,
        "hypercapnic": r.hypercapnic,
    }


def device_public(d: Device) -> dict[str, Any]:
    return {
        "id": d.id,
        "type": d.type,
        "facility_id": d.facility_id,
        "room_id": d.room_id,
        "resident_id": d.resident_id,
        "zone_map": d.zone_map,
        "state": d.state,
        "last_seen_at": d.last_seen_at,
        "battery": d.battery,
        "fw": d.fw,
        "rssi": d.rssi,
        "clock_skew_s": d.clock_skew_s,
        "rejected_count": d.rejected_count,
    }


@router.post("/facilities", status_code=201)
async def create_facility(
    body: FacilityCreate, session: SessionDep, _: AdminUser
) -> dict[str, Any]:
    try:
        f = await accounts.create_facility(
            session=session, name=body.name, settings=body.settings, timezone=body.timezone
        )
    except accounts.ProvisioningError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    await session.commit()
    return {"id": f.id, "name": f.name, "settings": f.settings, "timezone": f.timezone}


@router.post("/rooms", status_code=201)
async def create_room(body: RoomCreate, session: SessionDep, _: AdminUser) -> dict[str, Any]:
    try:
        room = await accounts.create_room(
            session=session,
            facility_id=body.facility_id,
            name=body.name,
            floor=body.floor,
            wing=body.wing,
            zones=[
                {"name": z.name, "shape": z.shape.model_dump(exclude_none=True)} for z in body.zones
            ],
        )
    except accounts.ProvisioningError as exc:
        raise _conflict(exc) from None
    await session.commit()
    return {"id": room.id, "facility_id": room.facility_id, "name": room.name, "floor": room.floor}


@router.post("/residents", status_code=201)
async def create_resident(
    body: ResidentCreate, session: SessionDep, _: AdminUser
) -> dict[str, Any]:
    try:
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
    except accounts.ProvisioningError as exc:
        raise _conflict(exc) from None
    await session.commit()
    return await resident_public(session, r)


@router.get("/residents")
async def list_residents(session: SessionDep, user: CurrentUser) -> list[dict[str, Any]]:
    query = select(Resident).order_by(Resident.id)
    if user.role == "family":
        query = query.where(Resident.id.in_(user.resident_ids))
    elif user.role == "caregiver":
        query = query.where(Resident.facility_id == user.facility_id)
    return [await resident_public(session, r) for r in (await session.scalars(query)).all()]


@router.post("/devices", status_code=201)
async def create_device(
    body: DeviceCreate, session: SessionDep, hub: HubDep, _: AdminUser
) -> dict[str, Any]:
    try:
        d = await device_service.create_device(
            session=session,
            device_id=body.id,
            type=body.type,
            facility_id=body.facility_id,
            room_id=body.room_id,
            resident_id=body.resident_id,
            zone_map=zone_map_dict(body.zone_map),
        )
    except accounts.ProvisioningError as exc:
        raise _conflict(exc) from None
    await session.commit()
    await hub.registry.refresh(d.id)
    return device_public(d)


@router.post("/devices/{device_id}/bind")
async def rebind_device(
    device_id: Key, body: DeviceRebind, session: SessionDep, hub: HubDep, _: AdminUser
) -> dict[str, Any]:
    d = await session.get(Device, device_id)
    if d is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"device {device_id} not found")
    try:
        await device_service.rebind_device(
            session=session,
            device=d,
            room_id=body.room_id,
            resident_id=body.resident_id,
            zone_map=None if body.zone_map is None else zone_map_dict(body.zone_map),
        )
    except accounts.ProvisioningError as exc:
        raise _conflict(exc) from None
    await session.commit()
    await hub.registry.refresh(d.id)
    return device_public(d)


@router.get("/devices")
async def list_devices(session: SessionDep, user: CurrentUser) -> list[dict[str, Any]]:
    if user.role == "family":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "needs role admin or caregiver")
    query = select(Device).order_by(Device.id)
    if user.role == "caregiver":
        query = query.where(Device.facility_id == user.facility_id)
    return [device_public(d) for d in (await session.scalars(query)).all()]


@router.get("/devices/{device_id}")
async def device_health(device_id: Key, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Health of one device: state, last seen, battery, firmware, signal, clock skew, rejections."""
    d = await session.get(Device, device_id)
    if (
        d is None
        or user.role == "family"
        or (user.role == "caregiver" and d.facility_id != user.facility_id)
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"device {device_id} not found")
    out = device_public(d)
    rows = await session.execute(
        select(DeadLetter.reason, func.count())
        .where(DeadLetter.device_id == device_id)
        .group_by(DeadLetter.reason)
    )
    out["rejected_by_reason"] = {reason: n for reason, n in rows.all()}
    bindings = await session.scalars(
        select(DeviceBinding)
        .where(DeviceBinding.device_id == device_id)
        .order_by(DeviceBinding.bound_at)
    )
    out["bindings"] = [
        {
            "room_id": b.room_id,
            "resident_id": b.resident_id,
            "bound_at": b.bound_at,
            "unbound_at": b.unbound_at,
        }
        for b in bindings
    ]
    return out


@router.post("/users", status_code=201)
async def create_user(body: UserCreate, session: SessionDep, _: AdminUser) -> dict[str, Any]:
    if body.facility_id is not None and await session.get(Facility, body.facility_id) is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"facility {body.facility_id} does not exist")
    try:
        u = await accounts.create_user(
            session=session,
            username=body.username,
            password=body.password,
            role=body.role,
            name=body.name,
            facility_id=body.facility_id,
            resident_ids=body.resident_ids,
        )
    except accounts.ProvisioningError as exc:
        raise _conflict(exc) from None
    await session.commit()
    return user_public(u, body.resident_ids)


def user_public(u: User, resident_ids: list[str]) -> dict[str, Any]:
    return {
        "id": u.id,
        "username": u.username,
        "name": u.name,
        "role": u.role,
        "facility_id": u.facility_id,
        "resident_ids": resident_ids,
    }
