"""The running `Hub` as a request dependency, for the routers that act on it (commands, ingest)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from care_hub.hub import Hub


def get_hub(request: Request) -> Hub:
    return request.app.state.hub


HubDep = Annotated[Hub, Depends(get_hub)]
