"""A seed file sets a radar's height calibration, and refuses one that cannot be a calibration."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from care_hub import migrate
from care_hub.kernel.accounts import ProvisioningError
from care_hub.kernel.db import make_engine, make_session_factory
from care_hub.seed import load_seed
from devices.models import Device
from tests.conftest import demo_seed


def _load(url: str, seed: dict[str, Any]) -> dict[str, float]:
    async def go() -> dict[str, float]:
        engine = make_engine(url)
        try:
            async with make_session_factory(engine)() as session:
                await load_seed(session=session, seed=seed)
                await session.commit()
                devices = (await session.scalars(select(Device))).all()
                return {d.id: d.height_offset_m for d in devices}
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _with_offset(prefix: str, value: object) -> dict[str, Any]:
    seed = demo_seed(prefix)
    radar = next(d for d in seed["devices"] if d["type"] == "radar")
    radar["height_offset_m"] = value
    return seed


def test_a_seed_sets_a_radars_height_offset(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
    migrate.upgrade(url)
    offsets = _load(url, _with_offset("s-", 0.07))
    assert offsets["s-radar-1"] == pytest.approx(0.07)
    assert offsets["s-radar-2"] == 0.0  # not given: uncalibrated


@pytest.mark.parametrize("bad", [0.8, -0.51, "0.1", True, float("nan"), None])
def test_a_seed_refuses_a_height_offset_that_is_not_one(tmp_path: Path, bad: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
    migrate.upgrade(url)
    with pytest.raises(ProvisioningError, match=r"device s-radar-1: height_offset_m"):
        _load(url, _with_offset("s-", bad))
