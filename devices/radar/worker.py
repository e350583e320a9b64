"""A worker process that owns the radar streams: its own MQTT connection, decoder and signal core.

Radar windows are ~95% of a community's messages. In one Python process, paho's socket reads, the
decoder and the hub's database and websocket work share one GIL and top out near one core; a
separate process for the radar topics uses the second core and sends the hub only what matters:
detections, which devices were heard from, and rejections (for dead letters). Per-device state
stays in one place because the split is by topic, not by round-robin (FIELD-NOTES: `$share`
subscriptions scatter one device's messages across consumers).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import multiprocessing as mp
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import compress
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import numpy.typing as npt

from devices.contract import excerpt, topic_for
from devices.dedupe import SeqTracker
from devices.events import RadarVitalsEvent
from devices.radar.frames_batch import FramesColumns, decode_frames_many

log = logging.getLogger(__name__)

_FRAMES = "radar/frames"
RADAR_SUBSCRIPTIONS = (("care/v1/+/radar/frames", 0), ("care/v1/+/radar/vitals", 0))
# The worker drains its queue at least this often; a fall's latency budget is seconds.
WORKER_TICK_S = 0.05
# ... and starts a batch at most this often: each batch has fixed costs (numpy calls of the fall,
# zone, vitals and apnea steps, a report the hub stores in a transaction of its own) of ~5-8 ms
# of CPU (`python -m bench.radar_path --batches-per-s 20 10 5 --no-receive`, docs/performance.md
# issue 18). 0.2 s adds at most that to a fall alert, against a 5 s confirmation.
WORKER_BATCH_EVERY_S = 0.2
# How often what the fall detector learned of each resident (upright height) is sent to the hub
# to persist: heights are learned over hours, so losing up to 5 minutes of it costs nothing.
LEARNED_REPORT_S = 300.0
# Cap on rejections forwarded per batch: a flood of junk must not flood the pipe (counts stay exact).
MAX_REJECTS_FORWARDED = 200
# The hub judges no radar silent while the worker is this far behind: the radars' last-seen times
# are stale and the silence is the worker's (a radar is silent after 3 s). Judging anyway turned a
# slow patch into thousands of offline/online transitions, which slowed the hub further.
WORKER_BEHIND_S = 1.0
# How long a lag notice counts without a newer one (an idle worker sends none).
WORKER_LAG_VALID_S = 5.0
# A batch running this long (or a worker silent this long after its start) is a stuck worker,
# not a slow one: then silence is real.
WORKER_STUCK_S = 30.0


class WorkerProgress:
    """What the hub knows of the worker's progress: the queueing delay of the batch it started
    last, and whether that batch is still running. Times are the hub's monotonic clock."""

    def __init__(self) -> None:
        self.lag_s = 0.0
        self.lag_at = -math.inf
        self.busy_since: float | None = None

    def started(self, lag_s: float, at: float) -> None:
        self.lag_s, self.lag_at, self.busy_since = lag_s, at, at

    def finished(self) -> None:
        self.busy_since = None

    def behind(self, now: float) -> bool:
        busy = self.busy_since
        if busy is not None:
            if now - busy > WORKER_STUCK_S:
                return False
            if now - busy > WORKER_BEHIND_S:
                return True
        return self.lag_s > WORKER_BEHIND_S and now - self.lag_at <= WORKER_LAG_VALID_S


def partition(device_id: str, parts: int) -> int:
    """Which of ``parts`` workers owns a radar: stable across restarts and processes."""
    return zlib.crc32(device_id.encode()) % parts if parts > 1 else 0


def radar_topics(device_id: str) -> tuple[tuple[str, int], ...]:
    return ((topic_for(device_id, "radar/frames"), 0), (topic_for(device_id, "radar/vitals"), 0))


@dataclass(frozen=True, slots=True)
class WorkerReport:
    detections: list[Any]
    seen: list[str]  # radar ids heard from in this batch
    received: int
    accepted: int
    duplicates: int
    rejected: dict[str, int]
    rejects: list[tuple[str, str | None, str, str, str]]  # topic, device, reason, detail, excerpt
    # device id -> (resident id, learned heights) that changed: the hub persists them.
    learned: dict[str, tuple[str, dict[str, float]]] = field(default_factory=dict)


