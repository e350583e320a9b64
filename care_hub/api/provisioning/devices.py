"""Devices: provision, bind and unbind (history kept), zone maps, health and rejections."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from care_hub.api.deps import HubDep
from care_hub.api.provisioning._common import (
    READ,
    WRITE,
    _device,
    _discharged,
    _facility_scope,
    device_public,
    provisioning_errors,
)
from care_hub.api.schemas import (
    BindingPublic,
    DeviceCreate,
    DeviceDetail,
    DevicePublic,
    DeviceRebind,
    DeviceUpdate,
    zone_map_dict,
)
from care_hub.hub import Hub
from care_hub.kernel.deps import AdminUser, CurrentUser, SessionDep
from care_hub.kernel.fields import Id, Key
from care_hub.kernel.models import Resident
from devices import service as device_service
from devices.models import DeadLetter, Device, DeviceBinding
from devices.registry import learned_for

router = APIRouter(prefix="/api", tags=["provisioning"])


async def _saved(session: AsyncSession, hub: Hub, d: Device) -> DevicePublic:
    """Commit, then reload the device into the in-memory registry that ingest reads."""
    await session.commit()
    await hub.registry.refresh(d.id)
    return device_public(d)


@router.post("/devices", status_code=201, response_model=DevicePublic, responses=WRITE)
async def create_device(
    body: DeviceCreate, session: SessionDep, hub: HubDep, _: AdminUser
) -> DevicePublic:
    with provisioning_errors():
        d = await device_service.create_device(
            session=session,
            device_id=body.id,
            type=body.type,
            facility_id=body.facility_id,
            room_id=body.room_id,
            resident_id=body.resident_id,
            zone_map=zone_map_dict(body.zone_map),
        )
    return await _saved(session, hub, d)


@router.post("/devices/{device_id}/bind", response_model=DevicePublic, responses=WRITE)
async def rebind_device(
    device_id: Key, body: DeviceRebind, session: SessionDep, hub: HubDep, user: AdminUser
) -> DevicePublic:
    """Bind the device to a room and/or resident of its facility (422 across facilities); the
    previous binding is closed and kept."""
    d = await _device(session, device_id, user)
    if body.resident_id is not None:
        resident = await session.get(Resident, body.resident_id)
        if resident is not None and _discharged(resident):
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"resident {body.resident_id} is discharged"
            )
    with provisioning_errors():
        await device_service.rebind_device(
            session=session,
            device=d,
            room_id=body.room_id,
            resident_id=body.resident_id,
            zone_map=None if body.zone_map is None else zone_map_dict(body.zone_map),
        )
    return await _saved(session, hub, d)


@router.post("/devices/{device_id}/unbind", response_model=DevicePublic, responses=WRITE)
async def unbind_device(
    device_id: Key, session: SessionDep, hub: HubDep, user: AdminUser
) -> DevicePublic:
    """Take the device off its room and resident (it stays provisioned; history kept)."""
    d = await _device(session, device_id, user)
    if d.room_id is None and d.resident_id is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"device {device_id} is not bound")
    await device_service.rebind_device(session=session, device=d, room_id=None, resident_id=None)
    return await _saved(session, hub, d)


@router.patch("/devices/{device_id}", response_model=DevicePublic, responses=WRITE)
async def update_device(
    device_id: Key, body: DeviceUpdate, session: SessionDep, hub: HubDep, user: AdminUser
) -> DevicePublic:
    """Replace a radar's zone map (`{"bed": {"rect": [x0, y0, x1, y1]}, ...}`, room metres;
    an empty map falls back to the room's zones) and/or set its height calibration
    (`height_offset_m`: metres its centroids read above true height, -0.5 to 0.5)."""
    d = await _device(session, device_id, user)
    if d.type != "radar":
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "only a radar has a zone map or a height offset"
        )
    if body.zone_map is None and body.height_offset_m is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "give zone_map and/or height_offset_m"
        )
    if body.zone_map is not None:
        d.zone_map = zone_map_dict(body.zone_map)
    if body.height_offset_m is not None and body.height_offset_m != d.height_offset_m:
        d.height_offset_m = body.height_offset_m
        d.learned = {}  # heights learned under the old calibration are off by the change
    return await _saved(session, hub, d)


@router.get("/devices", response_model=list[DevicePublic], responses=READ)
async def list_devices(
    session: SessionDep,
    user: CurrentUser,
    facility_id: Id | None = None,
    room_id: Id | None = None,
) -> list[DevicePublic]:
    if user.role == "family":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "needs role admin or caregiver")
    query = select(Device).order_by(Device.id)
    scope = _facility_scope(user, facility_id)
    if scope is not None:
        query = query.where(Device.facility_id == scope)
    if room_id is not None:
        query = query.where(Device.room_id == room_id)
    return [device_public(d) for d in (await session.scalars(query)).all()]


@router.get("/devices/{device_id}", response_model=DeviceDetail, responses=READ)
async def device_health(device_id: Key, session: SessionDep, user: CurrentUser) -> DeviceDetail:
    """Health of one device: state, last seen, battery, firmware, signal, clock skew, rejections,
    and where it was bound, when."""
    d = await _device(session, device_id, user)
    rows = await session.execute(
        select(DeadLetter.reason, func.count())
        .where(DeadLetter.device_id == device_id)
        .group_by(DeadLetter.reason)
    )
    bindings = await session.scalars(
        select(DeviceBinding)
        .where(DeviceBinding.device_id == device_id)
        .order_by(DeviceBinding.bound_at, DeviceBinding.id)
    )
    return DeviceDetail(
        **device_public(d).model_dump(),
        rejected_by_reason={reason: n for reason, n in rows.all()},
        learned_heights=learned_for(d.learned, d.resident_id),
        bindings=[
            BindingPublic(
                room_id=b.room_id,
                resident_id=b.resident_id,
                bound_at=b.bound_at,
                unbound_at=b.unbound_at,
            )
            for b in bindings
        ],
    )
