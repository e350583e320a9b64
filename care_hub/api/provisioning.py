"""Provisioning: facilities, floors, rooms, residents, devices and users. Admins create, edit,
discharge and unbind; caregivers read their own facility; families read their relatives.

Nothing with a history is deleted: a discharged resident keeps their alerts, trail and records
(`settings.discharged_at`, and they leave the screens); an unbound device keeps its binding
history. Only what nothing refers to may be deleted (an empty room, an empty facility).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from alerts.models import Alert, CoverageAssignment
from care_hub.api.deps import HubDep
from care_hub.api.responses import errors
from care_hub.api.schemas import (
    BindingPublic,
    DeviceCreate,
    DeviceDetail,
    DevicePublic,
    DeviceRebind,
    DeviceUpdate,
    FacilityCreate,
    FacilityPublic,
    FacilityUpdate,
    FamilyLinksUpdate,
    FloorPublic,
    FloorRename,
    ResidentCreate,
    ResidentDischarge,
    ResidentPublic,
    ResidentUpdate,
    RoomCreate,
    RoomPublic,
    RoomUpdate,
    RoomZonePublic,
    UserCreate,
    UserPublic,
    zone_map_dict,
)
from care_hub.kernel import accounts
from care_hub.kernel.db import now_s
from care_hub.kernel.deps import AdminUser, CurrentUser, Principal, SessionDep, StaffUser
from care_hub.kernel.fields import Id, Key, Text
from care_hub.kernel.local_time import check_timezone
from care_hub.kernel.models import Facility, FamilyLink, Resident, Room, User, Zone
from devices import service as device_service
from devices.models import DeadLetter, Device, DeviceBinding

router = APIRouter(prefix="/api", tags=["provisioning"])

# Keys of `Resident.settings` that record a discharge; an edit of the settings keeps them.
DISCHARGE_KEYS = ("discharged_at", "discharge_note", "discharged_from_room_id")
# Documented error answers: every route needs a sign-in; admin routes may be refused (403).
READ = errors(401, 403, 404, 422)
WRITE = errors(401, 403, 404, 409, 422)


def _conflict(exc: Exception) -> HTTPException:
    if isinstance(exc, accounts.FacilityMismatch):
        # Crossing a facility boundary is invalid input, not a clash with existing data.
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


def _not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found")


def _sees_facility(user: Principal, facility_id: int | None) -> bool:
    """Admins see every facility; caregivers (and wall screens) their own."""
    return user.role == "admin" or (
        user.role != "family" and facility_id is not None and facility_id == user.facility_id
    )


def _facility_scope(user: Principal, facility_id: int | None) -> int | None:
    """The facility a listing covers: an admin's choice (None: all), a caregiver's own."""
    return facility_id if user.role == "admin" else user.facility_id


# ---------------------------------------------------------------- public shapes


def facility_public(f: Facility) -> FacilityPublic:
    return FacilityPublic(id=f.id, name=f.name, settings=f.settings or {}, timezone=f.timezone)


async def room_public(session: Any, room: Room) -> RoomPublic:
    zones = await session.scalars(select(Zone).where(Zone.room_id == room.id).order_by(Zone.id))
    return RoomPublic(
        id=room.id,
        facility_id=room.facility_id,
        name=room.name,
        floor=room.floor,
        wing=room.wing,
        zones=[RoomZonePublic(name=z.name, shape=z.shape) for z in zones],
    )


async def resident_public(session: Any, r: Resident) -> ResidentPublic:
    room = await session.get(Room, r.room_id) if r.room_id else None
    facility = await session.get(Facility, r.facility_id)
    contact = (facility.settings or {}).get("contact") if facility else None
    phone = contact.get("phone") if isinstance(contact, dict) else None
    return ResidentPublic(
        id=r.id,
        name=r.name,
        facility_id=r.facility_id,
        room_id=r.room_id,
        room=room.name if room else None,
        floor=room.floor if room else None,
        wing=room.wing if room else None,
        lives_alone=r.lives_alone,
        at_risk_wandering=r.at_risk_wandering,
        hypercapnic=r.hypercapnic,
        # Pages show times in the care home's zone, and a family can call the home.
        facility_name=facility.name if facility else None,
        timezone=facility.timezone if facility else None,
        facility_phone=str(phone) if phone else None,
        discharged_at=(r.settings or {}).get("discharged_at"),
    )


def device_public(d: Device) -> DevicePublic:
    return DevicePublic(
        id=d.id,
        type=d.type,
        facility_id=d.facility_id,
        room_id=d.room_id,
        resident_id=d.resident_id,
        zone_map=d.zone_map or {},
        state=d.state,
        last_seen_at=d.last_seen_at,
        battery=d.battery,
        fw=d.fw,
        rssi=d.rssi,
        clock_skew_s=d.clock_skew_s,
        rejected_count=d.rejected_count or 0,
    )


async def user_public(session: Any, u: User) -> UserPublic:
    links = await accounts.linked_resident_ids(session=session, user_id=u.id)
    return UserPublic(
        id=u.id,
        username=u.username,
        name=u.name,
        role=u.role,
        facility_id=u.facility_id,
        resident_ids=sorted(links),
        active=u.is_active,
    )


# ---------------------------------------------------------------- facilities and floors


@router.post("/facilities", status_code=201, response_model=FacilityPublic, responses=WRITE)
async def create_facility(
    body: FacilityCreate, session: SessionDep, _: AdminUser
) -> FacilityPublic:
    try:
        f = await accounts.create_facility(
            session=session, name=body.name, settings=body.settings, timezone=body.timezone
        )
    except accounts.ProvisioningError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    await session.commit()
    return facility_public(f)


@router.get("/facilities", response_model=list[FacilityPublic], responses=READ)
async def list_facilities(session: SessionDep, user: StaffUser) -> list[FacilityPublic]:
    query = select(Facility).order_by(Facility.id)
    if user.role != "admin":
        query = query.where(Facility.id == user.facility_id)
    return [facility_public(f) for f in (await session.scalars(query)).all()]


async def _facility(session: Any, facility_id: int, user: Principal) -> Facility:
    f = await session.get(Facility, facility_id)
    if f is None or not _sees_facility(user, f.id):
        raise _not_found(f"facility {facility_id}")
    return f


@router.get("/facilities/{facility_id}", response_model=FacilityPublic, responses=READ)
async def get_facility(facility_id: Id, session: SessionDep, user: StaffUser) -> FacilityPublic:
    return facility_public(await _facility(session, facility_id, user))


@router.patch("/facilities/{facility_id}", response_model=FacilityPublic, responses=WRITE)
async def update_facility(
    facility_id: Id, body: FacilityUpdate, session: SessionDep, user: AdminUser
) -> FacilityPublic:
    """Rename, replace the settings, or move to another IANA time zone (night rules, shifts and
    daily summaries follow it)."""
    f = await _facility(session, facility_id, user)
    if body.timezone is not None:
        try:
            f.timezone = check_timezone(body.timezone)
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    if body.name is not None:
        f.name = body.name
    if body.settings is not None:
        f.settings = body.settings
    await session.commit()
    return facility_public(f)


@router.delete(
    "/facilities/{facility_id}", status_code=204, response_class=Response, responses=WRITE
)
async def delete_facility(facility_id: Id, session: SessionDep, user: AdminUser) -> Response:
    """Only an empty facility (no rooms, residents, devices, users or records) may go."""
    f = await _facility(session, facility_id, user)
    for model in (Room, Resident, Device, User, CoverageAssignment, Alert):
        used = await session.scalar(
            select(func.count()).select_from(model).where(model.facility_id == facility_id)
        )
        if used:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"facility {facility_id} still has {model.__tablename__}",
            )
    try:
        await session.delete(f)
        await session.commit()
    except IntegrityError:  # alerts, care records...: its history stays
        await session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"facility {facility_id} has records"
        ) from None
    return Response(status_code=204)


async def _floors(session: Any, facility_id: int) -> list[FloorPublic]:
    rooms = (await session.scalars(select(Room).where(Room.facility_id == facility_id))).all()
    counts = dict(
        (
            await session.execute(
                select(Resident.room_id, func.count())
                .where(Resident.facility_id == facility_id, Resident.room_id.is_not(None))
                .group_by(Resident.room_id)
            )
        ).all()
    )
    by_floor: dict[str | None, list[Room]] = defaultdict(list)
    for room in rooms:
        by_floor[room.floor].append(room)
    return [
        FloorPublic(
            facility_id=facility_id,
            floor=floor,
            wings=sorted({r.wing for r in members if r.wing}),
            rooms=len(members),
            residents=sum(counts.get(r.id, 0) for r in members),
        )
        for floor, members in sorted(by_floor.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    ]


@router.get("/facilities/{facility_id}/floors", response_model=list[FloorPublic], responses=READ)
async def list_floors(facility_id: Id, session: SessionDep, user: StaffUser) -> list[FloorPublic]:
    """The facility's floors, from its rooms' `floor` labels (rooms without one: floor null)."""
    await _facility(session, facility_id, user)
    return await _floors(session, facility_id)


@router.patch(
    "/facilities/{facility_id}/floors/{floor}", response_model=FloorPublic, responses=WRITE
)
async def rename_floor(
    facility_id: Id, floor: Text, body: FloorRename, session: SessionDep, user: AdminUser
) -> FloorPublic:
    """Rename a floor on every room of it (wall screens open `?floor=` with the new name)."""
    await _facility(session, facility_id, user)
    in_facility = Room.facility_id == facility_id
    count = select(func.count()).select_from(Room).where(in_facility)
    if not await session.scalar(count.where(Room.floor == floor)):
        raise _not_found(f"floor {floor!r}")
    if body.name != floor and await session.scalar(count.where(Room.floor == body.name)):
        raise HTTPException(status.HTTP_409_CONFLICT, f"floor {body.name!r} already exists")
    await session.execute(
        update(Room).where(in_facility, Room.floor == floor).values(floor=body.name)
    )
    await session.commit()
    return next(f for f in await _floors(session, facility_id) if f.floor == body.name)


# ---------------------------------------------------------------- rooms


def _zones(body_zones: list[Any]) -> list[dict[str, Any]]:
    return [{"name": z.name, "shape": z.shape.model_dump(exclude_none=True)} for z in body_zones]


@router.post("/rooms", status_code=201, response_model=RoomPublic, responses=WRITE)
async def create_room(body: RoomCreate, session: SessionDep, _: AdminUser) -> RoomPublic:
    try:
        room = await accounts.create_room(
            session=session,
            facility_id=body.facility_id,
            name=body.name,
            floor=body.floor,
            wing=body.wing,
            zones=_zones(body.zones),
        )
    except accounts.ProvisioningError as exc:
        raise _conflict(exc) from None
    await session.commit()
    return await room_public(session, room)


@router.get("/rooms", response_model=list[RoomPublic], responses=READ)
async def list_rooms(
    session: SessionDep,
    user: StaffUser,
    facility_id: Id | None = None,
    floor: Text | None = None,
) -> list[RoomPublic]:
    query = select(Room).order_by(Room.facility_id, Room.floor, Room.name)
    scope = _facility_scope(user, facility_id)
    if scope is not None:
        query = query.where(Room.facility_id == scope)
    if floor is not None:
        query = query.where(Room.floor == floor)
    return [await room_public(session, r) for r in (await session.scalars(query)).all()]


async def _room(session: Any, room_id: int, user: Principal) -> Room:
    room = await session.get(Room, room_id)
    if room is None or not _sees_facility(user, room.facility_id):
        raise _not_found(f"room {room_id}")
    return room


@router.get("/rooms/{room_id}", response_model=RoomPublic, responses=READ)
async def get_room(room_id: Id, session: SessionDep, user: StaffUser) -> RoomPublic:
    return await room_public(session, await _room(session, room_id, user))


@router.patch("/rooms/{room_id}", response_model=RoomPublic, responses=WRITE)
async def update_room(
    room_id: Id, body: RoomUpdate, session: SessionDep, user: AdminUser
) -> RoomPublic:
    """Rename, move to a floor or wing (null: none), or replace the room's zones."""
    room = await _room(session, room_id, user)
    sent = body.model_fields_set
    if body.name is not None:
        room.name = body.name
    if "floor" in sent:
        room.floor = body.floor
    if "wing" in sent:
        room.wing = body.wing
    if body.zones is not None:
        await session.execute(delete(Zone).where(Zone.room_id == room.id))
        for z in _zones(body.zones):
            session.add(Zone(room_id=room.id, name=z["name"], shape=z["shape"]))
    await session.commit()
    return await room_public(session, room)


