"""Tests for simulators.fleet and simulators.residents: payloads per PROTOCOL.md, seq, retain, seeds."""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

import pytest

from simulators import residents
from simulators.fleet import Fleet, MqttPublisher, PerDeviceMqttPublisher, Publish

try:  # the hub's own decoder, when present, is the referee
    from devices import contract
except ImportError:  # pragma: no cover
    contract = None  # type: ignore[assignment]

T0 = 1_764_320_000.0
DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
KIT_FIELDS = {
    "blood_pressure": {"systolic", "diastolic", "pulse"},
    "glucose": {"mmol_l", "context"},
    "spo2": {"percent", "pulse"},
    "temperature": {"celsius"},
    "pulse": {"bpm"},
}
SEED_PASSWORDS = {"admin_password": "a-pw", "caregiver_password": "c-pw", "family_password": "f-pw"}


def run_steps(fleet: Fleet, seconds: int, dt: float = 1.0) -> list[Publish]:
    out: list[Publish] = []
    for k in range(int(seconds / dt) + 1):
        out.extend(fleet.step(T0 + k * dt))
    return out


def is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def check_payload(topic: str, payload: bytes) -> dict[str, Any]:
    """Check one message against PROTOCOL.md by hand; returns the decoded object."""
    assert len(payload) <= 64 * 1024
    parts = topic.split("/")
    assert parts[:2] == ["care", "v1"] and DEVICE_ID.match(parts[2])
    kind = "/".join(parts[3:])
    obj = json.loads(payload.decode("utf-8"))
    assert is_number(obj["ts"]) and obj["ts"] > 0
    assert isinstance(obj["seq"], int) and obj["seq"] >= 0
    if kind == "status":
        assert obj["state"] in ("online", "offline")
        if "battery" in obj:
            assert 0.0 <= obj["battery"] <= 1.0
        assert isinstance(obj.get("fw", ""), str) and is_number(obj.get("rssi", 0))
    elif kind == "button":
        assert obj["action"] in ("call", "cancel", "presence")
    elif kind == "kit":
        assert re.match(r"^R-\d{4}$", obj["resident"])
        assert set(obj["values"]) <= KIT_FIELDS[obj["kind"]]
        for name, v in obj["values"].items():
            assert isinstance(v, str) if name == "context" else is_number(v)
    elif kind == "radar/frames":
        assert obj["fps"] == 10 and len(obj["frames"]) == 10
        for frame in obj["frames"]:
            for target in frame["targets"]:
                assert set(target) == {"tid", "x", "y", "z", "vx", "vy", "vz"}
                assert isinstance(target["tid"], int)
                assert 0 <= target["x"] <= 4.0 and 0 <= target["y"] <= 5.0
                assert 0 <= target["z"] <= 1.3
    elif kind == "radar/vitals":
        assert obj["fs"] == 20.0 and isinstance(obj["tid"], int)
        samples = obj["displacement_mm"]
        assert len(samples) == 100 and all(is_number(s) for s in samples)
    else:
        pytest.fail(f"unexpected topic {topic}")
    if contract is not None:
        contract.decode(topic, payload)
    return obj


def test_step_payloads_follow_the_protocol() -> None:
    fleet = Fleet(12, kits=2, seed=3, start=T0, clock=lambda: 0.0)
    fleet.press_call(1, at=T0 + 10, cancel_after_s=20)
    fleet.press_call(2, at=T0 + 30, presence_after_s=60)
    msgs = run_steps(fleet, 600)
    kinds = defaultdict(int)
    for topic, payload, qos, retain in msgs:
        check_payload(topic, payload)
        kind = topic.split("/", 3)[3]
        kinds[kind] += 1
        assert qos == (1 if kind in ("status", "button", "kit") else 0)
        assert retain == (kind == "status")
    assert set(kinds) == {"status", "button", "kit", "radar/frames", "radar/vitals"}
    assert kinds["radar/frames"] == 12 * 600  # one window per radar per second
    # Every one of 26 devices reports at start, then once a minute.
    assert 26 * 10 <= kinds["status"] <= 26 * 11


