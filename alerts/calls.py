"""Nurse-call buttons: call raises, cancel closes, presence (staff in the room) acknowledges.

Mirrors nurse-call practice (FIELD-NOTES, care practice): Call, Cancel and Presence, and the button
lights when staff acknowledge (`call_acknowledged`) and goes dark when the call is closed.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import service
from alerts.models import Alert
from alerts.policy import DEFAULT_SEVERITY
from care_hub.kernel.events import EventBus
from devices.events import ButtonEvent
from devices.registry import DeviceInfo

Command = tuple[str, bytes]  # (topic, payload) to publish at QoS 1 after commit


def call_key(device_id: str) -> str:
    return f"call:{device_id}"


def command_for(alert: Alert, cmd: str) -> Command | None:
    """The hub -> device command that mirrors a call alert's state on its button (PROTOCOL section 2)."""
    if alert.type != "call" or not alert.device_id:
        return None
    payload: dict[str, Any] = {"cmd": cmd, "alert_id": str(alert.id)}
    return f"care/v1/{alert.device_id}/cmd", orjson.dumps(payload)


def _video_offer(device: DeviceInfo) -> dict[str, Any]:
    """`{"video": True}` when the resident's call button is a video caller (resident setting
    `video.call_button`): acknowledging the call then opens a video call (video/, docs/video.md)."""
    video = device.resident_settings.get("video")
    return {"video": True} if isinstance(video, dict) and video.get("call_button") else {}


async def handle_button(
    session: AsyncSession, bus: EventBus, device: DeviceInfo, event: ButtonEvent
) -> list[Command]:
    ts = event.env.ts
    if event.action == "call":
        _, _created = await service.raise_alert(
            session,
            bus,
            type="call",
            severity=DEFAULT_SEVERITY["call"],
            facility_id=device.facility_id,
            resident_id=device.resident_id,
            device_id=device.id,
            dedupe_key=call_key(device.id),
            detail={"room_id": device.room_id, "device_ts": ts, **_video_offer(device)},
            actor=device.id,
        )
        return []
    alert = await service.find_active(session, call_key(device.id), lock=True)
    if alert is None:
        return []  # a cancel or presence with no call open: nothing to do
    if event.action == "cancel":
        # Only the resident at the button can cancel (FIELD-NOTES: bathroom calls cancel in place).
        await service.resolve(
            session,
            bus,
            alert,
            actor=device.id,
            source="device",
            outcome="cancelled",
            note="cancelled at the button",
        )
        cmd = command_for(alert, "call_closed")
    else:  # presence: staff arrived in the room (recorded even if a screen acknowledged first)
        changed = await service.record_presence(session, bus, alert, actor=device.id, device_ts=ts)
        if not changed:
            return []
        cmd = command_for(alert, "call_acknowledged")
    return [cmd] if cmd else []
