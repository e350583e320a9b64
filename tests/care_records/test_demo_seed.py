"""The demo care records load on a seeded site, score as their profiles intend, and load once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from care_hub.kernel.db import make_engine, make_session_factory
from care_records.models import Assessment, CareTask, Guidance
from simulators.care_records_demo import seed_care_records
from tests.conftest import demo_seed, make_backend, prepare_database


def test_demo_records(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    backend = make_backend("embedded", tmp_path, request)
    seed = demo_seed("d-", residents=3)
    prepare_database(backend, seed)

    async def go() -> tuple[int, int, dict[tuple[str, str], str], set[str]]:
        engine = make_engine(backend.settings.db_url)
        factory = make_session_factory(engine)
        async with factory() as session:
            first = await seed_care_records(session=session)
            await session.commit()
        async with factory() as session:
            again = await seed_care_records(session=session)
            levels = {
                (a.resident_id, a.scale): a.level
                for a in (await session.scalars(select(Assessment))).all()
            }
            rules = set((await session.scalars(select(Guidance.rule_id))).all())
            assert await session.scalar(select(func.count()).select_from(CareTask)) == 5
        await engine.dispose()
        return first, again, levels, rules

    first, again, levels, rules = asyncio.run(go())
    assert (first, again) == (3, 0)
    assert levels[("R-1", "gbt42195")] == "mild"
    assert levels[("R-2", "gbt42195")] == "moderate"
    assert levels[("R-2", "morse")] == "high"
    assert levels[("R-2", "mmse")] == "impaired"  # 19 with 3 years of schooling (cut-off 20)
    assert levels[("R-3", "gbt42195")] == "moderate"  # 78 (mild), raised one level by dementia
    assert levels[("R-3", "moca")] == "impaired"
    assert {"fall_risk.high", "cognition.positive_screen"} <= rules


def test_guidance_for_every_resident_commits_one_by_one(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from care_records import guidance_service, overdue, service

    backend = make_backend("embedded", tmp_path, request)
    prepare_database(backend, demo_seed("g-", residents=3))

    async def go() -> tuple[int, int]:
        engine = make_engine(backend.settings.db_url)
        factory = make_session_factory(engine)
        async with factory() as session:
            await seed_care_records(session=session)  # checks guidance once itself
            await session.commit()
        # Within the quiet week nothing is suggested again.
        again = await overdue.refresh_all_guidance(factory, clock=time.time)
        in_8_days = time.time() + 8 * 86_400
        # Still waiting for a decision: not suggested twice, however long it waits.
        waiting = await overdue.refresh_all_guidance(factory, clock=lambda: in_8_days)
        async with factory() as session:
            for g in (await session.scalars(select(Guidance))).all():
                await guidance_service.decide(
                    session, item=g, accept=False, actor=service.Actor("nurse"), now=time.time()
                )
            await session.commit()
        later = await overdue.refresh_all_guidance(factory, clock=lambda: in_8_days)
        await engine.dispose()
        return again + waiting, later

    again, later = asyncio.run(go())
    assert again == 0 and later >= 2
