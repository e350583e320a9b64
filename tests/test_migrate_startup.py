"""Start-up migration: hubs starting together do not race (advisory lock), and with
CARE_HUB_AUTO_MIGRATE=false a hub refuses a database behind head."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from care_hub import migrate
from care_hub.hub import Hub
from care_hub.kernel.db import make_engine
from care_hub.kernel.settings import Settings
from tests.conftest import PG_URL

PROCESSES = 4


def _version_rows_and_tables(schema: str) -> tuple[list[str], set[str]]:
    async def go() -> tuple[list[str], set[str]]:
        engine = make_engine(PG_URL, schema=schema)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            tables = (
                await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
                )
            ).all()
        await engine.dispose()
        return [r[0] for r in rows], {t[0] for t in tables}

    return asyncio.run(go())


# One hub process starting: wait for the go file (so all start together), then migrate.
# Processes, not threads: alembic's `context` is process-global.
_STARTER = """
import os, sys, time
from care_hub import migrate
go, url, schema = sys.argv[1:]
while not os.path.exists(go):
    time.sleep(0.005)
migrate.upgrade(url, schema=schema)
"""


@pytest.mark.postgres
def test_concurrent_upgrades_of_a_fresh_schema_all_succeed(pg_schema: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _STARTER, str(go), PG_URL, pg_schema],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    time.sleep(3)  # all of them imported and waiting
    go.touch()
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * PROCESSES, "\n".join(outputs)
    versions, tables = _version_rows_and_tables(pg_schema)
    assert sorted(versions) == sorted(migrate.current_heads())
    assert {"alerts", "event_log", "devices", "residents"} <= tables
    migrate.ensure_at_head(PG_URL, schema=pg_schema)


def test_no_auto_migrate_refuses_a_database_behind_head(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, environment="test", data_dir=tmp_path / "var", auto_migrate=False
    )
    settings.data_dir.mkdir(parents=True)
    with pytest.raises(migrate.SchemaBehind, match="care-hub migrate"):
        asyncio.run(Hub.start(settings, ingest=False))
    migrate.upgrade(settings.db_url, "0001")
    with pytest.raises(migrate.SchemaBehind, match="database at 0001"):
        migrate.ensure_at_head(settings.db_url)
    migrate.upgrade(settings.db_url)
    migrate.ensure_at_head(settings.db_url)
