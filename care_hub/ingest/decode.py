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


# A decoded event, when it was received, and the index of its message in the batch.
Decoded = tuple[DeviceEvent, float, int]


def decode_batch(messages: list[RawMessage]) -> tuple[list[Decoded], list[Rejection]]:
    """Pure and CPU-bound: runs in a worker thread so the event loop stays responsive."""
    events: list[Decoded] = []
    rejects: list[Rejection] = []
    for i, m in enumerate(messages):
        try:
            events.append((decode(m.topic, m.payload), m.received_at, i))
        except ContractError as exc:
            will = _last_will(m) if exc.reason == "missing_field" else None
            if will is not None:
                events.append((will, m.received_at, i))
            else:
                rejects.append(
                    Rejection(m.topic, device_id_of(m.topic), exc.reason, str(exc), m.payload)
                )
    return events, rejects
