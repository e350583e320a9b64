"""Provisioning use cases for facilities, rooms, residents and users (keyword-only, no commits)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from care_hub.kernel.local_time import DEFAULT_TIMEZONE, check_timezone
from care_hub.kernel.models import Facility, FamilyLink, Resident, Room, User, Zone
from care_hub.kernel.security import (
    ROLES,
    hash_password,
    hash_password_off_loop,
    verify_password_off_loop,
)


class ProvisioningError(ValueError):
    """A request that conflicts with what exists (duplicate id, unknown reference)."""


class FacilityMismatch(ProvisioningError):
    """A reference that exists but belongs to another facility (a 422, not a conflict): a room
    or resident of facility B bound to something of facility A would show B's people to A."""


async def check_room_in_facility(session: AsyncSession, room_id: int, facility_id: int) -> Room:
    room = await session.get(Room, room_id)
    if room is None:
        raise ProvisioningError(f"room {room_id} does not exist")
    if room.facility_id != facility_id:
        raise FacilityMismatch(f"room {room_id} belongs to another facility than {facility_id}")
    return room


async def check_resident_in_facility(
    session: AsyncSession, resident_id: str, facility_id: int
) -> Resident:
    resident = await session.get(Resident, resident_id)
    if resident is None:
        raise ProvisioningError(f"resident {resident_id} does not exist")
    if resident.facility_id != facility_id:
        raise FacilityMismatch(
            f"resident {resident_id} belongs to another facility than {facility_id}"
        )
    return resident


async def create_facility(
    *,
    session: AsyncSession,
    name: str,
    settings: dict[str, Any] | None = None,
    facility_id: int | None = None,
    timezone: str | None = None,
) -> Facility:
    """`timezone`: an IANA name (default Asia/Shanghai); ProvisioningError if unknown."""
    try:
        # Older seeds kept the zone in settings["timezone"]; an explicit one wins.
        tz = check_timezone(timezone or (settings or {}).get("timezone") or DEFAULT_TIMEZONE)
    except ValueError as exc:
        raise ProvisioningError(str(exc)) from None
    facility = Facility(id=facility_id, name=name, settings=settings or {}, timezone=tz)
    session.add(facility)
    await session.flush()
    return facility


async def create_room(
    *,
    session: AsyncSession,
    facility_id: int,
    name: str,
    floor: str | None = None,
    wing: str | None = None,
    zones: list[dict[str, Any]] | None = None,
) -> Room:
    if await session.get(Facility, facility_id) is None:
        raise ProvisioningError(f"facility {facility_id} does not exist")
    room = Room(facility_id=facility_id, name=name, floor=floor, wing=wing)
    session.add(room)
    await session.flush()
    for zone in zones or []:
        session.add(Zone(room_id=room.id, name=zone["name"], shape=zone["shape"]))
    return room


async def create_resident(
    *,
    session: AsyncSession,
    resident_id: str,
    facility_id: int,
    name: str,
    room_id: int | None = None,
    lives_alone: bool = False,
    at_risk_wandering: bool = False,
    hypercapnic: bool = False,
    settings: dict[str, Any] | None = None,
) -> Resident:
    if await session.get(Resident, resident_id) is not None:
        raise ProvisioningError(f"resident {resident_id} already exists")
    if await session.get(Facility, facility_id) is None:
        raise ProvisioningError(f"facility {facility_id} does not exist")
    if room_id is not None:
        await check_room_in_facility(session, room_id, facility_id)
    resident = Resident(
        id=resident_id,
        facility_id=facility_id,
        name=name,
        room_id=room_id,
        lives_alone=lives_alone,
        at_risk_wandering=at_risk_wandering,
        hypercapnic=hypercapnic,
        settings=settings or {},
    )
    session.add(resident)
    await session.flush()
    return resident


async def create_user(
    *,
    session: AsyncSession,
    username: str,
    password: str,
    role: str,
    name: str = "",
    facility_id: int | None = None,
    resident_ids: list[str] | None = None,
) -> User:
    if role not in ROLES:
        raise ProvisioningError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise ProvisioningError("password must have at least 8 characters")
    if await session.scalar(select(User).where(User.username == username)) is not None:
        raise ProvisioningError(f"user {username!r} already exists")
    user = User(
        username=username,
        name=name or username,
        password_hash=await hash_password_off_loop(password),
        role=role,
        facility_id=facility_id,
    )
    session.add(user)
    await session.flush()
    for resident_id in resident_ids or []:
        if await session.get(Resident, resident_id) is None:
            raise ProvisioningError(f"resident {resident_id} does not exist")
        session.add(FamilyLink(user_id=user.id, resident_id=resident_id))
    await session.flush()
    return user


async def update_user(
    *,
    session: AsyncSession,
    user: User,
    active: bool | None = None,
    password: str | None = None,
    revoke_sessions: bool = False,
) -> bool:
    """Change a user's active flag and/or password. Deactivation, a new password or an explicit
    revocation bump `token_version`: every token and socket of theirs ends. Returns whether it
    was bumped (the caller tells open sockets after commit)."""
    revoke = revoke_sessions
    if password is not None:
        if len(password) < 8:
            raise ProvisioningError("password must have at least 8 characters")
        user.password_hash = await hash_password_off_loop(password)
        revoke = True
    if active is not None and active != user.is_active:
        user.is_active = active
        revoke = revoke or not active
    if revoke:
        user.token_version = (user.token_version or 0) + 1
    await session.flush()
    return revoke


async def authenticate(*, session: AsyncSession, username: str, password: str) -> User | None:
    """The active user with this name and password, else None; the argon2 check runs off the
    event loop (security.verify_password_off_loop) and may raise PasswordChecksBusy."""
    user = await session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        # Same cost as a wrong password, so usernames cannot be probed by timing.
        await verify_password_off_loop(_DUMMY_HASH, password)
        return None
    return user if await verify_password_off_loop(user.password_hash, password) else None


async def linked_resident_ids(*, session: AsyncSession, user_id: int) -> list[str]:
    rows = await session.scalars(
        select(FamilyLink.resident_id).where(FamilyLink.user_id == user_id)
    )
    return list(rows.all())


_DUMMY_HASH = hash_password("not-a-real-password")
