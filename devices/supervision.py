"""Device status: online/offline, battery, firmware and signal from the `status` topic."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from care_hub.db import now_s
from care_hub.events import EventBus
from devices.events import StatusEvent
from devices.models import Device
from devices.registry import DeviceInfo


async def handle_status(session: AsyncSession, bus: EventBus, device: DeviceInfo,
                        event: StatusEvent) -> None:
    row = await session.get(Device, device.id)
    if row is None:
        return
    row.state = event.state
    row.last_seen_at = now_s()
    if event.battery is not None:
        row.battery = event.battery
    if event.fw is not None:
        row.fw = event.fw
    if event.rssi is not None:
        row.rssi = event.rssi
