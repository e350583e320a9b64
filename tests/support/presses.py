"""Call-button presses for fault tests: a seed of many buttons, a publisher, and a tally of what
the hub stored (lost, doubled) read back through the API."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.client import MQTTMessageInfo
from paho.mqtt.enums import CallbackAPIVersion

from care_hub import migrate
from care_hub.kernel.db import make_engine, make_session_factory
from care_hub.kernel.settings import normalise_db_url
from care_hub.seed import load_seed
from tests.support.mqtt import close_client, parse_mqtt_url, url_credentials, wait_for

PASSWORD = "correct-horse-battery"
# In flight from the device side: enough to stream, few enough that a kill catches some mid-air.
DEVICE_MAX_INFLIGHT = 100
FENCE = "fence-btn"


def button_id(n: int) -> str:
    return f"btn-{n}"


def buttons_seed(n_buttons: int) -> dict[str, Any]:
    """Facility 1: residents R-1..R-n, each in a room with a call button btn-1..btn-n. Facility 2:
    resident F2-1 with button f2-btn. Users admin, nurse (facility 1), nurse2 (facility 2), and
    family (linked to R-1)."""
    rooms, residents, devices = [], [], []
    for n in range(1, n_buttons + 1):
        rooms.append({"id": f"{100 + n}", "facility_id": 1, "floor": 1})
        residents.append(
            {"id": f"R-{n}", "name": f"Resident {n}", "facility_id": 1, "room": f"{100 + n}"}
        )
        devices.append(
            {
                "id": button_id(n),
                "type": "button",
                "facility_id": 1,
                "room": f"{100 + n}",
                "resident_id": f"R-{n}",
            }
        )
    # The fence: a button pressed after a stream, whose call stored means the stream before it is.
    rooms.append({"id": "100", "facility_id": 1, "floor": 1})
    residents.append({"id": "R-0", "name": "Fence", "facility_id": 1, "room": "100"})
    devices.append(
        {"id": FENCE, "type": "button", "facility_id": 1, "room": "100", "resident_id": "R-0"}
    )
    rooms.append({"id": "201", "facility_id": 2, "floor": 2})
    residents.append({"id": "F2-1", "name": "Other Resident", "facility_id": 2, "room": "201"})
    devices.append(
        {"id": "f2-btn", "type": "button", "facility_id": 2, "room": "201", "resident_id": "F2-1"}
    )
    return {
        "version": 1,
        "facilities": [{"id": 1, "name": "Test Home"}, {"id": 2, "name": "Other Home"}],
        "rooms": rooms,
        "residents": residents,
        "devices": devices,
        "users": [
            {"username": "admin", "password": PASSWORD, "role": "admin"},
            {"username": "nurse", "password": PASSWORD, "role": "caregiver", "facility_id": 1},
            {"username": "nurse2", "password": PASSWORD, "role": "caregiver", "facility_id": 2},
            {"username": "family", "password": PASSWORD, "role": "family", "resident_ids": ["R-1"]},
        ],
    }


def prepare(database_url: str, seed: dict[str, Any]) -> None:
    """Migrate and seed the database in this process (the hub migrates too; seeding needs tables)."""
    url = normalise_db_url(database_url)
    migrate.upgrade(url)

    async def go() -> None:
        engine = make_engine(url)
        try:
            async with make_session_factory(engine)() as session:
                await load_seed(session=session, seed=seed)
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(go())


def _device_client(
    url: str, client_id: str, on_publish: Any, on_message: Any = None, listen: str | None = None
) -> mqtt.Client:
    """Like tests.support.mqtt.connect_client, with a persistent session and a wider in-flight
    window (paho sets it only before connecting); ``listen``: a topic filter subscribed on every
    connect (a broker restarted from its files may not have kept the subscription)."""
    host, port = parse_mqtt_url(url)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
    )
    client.max_inflight_messages_set(DEVICE_MAX_INFLIGHT)
    if (creds := url_credentials(url)) is not None:
        client.username_pw_set(*creds)
    client.on_publish = on_publish
    client.on_message = on_message
    client.reconnect_delay_set(min_delay=1, max_delay=2)
    connected = threading.Event()

    def on_connect(c: mqtt.Client, *_args: Any) -> None:
        if listen is not None:
            c.subscribe(listen, qos=1)
        connected.set()

    client.on_connect = on_connect
    client.connect(host, port, keepalive=30)
    client.loop_start()
    if not connected.wait(10):
        close_client(client)
        raise RuntimeError(f"no CONNACK from {url}")
    return client


@dataclass
class Press:
    device_id: str
    seq: int
    info: MQTTMessageInfo
    payload: bytes = b""
    resent: int = 0


class PressPublisher:
    """One MQTT client pressing many call buttons at QoS 1, with a stable client id and a
    persistent session: what the broker acknowledged, paho does not resend; what it did not,
    paho resends after a reconnect. It hears the hub's receipts (``{"cmd": "received"}`` on each
    button's cmd topic) and, as a button does, can re-send a press the hub has not confirmed
    (``wait_all_received``): the broker can acknowledge a press and die before saving it."""

    def __init__(self, mqtt_url: str, client_id: str) -> None:
        self._acked_mids: set[int] = set()
        self._acked_lock = threading.Lock()
        self.received: set[tuple[str, int]] = set()  # (device, seq) the hub confirmed
        self.client = _device_client(
            mqtt_url, client_id, self._on_publish, self._on_message, listen="care/v1/+/cmd"
        )
        self.presses: list[Press] = []
        self._seqs: Counter[str] = Counter()
        self._lock = threading.Lock()

    def press(self, device_id: str, action: str = "call") -> Press:
        with self._lock:
            self._seqs[device_id] += 1
            seq = self._seqs[device_id]
            payload = orjson.dumps({"ts": time.time(), "seq": seq, "action": action})
            info = self.client.publish(f"care/v1/{device_id}/button", payload, qos=1)
            press = Press(device_id, seq, info, payload)
            self.presses.append(press)
        return press

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        body = orjson.loads(msg.payload)
        if body.get("cmd") == "received" and body.get("kind") == "button":
            device = msg.topic.split("/")[2]
            with self._acked_lock:
                self.received.add((device, int(body["seq"])))

    def unreceived(self) -> list[Press]:
        """Presses the hub has not confirmed yet."""
        with self._lock:
            presses = list(self.presses)
        with self._acked_lock:
            return [p for p in presses if (p.device_id, p.seq) not in self.received]

    def wait_all_received(self, timeout: float, resend_after_s: float = 3.0) -> bool:
        """Wait until the hub has confirmed every press, re-sending (same seq, same bytes) those
        unconfirmed every ``resend_after_s``, as a call button does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if wait_for(lambda: not self.unreceived(), timeout=resend_after_s, interval=0.05):
                return True
            for p in self.unreceived():
                self.client.publish(f"care/v1/{p.device_id}/button", p.payload, qos=1)
                p.resent += 1
        return not self.unreceived()

    def resent(self) -> int:
        """Re-sends so far (each of a press the broker had acknowledged, or not)."""
        with self._lock:
            return sum(p.resent for p in self.presses)

    def _on_publish(self, _client: Any, _userdata: Any, mid: int, *_rest: Any) -> None:
        # PUBACK from the broker (MQTTMessageInfo.is_published raises for a message published
        # while disconnected, although paho keeps it and sends it on reconnect).
        with self._acked_lock:  # never self._lock: paho may hold its own locks here
            self._acked_mids.add(mid)

    def expected(self) -> Counter[str]:
        """Calls pressed per device."""
        with self._lock:
            return Counter(p.device_id for p in self.presses)

    def acked(self) -> int:
        """Presses the broker has acknowledged (PUBACK) to the device."""
        with self._lock:
            mids = [p.info.mid for p in self.presses]
        with self._acked_lock:
            return sum(1 for mid in mids if mid in self._acked_mids)

    def wait_all_acked(self, timeout: float) -> bool:
        return wait_for(lambda: self.acked() == len(self.presses), timeout=timeout, interval=0.05)

    def close(self) -> None:
        close_client(self.client)


