"""Bad API input is a 4xx with a clear message, never a 500 (issue 11, fault 8), on both backends.

Integers beyond 64 bits in paths, queries and bodies; zones without `name` or `shape`; NUL
characters (PostgreSQL rejects them); and the first facilities created after a seed that gave
explicit ids (PostgreSQL's sequence stayed behind them).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from care_hub.kernel.db import make_engine
from care_hub.kernel.settings import Settings
from tests.conftest import (
    PG_URL,
    SHARED_MQTT_URL,
    Backend,
    HubServer,
    demo_seed,
    prepare_database,
    require_service,
)

HUGE = 2**64  # one past what a 64-bit column holds


def _detail(response: Any) -> str:
    return str(response.json()["detail"])


def _pg(sql: str) -> None:
    async def run() -> None:
        engine = make_engine(PG_URL)
        async with engine.begin() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(run())


@pytest.fixture(
    scope="module", params=["embedded", pytest.param("real", marks=pytest.mark.postgres)]
)
def bad_input_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubServer]:
    """One hub per backend for the whole module (none of these requests changes what others see,
    but for the facilities test, which counts from the seed's)."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, environment="test", data_dir=tmp_path_factory.mktemp("bad") / "var"
    )
    settings.mqtt.client_id = f"care-hub-test-{uuid.uuid4().hex[:8]}"
    schema = None
    if request.param == "real":
        require_service("PostgreSQL", "127.0.0.1", 5432)
        require_service("Mosquitto", "127.0.0.1", 1883)
        schema = f"t_{uuid.uuid4().hex[:12]}"
        _pg(f'CREATE SCHEMA "{schema}"')
        settings.database.url = PG_URL
        settings.mqtt.url = SHARED_MQTT_URL
    backend = Backend(request.param, settings, schema)
    prepare_database(backend, demo_seed(f"b{uuid.uuid4().hex[:6]}-"))
    server = HubServer(backend).start()
    yield server
    server.stop()
    if schema:
        _pg(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def admin(bad_input_hub: HubServer) -> Any:
    with bad_input_hub.client(bad_input_hub.token("admin")) as client:
        yield client


@pytest.mark.parametrize(
    "path",
    [
        f"/api/alerts/{HUGE}",
        f"/api/alerts/{-HUGE}",
        f"/api/alerts/{HUGE}/comments",
        f"/api/coverage?facility_id={HUGE}",
        f"/api/reports/response-times?facility_id={HUGE}",
    ],
)
def test_huge_integers_in_paths_and_queries(admin: Any, path: str) -> None:
    r = admin.get(path)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/rooms", {"facility_id": HUGE, "name": "x"}),
        ("/api/residents", {"id": "R-9", "name": "x", "facility_id": 1, "room_id": HUGE}),
        ("/api/devices", {"id": "d-9", "type": "kit", "facility_id": HUGE}),
        (
            "/api/users",
            {"username": "u9", "password": "x" * 8, "role": "admin", "facility_id": HUGE},
        ),
        ("/api/coverage", {"facility_id": 1, "user_id": HUGE, "shift": "day"}),
        (f"/api/alerts/{HUGE}/ack", {}),
    ],
)
def test_huge_integers_in_bodies(admin: Any, path: str, body: dict[str, Any]) -> None:
    r = admin.post(path, json=body)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "zones",
    [
        [{"shape": {"rect": [0, 0, 1, 1]}}],
        [{"name": "bed"}],
        [{"name": "bed", "shape": {}}],
        [{"name": "bed", "shape": {"rect": [0, 0, 1]}}],
        [{"name": "bed", "shape": {"polygon": [[0, 0], [1, 1]]}}],
        [{"name": "bed", "shape": {"rect": [0, 0, 1, 1], "polygon": [[0, 0], [1, 0], [1, 1]]}}],
    ],
)
def test_malformed_room_zones(admin: Any, zones: list[dict[str, Any]]) -> None:
    r = admin.post("/api/rooms", json={"facility_id": 1, "name": "bad zones", "zones": zones})
    assert r.status_code == 422, r.text


def test_room_zones_and_device_zone_map_accepted_when_well_formed(admin: Any, prefix: str) -> None:
    zones = [
        {"name": "bed", "shape": {"rect": [0.2, 3.0, 1.6, 4.9]}},
        {"name": "chair", "shape": {"polygon": [[2, 2], [3, 2], [3, 3]]}},
    ]
    r = admin.post("/api/rooms", json={"facility_id": 1, "name": f"{prefix}zr", "zones": zones})
    assert r.status_code == 201, r.text
    body = {"id": f"{prefix}zr", "type": "radar", "facility_id": 1}
    bad = admin.post("/api/devices", json={**body, "zone_map": {"bed": {"rect": "no"}}})
    assert bad.status_code == 422, bad.text
    good = admin.post("/api/devices", json={**body, "zone_map": {"bed": {"rect": [0, 0, 1, 2]}}})
    assert good.status_code == 201, good.text
    assert good.json()["zone_map"] == {"bed": {"rect": [0, 0, 1, 2]}}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/facilities", {"name": "a\x00b"}),
        ("post", "/api/facilities", {"name": "ok", "settings": {"timezone": "UTC\x00"}}),
        ("post", "/api/rooms", {"facility_id": 1, "name": "r\x00"}),
        ("post", "/api/users", {"username": "n\x00l", "password": "x" * 8, "role": "admin"}),
        ("get", "/api/residents/R-1%00/trail", None),
        ("get", "/api/residents/R-1/vitals?kind=spo2%00", None),
        ("get", "/api/alerts?resident_id=R%00", None),
        ("get", "/api/alerts?state=open%00", None),
        ("get", "/api/devices/x%00", None),
    ],
)
def test_nul_characters(admin: Any, method: str, path: str, body: dict[str, Any] | None) -> None:
    r = admin.request(method.upper(), path, json=body)
    assert r.status_code == 422, r.text


def test_nul_message_names_the_field(admin: Any) -> None:
    r = admin.post("/api/facilities", json={"name": "ok", "settings": {"tz": ["a", "b\x00"]}})
    assert r.status_code == 422
    assert "tz[1]" in _detail(r) and "NUL" in _detail(r)


def test_facilities_after_a_seed_with_explicit_ids(admin: Any) -> None:
    """The seed inserted facilities 1 and 2 with their ids: the next ones are 3 and 4."""
    ids = []
    for name in ("Third Home", "Fourth Home"):
        r = admin.post("/api/facilities", json={"name": name})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    assert ids[0] >= 3 and ids[1] == ids[0] + 1
