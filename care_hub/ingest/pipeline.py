"""The ingest loop: MQTT batch -> decode -> trust -> radar -> route by kind -> commit -> ack ->
commands.

Each step is a named function in its own module of this package; `IngestPipeline.process` calls
them in order. Bad input never raises out of here: each rejected message becomes a dead-letter row
and a metric, and the good messages beside it go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

import numpy as np
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.calls import Command
from care_hub.ingest import route
from care_hub.ingest.dead_letters import DeadLetters
from care_hub.ingest.decode import Rejection, decode_batch
from care_hub.ingest.metrics import IngestMetrics
from care_hub.ingest.supervise import Supervisor
from care_hub.ingest.trust import Accepted, admit
from care_hub.kernel.db import now_s
from care_hub.kernel.detections import Detection
from care_hub.kernel.events import EventBus
from devices.dedupe import SeqTracker
from devices.events import RadarFramesEvent, RadarVitalsEvent
from devices.models import Device
from devices.mqtt_client import MqttConnection, RawMessage
from devices.radar.processor import RadarProcessor, radar_config
from devices.radar.worker import RadarWorkerGroup, WorkerReport
from devices.registry import DeviceInfo, DeviceRegistry
from devices.supervision import CLOCK_SKEW_FLAG_S

log = logging.getLogger(__name__)

# One batch bounds one transaction; large enough to amortise the commit at 12k msg/s.
BATCH_MAX = 5000
# How long to wait when the queue is empty: the added latency for a lone call press.
IDLE_SLEEP_S = 0.01


class IngestPipeline:
    def __init__(
        self,
        *,
        conn: MqttConnection,
        registry: DeviceRegistry,
        seqs: SeqTracker,
        session_factory: async_sessionmaker[AsyncSession],
        bus: EventBus,
        radar_capacity: int = 1024,
        in_process_radar: bool = True,
        fall_confirm_s: float = 5.0,
        floor_dwell_s: float = 0.0,
    ) -> None:
        self.conn = conn
        self.registry = registry
        self.seqs = seqs
        self.session_factory = session_factory
        self.bus = bus
        self.metrics = IngestMetrics()
        self.supervisor = Supervisor(registry=registry, bus=bus, session_factory=session_factory)
        self.dead_letters = DeadLetters(registry, self.metrics)
        self._skew: dict[str, float] = {}
        # Radar windows are processed here (in-process) unless a radar worker process owns them;
        # the worker's detections arrive in `inbox`.
        self.radar: RadarProcessor | None = (
            RadarProcessor(radar_capacity, confirm_s=fall_confirm_s, floor_dwell_s=floor_dwell_s)
            if in_process_radar
            else None
        )
        self.inbox: deque[Detection] = deque()
        self.radar_cancel: Callable[[str, float], None] | None = None
        self.worker: RadarWorkerGroup | None = None
        self.worker_reports: deque[WorkerReport] = deque()
        registry.on_change.append(self._watch)
        if self.radar is not None:
            self.radar.configure_many(
                [radar_config(d) for d in registry.all() if d.type == "radar"]
            )

    def _watch(self, device: DeviceInfo) -> None:
        self.supervisor.register(device)
        if self.worker is not None:
            if device.type == "radar":
                self.worker.send("config", radar_config(device))
            else:
                self.worker.send("type", device.id, device.type)
        elif device.type == "radar" and self.radar is not None:
            self.radar.configure(radar_config(device))

    def use_worker(self, worker: RadarWorkerGroup) -> None:
        """Hand the radar topics to a worker process (started by the hub with the current radars)."""
        self.worker = worker
        self.radar = None
        self.radar_cancel = lambda device_id, t_s: worker.send("cancel", device_id, t_s)

    def on_worker_report(self, report: WorkerReport) -> None:
        self.worker_reports.append(report)  # called from the worker's reader thread

    async def load_offline_alerts(self) -> None:
        await self.supervisor.load()

    def behind(self) -> bool:
        """The hub is behind its input: last-seen times are stale, silence may be ours."""
        return (
            len(self.conn.queue) > BATCH_MAX
            or len(self.worker_reports) > 2
            or (self.worker is not None and self.worker.behind(time.monotonic()))
        )

    async def supervise(self) -> None:
        await self.supervisor.sweep_forever(self.conn, self.behind)

    async def run(self) -> None:
        while True:
            batch = self.conn.drain(BATCH_MAX)
            if not batch and not self.inbox and not self.worker_reports:
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
        decoded, rejects = await asyncio.to_thread(decode_batch, batch)
        accepted = await admit(
            decoded, registry=self.registry, seqs=self.seqs, metrics=self.metrics, rejects=rejects
        )
        await self._radar(accepted)
        seen_elsewhere, counted = self._worker_reports()
        detections = [self.inbox.popleft() for _ in range(len(self.inbox))]
        async with self.session_factory() as session:
            commands = await self._store(
                session, accepted, detections, seen_elsewhere, rejects, counted
            )
            await self.bus.commit(session)
        # Persisted: now the broker may forget them, and devices may hear about the change.
        self.conn.ack(batch)
        for topic, payload in commands:
            self.conn.publish(topic, payload, qos=1)
        self.metrics.accepted += len(accepted)
        self.metrics.batches += 1
        self.metrics.last_batch_s = time.perf_counter() - started

    async def _store(
        self,
        session: AsyncSession,
        accepted: list[Accepted],
        detections: list[Detection],
        seen_elsewhere: list[str],
        rejects: list[Rejection],
        counted: list[Rejection],
    ) -> list[Command]:
        """Everything the batch changes, in one transaction (the caller commits)."""
        now = now_s()
        heard = [d.slot for _, _, d in accepted] + [
            d.slot for d in (self.registry.get(i) for i in seen_elsewhere) if d is not None
        ]
        await self.supervisor.heard(session, heard, now)
        if accepted:
            await self._note_skew(session, accepted)
        await route.detections(session, self.bus, self.registry, detections)
        commands = await route.events(
            session,
            bus=self.bus,
            registry=self.registry,
            supervisor=self.supervisor,
            accepted=accepted,
            rejects=rejects,
            on_cancel=self._cancel_pending_fall,
        )
        await self.dead_letters.write(session, rejects)
        await self.dead_letters.write(session, counted, counted=True)
        await self.seqs.flush(session)
        return commands

    async def _radar(self, accepted: list[Accepted]) -> None:
        """Radar step (in-process mode): frames and vitals windows -> detections in the inbox."""
        if self.radar is None:
            return
        frames = [ev for ev, _, _ in accepted if isinstance(ev, RadarFramesEvent)]
        windows = [ev for ev, _, _ in accepted if isinstance(ev, RadarVitalsEvent)]
        if not frames and not windows:
            return
        try:
            self.inbox.extend(await asyncio.to_thread(self.radar.process, frames, windows))
        except Exception:
            # A bug in the signal core must not cost the calls, kits and statuses beside it.
            self.metrics.rejected["signal_core_error"] += len(frames) + len(windows)
            log.exception("radar processing failed for %d windows", len(frames) + len(windows))

    def _worker_reports(self) -> tuple[list[str], list[Rejection]]:
        """Fold in the radar worker's reports: its detections, devices heard, counts, rejects."""
        seen_elsewhere: list[str] = []
        counted: list[Rejection] = []  # the worker counted these already
        for _ in range(len(self.worker_reports)):
            report = self.worker_reports.popleft()
            self.inbox.extend(report.detections)
            seen_elsewhere += report.seen
            self.metrics.received += report.received
            self.metrics.accepted += report.accepted
            self.metrics.duplicates += report.duplicates
            self.metrics.rejected.update(report.rejected)
            counted += [
                Rejection(t, d, r, detail, ex.encode()) for t, d, r, detail, ex in report.rejects
            ]
        return seen_elsewhere, counted

    def _cancel_pending_fall(self, button: DeviceInfo, t_s: float) -> None:
        """A resident's cancel at their button also cancels a fall pending on their radar."""
        if button.resident_id is None:
            return
        for radar in self.registry.all():
            if radar.type == "radar" and radar.resident_id == button.resident_id:
                if self.radar is not None:
                    found = self.radar.cancel_fall(radar.id, t_s)
                    if found is not None:
                        self.inbox.append(found)
                elif self.radar_cancel is not None:
                    self.radar_cancel(radar.id, t_s)

    async def _note_skew(self, session: AsyncSession, accepted: list[Accepted]) -> None:
        """Flag device clocks far from ours: accepted, but the skew is stored on the device."""
        ts = np.fromiter((e.env.ts for e, _, _ in accepted), float, len(accepted))
        received = np.fromiter((r for _, r, _ in accepted), float, len(accepted))
        skew = ts - received
        for i in np.flatnonzero(np.abs(skew) > CLOCK_SKEW_FLAG_S):
            device = accepted[int(i)][2]
            self.metrics.skewed += 1
            previous = self._skew.get(device.id)
            if previous is None or abs(previous - skew[i]) > CLOCK_SKEW_FLAG_S / 2:
                self._skew[device.id] = float(skew[i])
                await session.execute(
                    update(Device)
                    .where(Device.id == device.id)
                    .values(clock_skew_s=round(float(skew[i]), 3))
                )
