"""`/ws/events`: role-filtered live events with replay from `since`, heartbeats, bounded queues."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Query, WebSocket, WebSocketDisconnect
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.routing import chosen_types, family_links, wire_view
from care_hub.hub import Hub
from care_hub.kernel.deps import Principal, principal_for_session, principal_from_token
from care_hub.kernel.events import REVOKED_NOTICE, Audience, Subscriber
from care_hub.kernel.security import InvalidToken, UsedTickets, read_ticket

log = logging.getLogger(__name__)
router = APIRouter()

# A ping every so often lets screens notice a dead connection and proxies keep it open.
HEARTBEAT_S = 15.0
# An open socket re-checks its user this often (active, token version unchanged): a revocation
# made by another hub process, which cannot wake this one's sockets, ends it within this time.
SESSION_CHECK_S = 30.0
# Close codes: 4401 for bad credentials and an ended session (expiry, deactivation, password
# change, revocation); "try again later" for a client that fell behind.
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


def _used_tickets(ws: WebSocket) -> UsedTickets:
    state = ws.app.state
    if getattr(state, "used_tickets", None) is None:
        state.used_tickets = UsedTickets()
    used: UsedTickets = state.used_tickets
    return used


async def _authenticate(
    ws: WebSocket, hub: Hub, session: AsyncSession, token: str | None, ticket: str | None
) -> Principal | None:
    """The principal of a one-time `ticket` (preferred) or a bearer `token` (PROTOCOL.md v1)."""
    if ticket:
        try:
            claims = read_ticket(ticket, secret=hub.secret)
        except InvalidToken:
            return None
        if not _used_tickets(ws).redeem(claims.ticket_id, expires_at=time.time() + 60):
            return None  # single use
        return await principal_for_session(
            session,
            user_id=claims.user_id,
            token_version=claims.token_version,
            expires_at=claims.session_expires_at,
        )
    try:
        return await principal_from_token(hub, session, token)
    except HTTPException:
        return None


async def _still_valid(hub: Hub, user: Principal) -> bool:
    """The user is active and their token version unchanged (checked every SESSION_CHECK_S)."""
    try:
        async with hub.session_factory() as session:
            again = await principal_for_session(
                session,
                user_id=user.user_id,
                token_version=user.token_version,
                expires_at=user.session_expires_at,
            )
    except Exception:
        # The database is down: that ends no session. The screen must stay connected to hear
        # the ingest-stalled notice; the check runs again at the next interval.
        log.warning("session check skipped: database unavailable")
        return True
    return again is not None


@router.websocket("/ws/events")
async def events(
    ws: WebSocket,
    token: str | None = None,
    ticket: str | None = None,
    since: int | None = None,
    floor: list[str] | None = Query(None),
    wing: list[str] | None = Query(None),
    mine: bool = False,
) -> None:
    """Events for this user. Authenticate with `ticket` (one use, from `POST /api/auth/ws-ticket`;
    preferred: a bearer token in a URL ends up in logs) or `token` (PROTOCOL.md v1). The socket
    closes with 4401 when the session ends: token expiry, deactivation, password change or
    revocation. `floor`/`wing` (repeatable or comma-separated) narrow a wall screen to its part
    of the building; `mine=1` keeps only what the roster addresses to this caregiver."""
    hub: Hub = ws.app.state.hub
    async with hub.session_factory() as session:
        user = await _authenticate(ws, hub, session, token, ticket)
        if user is None:
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

    def wire_event(event: dict[str, Any]) -> dict[str, Any] | None:
        return wire_view(event, family=family)

    # Subscribe before replaying so nothing committed in between is missed; drop live duplicates.
    sub = hub.bus.subscribe(audience, user_id=user.user_id)
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
                    if (out := wire_event(event)) is not None:
                        await ws.send_json(out)
            sent = max(sent, last)
        receiver = asyncio.create_task(_drain_incoming(ws))
        getter: asyncio.Task[dict] | None = None
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + HEARTBEAT_S
        next_check = loop.time() + SESSION_CHECK_S
        try:
            while True:
                if sub.overflowed:
                    await ws.close(code=CLOSE_TOO_SLOW, reason="too slow; resume with since")
                    return
                ended = _session_ended(user, sub)
                if ended is None and loop.time() >= next_check:
                    next_check = loop.time() + SESSION_CHECK_S
                    if not await _still_valid(hub, user):
                        ended = "session revoked"
                if ended is not None:
                    await ws.close(code=CLOSE_UNAUTHORISED, reason=ended)
                    return
                getter = getter or asyncio.create_task(sub.queue.get())
                timeout = min(next_ping, next_check) - loop.time()
                if user.session_expires_at is not None:
                    timeout = min(timeout, user.session_expires_at - time.time())
                done, _ = await asyncio.wait(
                    {getter, receiver},
                    timeout=max(0.0, timeout),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if receiver in done:
                    return  # the client went away
                if getter not in done:
                    if loop.time() >= next_ping:
                        await ws.send_json({"seq": sent, "type": "ping", "data": {}})
                        next_ping = loop.time() + HEARTBEAT_S
                    continue
                event, getter = getter.result(), None
                if event["type"] == REVOKED_NOTICE or sub.revoked:
                    continue  # closed with 4401 at the top of the loop
                if event["seq"] is None:  # a live notice (system health), not in the event log
                    # Sent with the last seq, like a ping (PROTOCOL: seq is an int), so a client's
                    # position does not move; clients act on it by its type.
                    if (out := wire_event({**event, "seq": sent})) is not None:
                        await ws.send_json(out)
                    continue
                if event["seq"] <= sent:
                    continue
                if (out := wire_event(event)) is not None:
                    await ws.send_json(out)
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


def _session_ended(user: Principal, sub: Subscriber) -> str | None:
    if sub.revoked:
        return "session revoked"
    if user.session_expires_at is not None and time.time() >= user.session_expires_at:
        return "session expired"
    return None


async def _drain_incoming(ws: WebSocket) -> None:
    """Read (and ignore) client messages so a closed socket is noticed promptly."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await ws.receive_text()
