"""Where each resident of a floor is now, from the trail: for the wall screen's tiles.

The latest stay of each resident: an ongoing one (`left_at` None) says where they are ("in the
bathroom since 14:05", "out of the room since 14:05"); a finished one with nothing after it says
when anyone was last seen. Live changes arrive as `presence.changed` events on `/ws/events`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel
from sqlalchemy import func, select

from care_hub.api.screens import ScreenOrStaff
from care_hub.kernel.deps import SessionDep
from care_hub.kernel.fields import Id, Text
from care_hub.kernel.models import Resident, Room, ZoneVisit

router = APIRouter(prefix="/api/presence", tags=["presence"])


class Presence(BaseModel):
    resident_id: str
    zone: str
    entered_at: float
    left_at: float | None


@router.get("", response_model=list[Presence])
async def floor_presence(
    session: SessionDep,
    user: ScreenOrStaff,
    facility_id: Id | None = None,
    floor: Annotated[list[Text] | None, Query()] = None,
    wing: Annotated[list[Text] | None, Query()] = None,
) -> list[Presence]:
    """The latest stay of each resident of the facility (narrowed by floor or wing)."""
    fid = user.facility_id if user.role != "admin" else facility_id
    if fid is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "facility_id is needed")
    residents = select(Resident.id).where(Resident.facility_id == fid)
    if floor or wing:
        residents = residents.join(Room, Room.id == Resident.room_id)
        if floor:
            residents = residents.where(Room.floor.in_(floor))
        if wing:
            residents = residents.where(Room.wing.in_(wing))
    latest = (
        select(ZoneVisit.resident_id, func.max(ZoneVisit.entered_at).label("at"))
        .where(ZoneVisit.resident_id.in_(residents))
        .group_by(ZoneVisit.resident_id)
        .subquery()
    )
    rows = (
        await session.scalars(
            select(ZoneVisit)
            .join(
                latest,
                (ZoneVisit.resident_id == latest.c.resident_id)
                & (ZoneVisit.entered_at == latest.c.at),
            )
            .order_by(ZoneVisit.resident_id, ZoneVisit.id)
        )
    ).all()
    out: dict[str, Presence] = {}
    for v in rows:  # two rows at one instant: the later one (the ongoing stay) wins
        if v.resident_id is not None:
            out[v.resident_id] = Presence(
                resident_id=v.resident_id, zone=v.zone, entered_at=v.entered_at, left_at=v.left_at
            )
    return list(out.values())
