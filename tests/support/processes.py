"""Real processes for fault tests: a fresh PostgreSQL database, a persistent Mosquitto, the hub.

The hub runs as `python -m care_hub.cli serve` in a child process configured only through
CARE_HUB_* variables and flags, as an operator would run it, so a test can kill it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from devices.broker import MosquittoProcess, find_free_port
from tests.support.mqtt import wait_for

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_ADMIN_DSN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"

# Mosquitto persistence that loses no message it acknowledged when the broker is SIGKILLed:
# save the in-memory database after every change (queued message, subscription, retained
# message) instead of every 60 s. Measured in docs/reliability.md (tests/faults/measure_persistence).
SAFE_PERSISTENCE = ("autosave_on_changes true", "autosave_interval 1")

# A hub started on a loaded 2-core machine migrates, loads the registry and connects in a few
# seconds; this only bounds a hub that will never come up.
HUB_START_TIMEOUT_S = 60.0
HUB_STOP_TIMEOUT_S = 15.0
LOG_TAIL_LINES = 60


def persistent_broker(
    data_dir: Path, *, persistence: tuple[str, ...] = SAFE_PERSISTENCE
) -> MosquittoProcess:
    """A private Mosquitto on a spare port with persistence on and the given autosave lines."""
    broker = MosquittoProcess(data_dir, persistence=False)  # persistence lines come from us
    broker.extra_config = "\n".join(
        ["persistence true", f"persistence_location {broker.data_dir}/", *persistence]
    )
    return broker


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database (the CLI has no schema option), dropped afterwards."""
    name = f"fault_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def with_port(url: str, port: int) -> str:
    """The same PostgreSQL URL through another port (a TcpProxy in front of the server)."""
    return url.replace(f"@{PG_HOST}:{PG_PORT}/", f"@{PG_HOST}:{port}/")


class HubProcess:
    """`care-hub serve` in a child process; `kill()` is SIGKILL, `start()` again reuses the port,
    data dir and MQTT client id, so the broker's persistent session is the same one."""

    def __init__(
        self,
        *,
        database_url: str,
        mqtt_url: str,
        data_dir: Path,
        client_id: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.mqtt_url = mqtt_url
        self.data_dir = data_dir
        self.port = find_free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/events"
        self.log_path = data_dir / "hub.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CARE_HUB_")}
        self.env.update(
            {
                "CARE_HUB_ENVIRONMENT": "test",
                "CARE_HUB_MQTT__CLIENT_ID": client_id,
                "CARE_HUB_RADAR_WORKERS": "0",
                # Quiet by default: no reminders or escalations unless a test asks for them.
                "CARE_HUB_ALERTS__REMINDER_INTERVAL_S": "3600",
                "CARE_HUB_ALERTS__ACK_TIMEOUT_CRITICAL_S": "3600",
                "CARE_HUB_ALERTS__ACK_TIMEOUT_HIGH_S": "3600",
                "CARE_HUB_ALERTS__ACK_TIMEOUT_MEDIUM_S": "3600",
                **(env or {}),
            }
        )
        self._proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout_s: float = HUB_START_TIMEOUT_S) -> HubProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start {self.starts + 1} =====\n".encode())
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "care_hub.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                    "--database-url",
                    self.database_url,
                    "--mqtt-url",
                    self.mqtt_url,
                ],
                env=self.env,
                cwd=self.data_dir,  # no stray .env from the repository
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        if not wait_for(self._ready, timeout=timeout_s, interval=0.1):
            alive = self._proc.poll() is None
            raise RuntimeError(
                f"hub did not become ready in {timeout_s} s (alive={alive}); log:\n{self.log_tail()}"
            )
        return self

    def _ready(self) -> bool:
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError(f"hub exited on start; log:\n{self.log_tail()}")
        try:
            body = httpx.get(f"{self.base_url}/api/health", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return False
        # Ingesting (it holds the leadership lock) and connected to the broker.
        return bool(body.get("mqtt_connected")) and body.get("ingest") is not None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._proc.pid, signal.SIGKILL)
        self._proc.wait()
        self._proc = None

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(HUB_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def health(self) -> tuple[int, dict[str, Any]]:
        r = httpx.get(f"{self.base_url}/api/health", timeout=5)
        return r.status_code, r.json()

    def client(self, token: str | None = None, timeout: float = 30) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def token(self, username: str, password: str) -> str:
        with self.client() as c:
            r = c.post("/api/auth/token", data={"username": username, "password": password})
            r.raise_for_status()
            return str(r.json()["access_token"])

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def log_lines(self, needle: str) -> list[str]:
        return [line for line in self.log_text().splitlines() if needle in line]
