"""Trust rules of the ingest path, against a real hub and a real broker."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from care_hub.kernel.models import Measurement
from devices.models import DeadLetter
from tests.conftest import Backend, HubServer, demo_seed, prepare_database
from tests.e2e.test_calls import WsReader, alerts
from tests.support.mqtt import close_client, connect_client, publish_and_wait, wait_for

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres]


def kit(seq: int, **values: Any) -> bytes:
    return orjson.dumps(
        {
            "ts": time.time(),
            "seq": seq,
            "resident": "R-1",
            "kind": "spo2",
            "values": values or {"percent": 97},
        }
    )


def db(server: HubServer, query: Any) -> Any:
    async def go() -> Any:
        async with server.hub.session_factory() as session:
            return (await session.execute(query)).all()

    return asyncio.run_coroutine_threadsafe(go(), server_loop(server)).result(10)


def server_loop(server: HubServer) -> asyncio.AbstractEventLoop:
    return server.hub.tasks[0].get_loop()  # type: ignore[no-any-return]


def dead_letters(server: HubServer) -> list[Any]:
    return db(
        server,
        select(
            DeadLetter.device_id, DeadLetter.reason, DeadLetter.topic, DeadLetter.excerpt
        ).order_by(DeadLetter.id),
    )


def measurement_count(server: HubServer) -> int:
    return int(db(server, select(func.count()).select_from(Measurement))[0][0])


def test_unknown_and_spoofing_devices_are_rejected(hub_server: HubServer, prefix: str) -> None:
    client = connect_client(hub_server.mqtt_url, f"{prefix}dev")
    # An unprovisioned id, and a call button pretending to be a health kit.
    publish_and_wait(
        client,
        f"care/v1/{prefix}ghost/button",
        orjson.dumps({"ts": time.time(), "seq": 1, "action": "call"}),
    )
    publish_and_wait(client, f"care/v1/{prefix}btn-1/kit", kit(1))
    publish_and_wait(client, f"care/v1/{prefix}kit-1/kit", kit(1))  # the good one beside them
    assert wait_for(lambda: measurement_count(hub_server) == 1, timeout=10)
    reasons = {(d, r) for d, r, _, _ in dead_letters(hub_server)}
    assert (f"{prefix}ghost", "unknown_device") in reasons
    assert (f"{prefix}btn-1", "wrong_device_type") in reasons
    assert alerts(hub_server, hub_server.token("nurse")) == []
    close_client(client)


def test_bad_payloads_are_dead_lettered_and_good_ones_beside_them_kept(
    hub_server: HubServer, prefix: str
) -> None:
    client = connect_client(hub_server.mqtt_url, f"{prefix}dev")
    topic = f"care/v1/{prefix}kit-1/kit"
    bad = [
        (b"x" * (64 * 1024 + 1), "too_large"),
        (b"\xff\xfe not json", "not_json"),
        (orjson.dumps([1, 2, 3]), "not_object"),
        (
            orjson.dumps({"ts": time.time(), "seq": 2, "resident": "R-1", "kind": "spo2"}),
            "missing_field",
        ),
        (kit(3, percent=104), "out_of_range"),
        (
            orjson.dumps(
                {
                    "ts": time.time(),
                    "seq": 4,
                    "resident": "R-1",
                    "kind": "blood_pressure",
                    "values": {"systolic": 80, "diastolic": 95},
                }
            ),
            None,
        ),
        (
            orjson.dumps(
                {
                    "ts": time.time(),
                    "seq": 5,
                    "resident": "R-1",
                    "kind": "temperature",
                    "values": {"celsius": 50},
                }
            ),
            "out_of_range",
        ),
        (
            b'{"ts": 1764320000.0, "seq": 6, "resident": "R-1", "kind": "pulse", "values": {"bpm": NaN}}',
            None,
        ),
        (
            orjson.dumps(
                {
                    "ts": time.time(),
                    "seq": 115,
                    "resident": "R-404",
                    "kind": "spo2",
                    "values": {"percent": 97},
                }
            ),
            "unknown_resident",
        ),
    ]
    # seqs keep rising in publish order (a lower one would be, rightly, a duplicate).
    for i, (payload, _) in enumerate(bad):
        publish_and_wait(client, topic, payload)
        publish_and_wait(client, topic, kit(100 + 2 * i))  # a good reading after each bad one
    radar = f"care/v1/{prefix}radar-1/radar/frames"
    publish_and_wait(
        client,
        radar,
        orjson.dumps({"ts": time.time(), "seq": 1, "fps": -10, "frames": [{"targets": []}]}),
    )
    assert wait_for(lambda: measurement_count(hub_server) == len(bad), timeout=15), (
        measurement_count(hub_server),
        hub_server.hub.pipeline.metrics,
    )
    # the radar window travels its own path (batched frames decoding): wait for its dead letter too
    assert wait_for(lambda: len(dead_letters(hub_server)) == len(bad) + 1, timeout=15)
    rows = dead_letters(hub_server)
    assert len(rows) == len(bad) + 1
    got = Counter(r for _, r, _, _ in rows)
    expected = Counter(reason for _, reason in bad if reason) + Counter(
        {"out_of_range": 1}
    )  # + fps
    assert got - Counter({"inconsistent": 1, "not_json": 1}) >= expected - Counter()  # named codes
    assert sum(got.values()) == len(bad) + 1
    assert all(d in (f"{prefix}kit-1", f"{prefix}radar-1") for d, _, _, _ in rows)
    assert all(len(excerpt) <= 300 for _, _, _, excerpt in rows)
    metrics = hub_server.hub.pipeline.metrics
    assert sum(metrics.rejected.values()) == len(bad) + 1
    close_client(client)


def test_timestamp_far_from_hub_clock_is_accepted_but_flagged(
    hub_server: HubServer, prefix: str
) -> None:
    client = connect_client(hub_server.mqtt_url, f"{prefix}dev")
    device = f"{prefix}btn-1"
    publish_and_wait(
        client,
        f"care/v1/{device}/status",
        orjson.dumps(
            {
                "ts": time.time() - 3600,
                "seq": 1,
                "state": "online",
                "battery": 0.9,
                "fw": "1.4.2",
                "rssi": -61,
            }
        ),
    )
    admin = hub_server.token("admin")

    def health() -> dict[str, Any]:
        with hub_server.client(admin) as c:
            return c.get(f"/api/devices/{device}").json()  # type: ignore[no-any-return]

    assert wait_for(lambda: health()["battery"] == 0.9, timeout=10)
    h = health()
    assert h["clock_skew_s"] == pytest.approx(-3600, abs=5)
    assert h["fw"] == "1.4.2" and h["rssi"] == -61
    assert hub_server.hub.pipeline.metrics.skewed >= 1
    close_client(client)


def test_last_will_silence_and_battery_raise_and_resolve(
    hub_server: HubServer, prefix: str
) -> None:
    nurse = hub_server.token("nurse")
    screen = WsReader(hub_server, nurse)
    client = connect_client(hub_server.mqtt_url, f"{prefix}dev")
    button = f"{prefix}btn-1"
    # The broker publishes a device's Last Will as a bare {"state":"offline"}.
    publish_and_wait(client, f"care/v1/{button}/status", b'{"state":"offline"}')
    raised = screen.next_of("alert.raised")["data"]
    assert (raised["type"], raised["device_id"], raised["detail"]["reason"]) == (
        "device_offline",
        button,
        "last_will",
    )
    publish_and_wait(
        client,
        f"care/v1/{button}/status",
        orjson.dumps({"ts": time.time(), "seq": 2, "state": "online", "battery": 0.12}),
    )
    events = [screen.next_of("alert.updated"), screen.next_of("alert.raised")]
    assert (
        events[0]["data"]["state"] == "resolved"
        and events[0]["data"]["outcome"] == "device_returned"
    )
    assert events[1]["data"]["type"] == "battery_low" and events[1]["data"]["severity"] == "low"
    # A radar of a resident who lives alone that goes silent for 3 s is offline, severity high.
    radar = f"{prefix}radar-2"
    publish_and_wait(
        client,
        f"care/v1/{radar}/radar/frames",
        orjson.dumps({"ts": time.time(), "seq": 1, "fps": 10, "frames": [{"targets": []}]}),
    )
    offline = screen.next_of("alert.raised", timeout=15)["data"]
    while offline["device_id"] != radar:  # other radars of this facility go silent too
        offline = screen.next_of("alert.raised", timeout=15)["data"]
    assert offline["type"] == "device_offline" and offline["severity"] == "high"
    assert offline["detail"]["reason"] == "silent"
    screen.close()
    close_client(client)


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_duplicate_seq_is_ignored_across_a_hub_restart(backend: Backend, prefix: str) -> None:
    prepare_database(backend, demo_seed(prefix))
    backend.settings.mqtt.embedded_port = 0
    server = HubServer(backend).start()
    url = server.mqtt_url
    client = connect_client(url, f"{prefix}dev")
    first = kit(5)  # a redelivery is the same bytes: same seq and same ts
    publish_and_wait(client, f"care/v1/{prefix}kit-1/kit", first)
    assert wait_for(lambda: measurement_count(server) == 1, timeout=10)
    close_client(client)
    server.stop()
    # Same data dir and database, a new hub process state (the embedded broker restarts too).
    server = HubServer(backend).start()
    client = connect_client(server.mqtt_url, f"{prefix}dev")
    publish_and_wait(client, f"care/v1/{prefix}kit-1/kit", first)  # a redelivery after restart
    publish_and_wait(client, f"care/v1/{prefix}kit-1/kit", kit(6))
    assert wait_for(lambda: server.hub.pipeline.metrics.accepted >= 1, timeout=10)
    assert wait_for(lambda: measurement_count(server) == 2, timeout=10)
    assert server.hub.pipeline.metrics.duplicates == 1
    close_client(client)
    server.stop()


def test_presses_that_arrive_after_a_later_press_are_each_stored_once(
    hub_server: HubServer, prefix: str
) -> None:
    """A reconnecting device client can deliver a press made during the reconnect ahead of the
    presses it held (paho 2.2 does): 1, 4, then 2 and 3. All four are calls; the redelivery of 3
    is not. The broker-kill fault test lost presses this way before the seq window."""
    client = connect_client(hub_server.mqtt_url, f"{prefix}dev")
    topic = f"care/v1/{prefix}btn-1/button"
    t0 = time.time()
    pressed = {q: orjson.dumps({"ts": t0 + q, "seq": q, "action": "call"}) for q in (1, 2, 3, 4)}
    for q in (1, 4, 3, 2, 3):
        publish_and_wait(client, topic, pressed[q])
    token = hub_server.token("nurse")

    def count() -> int:
        return sum(a["count"] for a in alerts(hub_server, token, type="call"))

    assert wait_for(lambda: count() == 4, timeout=10), count()
    assert wait_for(lambda: hub_server.hub.pipeline.metrics.duplicates == 1, timeout=10)
    assert count() == 4
    close_client(client)


class ReturningRadars:
    """Radars coming back after an outage: each reports once when asked, then every half second
    (a returning device goes on reporting; one that reported once would soon be silent again)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client, self.prefix = client, prefix
        self.seq: Counter[int] = Counter()
        self.back: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def report(self, *numbers: int) -> None:
        for n in numbers:
            self._window(n)
        self.back += numbers

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _window(self, n: int) -> None:
        self.seq[n] += 1
        frames = {"ts": time.time(), "seq": self.seq[n], "fps": 10, "frames": [{"targets": []}]}
        self.client.publish(f"care/v1/{self.prefix}radar-{n}/radar/frames", orjson.dumps(frames))

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for n in list(self.back):
                self._window(n)


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_many_devices_falling_silent_at_once_raise_one_facility_alert(
    backend: Backend, prefix: str
) -> None:
    """A broker, network or power outage silences every radar: one alert says so, not 25."""
    prepare_database(backend, demo_seed(prefix, residents=25))
    server = HubServer(backend).start()
    try:
        nurse = server.token("nurse")
        screen = WsReader(server, nurse)
        raised = screen.next_of("alert.raised", timeout=15)["data"]
        assert raised["type"] == "device_offline" and raised["device_id"] is None
        assert raised["detail"]["reason"] == "mass_silence" and raised["detail"]["devices"] == 25
        assert raised["severity"] == "high"
        client = connect_client(server.mqtt_url, f"{prefix}dev")
        radars = ReturningRadars(client, prefix)
        try:
            radars.report(*range(1, 21))  # 20 of the 25 back: 5 still silent is few enough
            assert screen.next_of("alert.updated", timeout=15)["data"]["state"] == "resolved"
            # Two stragglers report a moment after the facility alert resolved: they are back,
            # not broken, and get no alert of their own.
            radars.report(21, 22)
            # The ones still silent are broken on their own: one device_offline alert each.
            singles = {
                screen.next_of("alert.raised", timeout=15)["data"]["device_id"] for _ in range(3)
            }
            assert singles == {f"{prefix}radar-{n}" for n in (23, 24, 25)}
            offline = [a for a in alerts(server, nurse) if a["type"] == "device_offline"]
            assert len(offline) == 4 and sum(a["state"] == "resolved" for a in offline) == 1
        finally:
            radars.stop()
        close_client(client)
        screen.close()
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_a_mass_silence_alert_stays_while_many_devices_are_still_silent(
    backend: Backend, prefix: str
) -> None:
    """20 of 125 radars still silent is 16%, but 20 per-device alerts would be the wall of alerts
    the facility alert exists to prevent: it resolves only when fewer than 20 remain."""
    prepare_database(backend, demo_seed(prefix, residents=125))
    server = HubServer(backend).start()
    try:
        nurse = server.token("nurse")
        screen = WsReader(server, nurse)
        raised = screen.next_of("alert.raised", timeout=15)["data"]
        assert raised["detail"]["reason"] == "mass_silence" and raised["detail"]["devices"] == 125
        client = connect_client(server.mqtt_url, f"{prefix}dev")
        radars = ReturningRadars(client, prefix)
        try:
            radars.report(*range(1, 106))  # 105 back, 20 still silent
            assert wait_for(lambda: server.hub.pipeline.metrics.accepted >= 105, timeout=15)
            time.sleep(1.0)
            offline = [a for a in alerts(server, nurse) if a["type"] == "device_offline"]
            assert [a["state"] for a in offline] == ["open"]  # still the one facility alert
            radars.report(106)  # 19 left: now they are broken devices, each with its own alert
            assert screen.next_of("alert.updated", timeout=15)["data"]["state"] == "resolved"
            singles = {
                screen.next_of("alert.raised", timeout=15)["data"]["device_id"] for _ in range(19)
            }
            assert singles == {f"{prefix}radar-{n}" for n in range(107, 126)}
        finally:
            radars.stop()
        close_client(client)
        screen.close()
    finally:
        server.stop()
