"""Route step: each trusted event to the handler of its kind (calls, kits, statuses, detections).

The handlers live with their domain (`alerts.calls`, `alerts.vitals`, `alerts.detections`,
`devices.supervision` through `care_hub.ingest.supervise`); this module only dispatches, inside
the batch's transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.calls import Command, handle_button
from alerts.detections import handle_detection
from alerts.vitals import judge_kit_reading
from care_hub.ingest.decode import Rejection
from care_hub.ingest.supervise import Supervisor
from care_hub.ingest.trust import Accepted
from care_hub.kernel.detections import Detection
from care_hub.kernel.events import EventBus
from care_hub.kernel.models import Measurement
from devices.events import ButtonEvent, KitEvent, StatusEvent
from devices.registry import DeviceInfo, DeviceRegistry


async def detections(
    session: AsyncSession, bus: EventBus, registry: DeviceRegistry, found: list[Detection]
) -> None:
    for d in found:
        source = registry.get(d.device_id)
        if source is not None:
            await handle_detection(session, bus, source, d)


async def events(
    session: AsyncSession,
    *,
    bus: EventBus,
    registry: DeviceRegistry,
    supervisor: Supervisor,
    accepted: list[Accepted],
    rejects: list[Rejection],
    on_cancel: Callable[[DeviceInfo, float], None],
) -> list[Command]:
    """Apply the batch's device events; returns the commands to publish once committed."""
    commands: list[Command] = []
    statuses: list[tuple[DeviceInfo, StatusEvent, float]] = []
    for ev, received_at, device in accepted:
        if isinstance(ev, ButtonEvent):
            if ev.action == "cancel":
                on_cancel(device, ev.env.ts)
            commands += await handle_button(session, bus, device, ev)
        elif isinstance(ev, StatusEvent):
            statuses.append((device, ev, received_at))
        elif isinstance(ev, KitEvent):
            await _kit(session, bus, registry, device, ev, rejects)
    await supervisor.statuses(session, statuses)
    return commands


async def _kit(
    session: AsyncSession,
    bus: EventBus,
    registry: DeviceRegistry,
    device: DeviceInfo,
    ev: KitEvent,
    rejects: list[Rejection],
) -> None:
    facility = registry.resident_facility(ev.resident)
    if facility is None:
        rejects.append(
            Rejection(
                f"care/v1/{device.id}/kit",
                device.id,
                "unknown_resident",
                f"kit.resident: {ev.resident!r} is not a known resident",
                b"",
            )
        )
        return
    await judge_kit_reading(session, bus, device, ev, facility or device.facility_id)
    session.add(
        Measurement(
            resident_id=ev.resident,
            device_id=device.id,
            kind=ev.kit_kind,
            ts=ev.env.ts,
            values=dict(ev.values),
            source="kit",
        )
    )
