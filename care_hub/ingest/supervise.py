"""Supervision step and loop: who was heard, who fell silent, what their statuses say.

Device liveness and health rows are `devices.supervision`'s; the alerts they lead to are
`alerts.device_faults`'. This module joins the two for the ingest loop and runs the one-second
silence sweep.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import cast

import numpy as np
from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import device_faults
from care_hub.kernel.db import now_s
from care_hub.kernel.events import EventBus
from devices.events import StatusEvent
from devices.models import Device
from devices.mqtt_client import MqttConnection
from devices.registry import DeviceInfo, DeviceRegistry
from devices.supervision import (
    MASS_RESOLVE_REMAINING_FRACTION,
    MASS_RETURN_GRACE_S,
    MASS_SILENCE_FRACTION,
    MASS_SILENCE_MIN,
    Liveness,
    StatusBook,
    set_state,
)

log = logging.getLogger(__name__)

# How often silent devices are looked for, and last-seen times written to the database.
SWEEP_INTERVAL_S = 1.0
LAST_SEEN_FLUSH_S = 30.0


class Supervisor:
    def __init__(
        self,
        *,
        registry: DeviceRegistry,
        bus: EventBus,
        session_factory: async_sessionmaker[AsyncSession],
    ) -> None:
        self.registry = registry
        self.bus = bus
        self.session_factory = session_factory
        self.liveness = Liveness.empty()
        self.status_book = StatusBook()
        self.battery = device_faults.BatteryAlerts()
        # Devices with an active device_offline alert (loaded at start): returning devices without
        # one cost no query.
        self.offline_alerted: set[str] = set()
        # facility -> (devices silenced together, ids still silent) while a mass alert is open
        self.mass_silent: dict[int, tuple[int, set[str]]] = {}
        # device id -> when it gets its own device_offline alert if still silent: the stragglers of
        # a resolved mass-silence alert (MASS_RETURN_GRACE_S)
        self.stragglers: dict[str, float] = {}
        for device in registry.all():
            self.liveness.register(device.slot, device.type, now_s())

    def confirm(self) -> None:
        """The batch's transaction committed: its health rows and battery alerts are real."""
        self.status_book.confirm()
        self.battery.confirm()

    def discard(self) -> None:
        self.status_book.discard()
        self.battery.discard()

    def register(self, device: DeviceInfo) -> None:
        self.liveness.register(device.slot, device.type, now_s())

    async def load(self) -> None:
        async with self.session_factory() as session:
            self.offline_alerted = await device_faults.active_offline_device_ids(session)
            await self.status_book.load(session)
            await self.battery.load(session)

    async def heard(self, session: AsyncSession, slots: list[int], now: float) -> None:
        """Devices heard from in this batch: those that were offline are back."""
        if not slots:
            return
        back_slots = self.liveness.seen(np.asarray(slots, dtype=np.intp), now)
        if not len(back_slots):
            return
        back = [d for d in (self.registry.by_slot(int(s)) for s in back_slots) if d is not None]
        for device in back:
            self.stragglers.pop(device.id, None)
        await set_state(session, [d.id for d in back], "online")
        await device_faults.resolve_offline(
            session, self.bus, back, at=now, alerted=self.offline_alerted
        )
        await self._mass_returns(session, back, now)

    async def statuses(
        self, session: AsyncSession, items: list[tuple[DeviceInfo, StatusEvent, float]]
    ) -> None:
        if not items:
            return
        changes = await self.status_book.apply(session, items)
        for device, reason, at in changes.went_offline:
            await set_state(session, [device.id], "offline")
            await device_faults.raise_offline(session, self.bus, device, reason=reason, at=at)
            self.liveness.online[device.slot] = False
            self.offline_alerted.add(device.id)
        for device, level, at in changes.battery:
            await self.battery.judge(session, self.bus, device, level, at)

    async def sweep_forever(self, conn: MqttConnection, behind: Callable[[], bool]) -> None:
        """Raise device_offline for devices silent past 3 expected intervals; save last-seen times.

        `behind()` says the hub itself is behind (its queue or radar worker): then last-seen times
        are stale and silence may be ours, so judging waits.
        """
        last_flush = time.monotonic()
        was_connected = True
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                now = now_s()
                connected = conn.connected.is_set()
                if not connected or not was_connected:
                    # Our own link was down: silence says nothing about the devices.
                    self.liveness.grace(now)
                    was_connected = connected
                    continue
                if behind():
                    continue
                silent = self.liveness.sweep(now)
                flush = time.monotonic() - last_flush >= LAST_SEEN_FLUSH_S
                due = [d for d, at in self.stragglers.items() if at <= now]
                if len(silent) == 0 and not flush and not due:
                    continue
                async with self.session_factory() as session:
                    await self._report_silent(session, silent, now)
                    await self._report_stragglers(session, due, now)
                    if flush:
                        await self._flush_last_seen(session)
                        last_flush = time.monotonic()
                    await self.bus.commit(session)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("supervision sweep failed")

    async def _report_silent(self, session: AsyncSession, silent: np.ndarray, now: float) -> None:
        by_facility: dict[int, list[DeviceInfo]] = {}
        for slot in silent:
            device = self.registry.by_slot(int(slot))
            if device is not None:
                by_facility.setdefault(device.facility_id, []).append(device)
        watched = Counter(d.facility_id for d in self.registry.all())
        for facility_id, devices in by_facility.items():
            if len(devices) >= MASS_SILENCE_MIN or (
                len(devices) > 1 and len(devices) >= MASS_SILENCE_FRACTION * watched[facility_id]
            ):
                log.warning(
                    "%d devices of facility %s fell silent at once", len(devices), facility_id
                )
                await set_state(session, [d.id for d in devices], "offline")
                await device_faults.raise_mass_silence(
                    session, self.bus, facility_id, devices, at=now
                )
                total, still = self.mass_silent.get(facility_id, (0, set()))
                self.mass_silent[facility_id] = (
                    total + len(devices),
                    still | {d.id for d in devices},
                )
                continue
            for device in devices:
                await self._offline(session, device, now)

    async def _offline(self, session: AsyncSession, device: DeviceInfo, now: float) -> None:
        await set_state(session, [device.id], "offline")
        await device_faults.raise_offline(session, self.bus, device, reason="silent", at=now)
        self.offline_alerted.add(device.id)

    async def _mass_returns(
        self, session: AsyncSession, back: list[DeviceInfo], now: float
    ) -> None:
        """Resolve a facility's mass-silence alert once most of its devices are back; the few
        still silent MASS_RETURN_GRACE_S later then get device_offline alerts of their own."""
        for facility_id in {d.facility_id for d in back}:
            if facility_id not in self.mass_silent:
                continue
            total, still = self.mass_silent[facility_id]
            still -= {d.id for d in back}
            if (
                len(still) > MASS_RESOLVE_REMAINING_FRACTION * total
                or len(still) >= MASS_SILENCE_MIN
            ):
                continue
            del self.mass_silent[facility_id]
            await device_faults.resolve_mass_silence(session, self.bus, facility_id, at=now)
            for device_id in still:
                self.stragglers[device_id] = now + MASS_RETURN_GRACE_S

    async def _report_stragglers(self, session: AsyncSession, due: list[str], now: float) -> None:
        for device_id in due:
            del self.stragglers[device_id]
            device = self.registry.get(device_id)
            if device is not None and not self.liveness.online[device.slot]:
                await self._offline(session, device, now)

    async def _flush_last_seen(self, session: AsyncSession) -> None:
        rows = []
        for device in self.registry.all():
            if self.liveness.known[device.slot]:
                rows.append(
                    {"b_id": device.id, "seen": float(self.liveness.last_seen_s[device.slot])}
                )
        if rows:
            table = cast(Table, Device.__table__)
            stmt = (
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(last_seen_at=bindparam("seen"))
            )
            conn = await session.connection()
            await conn.execute(stmt, rows)
