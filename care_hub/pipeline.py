"""The ingest pipeline: MQTT batch -> decode -> trust checks -> handlers -> one commit -> ack.

Written out plainly (ingest, decode, filter, act). Bad input never raises out of here: each
rejected message becomes a dead-letter row and a metric, and the good messages beside it go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import orjson
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.calls import Command, handle_button
from alerts.detections import handle_detection
from alerts.models import Alert
from alerts.vitals import judge_kit_reading
from care_hub.db import now_s
from care_hub.detections import Detection
from care_hub.events import EventBus
from care_hub.models import Measurement
from care_hub.radar import RadarConfig, RadarProcessor
from care_hub.radar_worker import RadarWorkerGroup, WorkerReport
from devices.contract import ContractError, decode, excerpt
from devices.dedupe import SeqTracker
from devices.events import (
    KINDS_BY_DEVICE_TYPE,
    ButtonEvent,
    DeviceEvent,
    Envelope,
    KitEvent,
    RadarFramesEvent,
    RadarVitalsEvent,
    StatusEvent,
)
from devices.models import DeadLetter, Device
from devices.mqtt_client import MqttConnection, RawMessage
from devices.registry import DeviceInfo, DeviceRegistry
from devices.supervision import (
    CLOCK_SKEW_FLAG_S,
    MASS_RESOLVE_REMAINING_FRACTION,
    MASS_SILENCE_FRACTION,
    MASS_SILENCE_MIN,
    Liveness,
    StatusBook,
    mark_mass_silence,
    mark_offline,
    mark_online,
    resolve_mass_silence,
)

log = logging.getLogger(__name__)

# One batch bounds one transaction; large enough to amortise the commit at 12k msg/s.
BATCH_MAX = 5000
# How long to wait when the queue is empty: the added latency for a lone call press.
IDLE_SLEEP_S = 0.01
# How often silent devices are looked for, and last-seen times written to the database.
SWEEP_INTERVAL_S = 1.0
LAST_SEEN_FLUSH_S = 30.0
# Log at most this many rejections per reason per minute: a flood must not flood the log too.
REJECT_LOG_PER_MIN = 20
_LWT_PAYLOAD = {"state": "offline"}


@dataclass
class IngestMetrics:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    skewed: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    last_batch_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "skewed": self.skewed,
            "rejected": dict(self.rejected),
            "rejected_total": sum(self.rejected.values()),
            "batches": self.batches,
            "last_batch_s": self.last_batch_s,
        }


@dataclass(frozen=True, slots=True)
class Rejection:
    topic: str
    device_id: str | None
    reason: str
    detail: str
    payload: bytes


def radar_config(device: DeviceInfo) -> RadarConfig:
    return RadarConfig(
        device_id=device.id,
        resident_id=device.resident_id,
        zone_map=device.zone_map,
        lives_alone=device.lives_alone,
        at_risk=device.at_risk,
        behaviour=dict(device.resident_settings.get("behaviour", {})),
        confirm_s=device.fall_confirm_s,
    )


def _device_id_of(topic: str) -> str | None:
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
    device_id = _device_id_of(m.topic)
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
                    Rejection(m.topic, _device_id_of(m.topic), exc.reason, str(exc), m.payload)
                )
    return events, rejects


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
        self.liveness = Liveness.empty()
        self._skew: dict[str, float] = {}
        # Devices with an active device_offline alert (loaded at start): returning devices without
        # one cost no query.
        self.offline_alerted: set[str] = set()
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
        self.status_book = StatusBook()
        # facility -> (devices silenced together, ids still silent) while a mass alert is open
        self.mass_silent: dict[int, tuple[int, set[str]]] = {}
        self.worker_reports: deque[WorkerReport] = deque()
        self._logged: Counter[str] = Counter()
        self._log_window = 0.0
        registry.on_change.append(self._watch)
        for device in registry.all():
            self.liveness.register(device.slot, device.type, now_s())
        if self.radar is not None:
            self.radar.configure_many(
                [radar_config(d) for d in registry.all() if d.type == "radar"]
            )

    def _watch(self, device: DeviceInfo) -> None:
        self.liveness.register(device.slot, device.type, now_s())
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
        unknown = {
            e.env.device_id for e, _ in decoded if self.registry.get(e.env.device_id) is None
        }
        if unknown:
            await self.registry.resolve_unknown(unknown)
        accepted: list[tuple[DeviceEvent, float, DeviceInfo]] = []
        for ev, received_at in decoded:
            env = ev.env
            device = self.registry.get(env.device_id)
            if device is None:
                rejects.append(
                    Rejection(
                        f"care/v1/{env.device_id}/{env.kind}",
                        env.device_id,
                        "unknown_device",
                        "device id is not provisioned",
                        b"",
                    )
                )
                continue
            if env.kind not in KINDS_BY_DEVICE_TYPE.get(device.type, ()):
                rejects.append(
                    Rejection(
                        f"care/v1/{env.device_id}/{env.kind}",
                        env.device_id,
                        "wrong_device_type",
                        f"a {device.type} may not publish {env.kind}",
                        b"",
                    )
                )
                continue
            if env.seq >= 0 and not self.seqs.accept(
                env.device_id,
                env.kind,
                env.seq,
                persist=env.kind not in ("radar/frames", "radar/vitals"),
            ):
                self.metrics.duplicates += 1
                continue
            accepted.append((ev, received_at, device))
        kit_events = [(ev, dev) for ev, _, dev in accepted if isinstance(ev, KitEvent)]
        if kit_events:
            await self.registry.resolve_residents({ev.resident for ev, _ in kit_events})
        frames = [ev for ev, _, _ in accepted if isinstance(ev, RadarFramesEvent)]
        windows = [ev for ev, _, _ in accepted if isinstance(ev, RadarVitalsEvent)]
        if (frames or windows) and self.radar is not None:
            try:
                self.inbox.extend(await asyncio.to_thread(self.radar.process, frames, windows))
            except Exception:
                # A bug in the signal core must not cost the calls, kits and statuses beside it.
                self.metrics.rejected["signal_core_error"] += len(frames) + len(windows)
                log.exception("radar processing failed for %d windows", len(frames) + len(windows))
        seen_elsewhere: list[str] = []
        uncounted: list[Rejection] = []  # the worker counted these already
        for _ in range(len(self.worker_reports)):
            report = self.worker_reports.popleft()
            self.inbox.extend(report.detections)
            seen_elsewhere += report.seen
            self.metrics.received += report.received
            self.metrics.accepted += report.accepted
            self.metrics.duplicates += report.duplicates
            self.metrics.rejected.update(report.rejected)
            uncounted += [
                Rejection(t, d, r, detail, ex.encode()) for t, d, r, detail, ex in report.rejects
            ]
        detections = [self.inbox.popleft() for _ in range(len(self.inbox))]
        commands: list[Command] = []
        now = now_s()
        async with self.session_factory() as session:
            heard = [d.slot for _, _, d in accepted] + [
                d.slot for d in (self.registry.get(i) for i in seen_elsewhere) if d is not None
            ]
            if heard:
                slots = np.asarray(heard, dtype=np.intp)
                back_slots = self.liveness.seen(slots, now)
                if len(back_slots):
                    back = [
                        d
                        for d in (self.registry.by_slot(int(s)) for s in back_slots)
                        if d is not None
                    ]
                    await mark_online(session, self.bus, back, at=now, alerted=self.offline_alerted)
                    await self._mass_returns(session, back, now)
            if accepted:
                await self._note_skew(session, accepted)
            statuses: list[tuple[DeviceInfo, StatusEvent, float]] = []
            for d in detections:
                source = self.registry.get(d.device_id)
                if source is not None:
                    await handle_detection(session, self.bus, source, d)
            for ev, received_at, device in accepted:
                if isinstance(ev, ButtonEvent):
                    if ev.action == "cancel":
                        self._cancel_pending_fall(device, ev.env.ts)
                    commands += await handle_button(session, self.bus, device, ev)
                elif isinstance(ev, StatusEvent):
                    statuses.append((device, ev, received_at))
                elif isinstance(ev, KitEvent):
                    if self.registry.resident_facility(ev.resident) is None:
                        rejects.append(
                            Rejection(
                                f"care/v1/{device.id}/kit",
                                device.id,
                                "unknown_resident",
                                f"kit.resident: {ev.resident!r} is not a known resident",
                                b"",
                            )
                        )
                        continue
                    await judge_kit_reading(
                        session,
                        self.bus,
                        device,
                        ev,
                        self.registry.resident_facility(ev.resident) or device.facility_id,
                    )
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
            if statuses:
                for device in await self.status_book.apply(session, self.bus, statuses):
                    self.liveness.online[device.slot] = False
                    self.offline_alerted.add(device.id)
            await self._dead_letter(session, rejects)
            await self._dead_letter(session, uncounted, counted=True)
            await self.seqs.flush(session)
            await self.bus.commit(session)
        # Persisted: now the broker may forget them, and devices may hear about the change.
        self.conn.ack(batch)
        for topic, payload in commands:
            self.conn.publish(topic, payload, qos=1)
        self.metrics.accepted += len(accepted)
        self.metrics.batches += 1
        self.metrics.last_batch_s = time.perf_counter() - started

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

    async def _note_skew(
        self, session: AsyncSession, accepted: list[tuple[DeviceEvent, float, DeviceInfo]]
    ) -> None:
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

    async def load_offline_alerts(self) -> None:
        async with self.session_factory() as session:
            rows = await session.scalars(
                select(Alert.device_id).where(
                    Alert.type == "device_offline",
                    Alert.state != "resolved",
                    Alert.device_id.is_not(None),
                )
            )
            self.offline_alerted = {d for d in rows.all() if d}
            await self.status_book.load(session)

    async def supervise(self) -> None:
        """Raise device_offline for devices silent past 3 expected intervals; save last-seen times."""
        last_flush = time.monotonic()
        was_connected = True
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                now = now_s()
                connected = self.conn.connected.is_set()
                if not connected or not was_connected:
                    # Our own link was down: silence says nothing about the devices.
                    self.liveness.grace(now)
                    was_connected = connected
                    continue
                if (
                    len(self.conn.queue) > BATCH_MAX
                    or len(self.worker_reports) > 2
                    or (self.worker is not None and self.worker.behind(time.monotonic()))
                ):
                    # We are behind: last-seen times are stale, silence may be ours. Judge later.
                    continue
                silent = self.liveness.sweep(now)
                flush = time.monotonic() - last_flush >= LAST_SEEN_FLUSH_S
                if len(silent) == 0 and not flush:
                    continue
                async with self.session_factory() as session:
                    await self._report_silent(session, silent, now)
                    if flush:
                        await self._flush_last_seen(session)
                        last_flush = time.monotonic()
                    await self.bus.commit(session)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("supervision sweep failed")

    async def _report_silent(self, session: AsyncSession, silent: np.ndarray, now: float) -> None:
        by_facility: dict[int, list[DeviceInfo]] = {}
        for slot in silent:
            device = self.registry.by_slot(int(slot))
            if device is not None:
                by_facility.setdefault(device.facility_id, []).append(device)
        watched = Counter(d.facility_id for d in self.registry.all())
        for facility_id, devices in by_facility.items():
            if len(devices) >= MASS_SILENCE_MIN or (
                len(devices) > 1 and len(devices) >= MASS_SILENCE_FRACTION * watched[facility_id]
            ):
                log.warning(
                    "%d devices of facility %s fell silent at once", len(devices), facility_id
                )
                await mark_mass_silence(session, self.bus, facility_id, devices, at=now)
                total, still = self.mass_silent.get(facility_id, (0, set()))
                self.mass_silent[facility_id] = (
                    total + len(devices),
                    still | {d.id for d in devices},
                )
                continue
            for device in devices:
                await mark_offline(session, self.bus, device, reason="silent", at=now)
                self.offline_alerted.add(device.id)

    async def _mass_returns(
        self, session: AsyncSession, back: list[DeviceInfo], now: float
    ) -> None:
        """Resolve a facility's mass-silence alert once most of its devices are back; the few
        still silent then get device_offline alerts of their own."""
        for facility_id in {d.facility_id for d in back}:
            if facility_id not in self.mass_silent:
                continue
            total, still = self.mass_silent[facility_id]
            still -= {d.id for d in back}
            if (
                len(still) > MASS_RESOLVE_REMAINING_FRACTION * total
                or len(still) >= MASS_SILENCE_MIN
            ):
                continue
            del self.mass_silent[facility_id]
            await resolve_mass_silence(session, self.bus, facility_id, at=now)
            for device_id in still:
                device = self.registry.get(device_id)
                if device is not None:
                    await mark_offline(session, self.bus, device, reason="silent", at=now)
                    self.offline_alerted.add(device_id)

    async def _flush_last_seen(self, session: AsyncSession) -> None:
        rows = []
        for device in self.registry.all():
            if self.liveness.known[device.slot]:
                rows.append(
                    {"b_id": device.id, "seen": float(self.liveness.last_seen_s[device.slot])}
                )
        if rows:
            table = cast(Table, Device.__table__)
            stmt = (
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(last_seen_at=bindparam("seen"))
            )
            conn = await session.connection()
            await conn.execute(stmt, rows)

    async def _dead_letter(
        self, session: AsyncSession, rejects: list[Rejection], *, counted: bool = False
    ) -> None:
        if not rejects:
            return
        now = time.monotonic()
        if now - self._log_window > 60:
            self._logged.clear()
            self._log_window = now
        per_device: Counter[str] = Counter()
        for r in rejects:
            if not counted:
                self.metrics.rejected[r.reason] += 1
            self._logged[r.reason] += 1
            if self._logged[r.reason] <= REJECT_LOG_PER_MIN:
                log.warning(
                    "rejected %s from %s: %s (%s)", r.topic, r.device_id, r.reason, r.detail
                )
            if r.device_id and self.registry.get(r.device_id) is not None:
                per_device[r.device_id] += 1
        session.add_all(
            [
                DeadLetter(
                    device_id=r.device_id,
                    topic=r.topic[:300],
                    reason=r.reason,
                    detail=r.detail[:1000],
                    excerpt=excerpt(r.payload),
                )
                for r in rejects
            ]
        )
        for device_id, n in per_device.items():
            await session.execute(
                update(Device)
                .where(Device.id == device_id)
                .values(rejected_count=Device.rejected_count + n)
            )
