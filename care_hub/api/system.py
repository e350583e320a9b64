"""Health, ingest metrics (JSON) and Prometheus metrics.

`/api/health` answers 503 when the hub cannot do its job: ingest stalled, the database not
answering `SELECT 1` within `health_db_timeout_s`, or the broker away longer than
`health_broker_grace_s`. The body says which (`problems`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import text

from care_hub.api import metrics
from care_hub.api.deps import HubDep
from care_hub.hub import Hub
from care_hub.kernel.deps import StaffUser
from care_hub.kernel.responses import errors

router = APIRouter(tags=["system"])
router.include_router(metrics.router)


class IngestHealthPublic(BaseModel):
    ok: bool
    since_progress_s: float = Field(description="seconds since ingest last stored or idled")
    error: str | None = None


class ComponentHealth(BaseModel):
    ok: bool
    error: str | None = None


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded", "stalled", "down"] = Field(
        description="ok; degraded (broker away, within its grace); stalled (ingest); down "
        "(database or broker)"
    )
    problems: list[str] = Field(description="why the answer is 503, one line per component")
    mqtt_connected: bool
    broker: str = Field(description="embedded broker kind, or 'external'")
    database: ComponentHealth
    mqtt: ComponentHealth
    ingest: IngestHealthPublic | None = Field(description="null on a process that does not ingest")


class MetricsPublic(BaseModel):
    ingest: dict[str, Any] = Field(description="ingest counters (care_hub/ingest/metrics.py)")
    backlog: int
    websocket_clients: int
    devices: int


async def _database(hub: Hub) -> ComponentHealth:
    async def ping() -> None:
        async with hub.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(ping(), timeout=hub.settings.health_db_timeout_s)
    except TimeoutError:
        return ComponentHealth(
            ok=False, error=f"no answer within {hub.settings.health_db_timeout_s:g} s"
        )
    except Exception as exc:  # any failure to answer is the database being down
        return ComponentHealth(ok=False, error=type(exc).__name__)
    return ComponentHealth(ok=True)


def _broker(hub: Hub) -> ComponentHealth:
    conn = hub.conn
    since = conn.disconnected_since if conn is not None else None
    if conn is None or since is None:
        return ComponentHealth(ok=True)
    away_s = time.monotonic() - since
    if away_s > hub.settings.health_broker_grace_s:
        return ComponentHealth(ok=False, error=f"not connected for {away_s:.0f} s")
    return ComponentHealth(ok=True, error=f"reconnecting ({away_s:.0f} s)")


@router.get(
    "/api/health",
    response_model=HealthPublic,
    responses={503: {"model": HealthPublic, "description": "ingest, database or broker down"}},
)
async def health(hub: HubDep, response: Response) -> HealthPublic:
    connected = bool(hub.conn and hub.conn.connected.is_set())
    ingest_status = hub.pipeline.health.status() if hub.pipeline is not None else None
    ingest = IngestHealthPublic(**ingest_status) if ingest_status is not None else None
    database = await _database(hub)
    mqtt = _broker(hub)
    problems = []
    if ingest is not None and not ingest.ok:
        # Messages wait and nothing is stored: a hub that hears nothing must not say ok.
        problems.append(f"ingest: stalled for {ingest.since_progress_s:.0f} s")
    if not database.ok:
        problems.append(f"database: {database.error}")
    if not mqtt.ok:
        problems.append(f"broker: {mqtt.error}")
    status: Literal["ok", "degraded", "stalled", "down"] = "ok"
    if ingest is not None and not ingest.ok:
        status = "stalled"
    elif problems:
        status = "down"
    elif hub.conn is not None and not connected:
        status = "degraded"
    if problems:
        response.status_code = 503
    return HealthPublic(
        status=status,
        problems=problems,
        mqtt_connected=connected,
        broker=hub.broker.kind if hub.broker else "external",
        database=database,
        mqtt=mqtt,
        ingest=ingest,
    )


@router.get("/api/metrics", response_model=MetricsPublic, responses=errors(401, 403))
async def json_metrics(hub: HubDep, _: StaffUser) -> MetricsPublic:
    """Ingest counters as JSON (the same figures, and more, are Prometheus text at `/metrics`)."""
    ingest = hub.pipeline.metrics.as_dict() if hub.pipeline else {}
    backlog = len(hub.conn.queue) if hub.conn else 0
    return MetricsPublic(
        ingest=ingest,
        backlog=backlog,
        websocket_clients=hub.bus.subscriber_count,
        devices=len(hub.registry),
    )
