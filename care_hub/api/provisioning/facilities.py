"""Facilities and their floors: create, list, edit (time zone included), delete when empty."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from alerts.models import Alert, CoverageAssignment
from care_hub.api.provisioning._common import (
    READ,
    WRITE,
    _not_found,
    _sees_facility,
    facility_public,
)
from care_hub.api.schemas import (
    FacilityCreate,
    FacilityPublic,
    FacilityUpdate,
    FloorPublic,
    FloorRename,
)
from care_hub.kernel import accounts
from care_hub.kernel.deps import AdminUser, Principal, SessionDep, StaffUser
from care_hub.kernel.fields import Id, Text
from care_hub.kernel.local_time import check_timezone
from care_hub.kernel.models import Facility, Resident, Room, User
from devices.models import Device

router = APIRouter(prefix="/api", tags=["provisioning"])


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
