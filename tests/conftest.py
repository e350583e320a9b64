"""Shared fixtures: settings per backend, a real hub server in a thread, API and MQTT clients.

Backends: `embedded` (SQLite + the broker care-hub starts itself: Mosquitto, or amqtt) and `real`
(the shared PostgreSQL on 127.0.0.1:5432 and Mosquitto on 127.0.0.1:1883). Real services that are
down make their tests skip locally, and fail in CI (CI=true), where .ci/run starts them.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from care_hub import migrate
from care_hub.kernel.db import make_engine, make_session_factory
from care_hub.kernel.settings import Settings
from care_hub.main import create_app
from care_hub.seed import load_seed
from devices.broker import find_free_port

PG_URL = os.environ.get("CARE_HUB_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
SHARED_MQTT_URL = os.environ.get("CARE_HUB_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PASSWORD = "correct-horse-battery"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if not _port_open(host, port):
        if IN_CI:
            pytest.fail(f"{name} on {host}:{port} is down; .ci/run should have started it")
        pytest.skip(f"{name} on {host}:{port} is not running")


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema in the shared `test` database, dropped afterwards."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"t_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        engine = make_engine(PG_URL)
        async with engine.begin() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(run(f'CREATE SCHEMA "{schema}"'))
    yield schema
    asyncio.run(run(f'DROP SCHEMA "{schema}" CASCADE'))


@dataclass
class Backend:
    name: str
    settings: Settings
    db_schema: str | None


def make_backend(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    settings = Settings(_env_file=None, environment="test", data_dir=tmp_path / "var")  # type: ignore[call-arg]
    settings.mqtt.client_id = f"care-hub-test-{uuid.uuid4().hex[:8]}"
    schema = None
    if name == "real":
        require_service("Mosquitto", "127.0.0.1", 1883)
        schema = request.getfixturevalue("pg_schema")
        settings.database.url = PG_URL
        settings.mqtt.url = SHARED_MQTT_URL
    elif name == "embedded-amqtt":
        settings.mqtt.embedded_prefer = "amqtt"
    return Backend(name, settings, schema)


@pytest.fixture(params=["embedded", "real"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request.param, tmp_path, request)


def demo_seed(prefix: str, *, residents: int = 2) -> dict[str, Any]:
    """A small facility: residents R-1.., buttons <prefix>btn-N, radars <prefix>radar-N, a kit."""
    rooms, people, devices = [], [], []
    for n in range(1, residents + 1):
        rooms.append(
            {
                "id": f"{100 + n}",
                "facility_id": 1,
                "floor": 1,
                "zones": [
                    {"name": "bed", "x0": 0.2, "y0": 3.0, "x1": 1.6, "y1": 4.9},
                    {"name": "bathroom", "x0": 2.6, "y0": 0.0, "x1": 4.0, "y1": 1.8},
                ],
            }
        )
        people.append(
            {
                "id": f"R-{n}",
                "name": f"Resident {n}",
                "facility_id": 1,
                "room": f"{100 + n}",
                "lives_alone": n == 2,
            }
        )
        devices.append(
            {
                "id": f"{prefix}btn-{n}",
                "type": "button",
                "facility_id": 1,
                "room": f"{100 + n}",
                "resident_id": f"R-{n}",
            }
        )
        devices.append(
            {
                "id": f"{prefix}radar-{n}",
                "type": "radar",
                "facility_id": 1,
                "room": f"{100 + n}",
                "resident_id": f"R-{n}",
                "zones": rooms[-1]["zones"],
            }
        )
    devices.append({"id": f"{prefix}kit-1", "type": "kit", "facility_id": 1})
    return {
        "version": 1,
        "facilities": [{"id": 1, "name": "Test Home"}, {"id": 2, "name": "Other Home"}],
        "rooms": rooms,
        "residents": people,
        "devices": devices,
        "users": [
            {"username": "admin", "password": PASSWORD, "role": "admin"},
            {"username": "nurse", "password": PASSWORD, "role": "caregiver", "facility_id": 1},
            {"username": "nurse2", "password": PASSWORD, "role": "caregiver", "facility_id": 2},
            {"username": "family", "password": PASSWORD, "role": "family", "resident_ids": ["R-1"]},
        ],
    }


def prepare_database(backend: Backend, seed: dict[str, Any] | None) -> None:
    backend.settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(backend.settings.db_url, schema=backend.db_schema)
    if seed is None:
        return

    async def go() -> None:
        engine = make_engine(backend.settings.db_url, schema=backend.db_schema)
        async with make_session_factory(engine)() as session:
            await load_seed(session=session, seed=seed)
            await session.commit()
        await engine.dispose()

    asyncio.run(go())


class HubServer:
    """A real care-hub (uvicorn, lifespan and all) serving on a free port in a background thread."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.port = find_free_port()
        self.app = create_app(backend.settings, db_schema=backend.db_schema)
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/events"

    def start(self, timeout_s: float = 30.0) -> HubServer:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("hub server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    @property
    def hub(self) -> Any:
        return self.app.state.hub

    @property
    def mqtt_url(self) -> str:
        return str(self.hub.mqtt_url)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)

    def token(self, username: str, password: str = PASSWORD) -> str:
        with self.client() as c:
            r = c.post("/api/auth/token", data={"username": username, "password": password})
            r.raise_for_status()
            return str(r.json()["access_token"])


@pytest.fixture
def prefix() -> str:
    """A per-test device id prefix, so tests sharing one broker never see each other's devices."""
    return f"t{uuid.uuid4().hex[:6]}-"


@pytest.fixture
def hub_server(backend: Backend, prefix: str) -> Iterator[HubServer]:
    prepare_database(backend, demo_seed(prefix))
    server = HubServer(backend).start()
    yield server
    server.stop()
