"""Run alembic migrations programmatically (`care-hub migrate`, hub start-up, tests)."""

from __future__ import annotations

import logging
from pathlib import Path

# alembic announces its plugins at INFO when its command module loads: noise for operators.
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402

import migrations  # noqa: E402

SCRIPT_LOCATION = str(Path(migrations.__file__).parent)


def alembic_config(url: str, *, schema: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["schema"] = schema
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head", *, schema: str | None = None) -> None:
    """Blocking: run it in a thread from async code (env.py owns its own event loop)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    command.upgrade(alembic_config(url, schema=schema), revision)


class SchemaBehind(RuntimeError):
    """The database is not at the code's head revision and start-up migration is off."""


def current_revisions(url: str, *, schema: str | None = None) -> tuple[str, ...]:
    """The revisions the database is at (empty for a fresh one). Blocking, like `upgrade`."""
    import asyncio

    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.engine import Connection

    from care_hub.kernel.db import make_engine

    def read(connection: Connection) -> tuple[str, ...]:
        return tuple(MigrationContext.configure(connection).get_current_heads())

    async def go() -> tuple[str, ...]:
        engine = make_engine(url, schema=schema)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(read)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def ensure_at_head(url: str, *, schema: str | None = None) -> None:
    """Refuse (SchemaBehind) a database behind the code: with CARE_HUB_AUTO_MIGRATE=false the
    operator migrates, and a hub on an old schema would fail later, at the first write."""
    at, heads = set(current_revisions(url, schema=schema)), set(current_heads())
    if at != heads:
        raise SchemaBehind(
            f"database at {', '.join(sorted(at)) or 'no revision'}, code needs "
            f"{', '.join(sorted(heads))}; run `care-hub migrate` "
            "(or set CARE_HUB_AUTO_MIGRATE=true)"
        )


def downgrade(url: str, revision: str, *, schema: str | None = None) -> None:
    command.downgrade(alembic_config(url, schema=schema), revision)


def current_heads() -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