def test_injected_call_then_cancel_and_presence() -> None:
    fleet = Fleet(2, seed=1, start=T0, clock=lambda: 0.0, behaviour=None)
    fleet.press_call(1, at=T0 + 10, cancel_after_s=20)
    fleet.press_call("R-0002", at=T0 + 5, presence_after_s=100)
    actions: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for topic, payload, _, _ in run_steps(fleet, 200):
        if topic.endswith("/button"):
            obj = json.loads(payload)
            actions[topic.split("/")[2]].append((obj["ts"], obj["action"]))
    assert [a for a in actions["btn-1"] if a[0] <= T0 + 30] == [
        (T0 + 10, "call"),
        (T0 + 30, "cancel"),
    ]
    assert [a for a in actions["btn-2"] if a[0] <= T0 + 105] == [
        (T0 + 5, "call"),
        (T0 + 105, "presence"),
    ]


def test_a_press_the_hub_did_not_confirm_is_sent_again_with_the_same_bytes() -> None:
    fleet = Fleet(2, seed=1, start=T0, clock=lambda: 0.0, behaviour=None)
    fleet.press_call(1, at=T0 + 10)
    fleet.press_call(2, at=T0 + 10)

    def presses(msgs: list[Publish]) -> list[tuple[str, bytes]]:
        return [(t.split("/")[2], p) for t, p, _, _ in msgs if t.endswith("/button")]

    first = presses([m for s in range(1, 12) for m in fleet.step(T0 + s)])
    assert sorted(d for d, _ in first) == ["btn-1", "btn-2"]
    # a hub that sends no receipts gets each press once
    assert presses([m for s in range(12, 60) for m in fleet.step(T0 + s)]) == []
    # this hub confirms btn-2's press only: btn-1's is sent again, the same bytes (same seq)
    seq2 = json.loads(dict(first)["btn-2"])["seq"]
    fleet.handle_command("btn-2", {"cmd": "received", "kind": "button", "seq": seq2, "ts": 0})
    again = presses([m for s in range(60, 62) for m in fleet.step(T0 + s)])
    assert again == [("btn-1", dict(first)["btn-1"])] and fleet.resent == 1
    seq1 = json.loads(dict(first)["btn-1"])["seq"]
    fleet.handle_command("btn-1", {"cmd": "received", "kind": "button", "seq": seq1, "ts": 0})
    assert presses([m for s in range(62, 400) for m in fleet.step(T0 + s)]) == []


def test_seq_increases_by_one_per_device_and_topic() -> None:
    fleet = Fleet(6, seed=5, start=T0, clock=lambda: 0.0)
    last: dict[str, int] = {}
    for topic, payload, _, _ in run_steps(fleet, 900, dt=0.7):
        seq = json.loads(payload)["seq"]
        assert seq == last.get(topic, -1) + 1, topic
        last[topic] = seq
    assert any(t.endswith("/kit") for t in last)


def test_messages_come_out_in_time_order_and_only_when_due() -> None:
    fleet = Fleet(4, seed=2, start=T0, clock=lambda: 0.0)
    for k in range(120):
        now = T0 + k * 0.5
        msgs = fleet.step(now)
        stamps = [json.loads(p)["ts"] for _, p, _, _ in msgs]
        assert stamps == sorted(stamps)
        for (topic, payload, _, _), ts in zip(msgs, stamps, strict=True):
            window = json.loads(payload)
            if topic.endswith("radar/frames"):
                ts += len(window["frames"]) / window["fps"]  # a window goes out once complete
            assert ts <= now + 1e-9


def test_heartbeats_are_retained_qos1_every_minute_with_battery_draining() -> None:
    fleet = Fleet(3, seed=9, start=T0, clock=lambda: 0.0)
    beats: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for topic, payload, qos, retain in run_steps(fleet, 3 * 3600, dt=10.0):
        if topic.endswith("/status"):
            assert qos == 1 and retain
            beats[topic.split("/")[2]].append(json.loads(payload))
    assert set(beats) == {
        "btn-1",
        "btn-2",
        "btn-3",
        "radar-1",
        "radar-2",
        "radar-3",
        "kit-1",
        "kit-2",
    }
    for device_id, seen in beats.items():
        assert seen[0]["ts"] == T0 and all(b["state"] == "online" for b in seen)
        gaps = [b["ts"] - a["ts"] for a, b in zip(seen[1:], seen[2:], strict=False)]
        assert all(g == pytest.approx(60.0) for g in gaps)
        if device_id.startswith("radar"):
            assert "battery" not in seen[0]  # mains powered
        else:
            assert seen[-1]["battery"] < seen[0]["battery"]


