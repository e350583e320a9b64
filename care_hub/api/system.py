"""Health and ingest metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from care_hub.api.deps import HubDep
from care_hub.kernel.deps import StaffUser

router = APIRouter(prefix="/api", tags=["system"])


@router.get("/health")
async def health(hub: HubDep) -> dict[str, Any]:
    connected = bool(hub.conn and hub.conn.connected.is_set())
    return {
        "status": "ok" if connected or hub.conn is None else "degraded",
        "mqtt_connected": connected,
        "broker": hub.broker.kind if hub.broker else "external",
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
