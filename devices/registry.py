"""In-memory view of provisioned devices for the ingest hot path, refreshed from the database."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from care_hub.kernel.models import Facility, Resident
from devices.models import Device

# An unknown id is looked up in the database at most this often, so a flood of messages from an
# unprovisioned (or spoofed) id costs one query per interval, while a device provisioned by another
# process or the CLI is picked up within seconds.
UNKNOWN_RECHECK_S = 10.0


@dataclass(slots=True)
class DeviceInfo:
    id: str
    type: str
    facility_id: int
    room_id: int | None
    resident_id: str | None
    slot: int  # row of this device in the signal core's state arrays
    lives_alone: bool = False
    at_risk: bool = False  # resident at risk of wandering / night-time bed exits
    resident_settings: dict[str, Any] = field(default_factory=dict)
    fall_confirm_s: float | None = None  # the facility's own, if it set one
    zone_map: dict[str, Any] = field(default_factory=dict)
    timezone: str | None = None  # the facility's IANA time zone
    # What the fall detector learned of the bound resident on this radar (empty if another's).
    learned: dict[str, float] = field(default_factory=dict)
    height_offset_m: float = 0.0  # a radar's height calibration (devices.models.Device)


class DeviceRegistry:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._by_id: dict[str, DeviceInfo] = {}
        self._by_slot: dict[int, DeviceInfo] = {}
        self._resident_facility: dict[str, int] = {}
        self._fall_confirm: dict[int, float] = {}
        self._timezone: dict[int, str] = {}
        self._unknown_checked: dict[str, float] = {}
        self._next_slot = 0
        # Called with each device (re)loaded: the signal core and supervision size their arrays.
        self.on_change: list[Callable[[DeviceInfo], None]] = []

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, device_id: str) -> DeviceInfo | None:
        return self._by_id.get(device_id)

    def all(self) -> list[DeviceInfo]:
        return list(self._by_id.values())

    def by_slot(self, slot: int) -> DeviceInfo | None:
        return self._by_slot.get(slot)

    def resident_facility(self, resident_id: str) -> int | None:
        return self._resident_facility.get(resident_id)

    async def resolve_residents(self, resident_ids: set[str]) -> None:
        """Learn residents not yet cached (provisioned after start), rate-limited like devices."""
        now = time.monotonic()
        due = {
            r
            for r in resident_ids
            if r not in self._resident_facility
            and now - self._unknown_checked.get("resident:" + r, -1e9) >= UNKNOWN_RECHECK_S
        }
        if not due:
            return
        for r in due:
            self._unknown_checked["resident:" + r] = now
        async with self._session_factory() as session:
            rows = await session.execute(
                select(Resident.id, Resident.facility_id).where(Resident.id.in_(due))
            )
            for rid, fid in rows.all():
                self._resident_facility[rid] = fid

    async def load(self) -> None:
        async with self._session_factory() as session:
            for fid, fsettings, tz in (
                await session.execute(select(Facility.id, Facility.settings, Facility.timezone))
            ).all():
                value = (fsettings or {}).get("fall_confirm_s")
                if isinstance(value, int | float) and value > 0:
                    self._fall_confirm[fid] = float(value)
                self._timezone[fid] = tz
            for rid, fid in (
                await session.execute(select(Resident.id, Resident.facility_id))
            ).all():
                self._resident_facility[rid] = fid
            residents = {r.id: r for r in (await session.scalars(select(Resident))).all()}
            for device in (await session.scalars(select(Device))).all():
                await self._put(session, device, residents.get(device.resident_id or ""))

    async def refresh(self, device_id: str) -> DeviceInfo | None:
        """Reload one device (after provisioning or re-binding)."""
        async with self._session_factory() as session:
            device = await session.get(Device, device_id)
            if device is None:
                self._by_id.pop(device_id, None)
                return None
            return await self._put(session, device)

    async def resolve_unknown(self, device_ids: set[str]) -> None:
        """Check ids not in memory against the database, rate-limited per id."""
        now = time.monotonic()
        due = {
            d for d in device_ids if now - self._unknown_checked.get(d, -1e9) >= UNKNOWN_RECHECK_S
        }
        if not due:
            return
        for d in due:
            self._unknown_checked[d] = now
        if len(self._unknown_checked) > 100_000:  # bound memory under an id-spraying attack
            self._unknown_checked.clear()
        async with self._session_factory() as session:
            for device in (await session.scalars(select(Device).where(Device.id.in_(due)))).all():
                await self._put(session, device)

    async def _put(
        self, session: AsyncSession, device: Device, resident: Resident | None = None
    ) -> DeviceInfo:
        existing = self._by_id.get(device.id)
        slot = existing.slot if existing else self._next_slot
        if existing is None:
            self._next_slot += 1
        lives_alone = at_risk = False
        if device.resident_id:
            resident = resident or await session.get(Resident, device.resident_id)
            lives_alone = bool(resident and resident.lives_alone)
            at_risk = bool(resident and resident.at_risk_wandering)
        info = DeviceInfo(
            id=device.id,
            type=device.type,
            facility_id=device.facility_id,
            room_id=device.room_id,
            resident_id=device.resident_id,
            slot=slot,
            lives_alone=lives_alone,
            at_risk=at_risk,
            resident_settings=dict(resident.settings or {}) if resident is not None else {},
            fall_confirm_s=self._fall_confirm.get(device.facility_id),
            zone_map=dict(device.zone_map or {}),
            timezone=await self._timezone_of(session, device.facility_id),
            learned=learned_for(device.learned, device.resident_id),
            height_offset_m=float(device.height_offset_m or 0.0),
        )
        self._by_id[device.id] = info
        self._by_slot[slot] = info
        self._unknown_checked.pop(device.id, None)
        for hook in self.on_change:
            hook(info)
        return info

    async def _timezone_of(self, session: AsyncSession, facility_id: int) -> str | None:
        tz = self._timezone.get(facility_id)
        if tz is None:  # a facility created after start
            tz = await session.scalar(select(Facility.timezone).where(Facility.id == facility_id))
            if tz is not None:
                self._timezone[facility_id] = tz
        return tz


def learned_for(stored: dict[str, Any] | None, resident_id: str | None) -> dict[str, float]:
    """The stored learned heights, if they belong to the resident bound now."""
    if not stored or resident_id is None or stored.get("resident_id") != resident_id:
        return {}
    heights = stored.get("heights") or {}
    return {str(k): float(v) for k, v in heights.items() if isinstance(v, int | float)}
