"""The hub's Prometheus metrics (served at `/metrics` by care_hub/api/metrics.py).

One `CollectorRegistry` per hub (several hubs share a test process). Ingest figures are read from
the pipeline's own counters when scraped (nothing is added to the hot path); alert figures come
from the event bus (`EventBus.on_published`), so `alerts/` holds no metrics code. In a multi-process
deployment every process delivers every committed alert event, so each process's alert families
count the whole database's alerts since that process started: scrape one, or take `max`.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from care_hub.ingest.metrics import BATCH_BUCKETS_S
from care_hub.ingest.pipeline import IngestPipeline
from care_hub.kernel.events import EventBus
from devices.mqtt_client import MqttConnection
from devices.registry import DeviceRegistry

PREFIX = "care_hub"
# Time to acknowledge, seconds. Escalation starts at 60 s (critical) and 120 s (high); the
# buckets resolve both sides of those deadlines and the ten-minute one of medium alerts.
ACK_BUCKETS_S = (5, 10, 15, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800, 3600)
# Alerts whose acknowledgement was already observed, so later updates of an acknowledged alert
# (assign, comment) are not observed again. Bounded: older ids fall out first.
SEEN_ACKS_MAX = 50_000


class Observed(Protocol):
    """What the metrics read of the running hub (`care_hub.hub.Hub`)."""

    bus: EventBus
    registry: DeviceRegistry
    conn: MqttConnection | None
    pipeline: IngestPipeline | None
    ingest_leader: bool


class HubMetrics:
    """The hub's Prometheus registry: event-driven families, and a collector for the rest."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.alerts_raised = Counter(
            f"{PREFIX}_alerts_raised",
            "Alerts raised, by type and IEC 60601-1-8 priority",
            ["type", "priority"],
            registry=self.registry,
        )
        self.time_to_ack = Histogram(
            f"{PREFIX}_alert_time_to_acknowledge_seconds",
            "Seconds from raising an alert to its acknowledgement, by type and priority",
            ["type", "priority"],
            buckets=ACK_BUCKETS_S,
            registry=self.registry,
        )
        self.escalations = Counter(
            f"{PREFIX}_alert_escalations",
            "Alert escalations, by tier reached",
            ["tier"],
            registry=self.registry,
        )
        self._seen_acks: OrderedDict[Any, None] = OrderedDict()

    def watch(self, hub: Observed) -> None:
        """Hook the bus and read the rest of the hub when scraped."""
        hub.bus.on_published.append(self.on_event)
        self.registry.register(_HubCollector(hub))

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        data = event.get("data") or {}
        if kind == "alert.raised":
            self.alerts_raised.labels(_label(data.get("type")), _label(data.get("priority"))).inc()
        elif kind == "alert.escalated":
            self.escalations.labels(_label(data.get("tier"))).inc()
        elif kind == "alert.updated" and data.get("acknowledged_at") is not None:
            self._acknowledged(data)

    def _acknowledged(self, data: dict[str, Any]) -> None:
        alert_id = data.get("id")
        if alert_id in self._seen_acks:
            return
        self._seen_acks[alert_id] = None
        if len(self._seen_acks) > SEEN_ACKS_MAX:
            self._seen_acks.popitem(last=False)
        raised, acked = data.get("raised_at"), data.get("acknowledged_at")
        if isinstance(raised, int | float) and isinstance(acked, int | float):
            self.time_to_ack.labels(_label(data.get("type")), _label(data.get("priority"))).observe(
                max(0.0, float(acked) - float(raised))
            )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _label(value: Any) -> str:
    return str(value) if value is not None else "unknown"


class _HubCollector(Collector):
    """Ingest counters, queue gauges and connection state, read from the hub at scrape time."""

    def __init__(self, hub: Observed) -> None:
        self.hub = hub

    def describe(self) -> list[Metric]:
        return []  # families depend on the hub's state (ingest leader or not)

    def collect(self) -> Iterator[Metric]:
        hub = self.hub
        yield _gauge("websocket_clients", "Websocket clients connected", hub.bus.subscriber_count)
        yield _gauge("devices", "Devices provisioned", len(hub.registry))
        connected = bool(hub.conn is not None and hub.conn.connected.is_set())
        yield _gauge("mqtt_connected", "1 while the MQTT connection is up", int(connected))
        yield _gauge("ingest_leader", "1 if this process ingests MQTT", int(hub.ingest_leader))
        pipeline = hub.pipeline
        if pipeline is None:
            return
        m = pipeline.metrics
        yield _counter("ingest_messages_received", "MQTT messages received", m.received)
        yield _counter("ingest_messages_accepted", "Messages accepted and stored", m.accepted)
        yield _counter("ingest_duplicates", "Repeated (device, topic, seq): ignored", m.duplicates)
        yield _counter("ingest_clock_skewed", "Messages from a skewed device clock", m.skewed)
        rejected = CounterMetricFamily(
            f"{PREFIX}_ingest_rejected",
            "Messages rejected (dead letters), by reason code",
            labels=["reason"],
        )
        for reason, n in sorted(m.rejected.items()):
            rejected.add_metric([reason], n)
        yield rejected
        yield _counter(
            "dead_letters_dropped",
            "Rejections counted but not stored as dead-letter rows (rate limits)",
            m.dead_letters_dropped,
        )
        yield _counter("ingest_batches", "Batches stored", m.batches)
        yield _counter(
            "ingest_batch_failures", "Batches retried one message at a time", m.batch_failures
        )
        buckets: list[tuple[str, float]] = []
        total = 0
        for bound, n in zip((*BATCH_BUCKETS_S, float("inf")), m.batch_bucket_counts, strict=True):
            total += n
            buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), total))
        yield HistogramMetricFamily(
            f"{PREFIX}_ingest_batch_duration_seconds",
            "Seconds from draining a batch to storing it",
            buckets=buckets,
            sum_value=m.batch_seconds_sum,
        )
        queue = hub.conn.queue if hub.conn is not None else None
        yield _gauge(
            "ingest_backlog_messages", "Messages received, not yet drained", len(queue or ())
        )
        oldest = 0.0
        if queue:
            with contextlib.suppress(IndexError):  # drained meanwhile by the loop
                oldest = max(0.0, time.time() - queue[0].received_at)
        yield _gauge(
            "ingest_oldest_message_age_seconds", "Age of the oldest waiting message", oldest
        )
        health = pipeline.health
        yield _gauge(
            "ingest_last_progress_age_seconds",
            "Seconds since ingest last stored a batch or found nothing to do",
            max(0.0, time.monotonic() - health.last_progress),
        )
        yield _gauge("ingest_stalled", "1 while ingest is stalled", int(bool(health.stalled_for())))


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"{PREFIX}_{name}", doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, value=value)
