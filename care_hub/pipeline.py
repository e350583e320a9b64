"""The ingest pipeline: MQTT batch -> decode -> trust checks -> handlers -> one commit -> ack.

Written out plainly (ingest, decode, filter, act). Bad input never raises out of here: each
rejected message becomes a dead-letter row and a metric, and the good messages beside it go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.calls import Command, handle_button
from care_hub.events import EventBus
from devices.contract import ContractError, decode, excerpt
from devices.dedupe import SeqTracker
from devices.events import KINDS_BY_DEVICE_TYPE, ButtonEvent, DeviceEvent, StatusEvent
from devices.models import DeadLetter, Device
from devices.mqtt_client import MqttConnection, RawMessage
from devices.registry import DeviceRegistry
from devices.supervision import handle_status

log = logging.getLogger(__name__)

# One batch bounds one transaction; large enough to amortise the commit at 12k msg/s.
BATCH_MAX = 5000
# How long to wait when the queue is empty: the added latency for a lone call press.
IDLE_SLEEP_S = 0.01


@dataclass
class IngestMetrics:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    last_batch_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"received": self.received, "accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": dict(self.rejected), "rejected_total": sum(self.rejected.values()),
                "batches": self.batches, "last_batch_s": self.last_batch_s}


@dataclass(frozen=True, slots=True)
class Rejection:
    topic: str
    device_id: str | None
    reason: str
    detail: str
    payload: bytes


def _device_id_of(topic: str) -> str | None:
    parts = topic.split("/")
    return parts[2][:64] if len(parts) > 2 and parts[0] == "care" else None


def decode_batch(messages: list[RawMessage]) -> tuple[list[DeviceEvent], list[Rejection]]:
    """Pure and CPU-bound: runs in a worker thread so the event loop stays responsive."""
    events: list[DeviceEvent] = []
    rejects: list[Rejection] = []
    for m in messages:
        try:
            events.append(decode(m.topic, m.payload))
        except ContractError as exc:
            rejects.append(Rejection(m.topic, _device_id_of(m.topic), exc.reason, str(exc), m.payload))
    return events, rejects


class IngestPipeline:
    def __init__(self, *, conn: MqttConnection, registry: DeviceRegistry, seqs: SeqTracker,
                 session_factory: async_sessionmaker[AsyncSession], bus: EventBus) -> None:
        self.conn = conn
        self.registry = registry
        self.seqs = seqs
        self.session_factory = session_factory
        self.bus = bus
        self.metrics = IngestMetrics()

    async def run(self) -> None:
        while True:
            batch = self.conn.drain(BATCH_MAX)
            if not batch:
                await asyncio.sleep(IDLE_SLEEP_S)
                continue
            try:
                await self.process(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Not acknowledged: QoS 1 messages come back from the broker after a reconnect.
                log.exception("ingest batch of %d failed; not acknowledged", len(batch))
                await asyncio.sleep(1.0)

    async def process(self, batch: list[RawMessage]) -> None:
        started = time.perf_counter()
        self.metrics.received += len(batch)
        events, rejects = await asyncio.to_thread(decode_batch, batch)
        unknown = {e.env.device_id for e in events if self.registry.get(e.env.device_id) is None}
        if unknown:
            await self.registry.resolve_unknown(unknown)
        accepted: list[DeviceEvent] = []
        for ev in events:
            env = ev.env
            device = self.registry.get(env.device_id)
            if device is None:
                rejects.append(Rejection(f"care/v1/{env.device_id}/{env.kind}", env.device_id,
                                         "unknown_device", "device id is not provisioned", b""))
                continue
            if env.kind not in KINDS_BY_DEVICE_TYPE.get(device.type, ()):
                rejects.append(Rejection(f"care/v1/{env.device_id}/{env.kind}", env.device_id,
                                         "wrong_device_type",
                                         f"a {device.type} may not publish {env.kind}", b""))
                continue
            if not self.seqs.accept(env.device_id, env.kind, env.seq,
                                    persist=env.kind not in ("radar/frames", "radar/vitals")):
                self.metrics.duplicates += 1
                continue
            accepted.append(ev)
        commands: list[Command] = []
        async with self.session_factory() as session:
            for ev in accepted:
                device = self.registry.get(ev.env.device_id)
                assert device is not None
                if isinstance(ev, ButtonEvent):
                    commands += await handle_button(session, self.bus, device, ev)
                elif isinstance(ev, StatusEvent):
                    await handle_status(session, self.bus, device, ev)
            await self._dead_letter(session, rejects)
            await self.seqs.flush(session)
            await self.bus.commit(session)
        # Persisted: now the broker may forget them, and devices may hear about the change.
        self.conn.ack(batch)
        for topic, payload in commands:
            self.conn.publish(topic, payload, qos=1)
        self.metrics.accepted += len(accepted)
        self.metrics.batches += 1
        self.metrics.last_batch_s = time.perf_counter() - started

    async def _dead_letter(self, session: AsyncSession, rejects: list[Rejection]) -> None:
        if not rejects:
            return
        per_device: Counter[str] = Counter()
        for r in rejects:
            self.metrics.rejected[r.reason] += 1
            log.warning("rejected %s from %s: %s (%s)", r.topic, r.device_id, r.reason, r.detail)
            if r.device_id and self.registry.get(r.device_id) is not None:
                per_device[r.device_id] += 1
        session.add_all([DeadLetter(device_id=r.device_id, topic=r.topic[:300], reason=r.reason,
                                    detail=r.detail[:1000], excerpt=excerpt(r.payload))
                         for r in rejects])
        for device_id, n in per_device.items():
            await session.execute(update(Device).where(Device.id == device_id)
                                  .values(rejected_count=Device.rejected_count + n))
