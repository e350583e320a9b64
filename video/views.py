"""Video: REST for calls, history, TURN, resident screens and check-ins; the `/ws/video`
signalling socket; the resident's screen page and the staff script. Thin: rules are in
`video.calls`, live state in `video.switchboard`, storage in `video.service`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect, status
from fastapi.responses import FileResponse
from sqlalchemy.orm.attributes import flag_modified

from alerts.models import Alert
from care_hub.kernel.deps import (
    AnyPrincipal,
    Principal,
    SessionDep,
    principal_for_session,
    principal_for_socket,
)
from care_hub.kernel.fields import Id, Key, Seconds
from care_hub.kernel.models import Resident, User
from care_hub.kernel.security import (
    RESIDENT_SCREEN_ROLE,
    TokenClaims,
    UsedTickets,
    issue_ticket,
    issue_token,
)
from video import calls as c
from video import service
from video.checkins import MAX_RANGE_DAYS
from video.models import VideoCall
from video.schemas import (
    CallCreate,
    ResidentVideoSettings,
    ScheduleUpdate,
    ScreenCreate,
    ScreenCreated,
    Ticket,
)
from video.switchboard import Switchboard, VideoServices
from video.turn import ice_servers

router = APIRouter(tags=["video"])
STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {"video.js": "text/javascript"}

# Who may place calls and read the history: staff, and the wall's kiosk `screen` (issue 15).
CALLER_ROLES = ("admin", "caregiver", "screen")
# Close codes as /ws/events: 4401 bad credentials or an ended session; 1013 too slow.
CLOSE_UNAUTHORISED = 4401
CLOSE_TOO_SLOW = 1013
# The socket re-checks its user (active, token version) this often, as /ws/events does.
SESSION_CHECK_S = 30.0


def switchboard(request: Request | WebSocket) -> Switchboard:
    board: Switchboard = request.app.state.video
    return board


def _hub(request: Request | WebSocket) -> VideoServices:
    hub: VideoServices = request.app.state.hub
    return hub


def _caller(user: Principal) -> Principal:
    if user.role not in CALLER_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "needs staff or a wall screen")
    return user


def _facility_scope(user: Principal) -> int | None:
    return None if user.role == "admin" else user.facility_id or -1


async def _resident_for(session: Any, user: Principal, resident_id: str) -> Resident:
    resident = await session.get(Resident, resident_id)
    if resident is None or (user.role != "admin" and resident.facility_id != user.facility_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"resident {resident_id} not found")
    return resident


# ---- calls --------------------------------------------------------------------------------


@router.post("/api/video/calls", status_code=status.HTTP_201_CREATED)
async def start_call(
    body: CallCreate, request: Request, session: SessionDep, user: AnyPrincipal
) -> dict[str, Any]:
    """Ring a resident's screens. With `alert_id` (an acknowledged call alert of a resident
    whose call button is a video caller) the resident's screen answers at once."""
    _caller(user)
    resident = await _resident_for(session, user, body.resident_id)
    kind: str = body.kind
    if body.alert_id is not None:
        alert = await session.get(Alert, body.alert_id)
        if (
            alert is None
            or alert.type != "call"
            or alert.resident_id != resident.id
            or alert.facility_id != resident.facility_id
        ):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"call alert {body.alert_id} not found")
        if alert.state != "acknowledged":
            raise HTTPException(status.HTTP_409_CONFLICT, "acknowledge the call first")
        if not (alert.detail or {}).get("video") and not service.video_settings(resident).get(
            "call_button"
        ):
            raise HTTPException(status.HTTP_409_CONFLICT, "this call button has no video")
        kind = "button"
    caller = await session.get(User, user.user_id)
    assert caller is not None  # the principal was just read from it
    try:
        call = await switchboard(request).place_call(
            session=session, resident=resident, caller=caller, kind=kind, alert_id=body.alert_id
        )
    except service.VideoError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return c.public(call)


