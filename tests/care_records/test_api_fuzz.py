"""schemathesis over the care-record operations only: no input makes them answer 5xx.

The hub-wide fuzz (tests/test_api_fuzz.py) covers them too, at fewer examples each; this one
runs more against /api/care, as an admin and as a caregiver, on a hub with care records in it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import schemathesis

from care_hub.kernel.db import make_engine, make_session_factory
from simulators.care_records_demo import seed_care_records
from tests.conftest import HubServer, demo_seed, make_backend, prepare_database
from tests.test_api_fuzz import MODES, _fuzz_operation

EXAMPLES = 25


@pytest.fixture(scope="module")
def care_hub(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[HubServer]:
    backend = make_backend("embedded", tmp_path_factory.mktemp("carefuzz"), request)
    prepare_database(backend, demo_seed("cf-", residents=3))

    async def records() -> None:
        engine = make_engine(backend.settings.db_url)
        async with make_session_factory(engine)() as session:
            await seed_care_records(session=session)
            await session.commit()
        await engine.dispose()

    asyncio.run(records())
    server = HubServer(backend).start()
    yield server
    server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("username", ["admin", "nurse"])
def test_no_server_error_on_care_records(care_hub: HubServer, username: str) -> None:
    schema = schemathesis.openapi.from_url(f"{care_hub.base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {care_hub.token(username)}"}
    found: dict[str, str] = {}
    operations = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
    mine = [op for op in operations if op.path.startswith("/api/care")]
    assert len(mine) >= 15
    for operation in mine:
        for mode in MODES:
            _fuzz_operation(care_hub, headers, operation, mode, EXAMPLES, found)
    assert not found, "server errors:\n" + "\n".join(found.values())
