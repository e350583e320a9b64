"""One hub node's ingest on NATS JetStream: source, pipeline, fencing and cancel forwarding.

Every node ingests the device partitions it leases (`devices.nats_source`). Two things need more
than one node's view:

- A resident's `cancel` at their button also cancels a fall pending on their radar, and the two
  devices may hash to different partitions, so to different nodes. The button's node cancels the
  radars of the button's own partition itself (they are in the same stream, in order) and
  forwards the cancel into the partition of each other radar of the resident (a control
  message, `NatsSource.forward`); that partition's owner applies it in stream order, after the
  radar frames stored before it, and a new owner replaying the partition meets it again.
- Fencing (`devices.nats_fence`): each transaction checks the node's lease tokens; a fenced node
  drops the batch and restarts its ingest (a fresh source and pipeline), as if it had restarted.
- Detector state: a node taking a partition over first replays the partition's last radar frames
  before the previous owner's ack floor through its own detectors (`NatsSource` warm-up), so a
  fall whose descent the previous owner saw is confirmed here; what the replay detects is dropped
  (the previous owner stored its own detections).

Radar windows stay in the node's process (the radar worker subscribes to MQTT itself).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from care_hub.ingest.decode import decode_batch
from care_hub.ingest.pipeline import IngestPipeline, Work
from care_hub.kernel.db import now_s
from devices.dedupe import SeqTracker
from devices.events import RadarFramesEvent
from devices.mqtt_client import MqttConnection, RawMessage
from devices.nats_fence import FencedSeqTracker, Token, claim, lost
from devices.nats_liveness import PartitionedLiveness
from devices.nats_source import Control, NatsSource, Warmup
from devices.registry import DeviceInfo

if TYPE_CHECKING:
    from typing_extensions import override  # mypy: the base method must exist

    from care_hub.hub import Hub
else:
    F = TypeVar("F", bound=Callable[..., Any])

    def override(f: F) -> F:
        return f


log = logging.getLogger(__name__)

# After a failed restart (NATS or PostgreSQL away), try again this much later.
RESTART_RETRY_S = 2.0


class NatsPipeline(IngestPipeline):
    """The ingest pipeline of a node that consumes some partitions: cancels reach the radar's
    partition wherever it is."""

    def __init__(self, *, source: NatsSource, **kwargs: Any) -> None:
        super().__init__(conn=cast(MqttConnection, source), **kwargs)
        self.source = source
        self.forwarded = 0  # cancels forwarded to other partitions
        self.warmed_up = 0  # radar windows replayed into the detectors after takeovers
        self._warmups: list[Warmup] = []
        source.on_control = self.on_control
        source.on_warmup = self._warmups.append

    @override
    def _cancel_pending_fall(self, button: DeviceInfo, t_s: float) -> None:
        if button.resident_id is None:
            return
        here = self.source.partition_of(button.id)
        for radar in self.registry.all():
            if radar.type != "radar" or radar.resident_id != button.resident_id:
                continue
            k = self.source.partition_of(radar.id)
            if k == here:
                self.cancel_here(radar.id, t_s)
            else:
                self.source.forward(
                    k, "cancel", {"radar": radar.id, "button": button.id, "ts": t_s}
                )
                self.forwarded += 1

    def cancel_here(self, radar_id: str, t_s: float) -> None:
        """Cancel a fall pending on a radar this node processes (in the pipeline's thread)."""
        if self.radar is not None:
            found = self.radar.cancel_fall(radar_id, t_s)
            if found is not None:
                self.inbox.append(found)  # stored with the next batch

    @override
    async def prepare(self, batch: list[RawMessage]) -> Work:
        if self._warmups:  # before the first message of the partitions they belong to
            warmups, self._warmups = self._warmups, []
            for warmup in warmups:
                await asyncio.to_thread(self._warm_up, warmup)
        return await super().prepare(batch)

    def _warm_up(self, warmup: Warmup) -> None:
        """Replay a taken partition's recent radar frames through the detectors (radars of the
        registry only; what does not decode is skipped: the previous owner dead-lettered it)."""
        if self.radar is None:
            return
        decoded, _ = decode_batch(warmup.messages)
        frames = [
            ev
            for ev, _, _ in decoded
            if isinstance(ev, RadarFramesEvent)
            and (d := self.registry.get(ev.env.device_id)) is not None
            and d.type == "radar"
        ]
        try:
            used = self.radar.warm_up(frames)
        except Exception:  # state only: a bug here must not stop the partition's ingest
            log.exception("warm-up of partition %d failed", warmup.partition)
            return
        self.warmed_up += used
        log.info(
            "partition %d: %d radar windows replayed into the detectors", warmup.partition, used
        )

    def detach(self) -> None:
        """Stop hearing registry changes (a fenced node's pipeline is replaced by a new one)."""
        with contextlib.suppress(ValueError):
            self.registry.on_change.remove(self._watch)

    def on_control(self, control: Control) -> None:
        """A control met in an owned partition, applied by `drain` between batches."""
        if control.what != "cancel":
            log.warning("unknown control %r in partition %d", control.what, control.partition)
            return
        radar_id, t_s = control.body.get("radar"), control.body.get("ts")
        device = self.registry.get(radar_id) if isinstance(radar_id, str) else None
        if device is None or device.type != "radar" or not isinstance(t_s, int | float):
            log.warning("forwarded cancel %r names no radar: skipped", control.body)
            return
        self.cancel_here(device.id, float(t_s))


class NatsIngest:
    """Starts the node's ingest, and starts it afresh when a transaction finds itself fenced."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        cfg = hub.settings.ingest
        self.node_id = cfg.node_id or f"{socket.gethostname()}-{os.getpid()}".replace(".", "-")
        self.source: NatsSource | None = None
        self.pipeline: NatsPipeline | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.restarts = 0
        self._fenced = asyncio.Event()

    async def start(self) -> None:
        hub, cfg = self.hub, self.hub.settings.ingest
        loop = asyncio.get_running_loop()
        fenced = asyncio.Event()
        self._fenced = fenced
        source = NatsSource(
            cfg.nats_url,
            node_id=self.node_id,
            partitions=cfg.partitions,
            lease_ttl_s=cfg.lease_ttl_s,
            warmup_s=cfg.warmup_s,
        )
        seqs = FencedSeqTracker(tokens=lambda: source.tokens, on_fenced=lambda _lost: fenced.set())
        radars = [d for d in hub.registry.all() if d.type == "radar"]
        pipeline = NatsPipeline(
            source=source,
            registry=hub.registry,
            seqs=seqs,
            session_factory=hub.session_factory,
            bus=hub.bus,
            radar_capacity=max(1024, 2 * len(radars)),
            fall_confirm_s=hub.settings.fall_confirm_s,
            floor_dwell_s=hub.settings.fall_floor_dwell_s,
            stall_s=hub.settings.ingest_stall_s,
            dead_letter_retention_s=hub.settings.dead_letter_retention_days * 86_400,
        )
        supervisor = pipeline.supervisor
        supervisor.liveness = PartitionedLiveness.wrap(
            supervisor.liveness,
            partition_of_slot=lambda slot: (
                -1 if (d := hub.registry.by_slot(slot)) is None else source.partition_of(d.id)
            ),
            owned=lambda: source.owned,
        )

        def on_acquire(tokens: dict[int, Token]) -> concurrent.futures.Future[None]:
            return asyncio.run_coroutine_threadsafe(self._taken(pipeline, seqs, tokens), loop)

        source.on_acquire = on_acquire
        await pipeline.load_offline_alerts()
        self.source, self.pipeline = source, pipeline
        hub.conn, hub.pipeline = cast(MqttConnection, source), pipeline
        await asyncio.to_thread(source.start)
        log.info(
            "node %s ingests partitions %s from %s",
            self.node_id,
            sorted(source.owned),
            cfg.nats_url,
        )
        self.tasks = [
            asyncio.create_task(pipeline.run(), name="ingest"),
            asyncio.create_task(pipeline.supervise(), name="supervision"),
            asyncio.create_task(pipeline.watch_health(), name="ingest-health"),
        ]

    async def _taken(
        self, pipeline: IngestPipeline, seqs: SeqTracker, tokens: dict[int, Token]
    ) -> None:
        """Before the first message of partitions taken: our fencing tokens in PostgreSQL (after
        any transaction of the previous owner still holding them), then the seq marks it stored
        (so its redeliveries are known), and fresh silence timers for their devices."""
        async with self.hub.session_factory() as session:
            stored = await claim(session, tokens)
            await session.commit()
        if lost(tokens, stored):  # a newer owner already: our first transaction will be fenced
            log.warning(
                "partitions %s claimed by a newer owner meanwhile", sorted(lost(tokens, stored))
            )
        async with self.hub.session_factory() as session:
            await seqs.load(session)
        pipeline.supervisor.liveness.grace(now_s())

    async def run(self) -> None:
        """Until cancelled: on fencing, drop everything held and start afresh."""
        try:
            while True:
                await self._fenced.wait()
                self.restarts += 1
                log.error("node %s fenced: restarting its ingest", self.node_id)
                await self.stop()
                while True:
                    try:
                        await self.start()
                        break
                    except Exception as exc:
                        log.warning("ingest restart failed (%r); retry", exc)
                        await asyncio.sleep(RESTART_RETRY_S)
        finally:
            await self.stop()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks = []
        if self.source is not None:
            await asyncio.to_thread(self.source.stop)
        if self.pipeline is not None:
            self.pipeline.detach()