@router.get("/api/video/calls")
async def list_calls(
    session: SessionDep,
    user: AnyPrincipal,
    resident_id: Key | None = None,
    since: Seconds | None = None,
    until: Seconds | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Call history (who, whom, when, how long, outcome), newest first."""
    _caller(user)
    return await service.list_calls(
        session=session,
        facility_id=_facility_scope(user),
        resident_id=resident_id,
        since=since,
        until=until,
        limit=max(1, min(limit, 1000)),
    )


@router.get("/api/video/calls/{call_id}/audit")
async def call_audit(call_id: Id, session: SessionDep, user: AnyPrincipal) -> list[dict[str, Any]]:
    _caller(user)
    row = await session.get(VideoCall, call_id)
    if row is None or (user.role != "admin" and row.facility_id != user.facility_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"call {call_id} not found")
    return await service.call_audit(session=session, call_id=call_id)


@router.get("/api/video/turn")
async def turn(call_id: Id, request: Request, user: AnyPrincipal) -> dict[str, Any]:
    """STUN/TURN servers for one live call you are part of, with a credential valid 1 h
    (coturn's REST-API shared-secret scheme)."""
    call = switchboard(request).calls.get(call_id)
    if call is None or user.user_id not in call.audience():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"call {call_id} not found")
    video = _hub(request).settings.video
    secret = video.turn_secret.get_secret_value() if video.turn_secret else None
    servers = ice_servers(
        stun_urls=video.stun_urls,
        turn_urls=video.turn_urls,
        secret=secret,
        user=f"call{call_id}-u{user.user_id}",
        now=time.time(),
    )
    return servers.wire()


@router.post("/api/video/ws-ticket", response_model=Ticket)
async def ws_ticket(request: Request, user: AnyPrincipal) -> Ticket:
    """A one-time ticket (30 s) for `/ws/video?ticket=`; resident screens may ask for it too."""
    claims = TokenClaims(
        user_id=user.user_id,
        role=user.role,
        expires_at=user.session_expires_at or time.time() + 60,
        token_version=user.token_version,
    )
    ticket, expires_at = issue_ticket(claims, secret=request.app.state.hub.secret)
    return Ticket(ticket=ticket, expires_in=max(0, int(expires_at - time.time())))


@router.get("/api/video/me")
async def me(session: SessionDep, user: AnyPrincipal) -> dict[str, Any]:
    """Who this page is: for a resident screen, its resident and their video settings."""
    out: dict[str, Any] = {"user_id": user.user_id, "name": user.name, "role": user.role}
    if user.role == RESIDENT_SCREEN_ROLE:
        resident = await service.screen_resident(session=session, user_id=user.user_id)
        if resident is not None:
            out["resident"] = {
                "id": resident.id,
                "name": resident.name,
                "video": service.video_settings(resident),
            }
    return out


# ---- resident screens and settings ------------------------------------------------------


@router.post("/api/video/screens", response_model=ScreenCreated, status_code=201)
async def create_screen(
    body: ScreenCreate, request: Request, session: SessionDep, user: AnyPrincipal
) -> ScreenCreated:
    """A resident's room or home screen (admin): a device user bound to that resident, and its
    long-lived token for the kiosk URL. Revoke it like any user (deactivate, revoke sessions)."""
    if user.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "needs role admin")
    try:
        screen = await service.create_resident_screen(
            session=session, resident_id=body.resident_id, name=body.name
        )
    except service.VideoError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    await session.commit()
    token = issue_token(
        user_id=screen.id,
        role=screen.role,
        secret=request.app.state.hub.secret,
        ttl_s=body.ttl_s,
        token_version=screen.token_version or 0,
    )
    return ScreenCreated(
        id=screen.id,
        name=screen.name,
        resident_id=body.resident_id,
        access_token=token,
        url=f"/video/resident#token={token}",
    )


@router.get("/api/video/screens")
async def list_screens(session: SessionDep, user: AnyPrincipal) -> list[dict[str, Any]]:
    _caller(user)
    return await service.list_resident_screens(session=session, facility_id=_facility_scope(user))


@router.patch("/api/video/residents/{resident_id}/settings")
async def update_settings(
    resident_id: Key, body: ResidentVideoSettings, session: SessionDep, user: AnyPrincipal
) -> dict[str, Any]:
    """`Resident.settings["video"]`: auto_answer, family_may_join, call_button (staff)."""
    _caller(user)
    resident = await _resident_for(session, user, resident_id)
    video = {**service.video_settings(resident), **body.model_dump(exclude_none=True)}
    resident.settings = {**(resident.settings or {}), "video": video}
    flag_modified(resident, "settings")
    await session.commit()
    return video


# ---- check-ins ----------------------------------------------------------------------------


@router.put("/api/video/checkins/schedules/{resident_id}")
async def set_schedule(
    resident_id: Key, body: ScheduleUpdate, session: SessionDep, user: AnyPrincipal
) -> dict[str, Any]:
    """Check-in calls for a resident (for people living alone): weekdays at a local time."""
    _caller(user)
    resident = await _resident_for(session, user, resident_id)
    row = await service.set_schedule(
        session=session,
        resident=resident,
        weekdays=list(body.weekdays),
        at_local=body.at_local,
        active=body.active,
    )
    await session.commit()
    return service.schedule_public(row)