@router.delete("/rooms/{room_id}", status_code=204, response_class=Response, responses=WRITE)
async def delete_room(room_id: Id, session: SessionDep, user: AdminUser) -> Response:
    """Only an empty room: no resident placed in it and no device bound to it (409)."""
    room = await _room(session, room_id, user)
    for model in (Resident, Device):
        if await session.scalar(
            select(func.count()).select_from(model).where(model.room_id == room_id)
        ):
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"room {room_id} still has {model.__tablename__}"
            )
    await session.execute(delete(Zone).where(Zone.room_id == room_id))
    await session.delete(room)
    await session.commit()
    return Response(status_code=204)


# ---------------------------------------------------------------- residents


@router.post("/residents", status_code=201, response_model=ResidentPublic, responses=WRITE)
async def create_resident(
    body: ResidentCreate, session: SessionDep, _: AdminUser
) -> ResidentPublic:
    """Admit a resident (to a room of their facility, or none yet)."""
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


def _discharged(r: Resident) -> bool:
    return (r.settings or {}).get("discharged_at") is not None


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
            try:
                await accounts.check_room_in_facility(session, body.room_id, r.facility_id)
            except accounts.ProvisioningError as exc:
                raise _conflict(exc) from None
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


# ---------------------------------------------------------------- devices