def worker_main(
    conn: Connection,
    mqtt_url: str,
    client_id: str,
    username: str | None,
    password: str | None,
    configs: list[Any],
    device_types: dict[str, str],
    fall_confirm_s: float = 5.0,
    floor_dwell_s: float = 0.0,
    part: int = 0,
    parts: int = 1,
) -> None:
    """Entry point of the worker process ``part`` of ``parts``.

    Alone (``parts == 1``) the worker subscribes to every radar topic, so radar topics of unknown
    devices and of devices of another type get their dead letters. Split (``parts > 1``) each
    worker subscribes to its own radars' topics only, so no window is received twice; worker 0
    also subscribes to the radar topics of every provisioned button and kit, so a device posing as
    a radar is still dead-lettered (``wrong_device_type``). Radar topics of device ids nobody
    provisioned then reach no worker (the broker drops them); such a device's status heartbeats
    still reach the hub and are dead-lettered there as ``unknown_device``."""
    from devices.mqtt_client import MqttConnection
    from devices.radar.processor import RadarProcessor

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s radar-worker: %(message)s"
    )
    processor = RadarProcessor(
        capacity=max(1024, 2 * len(configs)), confirm_s=fall_confirm_s, floor_dwell_s=floor_dwell_s
    )
    processor.configure_many(configs)
    types = dict(device_types)
    seqs = SeqTracker()
    subscribed = {c.device_id for c in configs}
    if parts > 1 and part == 0:  # a button or kit posing as a radar: dead-lettered here
        subscribed |= {d for d, t in types.items() if t != "radar"}
    mqtt = MqttConnection(
        mqtt_url,
        client_id=client_id,
        username=username,
        password=password,
        subscriptions=(
            RADAR_SUBSCRIPTIONS
            if parts == 1
            else tuple(t for d in sorted(subscribed) for t in radar_topics(d))
        ),
        persistent=False,
    )

    def watch(device_id: str) -> None:
        if parts > 1 and device_id not in subscribed:
            subscribed.add(device_id)
            mqtt.subscribe(radar_topics(device_id))

    # The per-radar state built above (~330,000 objects the GC tracks at 10,000 radars) lives as
    # long as the worker: frozen out of the collector's full scans (~0.1 s of CPU each).
    gc.collect()
    gc.freeze()
    mqtt.start()
    conn.send(("ready",))
    learned_at = time.monotonic()
    batch_at = -math.inf
    # N workers each batch every N x WORKER_BATCH_EVERY_S: the same batches a second in all as one
    # worker, each as large as one worker's (each batch's fixed costs, and the hub's transaction
    # per report, paid no more often than with one worker); a fall alert may wait that much longer
    batch_every_s = WORKER_BATCH_EVERY_S * parts
    while True:
        if time.monotonic() - learned_at >= LEARNED_REPORT_S:
            learned_at = time.monotonic()
            changes = processor.learned_changes()
            if changes:
                conn.send(("report", WorkerReport([], [], 0, 0, 0, {}, [], changes)))
        while conn.poll():
            msg = conn.recv()
            if msg[0] == "stop":
                mqtt.stop()
                return
            if msg[0] == "config":
                processor.configure(msg[1])
                types[msg[1].device_id] = "radar"
                watch(msg[1].device_id)
            elif msg[0] == "type":
                types[msg[1]] = msg[2]
                if part == 0 and msg[2] != "radar":
                    watch(msg[1])
            elif msg[0] == "cancel":
                found = processor.cancel_fall(msg[1], msg[2])
                if found is not None:
                    conn.send(("report", WorkerReport([found], [], 0, 0, 0, {}, [])))
        wait_s = batch_at + batch_every_s - time.monotonic()
        if wait_s > 0:
            time.sleep(wait_s)
        batch = mqtt.drain(20_000)
        if not batch:
            time.sleep(WORKER_TICK_S)
            continue
        batch_at = time.monotonic()
        conn.send(("busy", time.time() - batch[0].received_at))
        conn.send(("report", screen_and_process(batch, processor, types, seqs)))


