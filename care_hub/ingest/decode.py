"""Decode step: raw MQTT messages -> device events, or rejections to dead-letter. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from devices.contract import ContractError, decode
from devices.events import DeviceEvent, Envelope, StatusEvent
from devices.mqtt_client import RawMessage

_LWT_PAYLOAD = {"state": "offline"}


@dataclass(frozen=True, slots=True)
class Rejection:
    topic: str
    device_id: str | None
    reason: str
    detail: str
    payload: bytes


def device_id_of(topic: str) -> str | None:
    parts = topic.split("/")
    return parts[2][:64] if len(parts) > 2 and parts[0] == "care" else None


def _last_will(m: RawMessage) -> StatusEvent | None:
    """PROTOCOL: the Last Will is a bare `{"state":"offline"}` (no ts, no seq), set by the broker."""
    if not m.topic.endswith("/status"):
        return None
    try:
        if orjson.loads(m.payload) != _LWT_PAYLOAD:
            return None
    except orjson.JSONDecodeError:
        return None
    device_id = device_id_of(m.topic)
    if device_id is None:
        return None
    return StatusEvent(Envelope(device_id, "status", m.received_at, -1), "offline")


def decode_batch(
    messages: list[RawMessage],
) -> tuple[list[tuple[DeviceEvent, float]], list[Rejection]]:
    """Pure and CPU-bound: runs in a worker thread so the event loop stays responsive."""
    events: list[tuple[DeviceEvent, float]] = []
    rejects: list[Rejection] = []
    for m in messages:
        try:
            events.append((decode(m.topic, m.payload), m.received_at))
        except ContractError as exc:
            will = _last_will(m) if exc.reason == "missing_field" else None
            if will is not None:
                events.append((will, m.received_at))
            else:
                rejects.append(
                    Rejection(m.topic, device_id_of(m.topic), exc.reason, str(exc), m.payload)
                )
    return events, rejects
