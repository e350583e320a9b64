"""Is ingest making progress? Health for `/api/health`, and a loud notice on every screen when not.

The ingest loop reports each stored batch (`progress`) and each idle turn (`idle`). If neither
happened for `stall_s`, ingest is stalled: the database refuses everything, a batch hangs, or a
bug keeps failing. Then `/api/health` answers 503, every facility gets an `ingest_stalled` alert
(when the database takes it) and a live `system.health` notice on the websocket (always: the wall
screen must say so even when the database is what failed); both clear when progress resumes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import device_faults
from care_hub.kernel.db import now_s
from care_hub.kernel.events import EventBus
from devices.registry import DeviceRegistry

log = logging.getLogger(__name__)

# No stored batch and no idle turn for this long while messages wait = stalled. Batches of 5,000
# messages take well under 1 s, so 15 s is far beyond a slow batch and well inside a fall's
# confirmation-to-escalation time.
STALL_S = 15.0
WATCH_INTERVAL_S = 1.0


class IngestHealth:
    def __init__(self, stall_s: float = STALL_S) -> None:
        self.stall_s = stall_s
        self.last_progress = time.monotonic()
        self.last_error: str | None = None

    def idle(self) -> None:
        self.last_progress = time.monotonic()

    def working(self, batch: list[Any]) -> None:
        """A batch was drained (progress is counted when it is stored)."""

    def progress(self) -> None:
        self.last_progress = time.monotonic()
        self.last_error = None

    def store_failed(self, error: str) -> None:
        self.last_error = error

    def stalled_for(self, now: float | None = None) -> float:
        """Seconds without progress beyond the allowance; 0 while healthy."""
        behind = (now if now is not None else time.monotonic()) - self.last_progress
        return behind if behind > self.stall_s else 0.0

    def status(self) -> dict[str, Any]:
        stalled = self.stalled_for()
        return {
            "ok": stalled == 0.0,
            "since_progress_s": round(time.monotonic() - self.last_progress, 1),
            "error": self.last_error,
        }


def _notice(facility_id: int, state: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": None,
        "type": "system.health",
        "at": now_s(),
        "data": {"component": "ingest", "state": state, **data},
        "facility_id": facility_id,
        "resident_id": None,
        "floor": None,
        "wing": None,
        "recipients": None,
    }


async def watch_forever(
    health: IngestHealth,
    *,
    registry: DeviceRegistry,
    bus: EventBus,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Raise (and later resolve) the stall alert and notices; repeat the notice while stalled so a
    screen that connects late hears it too."""
    alerted: set[int] = set()
    stalled_since: float | None = None
    while True:
        await asyncio.sleep(WATCH_INTERVAL_S)
        try:
            facilities = sorted({d.facility_id for d in registry.all()})
            stalled = health.stalled_for()
            if stalled:
                if stalled_since is None:
                    stalled_since = now_s() - stalled
                    log.error(
                        "ingest stalled for %.0f s (%s)", stalled, health.last_error or "no error"
                    )
                detail = {"since": stalled_since, "error": health.last_error}
                bus.publish([_notice(f, "stalled", detail) for f in facilities])
                missing = [f for f in facilities if f not in alerted]
                if missing:
                    await _raise(session_factory, bus, missing, stalled_since, health.last_error)
                    alerted.update(missing)
            elif stalled_since is not None:
                log.warning("ingest is making progress again")
                bus.publish([_notice(f, "ok", {}) for f in facilities])
                if alerted:
                    await _resolve(session_factory, bus, sorted(alerted))
                alerted.clear()
                stalled_since = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database may be what failed: the notices went out anyway
            log.warning("ingest stall alert not stored: %r", exc)


async def _raise(
    session_factory: async_sessionmaker[AsyncSession],
    bus: EventBus,
    facilities: list[int],
    since: float,
    error: str | None,
) -> None:
    async with session_factory() as session:
        for facility_id in facilities:
            await device_faults.raise_ingest_stalled(
                session, bus, facility_id, since=since, error=error
            )
        await bus.commit(session)


async def _resolve(
    session_factory: async_sessionmaker[AsyncSession], bus: EventBus, facilities: list[int]
) -> None:
    async with session_factory() as session:
        for facility_id in facilities:
            await device_faults.resolve_ingest_stalled(session, bus, facility_id, at=now_s())
        await bus.commit(session)
