"""Fixtures for the alert engine: a seeded database with floors, wings, a roster and a family link."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.models import CoverageAssignment
from care_hub import migrate
from care_hub.kernel.db import make_engine, make_session_factory
from care_hub.kernel.events import EventBus
from care_hub.kernel.models import FamilyLink, User
from care_hub.seed import load_seed
from tests.conftest import PASSWORD, Backend, HubServer, demo_seed, prepare_database

T = TypeVar("T")


def alert_seed(prefix: str) -> dict[str, Any]:
    """demo_seed, with R-1 on floor 1 wing A and R-2 on floor 2 wing B, a charge nurse and a
    second caregiver. Facility 1 runs on UTC with the default day/night shifts."""
    seed = demo_seed(prefix)
    seed["rooms"][0].update(floor=1, wing="A")
    seed["rooms"][1].update(floor=2, wing="B")
    seed["facilities"][0]["settings"] = {"timezone": "UTC"}
    seed["users"] += [
        {"username": "charge", "password": PASSWORD, "role": "caregiver", "facility_id": 1},
        {"username": "nurse_b", "password": PASSWORD, "role": "caregiver", "facility_id": 1},
        {"username": "family2", "password": PASSWORD, "role": "family", "resident_ids": ["R-2"]},
    ]
    return seed


async def user_id(session: AsyncSession, username: str) -> int:
    return int((await session.scalar(select(User.id).where(User.username == username))) or 0)


async def set_roster(
    session: AsyncSession, *, shifts: tuple[str, ...] = ("day", "night")
) -> dict[str, int]:
    """nurse covers floor 1, nurse_b floor 2, charge is the charge nurse, on every shift."""
    ids = {name: await user_id(session, name) for name in ("nurse", "nurse_b", "charge")}
    for shift in shifts:
        session.add_all(
            [
                CoverageAssignment(facility_id=1, user_id=ids["nurse"], shift=shift, floors=["1"]),
                CoverageAssignment(
                    facility_id=1, user_id=ids["nurse_b"], shift=shift, floors=["2"]
                ),
                CoverageAssignment(
                    facility_id=1, user_id=ids["charge"], shift=shift, duty="charge_nurse"
                ),
            ]
        )
    await session.commit()
    return ids


async def choose_family_types(session: AsyncSession, username: str, types: list[str]) -> None:
    uid = await user_id(session, username)
    await session.execute(
        update(FamilyLink).where(FamilyLink.user_id == uid).values(alert_types=types)
    )
    await session.commit()


@dataclass
class Db:
    factory: async_sessionmaker[AsyncSession]
    bus: EventBus


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once per session; each test copies the file (migrations take ~1 s)."""
    path = tmp_path_factory.mktemp("template") / "alerts.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
async def db(tmp_path: Path, migrated_sqlite: Path) -> AsyncIterator[Db]:
    """A migrated, seeded SQLite database and an event bus over it (no hub, no broker)."""
    path = tmp_path / "alerts.db"
    shutil.copyfile(migrated_sqlite, path)
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    factory = make_session_factory(engine)
    async with factory() as session:
        await load_seed(session=session, seed=alert_seed("t-"))
        await session.commit()
    yield Db(factory, EventBus(factory))
    await engine.dispose()


def run_on_hub(
    server: HubServer, make: Callable[[], Coroutine[Any, Any, T]], timeout: float = 20
) -> T:
    """Run a coroutine on the hub's own event loop (its sessions and bus live there)."""
    loop = server.hub.tasks[0].get_loop()
    return asyncio.run_coroutine_threadsafe(make(), loop).result(timeout)


@pytest.fixture
def alert_hub(backend: Backend, prefix: str) -> Iterator[HubServer]:
    prepare_database(backend, alert_seed(prefix))
    server = HubServer(backend).start()
    yield server
    server.stop()
