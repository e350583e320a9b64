"""Alembic environment: async engine, URL from care-hub settings unless the caller set one."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from care_hub.all_models import Base
from care_hub.kernel.db import make_engine
from care_hub.kernel.settings import Settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata

# Several hub processes starting together each migrate on start: on PostgreSQL the upgrade runs
# under a transaction-scoped advisory lock, keyed by schema, so one migrates and the others wait,
# then find the schema at head (alembic reads the version after the lock) and do nothing.
MIGRATION_LOCK_SQL = (
    "SELECT pg_advisory_xact_lock(hashtext('care-hub-migrate:' || current_schema()))"
)


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url or Settings().db_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    # Batch mode lets ALTER-style migrations work on SQLite too. It copies a table to alter it,
    # which would trip the foreign keys of rows pointing at it: SQLite enforces none during a
    # migration (the pragma only takes effect outside a transaction), and checks them after.
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(MIGRATION_LOCK_SQL))
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows with broken foreign keys: {broken[:5]}")
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")


async def run_migrations_online() -> None:
    engine = make_engine(_url(), schema=config.attributes.get("schema"))
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
