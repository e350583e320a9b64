"""Shared pieces of the provisioning routers: scopes, public shapes, lookups and errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import HTTPException, status
from sqlalchemy import select

from care_hub.api.responses import errors
from care_hub.api.schemas import (
    DevicePublic,
    FacilityPublic,
    ResidentPublic,
    RoomPublic,
    RoomZonePublic,
    UserPublic,
)
from care_hub.kernel import accounts
from care_hub.kernel.deps import Principal
from care_hub.kernel.models import Facility, Resident, Room, User, Zone
from devices.models import Device

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


@contextmanager
def provisioning_errors() -> Iterator[None]:
    """What the provisioning service refuses (a clash, a crossed facility) as an HTTP answer."""
    try:
        yield
    except accounts.ProvisioningError as exc:
        raise _conflict(exc) from None


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
        height_offset_m=d.height_offset_m or 0.0,
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


def _discharged(r: Resident) -> bool:
    return (r.settings or {}).get("discharged_at") is not None


async def _device(session: Any, device_id: str, user: Principal) -> Device:
    d = await session.get(Device, device_id)
    if d is None or not _sees_facility(user, d.facility_id):
        raise _not_found(f"device {device_id}")
    return d
