"""Alembic migrations upgrade and downgrade cleanly on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from care_hub import migrate
from care_hub.all_models import Base
from care_hub.kernel.db import make_engine
from tests.conftest import PG_URL


def _tables_and_diff(url: str, schema: str | None) -> tuple[set[str], list[object]]:
    async def go() -> tuple[set[str], list[object]]:
        engine = make_engine(url, schema=schema)
        async with engine.connect() as conn:

            def check(sync_conn: object) -> tuple[set[str], list[object]]:
                tables = set(inspect(sync_conn).get_table_names())  # type: ignore[arg-type]
                ctx = MigrationContext.configure(sync_conn)  # type: ignore[arg-type]
                return tables, compare_metadata(ctx, Base.metadata)

            result = await conn.run_sync(check)
        await engine.dispose()
        return result

    return asyncio.run(go())


def _roundtrip(url: str, schema: str | None = None) -> None:
    migrate.upgrade(url, schema=schema)
    tables, diff = _tables_and_diff(url, schema)
    assert set(Base.metadata.tables) <= tables
    assert diff == [], f"models and migrations disagree: {diff}"
    migrate.downgrade(url, "base", schema=schema)
    tables, _ = _tables_and_diff(url, schema)
    assert tables <= {"alembic_version"}
    migrate.upgrade(url, schema=schema)  # and back up again
    tables, _ = _tables_and_diff(url, schema)
    assert set(Base.metadata.tables) <= tables


def test_migrations_roundtrip_on_sqlite(tmp_path: Path) -> None:
    _roundtrip(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_migrations_roundtrip_on_postgres(pg_schema: str) -> None:
    _roundtrip(PG_URL, schema=pg_schema)


def test_single_head() -> None:
    assert len(migrate.current_heads()) == 1


def _seed(url: str, schema: str | None) -> None:
    from care_hub.kernel.db import make_session_factory
    from care_hub.seed import load_seed
    from tests.conftest import demo_seed

    async def go() -> None:
        engine = make_engine(url, schema=schema)
        async with make_session_factory(engine)() as session:
            await load_seed(session=session, seed=demo_seed("m-"))
            await session.commit()
        await engine.dispose()

    asyncio.run(go())


def _with_data(url: str, schema: str | None = None) -> None:
    """The last migrations down and up again on a database that holds a site (rows that
    reference facilities and devices): a table copy must not trip their foreign keys."""
    migrate.upgrade(url, schema=schema)
    _seed(url, schema)
    migrate.downgrade(url, "0004", schema=schema)
    migrate.upgrade(url, schema=schema)
    _, diff = _tables_and_diff(url, schema)
    assert diff == []


def test_migrations_on_a_database_with_data_on_sqlite(tmp_path: Path) -> None:
    _with_data(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")


@pytest.mark.postgres
def test_migrations_on_a_database_with_data_on_postgres(pg_schema: str) -> None:
    _with_data(PG_URL, schema=pg_schema)