def test_seeded_fleet_is_reproducible_and_seeds_differ() -> None:
    def messages(seed: int) -> list[Publish]:
        fleet = Fleet(5, seed=seed, start=T0, clock=lambda: 0.0)
        fleet.inject_fall(2, at=T0 + 30)
        return run_steps(fleet, 300, dt=0.3)

    assert messages(11) == messages(11)
    assert messages(11) != messages(12)


def test_vitals_while_still_and_apnea_flattens_breathing() -> None:
    fleet = Fleet(8, seed=4, start=T0, clock=lambda: 0.0)
    still = next(r for r in fleet.residents if r.state == "bed")
    still.until = T0 + 10_000  # keep them in bed
    fleet.inject_apnea(still.spec.resident_id, at=T0 + 60, duration_s=20)
    windows = [
        json.loads(p)
        for t, p, _, _ in run_steps(fleet, 120)
        if t == f"care/v1/{still.radar.id}/radar/vitals"
    ]
    assert len(windows) == 120 // 5  # every 5 s window, once complete
    spread = {w["ts"]: max(w["displacement_mm"]) - min(w["displacement_mm"]) for w in windows}
    assert spread[T0] > 4.0  # breathing, 3-6 mm amplitude
    assert spread[T0 + 65] < 1.5  # inside the apnea: heartbeat and noise only


def test_injected_fall_drops_height_fast() -> None:
    fleet = Fleet(3, seed=8, start=T0, clock=lambda: 0.0)
    fleet.inject_fall(3, at=T0 + 20, lie_s=300)
    heights = []
    for topic, payload, _, _ in run_steps(fleet, 40):
        if topic == "care/v1/radar-3/radar/frames":
            obj = json.loads(payload)
            for i, frame in enumerate(obj["frames"]):
                for target in frame["targets"]:
                    heights.append((obj["ts"] + i / obj["fps"], target["z"]))
    falling = [z for t, z in heights if T0 + 20 <= t < T0 + 20.2]
    after = [z for t, z in heights if t >= T0 + 21.2]
    assert max(falling) > 0.8  # up (or getting up) when they fall
    assert max(after) < 0.35  # on the floor within about 1 s


def test_frames_source_hook_replaces_frames() -> None:
    calls = []

    def source(radar_id: str, ts: float, n: int, fps: float) -> list[dict[str, Any]]:
        calls.append((radar_id, ts))
        return [
            {"targets": [{"tid": 1, "x": 1.0, "y": 1.0, "z": 1.0, "vx": 0, "vy": 0, "vz": 0}]}
        ] * n

    fleet = Fleet(2, seed=1, start=T0, clock=lambda: 0.0, frames_source=source)
    frames = [json.loads(p) for t, p, _, _ in fleet.step(T0 + 3) if t.endswith("/frames")]
    assert len(frames) == 6 and calls[:3] == [
        ("radar-1", T0),
        ("radar-1", T0 + 1),
        ("radar-1", T0 + 2),
    ]
    assert all(f["frames"][0]["targets"][0]["x"] == 1.0 for f in frames)


def test_clock_and_speed_scale_simulated_time() -> None:
    wall = [100.0]
    fleet = Fleet(1, seed=0, clock=lambda: wall[0], speed=10.0, start=T0)
    wall[0] = 103.0
    assert fleet.sim_time() == T0 + 30.0
    published: list[str] = []
    wall[0] = 100.0

    def sleep(s: float) -> None:
        wall[0] += s

    stats = fleet.run(3.0, rate=5.0, publish=lambda t, p, q, r: published.append(t), sleep=sleep)
    assert stats["radar/frames"] == pytest.approx(30, abs=2)  # 30 simulated seconds
    assert stats["messages"] == len(published)


