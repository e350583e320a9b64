"""Device provisioning: bind a device id and type to a facility, room and resident, keeping history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from care_hub.kernel.accounts import (
    ProvisioningError,
    check_resident_in_facility,
    check_room_in_facility,
)
from care_hub.kernel.db import now_s
from care_hub.kernel.models import Facility
from devices.contract import is_valid_device_id
from devices.models import Device, DeviceBinding

DEVICE_TYPES = ("radar", "button", "kit")
# A radar's height calibration (Device.height_offset_m) is at most this many metres either way:
# beyond it the radar is mounted or configured wrong, not a model that reads a little high.
MAX_HEIGHT_OFFSET_M = 0.5


def height_offset(value: object) -> float:
    """A height calibration from a seed file or form, checked (ProvisioningError if not one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProvisioningError(f"height_offset_m must be a number of metres, not {value!r}")
    v = float(value)
    if not -MAX_HEIGHT_OFFSET_M <= v <= MAX_HEIGHT_OFFSET_M:  # NaN fails too
        raise ProvisioningError(
            f"height_offset_m must be within +-{MAX_HEIGHT_OFFSET_M} m, not {value!r}"
        )
    return v


async def create_device(
    *,
    session: AsyncSession,
    device_id: str,
    type: str,
    facility_id: int,
    room_id: int | None = None,
    resident_id: str | None = None,
    zone_map: dict[str, Any] | None = None,
) -> Device:
    if not is_valid_device_id(device_id):
        raise ProvisioningError("device id must match [A-Za-z0-9_-]{1,64}")
    if type not in DEVICE_TYPES:
        raise ProvisioningError(f"device type must be one of {', '.join(DEVICE_TYPES)}")
    if await session.get(Device, device_id) is not None:
        raise ProvisioningError(f"device {device_id} already exists")
    await _check_refs(session, facility_id, room_id, resident_id)
    device = Device(
        id=device_id,
        type=type,
        facility_id=facility_id,
        room_id=room_id,
        resident_id=resident_id,
        zone_map=zone_map or {},
    )
    session.add(device)
    await session.flush()
    session.add(DeviceBinding(device_id=device_id, room_id=room_id, resident_id=resident_id))
    await session.flush()
    return device


async def rebind_device(
    *,
    session: AsyncSession,
    device: Device,
    room_id: int | None,
    resident_id: str | None,
    zone_map: dict[str, Any] | None = None,
) -> Device:
    """Move a device: close its current binding and open a new one; its history stays."""
    await _check_refs(session, device.facility_id, room_id, resident_id)
    at = now_s()
    current = await session.scalar(
        select(DeviceBinding).where(
            DeviceBinding.device_id == device.id, DeviceBinding.unbound_at.is_(None)
        )
    )
    if current is not None:
        current.unbound_at = at
    device.room_id = room_id
    device.resident_id = resident_id
    if zone_map is not None:
        device.zone_map = zone_map
    session.add(
        DeviceBinding(device_id=device.id, room_id=room_id, resident_id=resident_id, bound_at=at)
    )
    await session.flush()
    return device


async def _check_refs(
    session: AsyncSession, facility_id: int, room_id: int | None, resident_id: str | None
) -> None:
    if await session.get(Facility, facility_id) is None:
        raise ProvisioningError(f"facility {facility_id} does not exist")
    # A device of facility A bound to a room or resident of B would show B's calls to A's staff
    # (with the resident's name) and hide them from B's: FacilityMismatch, a 422.
    if room_id is not None:
        await check_room_in_facility(session, room_id, facility_id)
    if resident_id is not None:
        await check_resident_in_facility(session, resident_id, facility_id)
