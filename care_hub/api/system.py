"""Health and ingest metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from care_hub.api.deps import HubDep
from care_hub.kernel.deps import StaffUser

router = APIRouter(prefix="/api", tags=["system"])


@router.get("/health", responses={503: {"description": "ingest is stalled"}})
async def health(hub: HubDep, response: Response) -> dict[str, Any]:
    connected = bool(hub.conn and hub.conn.connected.is_set())
    ingest = hub.pipeline.health.status() if hub.pipeline is not None else None
    status = "ok" if connected or hub.conn is None else "degraded"
    if ingest is not None and not ingest["ok"]:
        # Messages wait and nothing is stored: a hub that hears nothing must not say ok.
        status = "stalled"
        response.status_code = 503
    return {
        "status": status,
        "mqtt_connected": connected,
        "broker": hub.broker.kind if hub.broker else "external",
        "ingest": ingest,
    }


@router.get("/metrics")
async def metrics(hub: HubDep, _: StaffUser) -> dict[str, Any]:
    ingest = hub.pipeline.metrics.as_dict() if hub.pipeline else {}
    backlog = len(hub.conn.queue) if hub.conn else 0
    return {
        "ingest": ingest,
        "backlog": backlog,
        "websocket_clients": hub.bus.subscriber_count,
        "devices": len(hub.registry),
    }
