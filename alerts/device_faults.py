"""Alerts about the devices themselves: offline (one, or a whole facility at once) and battery low.

`devices.supervision` decides what is silent, offline or low on battery; this module raises and
resolves the alerts that tell the staff, deduplicated by key so a Last Will followed by the
silence sweep is one alert.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import service as alert_service
from alerts.models import Alert
from alerts.policy import DEFAULT_SEVERITY
from care_hub.kernel.events import EventBus
from devices.registry import DeviceInfo

# A radar watching someone who lives alone is their only safety net: its loss matters more.
OFFLINE_SEVERITY_LIVES_ALONE_RADAR = "high"
# Battery below this raises battery_low; hysteresis avoids flapping at the threshold.
BATTERY_LOW = 0.20
BATTERY_OK = 0.25


def offline_key(device_id: str) -> str:
    return f"device_offline:{device_id}"


def battery_key(device_id: str) -> str:
    return f"battery_low:{device_id}"


def mass_key(facility_id: int) -> str:
    return f"device_offline:facility:{facility_id}"


def offline_severity(device: DeviceInfo) -> str:
    if device.type == "radar" and device.lives_alone:
        return OFFLINE_SEVERITY_LIVES_ALONE_RADAR
    return DEFAULT_SEVERITY["device_offline"]


async def raise_offline(
    session: AsyncSession, bus: EventBus, device: DeviceInfo, *, reason: str, at: float
) -> None:
    if await alert_service.find_active(session, offline_key(device.id)) is not None:
        return  # already raised (e.g. Last Will, then the silence sweep)
    await alert_service.raise_alert(
        session,
        bus,
        type="device_offline",
        severity=offline_severity(device),
        facility_id=device.facility_id,
        resident_id=device.resident_id,
        device_id=device.id,
        dedupe_key=offline_key(device.id),
        at=at,
        actor="system",
        detail={"reason": reason, "device_type": device.type, "lives_alone": device.lives_alone},
    )


async def raise_mass_silence(
    session: AsyncSession, bus: EventBus, facility_id: int, devices: list[DeviceInfo], *, at: float
) -> None:
    await alert_service.raise_alert(
        session,
        bus,
        type="device_offline",
        severity="high",
        facility_id=facility_id,
        resident_id=None,
        device_id=None,
        dedupe_key=mass_key(facility_id),
        at=at,
        actor="system",
        detail={
            "reason": "mass_silence",
            "devices": len(devices),
            "device_ids": sorted(d.id for d in devices)[:50],
        },
    )


async def resolve_offline(
    session: AsyncSession, bus: EventBus, devices: list[DeviceInfo], *, at: float, alerted: set[str]
) -> None:
    """Devices heard from again: resolve their device_offline alerts where raised.

    `alerted` holds the ids with an active device_offline alert; returned ones are removed from it.
    """
    for device in devices:
        if device.id not in alerted:
            continue
        alerted.discard(device.id)
        await alert_service.resolve_active(
            session,
            bus,
            dedupe_key=offline_key(device.id),
            outcome="device_returned",
            actor="system",
            source="device",
            note="device is back online",
            at=at,
        )


async def resolve_mass_silence(
    session: AsyncSession, bus: EventBus, facility_id: int, *, at: float
) -> None:
    await alert_service.resolve_active(
        session,
        bus,
        dedupe_key=mass_key(facility_id),
        outcome="device_returned",
        actor="system",
        source="device",
        note="devices are reporting again",
        at=at,
    )


async def active_offline_device_ids(session: AsyncSession) -> set[str]:
    rows = await session.scalars(
        select(Alert.device_id).where(
            Alert.type == "device_offline",
            Alert.state != "resolved",
            Alert.device_id.is_not(None),
        )
    )
    return {d for d in rows.all() if d}


class BatteryAlerts:
    """battery_low with hysteresis; the set of alerted devices is kept in memory so the ~330
    status heartbeats a second of a 10,000-device site cost no query."""

    def __init__(self) -> None:
        self.alerted: set[str] = set()
        self._undo: list[tuple[str, bool]] = []  # (device, was alerted) until the commit

    def confirm(self) -> None:
        self._undo.clear()

    def discard(self) -> None:
        """The transaction failed: the alert changes did not happen, forget them."""
        for device_id, was in reversed(self._undo):
            if was:
                self.alerted.add(device_id)
            else:
                self.alerted.discard(device_id)
        self._undo.clear()

    async def load(self, session: AsyncSession) -> None:
        keys = await session.scalars(
            select(Alert.device_id).where(Alert.type == "battery_low", Alert.state != "resolved")
        )
        self.alerted = {k for k in keys.all() if k}

    async def judge(
        self, session: AsyncSession, bus: EventBus, device: DeviceInfo, battery: float, at: float
    ) -> None:
        alerted = device.id in self.alerted
        if battery < BATTERY_LOW and not alerted:
            self._undo.append((device.id, alerted))
            self.alerted.add(device.id)
            if await alert_service.find_active(session, battery_key(device.id)) is None:
                await alert_service.raise_alert(
                    session,
                    bus,
                    type="battery_low",
                    severity=DEFAULT_SEVERITY["battery_low"],
                    facility_id=device.facility_id,
                    resident_id=device.resident_id,
                    device_id=device.id,
                    dedupe_key=battery_key(device.id),
                    at=at,
                    detail={"battery": battery, "threshold": BATTERY_LOW},
                )
        elif battery >= BATTERY_OK and alerted:
            self._undo.append((device.id, alerted))
            self.alerted.discard(device.id)
            await alert_service.resolve_active(
                session,
                bus,
                dedupe_key=battery_key(device.id),
                outcome="resolved",
                actor="system",
                source="device",
                note="battery replaced or charged",
                at=at,
            )


def ingest_key(facility_id: int) -> str:
    return f"ingest_stalled:facility:{facility_id}"


async def raise_ingest_stalled(
    session: AsyncSession, bus: EventBus, facility_id: int, *, since: float, error: str | None
) -> None:
    """The hub itself is not taking device messages in: every call and fall may be waiting."""
    await alert_service.raise_alert(
        session,
        bus,
        type="ingest_stalled",
        severity=DEFAULT_SEVERITY["ingest_stalled"],
        facility_id=facility_id,
        resident_id=None,
        device_id=None,
        dedupe_key=ingest_key(facility_id),
        at=since,
        actor="system",
        detail={"reason": "no_progress", "error": (error or "")[:300]},
    )


async def resolve_ingest_stalled(
    session: AsyncSession, bus: EventBus, facility_id: int, *, at: float
) -> None:
    await alert_service.resolve_active(
        session,
        bus,
        dedupe_key=ingest_key(facility_id),
        outcome="resolved",
        actor="system",
        source="system",
        note="device messages are being taken in again",
        at=at,
    )
