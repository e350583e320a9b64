"""`/metrics`: the hub's Prometheus metrics (care_hub/ingest/prometheus.py) in text format.

Who may read it: a staff or admin bearer token, or the scraper's `CARE_HUB_METRICS_TOKEN` (the
Prometheus `authorization` setting). The figures hold no names or ids, but device counts and
rejection reasons are still not for anyone on the network, and a loopback exception would open it
to everyone behind a local reverse proxy.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from prometheus_client import CONTENT_TYPE_LATEST

from care_hub.api.deps import HubDep
from care_hub.kernel.deps import ServicesDep, SessionDep, oauth2_scheme, principal_from_token


async def require_metrics_reader(
    hub: HubDep,
    services: ServicesDep,
    session: SessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> None:
    configured = hub.settings.metrics_token
    if (
        token
        and configured is not None
        and hmac.compare_digest(token.encode(), configured.get_secret_value().encode())
    ):
        return
    principal = await principal_from_token(services, session, token)
    if principal.role not in ("admin", "caregiver"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "needs role admin or caregiver")


router = APIRouter(tags=["system"])


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(require_metrics_reader)],
    responses={
        200: {
            "description": "Prometheus text exposition format 0.0.4",
            "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
        },
        401: {"description": "no or an invalid bearer token"},
        403: {"description": "a family user's token"},
    },
)
async def prometheus_metrics(hub: HubDep) -> Response:
    """Prometheus text format; send `Authorization: Bearer <CARE_HUB_METRICS_TOKEN>` or a staff
    token."""
    return Response(hub.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
