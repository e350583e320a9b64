"""Start the alert engine's background work: the escalation loop and cross-process fan-out.

The assembly (`care_hub.hub.Hub.start`) calls `start_alert_engine` with what the engine needs and
keeps the returned tasks; this package never sees the hub. On PostgreSQL several hub processes may
serve one site; events then fan out between them through LISTEN/NOTIFY (`alerts.fanout`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from alerts.escalation import Clock, EscalationEngine
from alerts.fanout import PgFanout
from care_hub.kernel.events import EventBus
from care_hub.kernel.settings import AlertSettings


@dataclass
class AlertEngine:
    escalation: EscalationEngine
    fanout: PgFanout | None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def start_alert_engine(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    bus: EventBus,
    db_engine: AsyncEngine,
    settings: AlertSettings,
    db_schema: str | None,
    clock: Clock | None = None,
) -> AlertEngine:
    """Start fan-out (PostgreSQL only) and the escalation loop; the clock is set before its first
    tick, so a test's clock (or a simulated one) governs every tick."""
    escalation = EscalationEngine(
        session_factory,
        bus,
        settings,
        tick_s=settings.escalation_tick_s,
        **({"clock": clock} if clock is not None else {}),
    )
    engine = AlertEngine(escalation=escalation, fanout=None)
    if db_engine.dialect.name == "postgresql":
        engine.fanout = PgFanout(bus, db_engine, schema=db_schema)
        engine.tasks.append(await engine.fanout.start())
    engine.tasks.append(asyncio.create_task(escalation.run(), name="escalation"))
    return engine
