"""Device supervision: online/offline from status, Last Will and silence; battery; clock skew.

Liveness is tracked in numpy arrays indexed by the registry's device slot, so marking a batch of
10,000 radars as seen is one vectorised assignment and the offline sweep is one comparison. This
module records device health on the device rows; the alerts that follow from it (offline, mass
silence, battery low) are `alerts.device_faults`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from devices.events import StatusEvent
from devices.models import Device
from devices.registry import DeviceInfo

# PROTOCOL.md: offline after 3 expected intervals with no message of any kind. A radar streams a
# window every second; buttons and kits send a status heartbeat every 60 s.
EXPECTED_INTERVAL_S = {"radar": 1.0, "button": 60.0, "kit": 60.0}
MISSED_INTERVALS = 3
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
# The devices still silent when a mass-silence alert resolves get their own alerts only if still
# silent this long after: the returning devices' first reports arrive spread over a moment (QoS 0
# frames back to back, reconnect back-off), and a straggler must not be called broken.
MASS_RETURN_GRACE_S = 3.0


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


async def set_state(session: AsyncSession, device_ids: list[str], state: str) -> None:
    """Record devices as online or offline on their rows (one UPDATE)."""
    if device_ids:
        await session.execute(update(Device).where(Device.id.in_(device_ids)).values(state=state))


@dataclass(frozen=True, slots=True)
class HealthChanges:
    """What a batch of statuses changed that others act on (alerts are raised from these)."""

    went_offline: list[tuple[DeviceInfo, str, float]]  # device, reason, at
    battery: list[tuple[DeviceInfo, float, float]]  # device, battery level, at


class StatusBook:
    """Device health from `status` messages, written in bulk and only when it changed.

    10,000 devices heartbeat every 60 s: ~330 messages/s whose content rarely changes, so the
    book keeps the last written values and battery-alert state in memory and touches the database
    (one executemany per batch) only for real changes.
    """

    def __init__(self) -> None:
        self._written: dict[str, tuple[str, float | None, str | None, float | None]] = {}
        # Written in the open transaction: they become `_written` only once it commits.
        self._pending: dict[str, tuple[str, float | None, str | None, float | None]] = {}

    async def load(self, session: AsyncSession) -> None:
        rows = await session.execute(
            select(Device.id, Device.state, Device.battery, Device.fw, Device.rssi)
        )
        self._written = {i: (st, b, fw, rs) for i, st, b, fw, rs in rows.all()}

    async def apply(
        self,
        session: AsyncSession,
        items: list[tuple[DeviceInfo, StatusEvent, float]],
    ) -> HealthChanges:
        """Record a batch of statuses on the device rows; returns what changed for the alerts."""
        rows: dict[str, dict[str, object]] = {}
        changes = HealthChanges([], [])
        for device, event, received_at in items:
            old = self._pending.get(device.id) or self._written.get(
                device.id, ("unknown", None, None, None)
            )
            new = (
                event.state,
                event.battery if event.battery is not None else old[1],
                event.fw or old[2],
                event.rssi if event.rssi is not None else old[3],
            )
            if _health_changed(old, new):
                self._pending[device.id] = new
                rows[device.id] = {
                    "b_id": device.id,
                    "state": new[0],
                    "battery": new[1],
                    "fw": new[2],
                    "rssi": new[3],
                    "seen": received_at,
                }
            if event.state == "offline":
                reason = "last_will" if event.env.seq < 0 else "reported"
                changes.went_offline.append((device, reason, received_at))
            if event.battery is not None:
                changes.battery.append((device, event.battery, received_at))
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
        return changes

    def confirm(self) -> None:
        """The transaction that wrote the pending rows committed."""
        self._written.update(self._pending)
        self._pending.clear()

    def discard(self) -> None:
        """It failed: the rows were not written, so the next status writes them again."""
        self._pending.clear()


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
