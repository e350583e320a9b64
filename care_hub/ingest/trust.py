"""Trust step: only provisioned devices, publishing their own kinds, once each (dedupe by seq)."""

from __future__ import annotations

import orjson

from care_hub.ingest.decode import Decoded, Rejection
from care_hub.ingest.metrics import IngestMetrics
from devices.contract import cmd_topic
from devices.dedupe import SeqTracker
from devices.events import KINDS_BY_DEVICE_TYPE, DeviceEvent
from devices.registry import DeviceInfo, DeviceRegistry

# Radar streams are QoS 0: never redelivered, so their seq marks need no persisting.
_STREAMED = ("radar/frames", "radar/vitals")

Accepted = tuple[DeviceEvent, float, DeviceInfo]
# Kinds the hub confirms end to end once stored (docs/device-contract.md, "Receipts"): a broker can
# acknowledge a QoS 1 message to its device and die before it saved or delivered it (Mosquitto
# writes the PUBACK before its autosave: docs/reliability.md), so a call button re-sends a press
# until the hub says it has it. The re-send has the same seq: stored once, confirmed again.
RECEIPT_KINDS = ("button",)


def receipt(ev: DeviceEvent) -> tuple[str, bytes]:
    """The hub -> device "received" command for a stored (or already stored) message."""
    env = ev.env
    body = {"cmd": "received", "kind": env.kind, "seq": env.seq, "ts": env.ts}
    return cmd_topic(env.device_id), orjson.dumps(body)


def _reject(ev: DeviceEvent, reason: str, detail: str) -> Rejection:
    env = ev.env
    return Rejection(f"care/v1/{env.device_id}/{env.kind}", env.device_id, reason, detail, b"")


async def admit(
    decoded: list[Decoded],
    *,
    registry: DeviceRegistry,
    seqs: SeqTracker,
    metrics: IngestMetrics,
    rejects: list[Rejection],
    receipts: list[DeviceEvent] | None = None,
) -> tuple[list[Accepted], list[int]]:
    """Events from known devices of the right type that are not redeliveries, with the index of
    each one's message in the batch; the rest are added to `rejects` (or counted as duplicates).
    `receipts` gets the events of RECEIPT_KINDS to confirm once the batch is stored: accepted
    ones and redeliveries alike (a re-sent press whose receipt was lost is confirmed again)."""
    get = registry.get
    devices = [get(e.env.device_id) for e, _, _ in decoded]
    unknown = {e.env.device_id for (e, _, _), d in zip(decoded, devices, strict=True) if d is None}
    if unknown:
        await registry.resolve_unknown(unknown)
        devices = [get(e.env.device_id) for e, _, _ in decoded]  # as they are after the await
    kinds = KINDS_BY_DEVICE_TYPE
    accepted: list[Accepted] = []
    origin: list[int] = []
    for (ev, received_at, index), device in zip(decoded, devices, strict=True):
        env = ev.env
        if device is None:
            rejects.append(_reject(ev, "unknown_device", "device id is not provisioned"))
            continue
        if env.kind not in kinds.get(device.type, ()):
            rejects.append(
                _reject(ev, "wrong_device_type", f"a {device.type} may not publish {env.kind}")
            )
            continue
        if receipts is not None and env.kind in RECEIPT_KINDS and env.seq >= 0:
            receipts.append(ev)
        if env.seq >= 0 and not remark(seqs, ev):
            metrics.duplicates += 1
            continue
        accepted.append((ev, received_at, device))
        origin.append(index)
    return accepted, origin


def remark(seqs: SeqTracker, ev: DeviceEvent) -> bool:
    """Mark the event's seq (tentatively, until the batch commits); False for a redelivery."""
    env = ev.env
    return seqs.accept(
        env.device_id,
        env.kind,
        env.seq,
        persist=env.kind not in _STREAMED,
        ts=env.ts,
        boot=env.boot,
    )
