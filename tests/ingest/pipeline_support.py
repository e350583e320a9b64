"""A hub's ingest pipeline on a seeded database, without a broker (its outlet is the test's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from care_hub.ingest.pipeline import IngestPipeline
from care_hub.kernel.db import make_engine, make_session_factory
from care_hub.kernel.events import EventBus
from care_hub.seed import load_seed
from devices.dedupe import SeqTracker
from devices.registry import DeviceRegistry

SEED: dict[str, Any] = {
    "version": 1,
    "facilities": [{"id": 1, "name": "Test Home"}],
    "rooms": [{"id": "101", "facility_id": 1, "floor": 1}],
    "residents": [{"id": "R-1", "name": "Resident 1", "facility_id": 1, "room": "101"}],
    "devices": [
        {"id": "b1", "type": "button", "facility_id": 1, "room": "101", "resident_id": "R-1"},
        {"id": "r1", "type": "radar", "facility_id": 1, "room": "101", "resident_id": "R-1"},
    ],
    "users": [],
}


@asynccontextmanager
async def seeded_pipeline(
    url: str, conn: Any, **kwargs: Any
) -> AsyncIterator[tuple[IngestPipeline, async_sessionmaker[AsyncSession]]]:
    """SEED loaded into the (migrated) database at ``url``, and a pipeline over it whose
    acknowledgements and commands go to ``conn`` (``ack``, ``publish``)."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        async with factory() as session:
            await load_seed(session=session, seed=SEED)
            await session.commit()
        registry = DeviceRegistry(factory)
        await registry.load()
        pipeline = IngestPipeline(
            conn=conn,
            registry=registry,
            seqs=SeqTracker(),
            session_factory=factory,
            bus=EventBus(factory),
            **kwargs,
        )
        yield pipeline, factory
    finally:
        await engine.dispose()
