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
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from sqlalchemy import Table, bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.calls import Command
from care_hub.ingest import route
from care_hub.ingest.dead_letters import RETENTION_S, DeadLetters
from care_hub.ingest.decode import Rejection, decode_batch
from care_hub.ingest.health import STALL_S, IngestHealth, watch_forever
from care_hub.ingest.metrics import IngestMetrics
from care_hub.ingest.supervise import Supervisor
from care_hub.ingest.trust import Accepted, admit, receipt, remark
from care_hub.kernel.db import now_s
from care_hub.kernel.detections import Detection
from care_hub.kernel.events import EventBus
from devices.dedupe import SeqTracker
from devices.events import DeviceEvent, RadarFramesEvent, RadarVitalsEvent
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
# How often learned fall-detector heights are persisted (they change over hours).
LEARNED_PERSIST_S = 300.0
# Events that raise or update alerts (buttons, kits, statuses) per transaction: each costs several
# queries (~5-80 ms on a loaded PostgreSQL), so a storm of calls is committed, acknowledged to the
# screens and counted as progress in runs of this many, not all at the end of a 5,000 batch.
HEAVY_PER_TRANSACTION = 50
# Backoff while the database cannot take even a dead letter (the batch is kept meanwhile).
RETRY_MIN_S = 0.5
RETRY_MAX_S = 5.0


class StoreUnavailable(Exception):
    """The database takes nothing, not even a dead letter: keep the batch and retry later."""


@dataclass
class Part:
    """What one transaction stores: some of a batch's events, and (in the first part) the batch's
    detections, liveness and dead letters."""

    accepted: list[Accepted]
    origin: list[int]  # index in the batch of each accepted event's message
    detections: list[Detection] = field(default_factory=list)
    seen_elsewhere: list[str] = field(default_factory=list)
    rejects: list[Rejection] = field(default_factory=list)
    counted: list[Rejection] = field(default_factory=list)


@dataclass
class Work:
    """One drained batch after the in-memory steps, ready to store (again, after a failure):
    parts still to store, commands from the parts stored."""

    batch: list[RawMessage]
    parts: list[Part]
    started: float
    n_accepted: int
    commands: list[Command] = field(default_factory=list)
    receipts: list[Command] = field(default_factory=list)  # "received", once all is stored


