"""A websocket screen for tests: `/ws/events` read in a background thread, every message kept."""

from __future__ import annotations

import json
import threading
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


class EventStream:
    """Connects to `/ws/events?token=..&since=..` and records what arrives: `events` (logged
    events, with a seq), `notices` (live notices such as `system.health`, seq None). Hello and
    ping frames are kept apart."""

    def __init__(self, ws_url: str, token: str, since: int | None = None) -> None:
        url = f"{ws_url}?token={token}" + (f"&since={since}" if since is not None else "")
        self.ws = connect(url, open_timeout=30, max_size=None)
        hello = json.loads(self.ws.recv(timeout=30))
        assert hello["type"] == "hello", hello
        self.hello_seq: int = hello["data"]["last_seq"]
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._notices: list[dict[str, Any]] = []
        self.closed_code: int | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                message = json.loads(raw)
                if message["type"] in ("hello", "ping"):
                    continue
                with self._lock:
                    notice = message["seq"] is None or message["type"] == "system.health"
                    (self._notices if notice else self._events).append(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed_code = self.ws.close_code

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._events)

    @property
    def notices(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._notices)

    @property
    def last_seq(self) -> int:
        events = self.events
        return int(events[-1]["seq"]) if events else self.hello_seq

    @property
    def last_event_seq(self) -> int:
        """The seq of the last event received (-1 before any; the hello's seq does not count)."""
        events = self.events
        return int(events[-1]["seq"]) if events else -1

    def close(self) -> None:
        self.ws.close()
        self._thread.join(10)