@router.get("/api/video/checkins/schedules")
async def list_schedules(session: SessionDep, user: AnyPrincipal) -> list[dict[str, Any]]:
    _caller(user)
    rows = await service.list_schedules(session=session, facility_id=_facility_scope(user))
    return [service.schedule_public(r) for r in rows]


@router.get("/api/video/checkins")
async def list_checkins(
    session: SessionDep,
    user: AnyPrincipal,
    missed: bool = False,
    since: Seconds | None = None,
    until: Seconds | None = None,
) -> list[dict[str, Any]]:
    """Due check-ins (default: the last 30 days) as done, missed or pending; `missed=true`
    keeps the missed ones."""
    _caller(user)
    now = time.time()
    end = min(until if until is not None else now, now + MAX_RANGE_DAYS * 86_400)
    start = since if since is not None else end - 30 * 86_400
    rows = await service.list_checkins(
        session=session, facility_id=_facility_scope(user), since=start, until=end, now=now
    )
    return [r for r in rows if r["status"] == "missed"] if missed else rows


# ---- signalling socket ---------------------------------------------------------------------


def _used_tickets(ws: WebSocket) -> UsedTickets:
    # The same book as /ws/events: a ticket opens one socket, whichever endpoint.
    state = ws.app.state
    if getattr(state, "used_tickets", None) is None:
        state.used_tickets = UsedTickets()
    used: UsedTickets = state.used_tickets
    return used


@router.websocket("/ws/video")
async def signalling(ws: WebSocket, token: str | None = None, ticket: str | None = None) -> None:
    """WebRTC signalling (docs/video.md): call state to everyone a call concerns; offer, answer
    and ICE only between the parties of an answered call. Authenticate as /ws/events."""
    hub = ws.app.state.hub
    async with hub.session_factory() as session:
        user = await principal_for_socket(
            hub, session, token=token, ticket=ticket, used_tickets=_used_tickets(ws)
        )
    if user is None:
        await ws.close(code=CLOSE_UNAUTHORISED, reason="not authenticated")
        return
    await ws.accept()
    board = switchboard(ws)
    conn = board.connect(user.user_id, user.role)
    receiver = asyncio.create_task(_receive(ws, board, conn))
    sender = asyncio.create_task(_send(ws, conn))
    try:
        while True:
            done, _ = await asyncio.wait(
                {receiver, sender}, timeout=_until_check(user), return_when=asyncio.FIRST_COMPLETED
            )
            if done:
                break
            if conn.overflowed:
                await ws.close(code=CLOSE_TOO_SLOW, reason="too slow")
                break
            if not await _still_valid(hub, user):
                await ws.close(code=CLOSE_UNAUTHORISED, reason="session ended")
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        for task in (receiver, sender):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await board.disconnect(conn)


def _until_check(user: Principal) -> float:
    wait = SESSION_CHECK_S
    if user.session_expires_at is not None:
        wait = min(wait, max(0.0, user.session_expires_at - time.time()))
    return wait


async def _still_valid(hub: Any, user: Principal) -> bool:
    if user.session_expires_at is not None and time.time() >= user.session_expires_at:
        return False
    async with hub.session_factory() as session:
        again = await principal_for_session(
            session,
            user_id=user.user_id,
            token_version=user.token_version,
            expires_at=user.session_expires_at,
        )
    return again is not None


async def _receive(ws: WebSocket, board: Switchboard, conn: Any) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text") or message.get("bytes") or b""
            await board.handle(conn, raw)


async def _send(ws: WebSocket, conn: Any) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await ws.send_json(await conn.queue.get())
            if conn.overflowed:
                return


# ---- pages ---------------------------------------------------------------------------------


@router.get("/video/resident", include_in_schema=False)
async def resident_page() -> FileResponse:
    """A resident's room or home screen (kiosk): `/video/resident#token=<screen token>`."""
    return FileResponse(STATIC_DIR / "resident.html")


@router.get("/video/family", include_in_schema=False)
async def family_page() -> FileResponse:
    """A family member joins a call staff started, when the resident allows it."""
    return FileResponse(STATIC_DIR / "family.html")


@router.get("/video/staff", include_in_schema=False)
async def staff_page() -> FileResponse:
    """A caregiver's phone: call a resident (the same script the wall screen loads)."""
    return FileResponse(STATIC_DIR / "family.html")


@router.get("/video/static/{name}", include_in_schema=False)
async def static(name: str) -> FileResponse:
    if name not in STATIC_FILES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    return FileResponse(STATIC_DIR / name, media_type=STATIC_FILES[name])
