"""The pipeline's transactions that write no seq marks (a refused message's dead letter) ask the
seq tracker first (`SeqTracker.check`): on the NATS backend that is the fence check, so a node
that lost its partition writes nothing (tests/distributed/test_fence.py shows the check)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from care_hub import migrate
from care_hub.ingest.pipeline import IngestPipeline
from care_hub.kernel.db import make_engine, make_session_factory
from care_hub.kernel.events import EventBus
from devices.dedupe import SeqTracker
from devices.models import DeadLetter
from devices.mqtt_client import RawMessage
from devices.registry import DeviceRegistry


class Recording(SeqTracker):
    def __init__(self) -> None:
        super().__init__()
        self.checked: list[bool] = []  # was the dead letter in the session when checked?

    async def check(self, session: AsyncSession) -> None:
        n = await session.scalar(select(func.count()).select_from(DeadLetter))
        self.checked.append(n == 1)


def test_a_refused_messages_dead_letter_is_checked_before_commit(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    migrate.upgrade(url)

    async def go() -> None:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        seqs = Recording()
        try:
            pipeline = IngestPipeline(
                conn=None,  # type: ignore[arg-type]  # not used by this path
                registry=DeviceRegistry(factory),
                seqs=seqs,
                session_factory=factory,
                bus=EventBus(factory),
                in_process_radar=False,
            )
            msg = RawMessage("care/v1/btn-1/status", b'{"ts": 1}', 1, 1, 0.0)
            await pipeline._refused(msg, "btn-1", RuntimeError("refused"))
            async with factory() as s:
                rows = (await s.scalars(select(DeadLetter))).all()
            assert [r.reason for r in rows] == ["store_failed"]
            assert seqs.checked == [True]
        finally:
            await engine.dispose()

    asyncio.run(go())
