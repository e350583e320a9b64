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


def downgrade(url: str, revision: str, *, schema: str | None = None) -> None:
    command.downgrade(alembic_config(url, schema=schema), revision)


def current_heads() -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
