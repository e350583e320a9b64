"""Live calls and the sockets in them: applies `video.calls` rules, persists each transition,
relays signalling, rings out on time, and ends a button's call when staff arrive in the room.

Live calls live in this process's memory: with several hub processes, video sockets must reach
the same one (docs/video.md); a call left by a process that stopped is closed at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from care_hub.kernel.db import session_scope
from care_hub.kernel.events import EventBus
from care_hub.kernel.models import Resident, User
from care_hub.kernel.settings import Settings
from video import calls as c
from video import service

log = logging.getLogger(__name__)

# Messages waiting for one socket; a client this far behind is closed (it resumes with hello).
QUEUE_LIMIT = 256


class VideoServices(Protocol):
    """What the switchboard needs of the running hub."""

    @property
    def settings(self) -> Settings: ...

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def bus(self) -> EventBus: ...


@dataclass(eq=False)
class Connection:
    peer: c.Peer
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_LIMIT)
    )
    overflowed: bool = False

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True


class Switchboard:
    def __init__(self, services: VideoServices, *, clock: Callable[[], float] = time.time) -> None:
        self._services = services
        self._clock = clock
        self._ring_timeout_s = services.settings.video.ring_timeout_s
        self.calls: dict[int, c.Call] = {}
        self._conns: dict[str, Connection] = {}
        self._by_user: dict[int, set[str]] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        async with session_scope(self._services.session_factory) as session:
            stale = await service.end_stale_calls(session=session, at=self._clock())
        if stale:
            log.info("closed %d video calls left open by a previous hub process", stale)
        self._services.bus.on_published.append(self._on_event)

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            self._services.bus.on_published.remove(self._on_event)
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for call_id in list(self.calls):
            await self._end(call_id, "hub_shutdown")
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ---- sockets --------------------------------------------------------------------------

    def connect(self, user_id: int, role: str) -> Connection:
        conn = Connection(c.Peer(f"p{next(self._ids)}", user_id, role))
        self._conns[conn.peer.id] = conn
        self._by_user.setdefault(user_id, set()).add(conn.peer.id)
        conn.send(
            {
                "type": "hello",
                "peer": conn.peer.id,
                "user_id": user_id,
                "role": role,
                "calls": [c.public(x) for x in self.calls.values() if user_id in x.audience()],
            }
        )
        return conn

    async def disconnect(self, conn: Connection) -> None:
        self._conns.pop(conn.peer.id, None)
        peers = self._by_user.get(conn.peer.user_id)
        if peers is not None:
            peers.discard(conn.peer.id)
            if not peers:
                del self._by_user[conn.peer.user_id]
        async with self._lock:
            for call in list(self.calls.values()):
                if conn.peer.id in call.parties() or conn.peer.id == call.caller_peer:
                    await self._apply(c.peer_gone(call, conn.peer, self._clock()), conn.peer)

    async def handle(self, conn: Connection, raw: str | bytes) -> None:
        """One message from a socket. Never raises for bad input: errors go back to the socket."""
        msg = c.parse(raw)
        if isinstance(msg, c.Error):
            conn.send(msg.wire())
            return
        if msg.type == "ping":
            conn.send({"type": "pong"})
            return
        async with self._lock:
            call = self.calls.get(msg.call_id or 0)
            if call is None or conn.peer.user_id not in call.audience():
                # The same answer for a call that does not exist and one of someone else.
                conn.send(c.Error("unknown_call", "no such call", msg.call_id).wire())
                return
            result = c.step(call, conn.peer, msg, self._clock())
            if isinstance(result, c.Error):
                conn.send(result.wire())
                return
            await self._apply(result, conn.peer)

    # ---- calls ----------------------------------------------------------------------------

    def active_call_of(self, resident_id: str) -> c.Call | None:
        return next((x for x in self.calls.values() if x.resident_id == resident_id), None)

    async def place_call(
        self,
        *,
        session: AsyncSession,
        resident: Resident,
        caller: User,
        kind: str,
        alert_id: int | None = None,
    ) -> c.Call:
        """Ring the resident's screens: the call row and its `started` audit row are committed
        here. VideoError when the resident has no screen or is already in a call."""
        async with self._lock:
            if self.active_call_of(resident.id) is not None:
                raise service.VideoError(f"{resident.name} is already in a call")
            screens = await service.resident_screen_ids(session=session, resident_id=resident.id)
            if not screens:
                raise service.VideoError(f"{resident.name} has no video screen")
            family = await service.family_joiner_ids(session=session, resident=resident)
            settings = service.video_settings(resident)
            now = self._clock()
            row = await service.insert_call(
                session=session, resident=resident, caller=caller, kind=kind, alert_id=alert_id, at=now
            )
            await session.commit()
            names = {caller.id: caller.name or caller.username}
            for uid in [*screens, *family]:
                user = await session.get(User, uid)
                names[uid] = user.name if user else ""
            call = c.Call(
                id=row.id,
                kind=kind,
                facility_id=resident.facility_id,
                resident_id=resident.id,
                resident_name=resident.name,
                caller_user_id=caller.id,
                caller_name=caller.name or caller.username,
                callee_user_ids=frozenset(screens),
                family_user_ids=frozenset(family),
                started_at=now,
                ring_until=now + self._ring_timeout_s,
                # A resident who pressed for video is answered at once; others per their setting.
                auto_answer=kind == "button" or bool(settings.get("auto_answer")),
                alert_id=alert_id,
                names=names,
            )
            self.calls[call.id] = call
            loop = asyncio.get_running_loop()
            self._timers[call.id] = loop.call_later(self._ring_timeout_s, self._ring_later, call.id)
            self._notify(call)
            return call

    async def end_call(self, call_id: int, reason: str) -> None:
        async with self._lock:
            await self._end(call_id, reason)

    async def _end(self, call_id: int, reason: str) -> None:
        call = self.calls.get(call_id)
        if call is not None:
            await self._apply(c.end_by(call, reason, self._clock()), None)

    def _ring_later(self, call_id: int) -> None:
        self._spawn(self._ring_out(call_id))

    async def _ring_out(self, call_id: int) -> None:
        async with self._lock:
            call = self.calls.get(call_id)
            if call is not None:
                await self._apply(c.expire(call, max(self._clock(), call.ring_until)), None)

    async def _apply(self, result: c.Step, peer: c.Peer | None) -> None:
        """Persist, relay and announce one step; forget the call once it is over."""
        call = result.call
        if result.audit is not None:
            try:
                async with session_scope(self._services.session_factory) as session:
                    await service.record_step(
                        session=session,
                        call=call,
                        action=result.audit,
                        actor_user_id=peer.user_id if peer else None,
                        at=self._clock(),
                    )
            except Exception:  # the database away must not leave a call ringing forever
                log.exception("could not record video call %s %s", call.id, result.audit)
        for to, message in result.relay:
            conn = self._conns.get(to)
            if conn is not None:
                conn.send(message)
        if call.active:
            self.calls[call.id] = call
            if call.state != c.RINGING and (handle := self._timers.pop(call.id, None)):
                handle.cancel()
        else:
            self.calls.pop(call.id, None)
            if handle := self._timers.pop(call.id, None):
                handle.cancel()
        if result.changed:
            self._notify(call)

    def _notify(self, call: c.Call) -> None:
        message = {"type": "call", "call": c.public(call)}
        for uid in call.audience():
            for peer_id in self._by_user.get(uid, ()):
                if (conn := self._conns.get(peer_id)) is not None:
                    conn.send(message)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- alerts ---------------------------------------------------------------------------

    def _on_event(self, event: dict[str, Any]) -> None:
        """Staff presence in the room, or the call alert resolved, ends the alert's video call."""
        if not str(event.get("type", "")).startswith("alert."):
            return
        data = event.get("data") or {}
        alert_id = data.get("id")
        call = next((x for x in self.calls.values() if x.alert_id and x.alert_id == alert_id), None)
        if call is None:
            return
        detail = data.get("detail") or {}
        if data.get("state") == "resolved":
            self._spawn(self.end_call(call.id, "alert_resolved"))
        elif detail.get("presence_at") is not None:
            self._spawn(self.end_call(call.id, "presence"))
