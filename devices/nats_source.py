"""Ingest from NATS JetStream across several hub nodes: device partitions, leases, durable replay.

Devices keep the MQTT contract and publish to NATS's MQTT listener; the server maps each device
subject into its partition (`devices.nats_subjects`) and the stream `CARE` keeps `care.p.>`.
Each hub node runs one `NatsSource`: it holds leases on some partitions (a NATS KV bucket, one
key per partition, with a TTL: a node that dies loses its leases within `lease_ttl_s`) and pulls
each leased partition through a JetStream pull consumer of its own. Partitions are spread over the
live nodes (each node keeps a heartbeat key): partition k belongs to the (k mod n)-th live node
in id order, so a second node takes half of them from the first, and the survivor of two takes
them all back.

Order and nothing lost: the consumer acknowledges "all up to here" (AckAll). The hub acknowledges
a batch only after its commit (the pipeline's rule), so the consumer's ack floor is always the
last stored message of the partition. A node that acquires a partition deletes the previous
owner's consumer and starts a new one just after that floor: what the dead node stored but had
not acknowledged is delivered again, in order (the seq marks absorb it; the hub reloads them
first through `on_acquire`), then everything newer. Consumers are named per owner and lease, so
a late acknowledgement from a previous owner can never acknowledge the new owner's messages.

Control messages (`care.p.<k>.ctl.<what>`, `forward`) travel in the partitions too: a node puts
one into partition k's stream, and k's owner meets it in order among k's device messages. `drain`
hands the messages before it to the pipeline as one batch, and applies the control (`on_control`)
at the next drain, once that batch is stored, and acknowledges it at the drain after (by then
what it changed is stored too).

Fencing (`devices.nats_fence`): `tokens` maps each partition whose messages this source may still
hold to its token (the lease bucket's creation time and the lease revision it got); the ingest
transactions check them against PostgreSQL.
A partition's token goes only once the partition is released with nothing of it outstanding, so a
batch taken before a lease was lost is still checked.

It satisfies the same surface as `devices.mqtt_client.MqttConnection` for the ingest pipeline:
`queue`, `drain`, `ack`, `publish`, `connected`, `disconnected_since`, `start`, `stop`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime
import itertools
import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple, cast

import nats
import orjson
from nats.js import api
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError

from care_hub.kernel.security import redact
from devices.mqtt_client import RawMessage
from devices.nats_fence import Token
from devices.nats_subjects import (
    CONTROL_TOKEN,
    PARTITION_PREFIX,
    STREAM,
    STREAM_MAX_AGE_S,
    control_subject,
    partition_filter,
    partition_of,
    subject_of,
    topic_of,
)

log = logging.getLogger(__name__)

LEASE_BUCKET = "care_hub_leases"
# A dead node's partitions move after at most this long; renewals every third of it, so a node
# busy for a second or two does not lose them.
LEASE_TTL_S = 6.0
# Messages per pull request, and how long one waits when the partition is quiet.
FETCH_BATCH = 1000
FETCH_WAIT_S = 1.0
# How often each partition's puller checks whether to ask for more (a few ms of added latency).
PULL_TICK_S = 0.005
# The hand-off queue stops pulling above this many messages (the stream keeps the rest).
QUEUE_CAP = 20_000
# Unacknowledged messages the server lets one consumer have; above the queue cap plus a batch.
MAX_ACK_PENDING = 50_000
# Our acks come after commit; the server must not redeliver while a batch waits on the database
# (a redelivery in the same node would be out of order: the source also skips any it sees).
ACK_WAIT_S = 600.0

# A forwarded control message is retried this often before it is given up (and logged).
FORWARD_ATTEMPTS = 5
# A server away: one log line about it this often at most (its client retries every second).
ERROR_LOG_EVERY_S = 30.0

# A new owner replays this much of a partition's radar frames stored before its ack floor through
# its detectors (state only, detections dropped), so a fall whose descent the previous owner saw
# is still confirmed after a takeover: the fall detector looks back 8 s (BROAD_LOOKBACK_S) and
# confirms 5 s after the impact (the facility may set more), so 30 s covers both with room.
WARMUP_S = 30.0
# Warm-up messages per pull request, and the wait for one when the stream has no more.
WARMUP_BATCH = 1000
WARMUP_FETCH_S = 1.0

# Called with {partition: fencing token} before the first message of newly acquired partitions.
OnAcquire = Callable[[dict[int, Token]], "concurrent.futures.Future[None] | None"]


class Warmup(NamedTuple):
    """Radar frames of partition `partition` stored before its ack floor (already processed and
    stored by the previous owner): to rebuild detector state, never to store again."""

    partition: int
    messages: list[RawMessage]


class Control(NamedTuple):
    """A control message met in partition `partition` (`care.p.<k>.ctl.<what>`, JSON body)."""

    what: str
    body: dict[str, Any]
    partition: int
    mid: int
    received_at: float  # when the stream stored it (the queue's age gauge reads its head's)


def _ack_meta(reply: str) -> tuple[int, float]:
    """Stream seq and stored time (epoch s) from a JetStream ack subject:
    `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts ns>.<pending>`, or
    the newer form with `<domain>.<account hash>` after `$JS.ACK` (and a random token at the end).
    """
    tokens = reply.split(".")
    if len(tokens) == 9:
        return int(tokens[5]), int(tokens[7]) / 1e9
    return int(tokens[7]), int(tokens[9]) / 1e9


class NatsSource:
    def __init__(
        self,
        url: str,
        *,
        node_id: str,
        partitions: int,
        on_acquire: OnAcquire | None = None,
        lease_ttl_s: float = LEASE_TTL_S,
        queue_cap: int = QUEUE_CAP,
        stream_max_age_s: float = STREAM_MAX_AGE_S,
        warmup_s: float = WARMUP_S,
    ) -> None:
        if "." in node_id or "*" in node_id or ">" in node_id:
            raise ValueError(f"node id {node_id!r} may not contain '.', '*' or '>'")
        self.url = url
        self.node_id = node_id
        self.partitions = partitions
        self.on_acquire = on_acquire
        self.lease_ttl_s = lease_ttl_s
        self.queue_cap = queue_cap
        self.stream_max_age_s = stream_max_age_s
        self.warmup_s = warmup_s
        self.queue: deque[RawMessage | Control | Warmup] = deque()
        # Applied at the next drain, in stream order (the consumer's thread).
        self.on_control: Callable[[Control], None] | None = None
        # Handed a taken partition's warm-up at the drain that meets it, before any message of
        # the partition after its ack floor (the pipeline's thread).
        self.on_warmup: Callable[[Warmup], None] | None = None
        # Partition -> (lease bucket's creation time, lease revision when acquired): the fencing
        # tokens (devices.nats_fence); a new dict on every change, read from any thread.
        self.tokens: dict[int, Token] = {}
        self.lease_epoch = 0.0
        self.connected = threading.Event()
        self.disconnected_since: float | None = time.monotonic()
        self.connect_count = 0
        self._error_logged_at = -math.inf
        # Partitions this node consumes now (a new frozenset on every change; read from any thread).
        self.owned: frozenset[int] = frozenset()
        self.received = 0
        self._ids = itertools.count(1)
        self._controls: deque[Control | Warmup] = deque()  # those in `queue`, in order
        self._applied: list[int] = []  # mids of applied controls, acknowledged at the next drain
        # mid -> (partition, ack subject, stream seq); only the source loop touches it.
        self._unacked: dict[int, tuple[int, str]] = {}
        self._outstanding = [0] * partitions
        self._last_sseq = [0] * partitions
        self._leases: dict[int, int] = {}  # partition -> KV revision held
        self._releasing: set[int] = set()
        self._fetchers: dict[int, asyncio.Task[None]] = {}
        self._epoch = uuid.uuid4().hex[:6]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._nc: Any = None
        self._js: Any = None
        self._kv: Any = None

    # ---- the pipeline's surface (called from the hub's thread) ----

    def start(self, *, wait_s: float = 15.0) -> None:
        self._thread = threading.Thread(target=self._run, name=f"nats-{self.node_id}", daemon=True)
        self._thread.start()
        if not self._ready.wait(wait_s) or self._failed is not None:
            self.stop()
            where = redact(self.url)
            raise ConnectionError(f"no NATS JetStream at {where} within {wait_s:.0f} s") from (
                self._failed
            )

    def stop(self, *, release: bool = True) -> None:
        """Stop consuming; with `release`, give the leases back at once (else they expire)."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            self._release_on_stop = release
            loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def drain(self, limit: int) -> list[RawMessage]:
        if self._applied:
            # The pipeline drains only once what it drained before is stored: that includes
            # whatever the controls applied at the last drain changed (it rode with that batch).
            mids, self._applied = self._applied, []
            self._ack_mids(mids)
        if self._controls:
            return self._drain_controls(limit)
        out: list[Any] = []
        pop = self.queue.popleft
        try:
            for _ in range(limit):
                out.append(pop())
        except IndexError:
            pass
        return out

    def _drain_controls(self, limit: int) -> list[RawMessage]:
        """Messages up to the next control or warm-up; one at the head is applied first. The
        pipeline drains again only once the batch it drained is stored, so a control is applied
        after every message stored before it in the stream, as on replay."""
        out: list[RawMessage] = []
        queue = self.queue
        while queue and len(out) < limit:
            item = queue[0]
            if isinstance(item, Warmup | Control):
                if out:
                    break
                queue.popleft()
                self._controls.popleft()
                if isinstance(item, Warmup):  # state only: nothing to acknowledge
                    if self.on_warmup is not None:
                        self.on_warmup(item)
                    continue
                if self.on_control is not None:
                    try:
                        self.on_control(item)
                    except Exception:
                        log.exception(
                            "control %s in partition %d failed", item.what, item.partition
                        )
                self._applied.append(item.mid)  # acknowledged at the next drain
                continue
            out.append(cast(RawMessage, queue.popleft()))
        return out

    def ack(self, messages: list[RawMessage]) -> None:
        """Acknowledge a stored batch: one AckAll per partition, for its last message."""
        if messages:
            self._ack_mids([m.mid for m in messages])

    def _ack_mids(self, mids: list[int]) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # loop closed: stopping, nothing to ack
                asyncio.run_coroutine_threadsafe(self._ack(mids), self._loop)

    def forward(self, k: int, what: str, body: dict[str, Any]) -> None:
        """A control message for the owner of partition k, stored in k's stream (whoever owns k
        now or later meets it in order; from any thread)."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(
                    self._forward(control_subject(k, what), orjson.dumps(body)), self._loop
                )

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """A command to a device: the MQTT listener delivers `care.v1.<id>.cmd` to its topic."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(
                    self._publish(subject_of(topic), payload), self._loop
                )

    def owns(self, device_id: str) -> bool:
        return partition_of(device_id, self.partitions) in self.owned

    def partition_of(self, device_id: str) -> int:
        return partition_of(device_id, self.partitions)

    # ---- the source's own loop ----

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # start() reports it
            self._failed = exc
            log.exception("NATS source stopped")
        finally:
            self.connected.clear()
            self._ready.set()
            # the client's own tasks (a subscription's reader) outlive a close that could not
            # reach a server that is gone: end them here, not as "destroyed but pending" at exit
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:  # (gather of nothing would look for this thread's loop: there is none)
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        self._release_on_stop = True
        self._nc = await nats.connect(
            self.url,
            name=f"care-hub-{self.node_id}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            disconnected_cb=self._on_disconnect,
            reconnected_cb=self._on_reconnect,
            error_cb=self._on_error,
        )
        self._js = self._nc.jetstream()
        await self._ensure_stream()
        self._kv = await self._ensure_bucket()
        created = (await self._js.stream_info(f"KV_{LEASE_BUCKET}")).created
        self.lease_epoch = created.timestamp() if created is not None else 0.0
        self._on_connected()
        await self._rebalance()
        self._ready.set()
        try:
            while not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.lease_ttl_s / 3)
                if not self._stopping.is_set():
                    try:
                        await self._rebalance()
                    except Exception as exc:  # the server away: leases lapse, others take over
                        log.warning("NATS lease round failed: %r", exc)
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        for task in self._fetchers.values():
            task.cancel()
        for task in self._fetchers.values():
            with contextlib.suppress(BaseException):
                await task
        self._fetchers.clear()
        if self._release_on_stop and self._kv is not None:
            for k, revision in list(self._leases.items()):
                with contextlib.suppress(Exception):  # only if still ours (not taken meanwhile)
                    await self._kv.delete(f"p.{k}", last=revision)
            with contextlib.suppress(Exception):
                await self._kv.delete(f"node.{self.node_id}")
        self.owned = frozenset()
        with contextlib.suppress(Exception):
            await self._nc.close()

    def _on_connected(self) -> None:
        self.connect_count += 1
        self.disconnected_since = None
        self.connected.set()

    async def _on_disconnect(self) -> None:
        self.connected.clear()
        if self.disconnected_since is None:
            self.disconnected_since = time.monotonic()
        if self._stopping is None or not self._stopping.is_set():
            log.warning("NATS disconnected; reconnecting")

    async def _on_error(self, exc: Exception) -> None:
        # nats-py's default logs a whole traceback at each failed reconnect, once a second while
        # the server is away: one line instead, at most every ERROR_LOG_EVERY_S
        now = time.monotonic()
        if now - self._error_logged_at >= ERROR_LOG_EVERY_S:
            self._error_logged_at = now
            log.warning("NATS connection error (retrying): %s", redact(repr(exc)))

    async def _on_reconnect(self) -> None:
        self._on_connected()
        log.info("NATS reconnected to %s", redact(self.url))

    async def _ensure_stream(self) -> None:
        config = api.StreamConfig(
            name=STREAM,
            subjects=["care.p.>"],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            max_age=self.stream_max_age_s,
        )
        try:
            await self._js.stream_info(STREAM)
        except NotFoundError:
            with contextlib.suppress(Exception):  # another node created it meanwhile
                await self._js.add_stream(config)

    async def _ensure_bucket(self) -> Any:
        try:
            return await self._js.key_value(LEASE_BUCKET)
        except Exception:
            with contextlib.suppress(Exception):
                await self._js.create_key_value(
                    bucket=LEASE_BUCKET, ttl=self.lease_ttl_s, history=1
                )
            return await self._js.key_value(LEASE_BUCKET)

    # ---- leases: who consumes which partition ----

    async def _rebalance(self) -> None:
        kv = self._kv
        await kv.put(f"node.{self.node_id}", b"1")
        try:
            keys = await kv.keys()  # (no server-side filter before nats-server 2.10)
        except Exception:  # nats-py raises when the bucket is empty
            keys = []
        nodes = sorted({k[5:] for k in keys if k.startswith("node.")} | {self.node_id})
        me = nodes.index(self.node_id)
        wanted = {k for k in range(self.partitions) if k % len(nodes) == me}
        for k in list(self._leases):
            try:
                self._leases[k] = await kv.update(
                    f"p.{k}", self.node_id.encode(), last=self._leases[k]
                )
            except KeyWrongLastSequenceError:
                log.error("lease on partition %d lost (expired or taken): stop consuming it", k)
                await self._drop(k)
                continue
            if k not in wanted:
                await self._release(k)
        # A lost partition's token stays while the hub may still hold its messages (fencing).
        gone = [k for k in self.tokens if k not in self._leases and self._outstanding[k] == 0]
        if gone:
            self.tokens = {k: r for k, r in self.tokens.items() if k not in gone}
        for k in sorted(wanted - set(self._leases)):
            try:
                revision = await kv.create(f"p.{k}", self.node_id.encode())
            except KeyWrongLastSequenceError:
                continue  # still held by another node (until it lets go or its lease expires)
            self._leases[k] = revision
            try:
                await self._acquire(k)
            except Exception as exc:  # e.g. PostgreSQL away for the fence claim: retry next round
                log.warning("taking partition %d failed (%r): lease given back", k, exc)
                await self._drop(k)
                with contextlib.suppress(Exception):
                    await self._kv.delete(f"p.{k}", last=revision)

    async def _acquire(self, k: int) -> None:
        start = await self._take_over_consumer(k)
        self._last_sseq[k] = start - 1
        token = (self.lease_epoch, self._leases[k])
        if self.on_acquire is not None:
            future = self.on_acquire({k: token})
            if future is not None:  # the hub claims the fence and reloads its seq marks first
                await asyncio.wrap_future(future)
        self.tokens = {**self.tokens, k: token}  # before any message of k
        self.owned = self.owned | {k}
        self._fetchers[k] = asyncio.create_task(self._fetch(k, start), name=f"fetch-p{k}")
        log.info("node %s consumes partition %d from stream seq %d", self.node_id, k, start)

    async def _take_over_consumer(self, k: int) -> int:
        """Delete earlier owners' consumers of partition k; the first stream seq not yet stored."""
        prefix = f"hub-p{k}-"
        floor: int | None = None
        for info in await self._js.consumers_info(STREAM):
            name = info.name or ""
            if not name.startswith(prefix):
                continue
            sseq = info.ack_floor.stream_seq if info.ack_floor else 0
            floor = sseq if floor is None else max(floor, sseq or 0)
            with contextlib.suppress(Exception):
                await self._js.delete_consumer(STREAM, name)
        return (floor or 0) + 1

    async def _warmup(self, k: int, floor: int) -> Warmup | None:
        """Partition k's radar frames stored in the `warmup_s` before its ack floor `floor`
        (through an ephemeral consumer that acknowledges nothing); None when there is no floor
        yet or warm-up is off. A failure costs only the warm-up (logged): the partition is taken
        over without it, as before."""
        if self.warmup_s <= 0 or floor <= 0:
            return None
        started = time.monotonic()
        messages: list[RawMessage] = []
        sub: Any = None
        try:
            stored = (await self._js.get_msg(STREAM, seq=floor)).time
            if stored is None:
                return None
            config = api.ConsumerConfig(
                ack_policy=api.AckPolicy.NONE,
                deliver_policy=api.DeliverPolicy.BY_START_TIME,
                opt_start_time=stored - datetime.timedelta(seconds=self.warmup_s),
                inactive_threshold=30.0,
            )
            sub = await self._js.pull_subscribe(
                f"{PARTITION_PREFIX}.{k}.v1.*.radar.frames", stream=STREAM, config=config
            )
            done = False
            while not done:
                try:
                    batch = await sub.fetch(WARMUP_BATCH, timeout=WARMUP_FETCH_S)
                except TimeoutError:
                    break  # nothing more stored (the floor was not a radar frame)
                for m in batch:
                    sseq, stored_at = _ack_meta(m.reply)
                    if sseq > floor:
                        done = True
                        break
                    messages.append(RawMessage(topic_of(m.subject), m.data, 0, 0, stored_at))
        except Exception as exc:
            log.warning("warm-up of partition %d failed (%r): taken over without it", k, exc)
            return None
        finally:
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
        log.info(
            "partition %d: %d radar windows of the last %.0f s before its ack floor read for"
            " warm-up in %.2f s",
            k,
            len(messages),
            self.warmup_s,
            time.monotonic() - started,
        )
        return Warmup(k, messages)

    def _consumer_config(self, k: int, start: int) -> api.ConsumerConfig:
        return api.ConsumerConfig(
            durable_name=f"hub-p{k}-{self.node_id}-{self._epoch}",
            filter_subject=partition_filter(k),
            ack_policy=api.AckPolicy.ALL,
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            ack_wait=ACK_WAIT_S,
            max_ack_pending=MAX_ACK_PENDING,
        )

    async def _release(self, k: int) -> None:
        """Hand a partition to the node that should have it: stop pulling, let the hub store and
        acknowledge what it holds, then give the lease back (checked again every round)."""
        if k not in self._releasing:
            self._releasing.add(k)
            await self._stop_fetch(k)
            self.owned = self.owned - {k}
        if self._outstanding[k] == 0:
            await self._nc.flush()  # our AckAll reached the server before the lease goes
            with contextlib.suppress(Exception):
                await self._kv.delete(f"p.{k}", last=self._leases[k])
            self._releasing.discard(k)
            self._leases.pop(k, None)
            self.tokens = {p: r for p, r in self.tokens.items() if p != k}
            log.info("node %s released partition %d", self.node_id, k)

    async def _drop(self, k: int) -> None:
        """The lease is gone: stop pulling at once (the next owner starts after our ack floor)."""
        self._leases.pop(k, None)
        self._releasing.discard(k)
        self.owned = self.owned - {k}
        await self._stop_fetch(k)

    async def _stop_fetch(self, k: int) -> None:
        task = self._fetchers.pop(k, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    # ---- pulling and acknowledging ----

    async def _fetch(self, k: int, start: int) -> None:
        """Pull partition k: pull requests kept outstanding (a new one when less than half a
        batch is still asked for), messages handled by a subscription callback. nats-py's
        `fetch()` awaits each message with its own timeout, which measured as the node's main
        cost at a few thousand msg/s."""
        name = f"hub-p{k}-{self.node_id}-{self._epoch}"
        # read here, not in _acquire: the lease round goes on meanwhile
        warmup = await self._warmup(k, start - 1)
        if warmup is not None:  # ahead of k's first message after the floor
            self._controls.append(warmup)
            self.queue.append(warmup)
        await self._js.add_consumer(STREAM, self._consumer_config(k, start))
        nc, queue, unacked, outstanding = self._nc, self.queue, self._unacked, self._outstanding
        asked = 0  # messages requested and not yet received (an estimate: expiries reset it)
        asked_at = 0.0
        last = start - 1
        control_prefix = f"{PARTITION_PREFIX}.{k}.{CONTROL_TOKEN}."

        async def on_message(m: Any) -> None:
            nonlocal asked, last
            headers = m.headers
            if headers and "Status" in headers:  # 404/408: a request expired or found nothing
                asked = 0
                return
            asked -= 1
            reply = m.reply
            sseq, stored_at = _ack_meta(reply)
            if sseq <= last:
                return  # a redelivery of what this node still holds: keep the order
            last = sseq
            mid = next(self._ids)
            unacked[mid] = (k, reply)
            outstanding[k] += 1
            if m.subject.startswith(control_prefix):
                self._control(m.subject[len(control_prefix) :], m.data, k, mid, stored_at)
                return
            qos = int(headers.get("Nmqtt-Pub", "1")) if headers else 1
            # Received when the stream stored it: a backlog is not the devices' clock skew.
            queue.append(RawMessage(topic_of(m.subject), m.data, qos, mid, stored_at))
            self.received += 1

        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox, cb=on_message)
        request = orjson.dumps({"batch": FETCH_BATCH, "expires": int(FETCH_WAIT_S * 1e9)})
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{name}"
        try:
            while True:
                if asked and time.monotonic() - asked_at > FETCH_WAIT_S:
                    asked = 0  # every request has expired by now, whatever the server said
                if len(queue) < self.queue_cap and asked < FETCH_BATCH // 2:
                    try:
                        await nc.publish(subject, request, reply=inbox)
                        asked += FETCH_BATCH
                        asked_at = time.monotonic()
                    except Exception as exc:
                        log.warning("pull request for partition %d failed: %r", k, exc)
                        await asyncio.sleep(1.0)
                await asyncio.sleep(PULL_TICK_S)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _ack(self, mids: list[int]) -> None:
        last: dict[int, str] = {}
        unacked, outstanding = self._unacked, self._outstanding
        for mid in mids:
            entry = unacked.pop(mid, None)
            if entry is not None:
                k, reply = entry
                last[k] = reply
                outstanding[k] -= 1
        for k, reply in last.items():
            if k in self._leases:
                with contextlib.suppress(Exception):
                    await self._nc.publish(reply, b"+ACK")

    def _control(self, what: str, data: bytes, k: int, mid: int, stored_at: float) -> None:
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            log.warning("control %s in partition %d is not a JSON object: skipped", what, k)
            body = {}
        control = Control(what, body, k, mid, stored_at)
        self._controls.append(control)  # before the queue: drain sees it whenever it is queued
        self.queue.append(control)

    async def _forward(self, subject: str, payload: bytes) -> None:
        for attempt in range(1, FORWARD_ATTEMPTS + 1):
            try:
                await self._js.publish(subject, payload, timeout=2.0)
                return
            except Exception as exc:
                log.warning("control to %s not stored (attempt %d): %r", subject, attempt, exc)
                await asyncio.sleep(0.2 * attempt)
        log.error("control to %s given up after %d attempts", subject, FORWARD_ATTEMPTS)

    async def _publish(self, subject: str, payload: bytes) -> None:
        try:
            await self._nc.publish(subject, payload)
        except Exception as exc:
            log.warning("command to %s not sent: %r", subject, exc)
