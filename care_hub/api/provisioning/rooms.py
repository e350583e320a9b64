"""Rooms and their zones: create, list, edit, delete when empty."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy import delete, func, select

from care_hub.api.provisioning._common import (
    READ,
    WRITE,
    _facility_scope,
    _not_found,
    _sees_facility,
    provisioning_errors,
    room_public,
)
from care_hub.api.schemas import (
    RoomCreate,
    RoomPublic,
    RoomUpdate,
)
from care_hub.kernel import accounts
from care_hub.kernel.deps import AdminUser, Principal, SessionDep, StaffUser
from care_hub.kernel.fields import Id, Text
from care_hub.kernel.models import Resident, Room, Zone
from devices.models import Device

router = APIRouter(prefix="/api", tags=["provisioning"])


def _zones(body_zones: list[Any]) -> list[dict[str, Any]]:
    return [{"name": z.name, "shape": z.shape.model_dump(exclude_none=True)} for z in body_zones]


@router.post("/rooms", status_code=201, response_model=RoomPublic, responses=WRITE)
async def create_room(body: RoomCreate, session: SessionDep, _: AdminUser) -> RoomPublic:
    with provisioning_errors():
        room = await accounts.create_room(
            session=session,
            facility_id=body.facility_id,
            name=body.name,
            floor=body.floor,
            wing=body.wing,
            zones=_zones(body.zones),
        )
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