@router.post("/devices", status_code=201, response_model=DevicePublic, responses=WRITE)
async def create_device(
    body: DeviceCreate, session: SessionDep, hub: HubDep, _: AdminUser
) -> DevicePublic:
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


async def _device(session: Any, device_id: str, user: Principal) -> Device:
    d = await session.get(Device, device_id)
    if d is None or not _sees_facility(user, d.facility_id):
        raise _not_found(f"device {device_id}")
    return d


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


@router.post("/devices/{device_id}/unbind", response_model=DevicePublic, responses=WRITE)
async def unbind_device(
    device_id: Key, session: SessionDep, hub: HubDep, user: AdminUser
) -> DevicePublic:
    """Take the device off its room and resident (it stays provisioned; history kept)."""
    d = await _device(session, device_id, user)
    if d.room_id is None and d.resident_id is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"device {device_id} is not bound")
    await device_service.rebind_device(session=session, device=d, room_id=None, resident_id=None)
    await session.commit()
    await hub.registry.refresh(d.id)
    return device_public(d)


@router.patch("/devices/{device_id}", response_model=DevicePublic, responses=WRITE)
async def update_device(
    device_id: Key, body: DeviceUpdate, session: SessionDep, hub: HubDep, user: AdminUser
) -> DevicePublic:
    """Replace a radar's zone map (`{"bed": {"rect": [x0, y0, x1, y1]}, ...}`, room metres);
    an empty map falls back to the room's zones."""
    d = await _device(session, device_id, user)
    if d.type != "radar":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "only a radar has a zone map")
    d.zone_map = zone_map_dict(body.zone_map)
    await session.commit()
    await hub.registry.refresh(d.id)
    return device_public(d)


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


# ---------------------------------------------------------------- users
# Deactivation, passwords and ending sessions: `PATCH /api/users/{id}` (care_hub/api/auth.py).


@router.post("/users", status_code=201, response_model=UserPublic, responses=WRITE)
async def create_user(body: UserCreate, session: SessionDep, _: AdminUser) -> UserPublic:
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