def screen_and_process(
    batch: list[Any], processor: Any, types: dict[str, str], seqs: SeqTracker
) -> WorkerReport:
    """Decode, apply the trust rules (provisioned radar, new seq), run the signal core.

    Frames windows (~90% of the traffic) are decoded many at once into flat columns
    (`devices.radar.frames_batch`, same accept/reject decisions as `decode`) and go to the fall detector
    and zone tracker without a per-window event object; other topics are decoded one by one.
    """
    cols = decode_frames_many([(m.topic, m.payload) for m in batch])
    seen: set[str] = set()
    rejected: dict[str, int] = {}
    forwarded: list[tuple[str, str | None, str, str, str]] = []
    duplicates = 0

    def reject(topic: str, device: str | None, reason: str, detail: str, payload: bytes) -> None:
        rejected[reason] = rejected.get(reason, 0) + 1
        if len(forwarded) < MAX_REJECTS_FORWARDED:
            forwarded.append((topic, device, reason, detail, excerpt(payload)))

    def trusted(device_id: str, kind: str, seq: int, ts: float, boot: int | None = None) -> bool:
        nonlocal duplicates
        device_type = types.get(device_id)
        if device_type != "radar":
            _reject_type(reject, device_id, kind, device_type)
            return False
        if not seqs.accept(device_id, kind, seq, persist=False, ts=ts, boot=boot):
            duplicates += 1
            return False
        seen.add(device_id)
        return True

    for i, exc in cols.errors:
        reject(batch[i].topic, exc.device_id, exc.reason, str(exc), batch[i].payload)
    keep, duplicates = _trusted_frames(cols, types, seqs, reject)
    seen.update(compress(cols.device_id, keep.tolist()))
    vitals = [
        ev
        for _, ev in cols.others
        if isinstance(ev, RadarVitalsEvent)
        and trusted(ev.env.device_id, ev.env.kind, ev.env.seq, ev.env.ts, ev.env.boot)
    ]
    seqs.confirm()  # radar streams are QoS 0 and never stored: their marks hold at once
    for i, ev in cols.others:
        if not isinstance(ev, RadarVitalsEvent):  # a status or button on a radar-only connection
            reject(
                batch[i].topic,
                ev.env.device_id,
                "wrong_device_type",
                f"unexpected {ev.env.kind}",
                b"",
            )
    slots = np.where(keep, cols.slots_for(processor.slot_of), -1)
    accepted = int(np.count_nonzero(slots >= 0)) + len(vitals)
    try:
        detections = processor.process_frames_batch(cols.fall_batch(slots))
        detections += processor.process([], vitals)
    except Exception:
        log.exception("radar processing failed for %d windows", accepted)
        detections = []
        rejected["signal_core_error"] = accepted
    return WorkerReport(
        detections, sorted(seen), len(batch), accepted, duplicates, rejected, forwarded
    )


Reject = Callable[[str, str | None, str, str, bytes], None]


def _reject_type(reject: Reject, device_id: str, kind: str, device_type: str | None) -> None:
    """A radar topic from a device that is not a provisioned radar."""
    reject(
        f"care/v1/{device_id}/{kind}",
        device_id,
        "unknown_device" if device_type is None else "wrong_device_type",
        "device id is not provisioned"
        if device_type is None
        else f"a {device_type} may not publish {kind}",
        b"",
    )


def _trusted_frames(
    cols: FramesColumns,
    types: dict[str, str],
    seqs: SeqTracker,
    reject: Reject,
) -> tuple[npt.NDArray[np.bool_], int]:
    """Which frames windows to keep, and how many were duplicates: from a provisioned radar
    (else rejected, in window order) and a new seq (else a duplicate). The checks of
    ``screen_and_process``'s ``trusted``, with the seq marks kept by ``SeqTracker.accept_stream``
    (the per-window calls were ~8% of the worker's time at 10,000 residents)."""
    ids = cols.device_id
    kinds = list(map(types.get, ids))
    mine = [i for i, k in enumerate(kinds) if k == "radar"]
    keep = np.zeros(len(ids), dtype=bool)
    if len(mine) < len(ids):
        for d, k in zip(ids, kinds, strict=True):
            if k != "radar":
                _reject_type(reject, d, _FRAMES, k)
        fresh = seqs.accept_stream(
            [ids[i] for i in mine], _FRAMES, cols.seq[mine].tolist(), cols.ts[mine].tolist()
        )
    else:
        fresh = seqs.accept_stream(ids, _FRAMES, cols.seq.tolist(), cols.ts.tolist())
    keep[mine] = fresh
    return keep, len(mine) - sum(fresh)


