"""Browser tests: Playwright driving Debian's Chromium against a real hub on real Mosquitto and
PostgreSQL. Skipped locally when Chromium or the services are missing; failures in CI (CI=true),
where .ci/run installs Chromium with apt and starts the services.

Screenshots go to `$CARE_HUB_TEST_ARTIFACTS` (default: pytest's tmp dir, `browser-artifacts/`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from care_hub.kernel.db import make_engine
from care_hub.kernel.settings import Settings
from tests.conftest import (
    IN_CI,
    PG_URL,
    SHARED_MQTT_URL,
    Backend,
    HubServer,
    prepare_database,
    require_service,
)
from tests.e2e.test_falls_e2e import episode_seed
from tests.support.tcp_proxy import TcpProxy

CHROMIUM = os.environ.get("CARE_HUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A kiosk TV is started so that sound needs no click (the wall still warns if it is blocked).
KIOSK_ARGS = [*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]


def _require_browser() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if IN_CI:
            pytest.fail("playwright is not installed: pip install -e '.[test]'")
        pytest.skip("playwright is not installed")
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing; .ci/run should have installed chromium with apt")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    return sync_playwright


# Module scope, not session: Playwright's sync API keeps an event loop marked running in the main
# thread while it is open, and every later test that calls asyncio.run() would fail.
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    sync_playwright = _require_browser()
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_driver: Any) -> Iterator[Any]:
    b = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=KIOSK_ARGS)
    yield b
    b.close()


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("CARE_HUB_TEST_ARTIFACTS")
    path = Path(where) if where else tmp_path_factory.getbasetemp() / "browser-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shot(page: Any, artifacts: Path, name: str) -> Path:
    """A screenshot as a test artefact; CARE_HUB_DOCS_IMAGES=1 also refreshes docs/images/."""
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("CARE_HUB_DOCS_IMAGES") == "1":
        docs = Path(__file__).resolve().parents[2] / "docs" / "images"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, docs / path.name)
    return path


class Site:
    """A real hub (PostgreSQL + Mosquitto) whose pages the browser reaches through a TCP proxy
    the test can cut, as a ward's network fails."""

    def __init__(self, server: HubServer, proxy: TcpProxy, prefix: str) -> None:
        self.server = server
        self.proxy = proxy
        self.prefix = prefix
        self.url = f"http://127.0.0.1:{proxy.port}"

    def api(self, method: str, path: str, token: str, **kw: Any) -> Any:
        with self.server.client(token) as c:
            r = c.request(method, path, **kw)
            r.raise_for_status()
            return r.json() if r.content else None


def _off_loop(fn: Any, *args: Any) -> Any:
    """Run set-up that calls asyncio.run() outside Playwright's running loop (another thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


def _schema_sql(sql: str) -> None:
    async def run() -> None:
        engine = make_engine(PG_URL)
        async with engine.begin() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(run())


@pytest.fixture
def site(
    browser: Any, request: pytest.FixtureRequest, tmp_path: Path, prefix: str
) -> Iterator[Site]:
    residents = getattr(request, "param", 2)
    require_service("Mosquitto", "127.0.0.1", 1883)
    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    _off_loop(_schema_sql, f'CREATE SCHEMA "{schema}"')
    settings = Settings(_env_file=None, environment="test", data_dir=tmp_path / "var")  # type: ignore[call-arg]
    settings.mqtt.client_id = f"care-hub-test-{uuid.uuid4().hex[:8]}"
    settings.database.url = PG_URL
    settings.mqtt.url = SHARED_MQTT_URL
    backend = Backend("real", settings, schema)
    _off_loop(prepare_database, backend, episode_seed(prefix, residents=residents))
    server = _off_loop(lambda: HubServer(backend).start())
    proxy = TcpProxy("127.0.0.1", server.port)
    try:
        yield Site(server, proxy, prefix)
    finally:
        proxy.stop()
        _off_loop(server.stop)
        _off_loop(_schema_sql, f'DROP SCHEMA "{schema}" CASCADE')
