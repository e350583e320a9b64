"""A real hub for video tests (SQLite and the embedded broker: runs anywhere), resident screens,
and a `/ws/video` client that keeps what arrives."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import PASSWORD, HubServer, demo_seed, make_backend, prepare_database

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"
RING_TIMEOUT_S = 2.0


def video_seed(prefix: str) -> dict[str, Any]:
    """R-1 lets family join and has a video call button; R-2 neither. family -> R-1, family2 -> R-2."""
    seed = demo_seed(prefix)
    seed["residents"][0]["settings"] = {"video": {"family_may_join": True, "call_button": True}}
    seed["users"].append(
        {"username": "family2", "password": PASSWORD, "role": "family", "resident_ids": ["R-2"]}
    )
    return seed


@pytest.fixture
def video_hub(tmp_path: Path, request: pytest.FixtureRequest, prefix: str) -> Iterator[HubServer]:
    backend = make_backend("embedded", tmp_path, request)
    backend.settings.video.ring_timeout_s = RING_TIMEOUT_S
    prepare_database(backend, video_seed(prefix))
    server = HubServer(backend).start()
    yield server
    server.stop()


def resident_screen(server: HubServer, resident_id: str) -> dict[str, Any]:
    with server.client(server.token("admin")) as c:
        r = c.post("/api/video/screens", json={"resident_id": resident_id, "name": f"{resident_id} tablet"})
        r.raise_for_status()
        return dict(r.json())


class Signal:
    """A `/ws/video` socket read in a background thread."""

    def __init__(self, server: HubServer, token: str) -> None:
        url = f"ws://127.0.0.1:{server.port}/ws/video?token={token}"
        self.ws = connect(url, open_timeout=30, max_size=None)
        hello = json.loads(self.ws.recv(timeout=30))
        assert hello["type"] == "hello", hello
        self.hello = hello
        self.peer: str = hello["peer"]
        self._lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                with self._lock:
                    self.messages.append(json.loads(raw))
        except ConnectionClosed:
            pass
        self.closed = True

    def send(self, **message: Any) -> None:
        self.ws.send(json.dumps(message))

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages if m["type"] == kind]

    def wait(self, kind: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.of(kind):
                body = m.get("call", m)
                if all(body.get(k) == v for k, v in match.items()):
                    return m
            time.sleep(0.02)
        raise AssertionError(f"no {kind} {match} in {self.messages}")

    def close(self) -> None:
        self.ws.close()
