"""Device supervision: online/offline from status, Last Will and silence; battery; clock skew.

Liveness is tracked in numpy arrays indexed by the registry's device slot, so marking a batch of
10,000 radars as seen is one vectorised assignment and the offline sweep is one comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import service as alert_service
from alerts.models import Alert
from alerts.policy import DEFAULT_SEVERITY
from care_hub.events import EventBus
from devices.events import StatusEvent
from devices.models import Device
from devices.registry import DeviceInfo

# PROTOCOL.md: offline after 3 expected intervals with no message of any kind. A radar streams a
# window every second; buttons and kits send a status heartbeat every 60 s.
EXPECTED_INTERVAL_S = {"radar": 1.0, "button": 60.0, "kit": 60.0}
MISSED_INTERVALS = 3
# Battery below this raises battery_low; hysteresis avoids flapping at the threshold.
BATTERY_LOW = 0.20
BATTERY_OK = 0.25
# A device clock this far from the hub's is flagged (stored on the device), not rejected: the data
# is still good, but its timestamps need care (trail, latency figures).
CLOCK_SKEW_FLAG_S = 30.0
# When MASS_SILENCE_MIN of a facility's devices, or this share of them, fall silent in the same
# one-second sweep, the cause is the network, broker or power, not the devices: one facility-level
# alert tells the staff that, instead of a wall of thousands of per-device alerts.
MASS_SILENCE_FRACTION = 0.2
MASS_SILENCE_MIN = 20
# A mass-silence alert resolves when all but this share of its devices, and fewer than
# MASS_SILENCE_MIN, are back; the ones still silent then get their own device_offline alerts (they
# are broken, not the network). Hundreds still silent stay under the one alert: a wall of
# per-device alerts is what it exists to prevent, and writing them all at once stalled ingest.
MASS_RESOLVE_REMAINING_FRACTION = 0.2
# A radar watching someone who lives alone is their only safety net: its loss matters more.
OFFLINE_SEVERITY_LIVES_ALONE_RADAR = "high"


def offline_key(device_id: str) -> str:
    return f"device_offline:{device_id}"


def battery_key(device_id: str) -> str:
    return f"battery_low:{device_id}"


def offline_severity(device: DeviceInfo) -> str:
    if device.type == "radar" and device.lives_alone:
        return OFFLINE_SEVERITY_LIVES_ALONE_RADAR
    return DEFAULT_SEVERITY["device_offline"]


@dataclass
class Liveness:
    """Per-slot last-seen times and online flags (hub clock, epoch seconds)."""

    last_seen_s: npt.NDArray[np.float64]
    timeout_s: npt.NDArray[np.float64]
    online: npt.NDArray[np.bool_]
    known: npt.NDArray[np.bool_]  # slot belongs to a provisioned device

    @classmethod
    def empty(cls, capacity: int = 1024) -> Liveness:
        return cls(
            np.zeros(capacity),
            np.full(capacity, np.inf),
            np.zeros(capacity, bool),
            np.zeros(capacity, bool),
        )

    def ensure(self, slot: int) -> None:
        if slot < len(self.last_seen_s):
            return
        n = max(slot + 1, 2 * len(self.last_seen_s))
        grow = n - len(self.last_seen_s)
        self.last_seen_s = np.concatenate([self.last_seen_s, np.zeros(grow)])
        self.timeout_s = np.concatenate([self.timeout_s, np.full(grow, np.inf)])
        self.online = np.concatenate([self.online, np.zeros(grow, bool)])
        self.known = np.concatenate([self.known, np.zeros(grow, bool)])

    def register(self, slot: int, device_type: str, now_s: float) -> None:
        """Start watching a device; silence is counted from now (a hub restart is not an outage)."""
        self.ensure(slot)
        if not self.known[slot]:
            self.last_seen_s[slot] = now_s
            self.online[slot] = True  # presumed: until silence or a Last Will says otherwise
        self.known[slot] = True
        self.timeout_s[slot] = MISSED_INTERVALS * EXPECTED_INTERVAL_S.get(device_type, 60.0)

    def seen(self, slots: npt.NDArray[np.intp], now_s: float) -> npt.NDArray[np.intp]:
        """Mark slots as heard from; returns those that were offline and are back."""
        back = slots[~self.online[slots]]
        self.last_seen_s[slots] = now_s
        self.online[slots] = True
        return np.unique(back)

    def grace(self, now_s: float) -> None:
        """Restart every silence timer (after our own MQTT connection was down: not the devices' fault)."""
        self.last_seen_s[self.known] = np.maximum(self.last_seen_s[self.known], now_s)

    def sweep(self, now_s: float) -> npt.NDArray[np.intp]:
        """Slots silent for longer than their timeout, now marked offline."""
        silent = self.known & self.online & (now_s - self.last_seen_s > self.timeout_s)
        slots = np.flatnonzero(silent)
        self.online[slots] = False
        return slots


async def mark_offline(
    session: AsyncSession, bus: EventBus, device: DeviceInfo, *, reason: str, at: float
) -> None:
    row = await session.get(Device, device.id)
    if row is not None:
        row.state = "offline"
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


def mass_key(facility_id: int) -> str:
    return f"device_offline:facility:{facility_id}"


async def mark_mass_silence(
    session: AsyncSession, bus: EventBus, facility_id: int, devices: list[DeviceInfo], *, at: float
) -> None:
    await session.execute(
        update(Device).where(Device.id.in_([d.id for d in devices])).values(state="offline")
    )
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


async def mark_online(
    session: AsyncSession, bus: EventBus, devices: list[DeviceInfo], *, at: float, alerted: set[str]
) -> None:
    """Devices heard from again: one UPDATE for all; resolve device_offline alerts where raised.

    `alerted` holds the ids with an active device_offline alert; returned ones are removed from it.
    """
    await session.execute(
        update(Device).where(Device.id.in_([d.id for d in devices])).values(state="online")
    )
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


class StatusBook:
    """Device health from `status` messages, written in bulk and only when it changed.

    10,000 devices heartbeat every 60 s: ~330 messages/s whose content rarely changes, so the
    book keeps the last written values and battery-alert state in memory and touches the database
    (one executemany per batch) only for real changes.
    """

    def __init__(self) -> None:
        self._written: dict[str, tuple[str, float | None, str | None, float | None]] = {}
        self.battery_alerted: set[str] = set()

    async def load(self, session: AsyncSession) -> None:
        rows = await session.execute(
            select(Device.id, Device.state, Device.battery, Device.fw, Device.rssi)
        )
        self._written = {i: (st, b, fw, rs) for i, st, b, fw, rs in rows.all()}
        keys = await session.scalars(
            select(Alert.device_id).where(Alert.type == "battery_low", Alert.state != "resolved")
        )
        self.battery_alerted = {k for k in keys.all() if k}

    async def apply(
        self,
        session: AsyncSession,
        bus: EventBus,
        items: list[tuple[DeviceInfo, StatusEvent, float]],
    ) -> list[DeviceInfo]:
        """Record a batch of statuses; returns the devices that reported themselves offline."""
        rows: dict[str, dict[str, object]] = {}
        went_offline: list[DeviceInfo] = []
        for device, event, received_at in items:
            old = self._written.get(device.id, ("unknown", None, None, None))
            new = (
                event.state,
                event.battery if event.battery is not None else old[1],
                event.fw or old[2],
                event.rssi if event.rssi is not None else old[3],
            )
            if _health_changed(old, new):
                self._written[device.id] = new
                rows[device.id] = {
                    "b_id": device.id,
                    "state": new[0],
                    "battery": new[1],
                    "fw": new[2],
                    "rssi": new[3],
                    "seen": received_at,
                }
            if event.state == "offline":
                went_offline.append(device)
                await mark_offline(
                    session,
                    bus,
                    device,
                    at=received_at,
                    reason="last_will" if event.env.seq < 0 else "reported",
                )
            if event.battery is not None:
                await self._battery(session, bus, device, event.battery, received_at)
        if rows:
            table = cast(Table, Device.__table__)
            stmt = (
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(
                    state=bindparam("state"),
                    battery=bindparam("battery"),
                    fw=bindparam("fw"),
                    rssi=bindparam("rssi"),
                    last_seen_at=bindparam("seen"),
                )
            )
            await (await session.connection()).execute(stmt, list(rows.values()))
        return went_offline

    async def _battery(
        self, session: AsyncSession, bus: EventBus, device: DeviceInfo, battery: float, at: float
    ) -> None:
        alerted = device.id in self.battery_alerted
        if battery < BATTERY_LOW and not alerted:
            self.battery_alerted.add(device.id)
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
            self.battery_alerted.discard(device.id)
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


# Changes smaller than these are not worth a database write (the last written value stays).
BATTERY_WRITE_STEP = 0.01
RSSI_WRITE_STEP_DBM = 3.0


def _health_changed(
    old: tuple[str, float | None, str | None, float | None],
    new: tuple[str, float | None, str | None, float | None],
) -> bool:
    if old[0] != new[0] or old[2] != new[2]:
        return True
    return _moved(old[1], new[1], BATTERY_WRITE_STEP) or _moved(old[3], new[3], RSSI_WRITE_STEP_DBM)


def _moved(old: float | None, new: float | None, step: float) -> bool:
    if old is None or new is None:
        return old is not new
    return abs(new - old) >= step
