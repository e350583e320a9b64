"""`/ws/events`: role-filtered live events with replay from `since`, heartbeats, bounded queues."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Query, WebSocket, WebSocketDisconnect

from alerts.routing import chosen_types, family_links, wire_view
from care_hub.hub import Hub
from care_hub.kernel.deps import Principal, principal_from_token
from care_hub.kernel.events import Audience

log = logging.getLogger(__name__)
router = APIRouter()

# A ping every so often lets screens notice a dead connection and proxies keep it open.
HEARTBEAT_S = 15.0
# Close codes: policy violation for bad credentials; "try again later" for a client that fell behind.
CLOSE_UNAUTHORISED = 4401
CLOSE_TOO_SLOW = 1013


def _set(values: list[str] | None) -> frozenset[str] | None:
    return frozenset(v for raw in values for v in raw.split(",") if v) if values else None


def audience_for(
    user: Principal,
    *,
    floor: list[str] | None = None,
    wing: list[str] | None = None,
    mine: bool = False,
    family_types: dict[str, frozenset[str] | None] | None = None,
) -> Audience:
    """Role scope, narrowed by place (a wall screen per floor or wing) and roster (`mine`)."""
    floors, wings = _set(floor), _set(wing)
    if user.role == "admin":
        return Audience(everything=True, floors=floors, wings=wings)
    if user.role == "family":
        return Audience(resident_ids=user.resident_ids, family_types=family_types)
    return Audience(
        facility_id=user.facility_id,
        user_id=user.user_id,
        personal=mine,
        floors=floors,
        wings=wings,
    )


@router.websocket("/ws/events")
async def events(
    ws: WebSocket,
    token: str | None = None,
    since: int | None = None,
    floor: list[str] | None = Query(None),
    wing: list[str] | None = Query(None),
    mine: bool = False,
) -> None:
    """Events for this user. `floor`/`wing` (repeatable or comma-separated) narrow a wall screen
    to its part of the building; `mine=1` keeps only what the roster addresses to this caregiver."""
    hub: Hub = ws.app.state.hub
    async with hub.session_factory() as session:
        try:
            user = await principal_from_token(hub, session, token)
        except HTTPException:
            await ws.close(code=CLOSE_UNAUTHORISED, reason="not authenticated")
            return
        types = (
            chosen_types(await family_links(session, user.user_id))
            if user.role == "family"
            else None
        )
    await ws.accept()
    audience = audience_for(user, floor=floor, wing=wing, mine=mine, family_types=types)
    family = audience.family

    def wire_event(event: dict[str, Any]) -> dict[str, Any]:
        return wire_view(event, family=family)

    # Subscribe before replaying so nothing committed in between is missed; drop live duplicates.
    sub = hub.bus.subscribe(audience)
    try:
        last = await hub.bus.last_seq()
        await ws.send_json(
            {"seq": last, "type": "hello", "data": {"last_seq": last, "role": user.role}}
        )
        sent = since if since is not None else last
        if since is not None:
            # Through `last` only, a page at a time: what commits after it is on the queue.
            async for page in hub.bus.replay_pages(since, audience, upto=last):
                for event in page:
                    await ws.send_json(wire_event(event))
            sent = max(sent, last)
        receiver = asyncio.create_task(_drain_incoming(ws))
        getter: asyncio.Task[dict] | None = None
        try:
            while True:
                if sub.overflowed:
                    await ws.close(code=CLOSE_TOO_SLOW, reason="too slow; resume with since")
                    return
                getter = getter or asyncio.create_task(sub.queue.get())
                done, _ = await asyncio.wait(
                    {getter, receiver}, timeout=HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED
                )
                if receiver in done:
                    return  # the client went away
                if getter not in done:
                    await ws.send_json({"seq": sent, "type": "ping", "data": {}})
                    continue
                event, getter = getter.result(), None
                if event["seq"] is None:  # a live notice (system health), not in the event log
                    await ws.send_json(wire_event(event))
                    continue
                if event["seq"] <= sent:
                    continue
                await ws.send_json(wire_event(event))
                sent = event["seq"]
        finally:
            for task in (receiver, getter):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
    except WebSocketDisconnect:
        pass
    finally:
        hub.bus.unsubscribe(sub)


async def _drain_incoming(ws: WebSocket) -> None:
    """Read (and ignore) client messages so a closed socket is noticed promptly."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await ws.receive_text()