class RadarWorker:
    """The hub's handle on the worker process: start, configure, cancel, stop; reports to a callback."""

    def __init__(
        self,
        *,
        mqtt_url: str,
        client_id: str,
        username: str | None,
        password: str | None,
        on_report: Callable[[WorkerReport], None],
    ) -> None:
        self._args = (mqtt_url, client_id, username, password)
        self._on_report = on_report
        self.progress = WorkerProgress()
        self._conn: Connection | None = None
        self._proc: mp.process.BaseProcess | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(
        self,
        configs: list[Any],
        device_types: dict[str, str],
        *,
        fall_confirm_s: float = 5.0,
        floor_dwell_s: float = 0.0,
        part: int = 0,
        parts: int = 1,
        timeout_s: float = 30.0,
    ) -> None:
        ctx = mp.get_context("spawn")  # a clean interpreter: no inherited threads or event loop
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=worker_main,
            args=(
                child,
                *self._args,
                configs,
                device_types,
                fall_confirm_s,
                floor_dwell_s,
                part,
                parts,
            ),
            name=f"care-hub-radar-{part}",
            daemon=True,
        )
        self._proc.start()
        child.close()
        self._conn = parent
        if not parent.poll(timeout_s) or parent.recv() != ("ready",):
            self.stop()
            raise RuntimeError("radar worker did not start (see its log)")
        # until its first report the worker counts as busy since now (subscribing, first batch):
        # radars are not judged silent for up to WORKER_STUCK_S after a start
        self.progress.started(0.0, time.monotonic())
        self._reader = threading.Thread(target=self._read, name="radar-worker-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._conn is not None
        while True:
            try:
                msg = self._conn.recv()
            except (EOFError, OSError):
                return
            if msg[0] == "busy":
                self.progress.started(msg[1], time.monotonic())
            elif msg[0] == "report":
                self.progress.finished()
                self._on_report(msg[1])

    def send(self, *msg: Any) -> None:
        if self._conn is None:
            return
        with self._lock, contextlib.suppress(OSError, BrokenPipeError):
            self._conn.send(msg)

    def is_alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def behind(self, now: float) -> bool:
        return self.progress.behind(now)

    def stop(self) -> None:
        self.send("stop")
        if self._proc is not None:
            self._proc.join(timeout=10)
            if self._proc.is_alive():
                self._proc.kill()
        if self._conn is not None:
            self._conn.close()


class RadarWorkerGroup:
    """One or more radar workers, each owning the radars ``partition`` gives it, behind the
    interface of one: configuration and cancels go to the owner, reports to one callback."""

    def __init__(
        self,
        parts: int,
        *,
        mqtt_url: str,
        client_id: str,
        username: str | None,
        password: str | None,
        on_report: Callable[[WorkerReport], None],
    ) -> None:
        if parts < 1:
            raise ValueError("at least one radar worker")
        self.workers = [
            RadarWorker(
                mqtt_url=mqtt_url,
                client_id=f"{client_id}-radar" if k == 0 else f"{client_id}-radar{k}",
                username=username,
                password=password,
                on_report=on_report,
            )
            for k in range(parts)
        ]

    def start(
        self,
        configs: list[Any],
        device_types: dict[str, str],
        *,
        fall_confirm_s: float = 5.0,
        floor_dwell_s: float = 0.0,
    ) -> None:
        n = len(self.workers)
        try:
            for k, worker in enumerate(self.workers):
                worker.start(
                    [c for c in configs if partition(c.device_id, n) == k],
                    device_types,
                    fall_confirm_s=fall_confirm_s,
                    floor_dwell_s=floor_dwell_s,
                    part=k,
                    parts=n,
                )
        except Exception:
            self.stop()
            raise

    def send(self, *msg: Any) -> None:
        n = len(self.workers)
        if msg[0] == "config":
            owner = partition(msg[1].device_id, n)
            for k, worker in enumerate(self.workers):
                if k == owner:
                    worker.send(*msg)
                else:  # worker 0 must know it belongs elsewhere
                    worker.send("type", msg[1].device_id, "radar")
        elif msg[0] == "cancel":
            self.workers[partition(msg[1], n)].send(*msg)
        else:
            for worker in self.workers:
                worker.send(*msg)

    def behind(self, now: float) -> bool:
        """Whether any worker is behind (its radars' silence must not be judged yet)."""
        return any(w.behind(now) for w in self.workers)

    def is_alive(self) -> bool:
        return all(w.is_alive() for w in self.workers)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
