"""The running hub: broker, database, event bus, device registry, MQTT ingest. Built in one place.

`Hub.start(settings)` brings the parts up in dependency order and `stop()` tears them down in
reverse. Nothing connects at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from alerts.engine import start_alert_engine
from alerts.escalation import Clock, EscalationEngine
from alerts.fanout import PgFanout
from care_hub import migrate
from care_hub.ingest.leadership import try_lead
from care_hub.ingest.nats_ingest import NatsIngest
from care_hub.ingest.pipeline import IngestPipeline
from care_hub.ingest.prometheus import HubMetrics
from care_hub.kernel.db import make_engine, make_session_factory
from care_hub.kernel.events import EventBus
from care_hub.kernel.security import LoginThrottle, install_log_redaction
from care_hub.kernel.settings import Settings
from care_records import overdue as care_overdue
from devices.broker import EmbeddedBroker, require_device_acl
from devices.broker_config import production_embedded_broker
from devices.contract import SUBSCRIPTION_FILTERS
from devices.dedupe import SeqTracker
from devices.mqtt_client import MqttConnection
from devices.radar.processor import radar_config
from devices.radar.worker import RadarWorkerGroup
from devices.registry import DeviceRegistry

log = logging.getLogger(__name__)

# From this many radars the radar streams get a worker process (the second core) by default.
# More workers (CARE_HUB_RADAR_WORKERS=N) are for machines with more cores: on 2 cores, two
# workers measured no better than one (worker 0 still receives every radar topic).
RADAR_WORKER_AUTO_MIN = 300


@dataclass
class Hub:
    settings: Settings
    secret: str
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    bus: EventBus
    registry: DeviceRegistry
    mqtt_url: str
    conn: MqttConnection | None = None
    pipeline: IngestPipeline | None = None
    broker: EmbeddedBroker | None = None
    radar_worker: RadarWorkerGroup | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    escalation: EscalationEngine | None = None
    fanout: PgFanout | None = None
    ingest_leader: bool = False
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    metrics: HubMetrics = field(default_factory=HubMetrics)

    @classmethod
    async def start(
        cls,
        settings: Settings,
        *,
        db_schema: str | None = None,
        auto_migrate: bool = True,
        ingest: bool = True,
        clock: Clock | None = None,
    ) -> Hub:
        """Bring the hub up. `clock` (seconds since the epoch) drives alert escalation from its
        first tick; tests and simulations pass their own."""
        # No bearer token, ticket or password hash in any log line (uvicorn logs request paths).
        install_log_redaction()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        secret = settings.resolved_secret()
        broker = None
        mqtt_url = settings.mqtt.url
        production = settings.environment == "production"
        via_nats = settings.ingest.backend == "nats"  # several nodes, each its partitions
        if ingest and not mqtt_url and not via_nats:
            # Production: per-device accounts and ACL from `care-hub broker-config`.
            secured = production_embedded_broker(settings) if production else None
            broker = EmbeddedBroker(
                settings.data_dir / "broker",
                prefer=settings.mqtt.embedded_prefer,  # type: ignore[arg-type]
                port=settings.mqtt.embedded_port or None,
                password_file=secured[0] if secured else None,
                acl_file=secured[1] if secured else None,
            )
            await asyncio.to_thread(broker.start)
            mqtt_url = broker.url
            log.info("embedded %s broker on %s", broker.kind, mqtt_url)
        if ingest and production and not via_nats:
            # Refuse a broker where anyone may publish as a device (spoofed cancel, Last Will).
            m = settings.mqtt
            try:
                await asyncio.to_thread(
                    functools.partial(
                        require_device_acl,
                        mqtt_url,
                        username=m.username,
                        password=m.password.get_secret_value() if m.password else None,
                        allow_anonymous=m.allow_anonymous_devices,
                    )
                )
            except BaseException:
                if broker is not None:
                    await asyncio.to_thread(broker.stop)
                raise
        if auto_migrate and settings.auto_migrate:
            await asyncio.to_thread(migrate.upgrade, settings.db_url, schema=db_schema)
        elif auto_migrate:  # production migrates by hand: refuse a schema behind the code
            try:
                await asyncio.to_thread(migrate.ensure_at_head, settings.db_url, schema=db_schema)
            except Exception:
                if broker is not None:
                    await asyncio.to_thread(broker.stop)
                raise
        engine = make_engine(settings.db_url, echo=settings.database.echo, schema=db_schema)
        session_factory = make_session_factory(engine)
        bus = EventBus(session_factory)
        registry = DeviceRegistry(session_factory)
        await registry.load()
        hub = cls(
            settings=settings,
            secret=secret,
            engine=engine,
            session_factory=session_factory,
            bus=bus,
            registry=registry,
            mqtt_url=mqtt_url,
            broker=broker,
        )
        hub.metrics.watch(hub)
        # Alert engine: escalation loop and cross-process fan-out.
        alert_engine = await start_alert_engine(
            session_factory=session_factory,
            bus=bus,
            db_engine=engine,
            settings=settings.alerts,
            db_schema=db_schema,
            clock=clock,
        )
        hub.escalation = alert_engine.escalation
        hub.fanout = alert_engine.fanout
        hub.tasks += alert_engine.tasks
        # Care records: overdue care tasks raise low alerts; guidance from the trail, six-hourly.
        hub.tasks.append(asyncio.create_task(care_overdue.run(session_factory, bus, clock=clock)))
        hub.ingest_leader = ingest
        if ingest and engine.dialect.name == "postgresql" and not via_nats:
            # Several hub processes may serve one database: exactly one ingests MQTT.
            hub.ingest_leader, task = await try_lead(
                engine, db_schema=db_schema, take_over=hub._take_over_ingest
            )
            hub.tasks.append(task)
            if not hub.ingest_leader:
                await hub._start_publisher()
        if hub.ingest_leader:
            await hub._start_ingest()
        return hub

    async def _start_publisher(self) -> None:
        """A standby process publishes device commands through a publish-only connection."""
        m = self.settings.mqtt
        client_id = f"{m.client_id or 'care-hub'}-pub-{uuid.uuid4().hex[:6]}"
        # Publish-only: it subscribes to its own private topic alone (paho refuses an empty list).
        self.conn = MqttConnection(
            self.mqtt_url,
            client_id=client_id,
            username=m.username,
            subscriptions=((f"care-hub/standby/{client_id}", 0),),
            persistent=False,
            password=m.password.get_secret_value() if m.password else None,
        )
        await asyncio.to_thread(self.conn.start)

    async def _take_over_ingest(self) -> None:
        publisher = self.conn
        if publisher is not None:
            await asyncio.to_thread(publisher.stop)
        self.ingest_leader = True
        await self._start_ingest()

    async def _start_ingest(self) -> None:
        if self.settings.ingest.backend == "nats":
            await self._start_nats_ingest()
            return
        m = self.settings.mqtt
        client_id = m.client_id or f"care-hub-{uuid.uuid4().hex[:8]}"
        password = m.password.get_secret_value() if m.password else None
        radars = [d for d in self.registry.all() if d.type == "radar"]
        workers = self.settings.radar_workers
        if workers is None:
            workers = int(len(radars) >= RADAR_WORKER_AUTO_MIN)
        use_worker = workers > 0
        subscriptions = (
            tuple(f for f in SUBSCRIPTION_FILTERS if "/radar/" not in f[0])
            if use_worker
            else SUBSCRIPTION_FILTERS
        )
        self.conn = MqttConnection(
            self.mqtt_url,
            client_id=client_id,
            username=m.username,
            password=password,
            subscriptions=subscriptions,
        )
        seqs = SeqTracker()
        async with self.session_factory() as session:
            await seqs.load(session)
        self.pipeline = IngestPipeline(
            conn=self.conn,
            registry=self.registry,
            seqs=seqs,
            session_factory=self.session_factory,
            bus=self.bus,
            radar_capacity=max(1024, 2 * len(radars)),
            in_process_radar=not use_worker,
            fall_confirm_s=self.settings.fall_confirm_s,
            floor_dwell_s=self.settings.fall_floor_dwell_s,
            stall_s=self.settings.ingest_stall_s,
            dead_letter_retention_s=self.settings.dead_letter_retention_days * 86_400,
        )
        if use_worker:
            self.radar_worker = RadarWorkerGroup(
                workers,
                mqtt_url=self.mqtt_url,
                client_id=f"{client_id}-radar",
                username=m.username,
                password=password,
                on_report=self.pipeline.on_worker_report,
            )
            await asyncio.to_thread(
                functools.partial(
                    self.radar_worker.start,
                    [radar_config(d) for d in radars],
                    {d.id: d.type for d in self.registry.all()},
                    fall_confirm_s=self.settings.fall_confirm_s,
                    floor_dwell_s=self.settings.fall_floor_dwell_s,
                )
            )
            self.pipeline.use_worker(self.radar_worker)
            log.info("radar streams of %d radars in %d worker process(es)", len(radars), workers)
        await self.pipeline.load_offline_alerts()
        await asyncio.to_thread(self.conn.start)
        self.tasks.append(asyncio.create_task(self.pipeline.run(), name="ingest"))
        self.tasks.append(asyncio.create_task(self.pipeline.supervise(), name="supervision"))
        self.tasks.append(asyncio.create_task(self.pipeline.watch_health(), name="ingest-health"))

    async def _start_nats_ingest(self) -> None:
        """Every node ingests the device partitions it leases from NATS JetStream
        (`care_hub.ingest.nats_ingest`: cancels across partitions, fencing, restart when fenced)."""
        nats_ingest = NatsIngest(self)
        await nats_ingest.start()
        self.tasks.append(asyncio.create_task(nats_ingest.run(), name="nats-ingest"))

    def send_command(self, topic: str, payload: bytes) -> None:
        if self.conn is not None:
            self.conn.publish(topic, payload, qos=1)

    async def stop(self) -> None:
        for task in reversed(self.tasks):
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()
        if self.conn is not None:
            await asyncio.to_thread(self.conn.stop)
        if self.radar_worker is not None:
            await asyncio.to_thread(self.radar_worker.stop)
        await self.engine.dispose()
        if self.broker is not None:
            await asyncio.to_thread(self.broker.stop)
