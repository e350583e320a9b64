"""Who an alert event is for: its place (floor, wing), the roster's recipients, the family's view.

Staff screens of a facility see every alert of that facility (narrowed by floor or wing for a
wall screen); a caregiver's personal device (`/ws/events?mine=1`) sees those the roster addresses
to them. A family member sees their own relative's alerts of the types they chose, in a
family-safe shape (`family_view`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.models import Alert, CoverageAssignment
from alerts.policy import TIERS
from care_hub.kernel.events import FAMILY_EVENT_TYPES
from care_hub.kernel.models import Facility, FamilyLink, Resident, Room, User
from devices.models import Device


async def place_of(
    session: AsyncSession, *, resident_id: str | None, device_id: str | None
) -> tuple[str | None, str | None]:
    """(floor, wing) of the room of the device that raised it, else of the resident's room."""
    room_id = None
    if device_id:
        device = await session.get(Device, device_id)
        room_id = device.room_id if device is not None else None
    if room_id is None and resident_id:
        resident = await session.get(Resident, resident_id)
        room_id = resident.room_id if resident is not None else None
    if room_id is None:
        return None, None
    room = await session.get(Room, room_id)
    return (room.floor, room.wing) if room is not None else (None, None)


async def facility_settings(session: AsyncSession, facility_id: int | None) -> dict[str, Any]:
    if facility_id is None:
        return {}
    facility = await session.get(Facility, facility_id)
    if facility is None:
        return {}
    # The facility's time zone is a column of its own; shift rules read it from here.
    return {**(facility.settings or {}), "timezone": facility.timezone}


def _covers(row: CoverageAssignment, alert: Alert) -> bool:
    if not (row.floors or row.wings or row.resident_ids):
        return True  # the whole facility
    return (
        (alert.floor is not None and str(alert.floor) in {str(f) for f in row.floors})
        or (alert.wing is not None and str(alert.wing) in {str(w) for w in row.wings})
        or (alert.resident_id is not None and alert.resident_id in row.resident_ids)
    )


async def roster_user_ids(
    session: AsyncSession, alert: Alert, *, shift: str, duty: str
) -> list[int]:
    """Users on `shift` with `duty` whose coverage area includes the alert's place."""
    if alert.facility_id is None:
        return []
    rows = (
        await session.scalars(
            select(CoverageAssignment).where(
                CoverageAssignment.facility_id == alert.facility_id,
                CoverageAssignment.shift == shift,
                CoverageAssignment.duty == duty,
                CoverageAssignment.active.is_(True),
            )
        )
    ).all()
    return sorted({r.user_id for r in rows if _covers(r, alert)})


async def family_user_ids(session: AsyncSession, resident_id: str | None) -> list[int]:
    if resident_id is None:
        return []
    rows = await session.scalars(
        select(FamilyLink.user_id)
        .join(User, User.id == FamilyLink.user_id)
        .where(FamilyLink.resident_id == resident_id, User.is_active.is_(True))
    )
    return sorted(set(rows.all()))


async def staff_recipients(session: AsyncSession, alert: Alert, *, shift: str) -> list[int] | None:
    """Staff an alert at its current escalation level is addressed to; None = the whole facility.

    Level 0: the caregivers covering its place this shift. Level 1 adds the shift's charge nurses.
    If the roster names nobody for a tier, the alert goes to everyone (it must never go to no one).
    """
    people = set(await roster_user_ids(session, alert, shift=shift, duty="caregiver"))
    if alert.assigned_to is not None:
        people.add(alert.assigned_to)
    if alert.escalation_level >= 1:
        charge = await roster_user_ids(session, alert, shift=shift, duty="charge_nurse")
        if not charge:
            return None
        people |= set(charge)
    return sorted(people) or None


def tier_name(level: int) -> str:
    return TIERS[min(max(level, 0), len(TIERS) - 1)]


def _family_status(alert: dict[str, Any]) -> str:
    state = alert.get("state")
    if state == "resolved":
        return "resolved"
    if state == "acknowledged":
        return "acknowledged by a caregiver"
    return "the care team has been alerted"


# What a family member may see of an alert: their relative's alert and its progress, but never a
# staff member's username, notes, device ids, other residents or the facility's internals.
FAMILY_FIELDS = (
    "id",
    "type",
    "severity",
    "priority",
    "state",
    "resident_id",
    "resident_name",
    "raised_at",
    "acknowledged_at",
    "resolved_at",
    "outcome",
)


def family_view(alert: dict[str, Any]) -> dict[str, Any]:
    out = {k: alert.get(k) for k in FAMILY_FIELDS}
    out["status"] = _family_status(alert)
    # Who acted, by role only: "a caregiver" (API) or "staff in the room" (presence button).
    acted_by = alert.get("acknowledged_by")
    out["acknowledged_by_role"] = (
        None
        if acted_by is None
        else (
            "staff_in_room"
            if alert.get("device_id") and acted_by == alert.get("device_id")
            else "caregiver"
        )
    )
    out["detail"] = {"outcome": alert.get("outcome")}  # the family page reads detail.outcome
    if "tier" in alert:
        out["tier"] = alert["tier"]
    return out


# A stay's zone and times: what the family page's trail shows (never the device or position).
PRESENCE_FAMILY_FIELDS = ("resident_id", "zone", "entered_at", "left_at")


def wire_view(event: dict[str, Any], *, family: bool) -> dict[str, Any] | None:
    """What one websocket client receives; family members get the family-safe alert shape.

    For a family member only the allow-listed kinds (`FAMILY_EVENT_TYPES`, all alert events)
    pass, each in the family-safe shape; anything else is None (not sent), whatever the audience
    let through, so a new event kind never leaks device ids or coordinates to a family.
    """
    data = event["data"]
    if family:
        if event["type"] not in FAMILY_EVENT_TYPES or not isinstance(data, dict):
            return None
        if event["type"] == "presence.changed":
            data = {k: data.get(k) for k in PRESENCE_FAMILY_FIELDS}
        else:
            data = family_view(data)
    return {"seq": event["seq"], "type": event["type"], "at": event["at"], "data": data}


def chosen_types(links: Iterable[FamilyLink]) -> dict[str, frozenset[str] | None]:
    """Per resident, the alert types a family member chose (an empty choice means all)."""
    return {
        link.resident_id: (frozenset(link.alert_types) if link.alert_types else None)
        for link in links
    }


async def family_links(session: AsyncSession, user_id: int) -> list[FamilyLink]:
    return list(
        (await session.scalars(select(FamilyLink).where(FamilyLink.user_id == user_id))).all()
    )