def split(
    accepted: list[Accepted], origin: list[int], heavy_per_part: int
) -> list[tuple[list[Accepted], list[int]]]:
    """Cut the accepted events into runs of at most `heavy_per_part` events that each raise or
    update alerts (buttons, kits, statuses: several queries each), radar windows riding along:
    a storm of calls is committed, and shown, a transaction at a time instead of all at the end."""
    out: list[tuple[list[Accepted], list[int]]] = []
    start = heavy = 0
    for i, (ev, _, _) in enumerate(accepted):
        if not isinstance(ev, RadarFramesEvent | RadarVitalsEvent):
            heavy += 1
            if heavy > heavy_per_part:
                out.append((accepted[start:i], origin[start:i]))
                start, heavy = i, 1
    out.append((accepted[start:], origin[start:]))
    return out


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
        stall_s: float = STALL_S,
        dead_letter_retention_s: float = RETENTION_S,
    ) -> None:
        self.conn = conn
        self.registry = registry
        self.seqs = seqs
        self.session_factory = session_factory
        self.bus = bus
        self.metrics = IngestMetrics()
        self.supervisor = Supervisor(registry=registry, bus=bus, session_factory=session_factory)
        self.dead_letters = DeadLetters(registry, self.metrics, retention_s=dead_letter_retention_s)
        self.health = IngestHealth(stall_s)
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
        self._learned: dict[str, tuple[str, dict[str, float]]] = {}
        self._learned_at = time.monotonic()
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

    async def watch_health(self) -> None:
        await watch_forever(
            self.health, registry=self.registry, bus=self.bus, session_factory=self.session_factory
        )

    async def run(self) -> None:
        """Drain, prepare, store, acknowledge; forever. A batch is dropped from memory only once
        every message of it is stored or dead-lettered (then acknowledged); while the database
        cannot take even a dead letter, the batch is kept and retried with backoff, and nothing
        new is drained (the broker holds the rest in the persistent session)."""
        pending: Work | None = None
        unprepared: list[RawMessage] | None = None  # drained, not yet through `prepare`
        backoff_s = RETRY_MIN_S
        while True:
            try:
                if pending is None:
                    if unprepared is None:
                        batch = self.conn.drain(BATCH_MAX)
                        if not batch and not self.inbox and not self.worker_reports:
                            self.health.idle()
                            await asyncio.sleep(IDLE_SLEEP_S)
                            continue
                        self.health.working(batch)
                        unprepared = batch
                    pending = await self.prepare(unprepared)
                    unprepared = None
                await self.store(pending)
                pending = None
                backoff_s = RETRY_MIN_S
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # StoreUnavailable, or a bug: never let the loop die
                self.health.store_failed(repr(exc))
                log.warning("ingest: %r; batch kept, retry in %.1f s", exc, backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(2 * backoff_s, RETRY_MAX_S)

    async def process(self, batch: list[RawMessage]) -> None:
        """Prepare and store one batch (tests and benches drive the pipeline through this)."""
        await self.store(await self.prepare(batch))

    async def prepare(self, batch: list[RawMessage]) -> Work:
        """The in-memory steps: decode, trust, radar, worker reports. Runs once per batch (the
        radar step changes detector state), so a retry of the store step never repeats it."""
        started = time.perf_counter()
        self.metrics.received += len(batch)
        decoded, rejects = await asyncio.to_thread(decode_batch, batch)
        while True:
            received: list[DeviceEvent] = []
            try:
                accepted, origin = await admit(
                    decoded,
                    registry=self.registry,
                    seqs=self.seqs,
                    metrics=self.metrics,
                    rejects=rejects,
                    receipts=received,
                )
                break
            except Exception as exc:  # the registry's lookup of unknown ids reads the database
                self._discard()
                # Kept and retried either way: a failure that lasts shows as a stall (health 503).
                raise StoreUnavailable(f"registry lookup failed: {exc!r}") from exc
        await self._radar(accepted)
        seen_elsewhere, counted = self._worker_reports()
        detections = [self.inbox.popleft() for _ in range(len(self.inbox))]
        runs = split(accepted, origin, HEAVY_PER_TRANSACTION)
        parts = [Part(a, o) for a, o in runs]
        first = parts[0]
        first.detections, first.seen_elsewhere = detections, seen_elsewhere
        first.rejects, first.counted = rejects, counted
        return Work(batch, parts, started, len(accepted), receipts=list(map(receipt, received)))

    async def store(self, work: Work) -> None:
        """Store the batch, a part per transaction; a part that fails is stored again one
        message at a time, so one message the database refuses is dead-lettered and the rest
        are kept. Stored parts leave `work`, so a retry after an outage resumes where it stopped."""
        while work.parts:
            part = work.parts[0]
            try:
                async with self.session_factory() as session:
                    commands = await self._store(
                        session,
                        part.accepted,
                        part.detections,
                        part.seen_elsewhere,
                        part.rejects,
                        part.counted,
                    )
                    await self.bus.commit(session)
            except asyncio.CancelledError:
                self._discard()
                raise
            except Exception as exc:
                self._discard()
                self.metrics.batch_failures += 1
                if not await self._database_up():
                    raise StoreUnavailable(repr(exc)) from exc
                log.warning(
                    "a transaction of %d events failed to store (%r); storing one at a time",
                    len(part.accepted),
                    exc,
                )
                commands = await self._store_each(work.batch, part)
            else:
                self._confirm()
            work.commands += commands
            work.parts.pop(0)
            self.health.progress()
        self._finish(work)

    async def _store_each(self, batch: list[RawMessage], part: Part) -> list[Command]:
        """The slow path after a failed transaction. Progress is recorded on `part` as it goes,
        so a database outage half-way (StoreUnavailable) resumes where it stopped."""
        commands: list[Command] = []
        if part.detections or part.rejects or part.counted or part.seen_elsewhere:
            try:
                async with self.session_factory() as session:
                    await self._store(
                        session,
                        [],
                        part.detections,
                        part.seen_elsewhere,
                        part.rejects,
                        part.counted,
                    )
                    await self.bus.commit(session)
            except Exception as exc:
                if not await self._database_up():
                    raise StoreUnavailable(repr(exc)) from exc
                # A detection the database refuses: each alone; the one that fails is logged.
                await self._store_detections_each(part.detections)
            part.detections, part.rejects, part.counted, part.seen_elsewhere = [], [], [], []
        while part.accepted:
            event, index = part.accepted[0], part.origin[0]
            ev, _, _ = event
            if ev.env.seq >= 0:  # the failed transaction's marks were discarded: mark it again
                remark(self.seqs, ev)
            try:
                async with self.session_factory() as session:
                    commands += await self._store(session, [event], [], [], [], [])
                    await self.bus.commit(session)
                self._confirm()
            except Exception as exc:
                self._discard()
                await self._refused(batch[index], ev.env.device_id, exc)
            part.accepted.pop(0)
            part.origin.pop(0)
        return commands

    async def _store_detections_each(self, detections: list[Detection]) -> None:
        for d in detections:
            try:
                async with self.session_factory() as session:
                    await route.detections(session, self.bus, self.registry, [d])
                    await self.seqs.check(session)  # a fenced node writes nothing
                    await self.bus.commit(session)
            except Exception:
                self.metrics.rejected["detection_store_failed"] += 1
                log.exception(
                    "detection %s of %s could not be stored", type(d).__name__, d.device_id
                )

    async def _refused(self, message: RawMessage, device_id: str, exc: Exception) -> None:
        """The database refused this one message: dead-letter it (then it is acknowledged)."""
        rejection = Rejection(
            message.topic,
            device_id,
            "store_failed",
            f"database refused it: {exc!r}"[:1000],
            message.payload,
        )
        try:
            async with self.session_factory() as session:
                await self.dead_letters.write(session, [rejection])
                await self.seqs.check(session)  # a fenced node writes nothing
                await session.commit()
        except Exception as dl_exc:
            # Never acknowledge what is neither stored nor dead-lettered: keep it and retry (a
            # stall that lasts turns health to 503 and alerts every screen).
            raise StoreUnavailable(f"dead letter not stored: {dl_exc!r}") from dl_exc

    def _confirm(self) -> None:
        """After a commit: in-memory marks of what was stored become real."""
        self.seqs.confirm()
        self.supervisor.confirm()

    def _discard(self) -> None:
        """After a failed transaction: forget what it would have stored."""
        self.seqs.discard()
        self.supervisor.discard()

    async def _database_up(self) -> bool:
        try:
            async with self.session_factory() as session:
                await session.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def _finish(self, work: Work) -> None:
        # Persisted: now the broker may forget them, and devices may hear about the change.
        self.conn.ack(work.batch)
        for topic, payload in work.commands + work.receipts:
            self.conn.publish(topic, payload, qos=1)
        self.metrics.accepted += work.n_accepted
        self.metrics.batches += 1
        self.metrics.last_batch_s = time.perf_counter() - work.started
        self.health.progress()

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
        heard = [d.slot for _, _, d in accepted]
        heard += [d.slot for d in map(self.registry.get, seen_elsewhere) if d is not None]
        await self.supervisor.heard(session, heard, now)
        if accepted:
            await self._note_skew(session, accepted)
        await route.detections(session, self.bus, self.registry, detections)
        late_rejects: list[Rejection] = []  # found while routing (kit for an unknown resident)
        commands = await route.events(
            session,
            bus=self.bus,
            registry=self.registry,
            supervisor=self.supervisor,
            accepted=accepted,
            rejects=late_rejects,
            on_cancel=self._cancel_pending_fall,
        )
        await self.dead_letters.write(session, rejects + late_rejects)
        await self.dead_letters.write(session, counted, counted=True)
        await self.seqs.flush(session)
        await self._persist_learned(session, now)
        return commands

    async def _persist_learned(self, session: AsyncSession, now: float) -> None:
        """What the fall detector learned of each resident (in-process, or reported by the radar
        worker), written every LEARNED_PERSIST_S so it survives a restart."""
        if self.radar is not None and time.monotonic() - self._learned_at >= LEARNED_PERSIST_S:
            self._learned_at = time.monotonic()
            self._learned.update(self.radar.learned_changes())
        if not self._learned:
            return
        rows = [
            {"b_id": device_id, "learned": {"resident_id": rid, "heights": heights, "at": now}}
            for device_id, (rid, heights) in self._learned.items()
        ]
        self._learned = {}
        table = cast(Table, Device.__table__)
        stmt = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(learned=bindparam("learned"))
        )
        await (await session.connection()).execute(stmt, rows)

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
            self._learned.update(report.learned)
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
