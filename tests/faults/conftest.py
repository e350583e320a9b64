"""Fixtures of the fault suite: a fresh database, a private persistent Mosquitto, a hub process.

Everything here is a real process or server; nothing is patched. PostgreSQL down makes these
tests skip locally and fail in CI (`require_service`), like the rest of the real-service tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devices.broker import MosquittoProcess, find_mosquitto
from tests.conftest import require_service
from tests.support.presses import buttons_seed, prepare
from tests.support.processes import PG_HOST, PG_PORT, HubProcess, fresh_database, persistent_broker

# Buttons in the seed: the streams press each a few times (every press of one button folds into
# its one open call, `count` + 1), so lost and doubled presses show per device.
N_BUTTONS = 60

StartHub = Callable[..., HubProcess]


@pytest.fixture
def database_url() -> Iterator[str]:
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    with fresh_database() as url:
        prepare(url, buttons_seed(N_BUTTONS))
        yield url


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoProcess]:
    if find_mosquitto() is None:
        pytest.skip("needs the mosquitto binary")
    b = persistent_broker(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def start_hub(database_url: str, broker: MosquittoProcess, tmp_path: Path) -> Iterator[StartHub]:
    """Start the hub (a subprocess); every hub started is stopped at the end of the test."""
    hubs: list[HubProcess] = []

    def start(*, database_url: str = database_url, env: dict[str, str] | None = None) -> HubProcess:
        hub = HubProcess(
            database_url=database_url,
            mqtt_url=broker.url,
            data_dir=tmp_path / "hub",
            client_id=f"care-hub-fault-{uuid.uuid4().hex[:6]}",
            env=env,
        )
        hubs.append(hub)
        return hub.start()

    yield start
    for hub in hubs:
        hub.stop()
