"""Replay after a drop: the query selects by audience and pages by seq (issue 11, fault 4).

A screen away during more than one page of other people's events still receives every one of
its own, in order, on SQLite and PostgreSQL, through the bus and through `/ws/events`.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from care_hub import migrate
from care_hub.kernel.db import make_engine, make_session_factory
from care_hub.kernel.events import Audience, EventBus
from care_hub.kernel.models import EventLog
from tests.alerts.conftest import run_on_hub
from tests.conftest import PG_URL, Backend, HubServer, demo_seed, prepare_database
from tests.e2e.test_calls import WsReader

AWAY_EVENTS = 12_000  # more than the old single read of 10,000


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(database URL, schema) of a freshly migrated database of each backend."""
    if request.param == "postgres":
        url, schema = PG_URL, request.getfixturevalue("pg_schema")
    else:
        url, schema = f"sqlite+aiosqlite:///{tmp_path / 'replay.db'}", None
    migrate.upgrade(url, schema=schema)
    return url, schema


@pytest.fixture
async def bus(migrated: tuple[str, str | None]) -> AsyncIterator[EventBus]:
    engine = make_engine(migrated[0], schema=migrated[1])
    yield EventBus(make_session_factory(engine))
    await engine.dispose()


async def record(bus: EventBus, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Commit events the way the hub does (EventBus.record + commit), in one transaction."""
    async with bus._session_factory() as session:
        for row in rows:
            bus.record(session, **row)
        return await bus.commit(session)


async def bulk(bus: EventBus, n: int, **row: Any) -> None:
    """Many events at once (a busy night elsewhere), inserted directly."""
    async with bus._session_factory() as session:
        await session.execute(
            insert(EventLog),
            [{"type": "alert.updated", "data": {"type": "call"}, "at": 0.0, **row}] * n,
        )
        await session.commit()


def varied_events(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Every routing case `Audience.allows` distinguishes, drawn at random."""
    types = ["alert.raised", "alert.updated", "alert.escalated", "alert.comment", "system.notice"]
    datas: list[dict[str, Any]] = [
        {"type": "call"},
        {"type": "fall"},
        {"type": "fall", "tier": "family"},
        {"type": "call", "tier": "charge_nurse"},
        {},
    ]
    return [
        {
            "type": rng.choice(types),
            "data": rng.choice(datas),
            "facility_id": rng.choice([1, 2, None]),
            "resident_id": rng.choice(["R-1", "R-2", "R-9", None]),
            "floor": rng.choice(["1", "2", None]),
            "wing": rng.choice(["A", "B", None]),
            "recipients": rng.choice([None, [], [7], [7, 8], [8]]),
        }
        for _ in range(n)
    ]


AUDIENCES = [
    Audience(everything=True),
    Audience(everything=True, floors=frozenset({"1"}), wings=frozenset({"B"})),
    Audience(facility_id=1, user_id=7),
    Audience(facility_id=2, user_id=8),
    Audience(facility_id=1, user_id=7, personal=True),
    Audience(facility_id=1, user_id=8, personal=True, floors=frozenset({"2"})),
    Audience(facility_id=None, user_id=9),
    Audience(resident_ids=frozenset({"R-1"})),
    Audience(resident_ids=frozenset({"R-1"}), family_types={"R-1": frozenset({"fall"})}),
    Audience(
        resident_ids=frozenset({"R-1", "R-2"}),
        family_types={"R-1": frozenset({"fall"}), "R-2": None},
    ),
    Audience(resident_ids=frozenset({"R-2"}), types=frozenset({"call"})),
    Audience(resident_ids=frozenset({"R-2"}), family_types={"R-2": frozenset()}),
    Audience(resident_ids=frozenset()),
]


async def test_replay_query_agrees_with_allows_for_every_audience(bus: EventBus) -> None:
    committed = await record(bus, varied_events(random.Random(11), 400))
    for audience, page_rows in itertools.product(AUDIENCES, [7, 1000]):
        expected = [e["seq"] for e in committed if audience.allows(e)]
        pages = [p async for p in bus.replay_pages(0, audience, page_rows=page_rows)]
        got = [e["seq"] for page in pages for e in page]
        assert got == expected, audience
        assert all(len(page) <= page_rows for page in pages)
    # `since` and `upto` bound it on both sides.
    everyone = Audience(everything=True)
    middle = [e["seq"] for e in committed[100:200]]
    got = await bus.replay(committed[99]["seq"], everyone, upto=committed[199]["seq"])
    assert [e["seq"] for e in got] == middle


async def test_away_during_12000_events_elsewhere_still_replays_its_own(bus: EventBus) -> None:
    await bulk(bus, AWAY_EVENTS, facility_id=1, resident_id="R-2")
    own = await record(
        bus,
        [
            {
                "type": "alert.raised",
                "data": {"type": "call"},
                "facility_id": 2,
                "resident_id": "R-5",
            },
            {
                "type": "alert.raised",
                "data": {"type": "fall"},
                "facility_id": 1,
                "resident_id": "R-1",
            },
            {
                "type": "alert.comment",
                "data": {"text": "x"},
                "facility_id": 1,
                "resident_id": "R-1",
            },
            {
                "type": "alert.updated",
                "data": {"type": "call"},
                "facility_id": 2,
                "resident_id": None,
            },
            {
                "type": "alert.updated",
                "data": {"type": "fall"},
                "facility_id": 1,
                "resident_id": "R-1",
            },
        ],
    )
    other_facility = await bus.replay(0, Audience(facility_id=2, user_id=8))
    assert [e["seq"] for e in other_facility] == [own[0]["seq"], own[3]["seq"]]
    family = await bus.replay(0, Audience(resident_ids=frozenset({"R-1"})))
    assert [e["seq"] for e in family] == [own[1]["seq"], own[4]["seq"]]
    # An admin replays all of it, a page at a time, in order, none missing.
    pages = [p async for p in bus.replay_pages(0, Audience(everything=True))]
    seqs = [e["seq"] for page in pages for e in page]
    assert len(pages) == 13 and len(seqs) == AWAY_EVENTS + 5
    assert seqs == sorted(set(seqs)) and seqs[-5:] == [e["seq"] for e in own]


def _receive(reader: WsReader, count: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while len(got) < count:
        event = json.loads(reader.ws.recv(timeout=20))
        if event["type"] != "ping":
            got.append(event)
    return got


@pytest.mark.slow
def test_websocket_resume_after_12000_events_elsewhere(backend: Backend, prefix: str) -> None:
    """A caregiver of another facility and a family member reconnect with since=0: each gets
    exactly their own events in order, then live ones with no gap or duplicate."""
    prepare_database(backend, demo_seed(prefix))
    server = HubServer(backend).start()
    try:
        bus: EventBus = server.hub.bus
        run_on_hub(server, lambda: bulk(bus, AWAY_EVENTS, facility_id=1, resident_id="R-2"), 60)
        mine = [
            {
                "type": "alert.raised",
                "data": {"type": "call"},
                "facility_id": 2,
                "resident_id": None,
            },
            {
                "type": "alert.raised",
                "data": {"type": "fall"},
                "facility_id": 1,
                "resident_id": "R-1",
            },
            {
                "type": "alert.comment",
                "data": {"text": "x"},
                "facility_id": 1,
                "resident_id": "R-1",
            },
            {
                "type": "alert.updated",
                "data": {"type": "call"},
                "facility_id": 2,
                "resident_id": None,
            },
        ]
        own = run_on_hub(server, lambda: record(bus, mine))
        nurse2 = WsReader(server, server.token("nurse2"), since=0)
        family = WsReader(server, server.token("family"), since=0)
        assert [e["seq"] for e in _receive(nurse2, 2)] == [own[0]["seq"], own[3]["seq"]]
        assert [e["seq"] for e in _receive(family, 1)] == [own[1]["seq"]]
        live = run_on_hub(
            server,
            lambda: record(
                bus,
                [
                    {
                        "type": "alert.raised",
                        "data": {"type": "call"},
                        "facility_id": 1,
                        "resident_id": "R-1",
                    },
                    {
                        "type": "alert.raised",
                        "data": {"type": "call"},
                        "facility_id": 2,
                        "resident_id": None,
                    },
                ],
            ),
        )
        assert [e["seq"] for e in _receive(nurse2, 1)] == [live[1]["seq"]]
        assert [e["seq"] for e in _receive(family, 1)] == [live[0]["seq"]]
        nurse2.close()
        family.close()
    finally:
        server.stop()