@dataclass
class Tally:
    """Calls stored per device against calls pressed: the figures of a fault run."""

    pressed: int
    stored: int
    lost: int
    doubled: int
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pressed": self.pressed,
            "stored": self.stored,
            "lost": self.lost,
            "doubled": self.doubled,
        }


def fence(publisher: PressPublisher, client: httpx.Client, timeout: float) -> bool:
    """Press the fence button and wait until that press is stored. The broker delivers one
    client's QoS 1 messages to the hub in order (redeliveries first), and the hub stores batches
    in order, so once the fence is stored every press published before it has been handled:
    what is missing then is lost, not late."""
    publisher.press(FENCE)
    want = publisher.expected()[FENCE]

    def stored() -> bool:
        r = client.get("/api/alerts", params={"type": "call", "resident_id": "R-0"})
        return r.status_code == 200 and sum(a["count"] for a in r.json()) >= want

    return wait_for(stored, timeout=timeout, interval=0.2)


def call_alerts(client: httpx.Client) -> list[dict[str, Any]]:
    r = client.get("/api/alerts", params={"type": "call", "limit": 5000})
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


def stored_calls(client: httpx.Client) -> int:
    return sum(a["count"] for a in call_alerts(client))


def tally(client: httpx.Client, expected: Counter[str], *, history: bool = True) -> Tally:
    """Each device's presses must be exactly one call alert whose `count` equals the presses, and
    whose audit trail has exactly that many `raised`/`updated` rows (a doubled press would add one
    to both; a lost one would be missing from both)."""
    by_device: dict[str, list[dict[str, Any]]] = {}
    for alert in call_alerts(client):
        by_device.setdefault(alert["device_id"], []).append(alert)
    lost = doubled = 0
    problems: list[str] = []
    for device, pressed in sorted(expected.items()):
        alerts = by_device.get(device, [])
        count = sum(a["count"] for a in alerts)
        if count < pressed:
            lost += pressed - count
            problems.append(f"{device}: pressed {pressed}, stored {count}")
        elif count > pressed:
            doubled += count - pressed
            problems.append(f"{device}: pressed {pressed}, stored {count}")
        if len(alerts) > 1:
            problems.append(f"{device}: {len(alerts)} call alerts for presses with no cancel")
        if history:
            for a in alerts:
                r = client.get(f"/api/alerts/{a['id']}")
                r.raise_for_status()
                rows = [h for h in r.json()["history"] if h["action"] in ("raised", "updated")]
                if len(rows) != a["count"]:
                    problems.append(
                        f"{device}: count {a['count']} but {len(rows)} raise/update rows"
                    )
    unexpected = sorted(set(by_device) - set(expected))
    if unexpected:
        problems.append(f"call alerts from devices never pressed: {unexpected}")
    stored = sum(a["count"] for alerts in by_device.values() for a in alerts)
    return Tally(sum(expected.values()), stored, lost, doubled, problems)


def record_figures(name: str, figures: dict[str, Any]) -> None:
    """Print a run's figures (pytest -s shows them) and append them to $CARE_HUB_FAULT_FIGURES."""
    line = json.dumps({"test": name, "at": time.strftime("%Y-%m-%d %H:%M:%S"), **figures})
    print(f"FAULT-FIGURES {line}")
    path = os.environ.get("CARE_HUB_FAULT_FIGURES")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")