def test_seed_dict_matches_fleet_devices() -> None:
    seed = residents.build_seed(23, device_prefix="x-", seed=7, **SEED_PASSWORDS)
    assert seed == residents.build_seed(23, device_prefix="x-", seed=7, **SEED_PASSWORDS)
    json.dumps(seed)  # JSON-serialisable
    (facility,) = seed["facilities"]
    assert facility["name"] == "Sunrise Care Complex" and len(facility["floors"]) == 3
    assert [r["id"] for r in seed["residents"]][:2] == ["R-0001", "R-0002"]
    assert len({r["name"] for r in seed["residents"]}) == 23
    assert {z["name"] for z in seed["rooms"][0]["zones"]} == {"bed", "bathroom", "chair", "door"}
    roles = {u["role"]: u for u in seed["users"]}
    assert roles["family"]["resident_ids"] == ["R-0001"] and roles["admin"]["password"] == "a-pw"
    assert sum(d["type"] == "kit" for d in seed["devices"]) == 2

    fleet = Fleet.from_seed(seed, seed=1, start=T0, clock=lambda: 0.0)
    seeded = {d["id"] for d in seed["devices"]}
    assert set(fleet.devices) == seeded
    assert set(fleet.devices) == set(Fleet(23, prefix="x-", clock=lambda: 0.0).devices)
    published = {t.split("/")[2] for t, _, _, _ in fleet.step(T0)}
    assert published == seeded


def test_seed_cli_takes_passwords_from_options(tmp_path: Any) -> None:
    out = tmp_path / "seed.json"
    argv = ["--residents", "3", "--out", str(out)]
    argv += ["--admin-password", "a", "--caregiver-password", "c", "--family-password", "f"]
    assert residents.main(argv) == 0
    assert len(json.loads(out.read_text())["residents"]) == 3


BROKER = (os.environ.get("CARE_HUB_TEST_MQTT_HOST", "127.0.0.1"), 1883)


def _subscribe(prefix: str, received: list[tuple[str, bytes, bool]]) -> Any:
    from paho.mqtt import client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    sub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"{prefix}sub")
    ready = threading.Event()
    lock = threading.Lock()

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        if msg.topic.startswith(f"care/v1/{prefix}"):  # the broker is shared with others
            with lock:
                received.append((msg.topic, msg.payload, bool(msg.retain)))

    sub.on_message = on_message
    sub.on_subscribe = lambda *a: ready.set()
    sub.on_connect = lambda c, *a: c.subscribe("care/v1/+/#", qos=1)
    try:
        sub.connect(*BROKER)
    except OSError as exc:
        pytest.skip(f"no MQTT broker at {BROKER}: {exc}")
    sub.loop_start()
    assert ready.wait(5.0)
    return sub


def _clear_retained(prefix: str, device_ids: list[str]) -> None:
    cleaner = MqttPublisher(*BROKER, client_id_prefix=f"{prefix}clean").connect()
    for d in device_ids:
        cleaner.publish(f"care/v1/{d}/status", b"", 1, True)
    cleaner.close()


@pytest.mark.mosquitto
@pytest.mark.parametrize("per_device", [False, True])
def test_small_fleet_publishes_to_real_mosquitto(per_device: bool) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    received: list[tuple[str, bytes, bool]] = []
    sub = _subscribe(prefix, received)
    fleet = Fleet(3, kits=1, prefix=prefix, seed=2, speed=20.0, behaviour=None)
    fleet.press_call(1, at=fleet.start + 5, cancel_after_s=5)
    devices = list(fleet.devices)
    publisher: MqttPublisher
    if per_device:
        publisher = PerDeviceMqttPublisher(*BROKER, device_ids=devices, client_id_prefix=prefix)
    else:
        publisher = MqttPublisher(*BROKER, connections=2, client_id_prefix=prefix)
    try:
        publisher.connect()
        stats = fleet.run(1.5, rate=20.0, publish=publisher.publish)
    finally:
        publisher.close()
    try:
        deadline = time.monotonic() + 5.0
        while len(received) < stats["messages"] and time.monotonic() < deadline:
            time.sleep(0.05)
        topics = {t for t, _, _ in received}
        for n in (1, 2, 3):
            assert f"care/v1/{prefix}btn-{n}/status" in topics
            assert f"care/v1/{prefix}radar-{n}/radar/frames" in topics
        assert f"care/v1/{prefix}kit-1/status" in topics
        assert f"care/v1/{prefix}btn-1/button" in topics
        assert len(received) == stats["messages"]
        for t, payload, _ in received:
            check_payload(t, payload)
    finally:
        sub.disconnect()
        sub.loop_stop()
        _clear_retained(prefix, devices)
