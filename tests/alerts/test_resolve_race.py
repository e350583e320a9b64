"""A call pressed while a nurse resolves the previous one (issue 11, fault 5).

Before the fix, the press read the alert as open, the resolve committed, and the press then
updated the resolved row: no open call remained and screens got a stale "open". Each trial here
raises a call, then runs a resolve (in one session) and a press (in another) concurrently, on
SQLite and on PostgreSQL. Whatever the interleaving, the press is either folded into the alert
before it is resolved (its update precedes the resolution in event order) or raises a new open
call; no event says "open" about an alert after its resolution.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from alerts import calls, service
from alerts.models import Alert
from care_hub import migrate
from care_hub.kernel.db import make_engine, make_session_factory
from care_hub.kernel.events import EventBus
from care_hub.kernel.models import EventLog
from care_hub.seed import load_seed
from devices.events import ButtonEvent, Envelope
from devices.registry import DeviceInfo
from tests.alerts.conftest import Db, alert_seed
from tests.conftest import PG_URL, require_service

DEVICE = DeviceInfo(
    id="t-btn-1", type="button", facility_id=1, room_id=None, resident_id="R-1", slot=0
)
TRIALS = 40
# How long one side keeps its transaction (and row lock) open while the other starts.
HOLD_S = 0.05


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def race_db(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path
) -> AsyncIterator[Db]:
    if request.param == "sqlite":
        path = tmp_path / "race.db"
        shutil.copyfile(migrated_sqlite, path)
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
    else:
        require_service("PostgreSQL", "127.0.0.1", 5432)
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = make_engine(PG_URL)
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await asyncio.to_thread(migrate.upgrade, PG_URL, schema=schema)
        engine = make_engine(PG_URL, schema=schema)
    factory = make_session_factory(engine)
    async with factory() as session:
        await load_seed(session=session, seed=alert_seed("t-"))
        await session.commit()
    yield Db(factory, EventBus(factory))
    await engine.dispose()
    if request.param == "postgres":
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


_seq = 0


def _press() -> ButtonEvent:
    global _seq
    _seq += 1
    return ButtonEvent(Envelope(DEVICE.id, "button", 1_764_331_200.0 + _seq, _seq), "call")


async def _raise_call(db: Db) -> int:
    async with db.factory() as session:
        await calls.handle_button(session, db.bus, DEVICE, _press())
        await db.bus.commit(session)
        alert = await service.find_active(session, calls.call_key(DEVICE.id))
        assert alert is not None and alert.state == "open"
        return alert.id


async def _resolve(db: Db, alert_id: int, *, hold: asyncio.Event | None = None) -> None:
    """What POST /api/alerts/{id}/resolve does, optionally keeping the transaction open."""
    async with db.factory() as session:
        alert = await session.get(Alert, alert_id)
        assert alert is not None
        await service.resolve(session, db.bus, alert, actor="nurse", source="api")
        if hold is not None:
            hold.set()
            await asyncio.sleep(HOLD_S)
        await db.bus.commit(session)


async def _press_call(db: Db, *, hold: asyncio.Event | None = None) -> None:
    """What ingest does with a `call` press, optionally keeping the transaction open."""
    async with db.factory() as session:
        await calls.handle_button(session, db.bus, DEVICE, _press())
        if hold is not None:
            hold.set()
            await asyncio.sleep(HOLD_S)
        await db.bus.commit(session)


async def _after_event(event: asyncio.Event, coro: Any) -> None:
    await event.wait()
    await coro


async def _check(db: Db, first_id: int) -> str:
    """The invariants after one resolve racing one press. Returns how the race went."""
    async with db.factory() as session:
        unresolved = (
            await session.scalars(
                select(Alert).where(
                    Alert.dedupe_key == calls.call_key(DEVICE.id), Alert.state != "resolved"
                )
            )
        ).all()
        first = await session.get(Alert, first_id)
        events = (
            await session.scalars(
                select(EventLog).where(EventLog.type.like("alert.%")).order_by(EventLog.seq)
            )
        ).all()
    assert first is not None and first.state == "resolved"
    about_first = [e for e in events if e.data.get("id") == first_id]
    states = [e.data["state"] for e in about_first]
    resolved_at = states.index("resolved")
    assert all(s == "resolved" for s in states[resolved_at:]), (
        f"stale state after resolve: {states}"
    )
    if first.count == 2:
        # Folded before the resolve: its update precedes the resolution, nothing else open.
        assert [e.data["count"] for e in about_first[:resolved_at]][-1] == 2
        assert unresolved == []
        return "folded before"
    assert first.count == 1
    assert len(unresolved) == 1 and unresolved[0].state == "open" and unresolved[0].count == 1
    return "new call"


async def _reset(db: Db) -> None:
    """Close whatever the last trial left open, so each trial starts from no open call."""
    async with db.factory() as session:
        await service.resolve_active(
            session, db.bus, dedupe_key=calls.call_key(DEVICE.id), outcome="resolved", actor="t"
        )
        await db.bus.commit(session)


async def test_press_during_resolve_raises_a_new_call(race_db: Db) -> None:
    """The resolve holds its transaction open; a press then arrives: it must not be folded."""
    for _ in range(5):
        first = await _raise_call(race_db)
        locked = asyncio.Event()
        await asyncio.gather(
            _resolve(race_db, first, hold=locked), _after_event(locked, _press_call(race_db))
        )
        assert await _check(race_db, first) == "new call"
        await _reset(race_db)


async def test_resolve_during_press_closes_the_folded_call(race_db: Db) -> None:
    """The press holds its transaction open; the resolve then runs and closes the folded call."""
    for _ in range(5):
        first = await _raise_call(race_db)
        locked = asyncio.Event()
        await asyncio.gather(
            _press_call(race_db, hold=locked), _after_event(locked, _resolve(race_db, first))
        )
        assert await _check(race_db, first) == "folded before"
        await _reset(race_db)


async def test_resolve_and_press_race_many_trials(race_db: Db) -> None:
    """Unscripted interleavings (random start offsets): the invariants hold in every trial."""
    rng = random.Random(11)
    outcomes: dict[str, int] = {}

    async def later(delay_s: float, coro: Any) -> None:
        await asyncio.sleep(delay_s)
        await coro

    for _ in range(TRIALS):
        first = await _raise_call(race_db)
        await asyncio.gather(
            later(rng.uniform(0, 0.01), _resolve(race_db, first)),
            later(rng.uniform(0, 0.01), _press_call(race_db)),
        )
        how = await _check(race_db, first)
        outcomes[how] = outcomes.get(how, 0) + 1
        await _reset(race_db)
    assert sum(outcomes.values()) == TRIALS
