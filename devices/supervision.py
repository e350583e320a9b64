"""Device supervision: online/offline from status, Last Will and silence; battery; clock skew.

Liveness is tracked in numpy arrays indexed by the registry's device slot, so marking a batch of
10,000 radars as seen is one vectorised assignment and the offline sweep is one comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import service as alert_service
from alerts.policy import DEFAULT_SEVERITY
from care_hub.events import EventBus
from devices.events import StatusEvent
from devices.models import Device
from devices.registry import DeviceInfo

# PROTOCOL.md: offline after 3 expected intervals with no message of any kind. A radar streams a
# window every second; buttons and kits send a status heartbeat every 60 s.
EXPECTED_INTERVAL_S = {"radar": 1.0, "button": 60.0, "kit": 60.0}
MISSED_INTERVALS = 3
# Battery below this raises battery_low (issue 3); hysteresis avoids flapping at the threshold.
BATTERY_LOW = 0.20
BATTERY_OK = 0.25
# A device clock this far from the hub's is flagged (stored on the device), not rejected: the data
# is still good, but its timestamps need care (trail, latency figures).
CLOCK_SKEW_FLAG_S = 30.0
# When this share of a facility's devices (and at least MASS_SILENCE_MIN of them) fall silent in
# the same sweep, the cause is the network, broker or power, not the devices: one facility-level
# alert tells the staff that, instead of a wall of thousands of per-device alerts.
MASS_SILENCE_FRACTION = 0.2
MASS_SILENCE_MIN = 20
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
        return cls(np.zeros(capacity), np.full(capacity, np.inf), np.zeros(capacity, bool),
                   np.zeros(capacity, bool))

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


async def mark_offline(session: AsyncSession, bus: EventBus, device: DeviceInfo, *, reason: str,
                       at: float) -> None:
    row = await session.get(Device, device.id)
    if row is not None:
        row.state = "offline"
    if await alert_service.find_active(session, offline_key(device.id)) is not None:
        return  # already raised (e.g. Last Will, then the silence sweep)
    await alert_service.raise_alert(
        session, bus, type="device_offline", severity=offline_severity(device),
        facility_id=device.facility_id, resident_id=device.resident_id, device_id=device.id,
        dedupe_key=offline_key(device.id), at=at, actor="system",
        detail={"reason": reason, "device_type": device.type, "lives_alone": device.lives_alone})


def mass_key(facility_id: int) -> str:
    return f"device_offline:facility:{facility_id}"


async def mark_mass_silence(session: AsyncSession, bus: EventBus, facility_id: int,
                            devices: list[DeviceInfo], *, at: float) -> None:
    await session.execute(update(Device).where(Device.id.in_([d.id for d in devices])).values(state="offline"))
    await alert_service.raise_alert(
        session, bus, type="device_offline", severity="high", facility_id=facility_id, resident_id=None,
        device_id=None, dedupe_key=mass_key(facility_id), at=at, actor="system",
        detail={"reason": "mass_silence", "devices": len(devices),
                "device_ids": sorted(d.id for d in devices)[:50]})


async def mark_online(session: AsyncSession, bus: EventBus, devices: list[DeviceInfo], *, at: float,
                      alerted: set[str]) -> None:
    """Devices heard from again: one UPDATE for all; resolve device_offline alerts where raised.

    `alerted` holds the ids with an active device_offline alert; returned ones are removed from it.
    """
    await session.execute(update(Device).where(Device.id.in_([d.id for d in devices])).values(state="online"))
    for device in devices:
        if device.id not in alerted:
            continue
        alerted.discard(device.id)
        alert = await alert_service.find_active(session, offline_key(device.id))
        if alert is not None:
            await alert_service.resolve(session, bus, alert, actor="system", source="device",
                                        outcome="device_returned", note="device is back online", at=at)
    facilities = {d.facility_id for d in devices}
    for facility_id in facilities:
        mass = await alert_service.find_active(session, mass_key(facility_id)) if facilities else None
        if mass is not None and mass.state == "open" and len(devices) >= MASS_SILENCE_MIN:
            await alert_service.resolve(session, bus, mass, actor="system", source="device",
                                        outcome="device_returned", note="devices are reporting again", at=at)


async def handle_status(session: AsyncSession, bus: EventBus, device: DeviceInfo,
                        event: StatusEvent, *, received_at: float) -> None:
    row = await session.get(Device, device.id)
    if row is None:
        return
    row.last_seen_at = received_at
    if event.battery is not None:
        row.battery = event.battery
    if event.fw is not None:
        row.fw = event.fw
    if event.rssi is not None:
        row.rssi = event.rssi
    if event.state == "offline":
        await mark_offline(session, bus, device, reason="last_will" if event.env.seq < 0 else "reported",
                           at=received_at)
    else:
        row.state = "online"
    if event.battery is None:
        return
    active = await alert_service.find_active(session, battery_key(device.id))
    if event.battery < BATTERY_LOW and active is None:
        await alert_service.raise_alert(
            session, bus, type="battery_low", severity=DEFAULT_SEVERITY["battery_low"],
            facility_id=device.facility_id, resident_id=device.resident_id, device_id=device.id,
            dedupe_key=battery_key(device.id), at=received_at,
            detail={"battery": event.battery, "threshold": BATTERY_LOW})
    elif event.battery >= BATTERY_OK and active is not None:
        await alert_service.resolve(session, bus, active, actor="system", source="device",
                                    outcome="resolved", note="battery replaced or charged")
