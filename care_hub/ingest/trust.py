"""Trust step: only provisioned devices, publishing their own kinds, once each (dedupe by seq)."""

from __future__ import annotations

from care_hub.ingest.decode import Decoded, Rejection
from care_hub.ingest.metrics import IngestMetrics
from devices.dedupe import SeqTracker
from devices.events import KINDS_BY_DEVICE_TYPE, DeviceEvent
from devices.registry import DeviceInfo, DeviceRegistry

# Radar streams are QoS 0: never redelivered, so their seq marks need no persisting.
_STREAMED = ("radar/frames", "radar/vitals")

Accepted = tuple[DeviceEvent, float, DeviceInfo]


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
) -> tuple[list[Accepted], list[int]]:
    """Events from known devices of the right type that are not redeliveries, with the index of
    each one's message in the batch; the rest are added to `rejects` (or counted as duplicates)."""
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
