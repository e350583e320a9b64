"""Tests for devices.contract: the PROTOCOL.md examples, every rejection rule and its reason, fuzzing."""

from __future__ import annotations

import copy
import json
import math
import random
from typing import Any

import numpy as np
import pytest

from devices.contract import (
    MAX_FRAMES_PER_WINDOW,
    MAX_PAYLOAD_BYTES,
    MAX_TARGETS_PER_FRAME,
    MAX_VITALS_SAMPLES,
    REASONS,
    SUBSCRIPTION_FILTERS,
    ContractError,
    cmd_topic,
    decode,
    decode_object,
    encode,
    excerpt,
    is_valid_device_id,
    parse_topic,
    topic_for,
)
from devices.events import (
    TOPIC_KINDS,
    ButtonEvent,
    KitEvent,
    RadarFramesEvent,
    RadarVitalsEvent,
    StatusEvent,
)

STATUS = "care/v1/dev-1/status"
FRAMES = "care/v1/dev-1/radar/frames"
VITALS = "care/v1/dev-1/radar/vitals"
BUTTON = "care/v1/dev-1/button"
KIT = "care/v1/dev-1/kit"

# The examples of PROTOCOL.md, verbatim (vitals with real numbers in place of "...").
EXAMPLES: dict[str, dict[str, Any]] = {
    STATUS: {
        "ts": 1764320000.0,
        "seq": 7,
        "state": "online",
        "battery": 0.83,
        "fw": "1.4.2",
        "rssi": -61,
    },
    FRAMES: {
        "ts": 1764320001.0,
        "seq": 1201,
        "fps": 10,
        "frames": [
            {
                "targets": [
                    {"tid": 3, "x": 1.21, "y": 2.40, "z": 0.98, "vx": 0.02, "vy": -0.31, "vz": 0.00}
                ]
            },
            {"targets": []},
        ],
    },
    VITALS: {
        "ts": 1764320005.0,
        "seq": 88,
        "tid": 3,
        "fs": 20.0,
        "displacement_mm": [0.12, 0.31, 0.55],
    },
    BUTTON: {"ts": 1764320100.0, "seq": 12, "action": "call"},
    KIT: {
        "ts": 1764320200.0,
        "seq": 5,
        "resident": "R-0042",
        "kind": "blood_pressure",
        "values": {"systolic": 182, "diastolic": 95, "pulse": 88},
    },
}


def payload(topic: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of the topic's example with top-level ``changes``; a value of ``...`` deletes."""
    obj = copy.deepcopy(EXAMPLES[topic])
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def kit(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    return payload(KIT, kind=kind, values=values)


def frames_with(*targets: dict[str, Any]) -> dict[str, Any]:
    return payload(FRAMES, frames=[{"targets": list(targets)}])


def target(**fields: Any) -> dict[str, Any]:
    return {"tid": 1, "x": 1.0, "y": 2.0, "z": 1.0} | fields


def rejects(topic: str, obj: Any, reason: str) -> ContractError:
    with pytest.raises(ContractError) as info:
        decode(topic, encode(obj) if not isinstance(obj, bytes) else obj)
    assert info.value.reason == reason, str(info.value)
    return info.value


# --- PROTOCOL examples -----------------------------------------------------------------------------


def test_status_example_decodes() -> None:
    event = decode(STATUS, encode(EXAMPLES[STATUS]))
    assert isinstance(event, StatusEvent)
    assert (event.env.device_id, event.env.kind, event.env.ts, event.env.seq) == (
        "dev-1",
        "status",
        1764320000.0,
        7,
    )
    assert (event.state, event.battery, event.fw, event.rssi) == ("online", 0.83, "1.4.2", -61.0)


def test_last_will_decodes_without_ts_and_seq_is_rejected() -> None:
    # PROTOCOL's Last Will is {"state":"offline"}; ts and seq are required on every payload, so a
    # device must put them in its will. A bare will is missing_field, and the ingest layer still
    # learns the device id and kind from the error.
    error = rejects(STATUS, {"state": "offline"}, "missing_field")
    assert (error.device_id, error.kind, error.field) == ("dev-1", "status", "ts")
    event = decode(STATUS, encode({"ts": 1.0, "seq": 0, "state": "offline"}))
    assert isinstance(event, StatusEvent)
    assert (event.state, event.battery, event.fw, event.rssi) == ("offline", None, None, None)


def test_frames_example_decodes_to_flat_columns() -> None:
    event = decode(FRAMES, encode(EXAMPLES[FRAMES]))
    assert isinstance(event, RadarFramesEvent)
    assert (event.fps, event.n_frames, event.dropped_targets) == (10.0, 2, 0)
    assert event.frame_index.dtype == np.int32 and event.frame_index.tolist() == [0]
    assert event.tid.dtype == np.int64 and event.tid.tolist() == [3]
    assert event.x_m.dtype == np.float64
    assert (event.x_m[0], event.y_m[0], event.z_m[0]) == (1.21, 2.40, 0.98)
    assert (event.vx_mps[0], event.vy_mps[0], event.vz_mps[0]) == (0.02, -0.31, 0.0)


def test_vitals_example_decodes() -> None:
    event = decode(VITALS, encode(EXAMPLES[VITALS]))
    assert isinstance(event, RadarVitalsEvent)
    assert (event.tid, event.fs_hz) == (3, 20.0)
    assert event.displacement_mm.dtype == np.float64
    assert event.displacement_mm.tolist() == [0.12, 0.31, 0.55]


def test_button_example_decodes() -> None:
    event = decode(BUTTON, encode(EXAMPLES[BUTTON]))
    assert isinstance(event, ButtonEvent) and event.action == "call"


def test_kit_example_decodes() -> None:
    event = decode(KIT, encode(EXAMPLES[KIT]))
    assert isinstance(event, KitEvent)
    assert (event.resident, event.kit_kind, event.context) == ("R-0042", "blood_pressure", None)
    assert event.values == {"systolic": 182.0, "diastolic": 95.0, "pulse": 88.0}


@pytest.mark.parametrize(
    ("kind", "values", "expected"),
    [
        ("glucose", {"mmol_l": 5.4, "context": "fasting"}, {"mmol_l": 5.4}),
        ("glucose", {"mmol_l": 3}, {"mmol_l": 3.0}),
        ("spo2", {"percent": 94, "pulse": 72}, {"percent": 94.0, "pulse": 72.0}),
        ("spo2", {"percent": 100}, {"percent": 100.0}),
        ("temperature", {"celsius": 36.8}, {"celsius": 36.8}),
        ("pulse", {"bpm": 64}, {"bpm": 64.0}),
        (
            "blood_pressure",
            {"systolic": 120, "diastolic": 80},
            {"systolic": 120.0, "diastolic": 80.0},
        ),
    ],
)
def test_every_kit_kind_decodes(
    kind: str, values: dict[str, Any], expected: dict[str, float]
) -> None:
    event = decode(KIT, encode(kit(kind, values)))
    assert isinstance(event, KitEvent)
    assert event.kit_kind == kind and event.values == expected
    assert event.context == values.get("context")


def test_extra_fields_are_ignored_everywhere() -> None:
    status = payload(STATUS, uptime_s=120, extra={"nested": [1, 2]})
    assert isinstance(decode(STATUS, encode(status)), StatusEvent)
    frames = payload(FRAMES, model="IWR6843")
    frames["frames"][0]["snr"] = 12.5
    frames["frames"][0]["targets"][0] |= {"ax": 0.1, "covariance": [1, 2, 3], "label": "person"}
    event = decode(FRAMES, encode(frames))
    assert isinstance(event, RadarFramesEvent) and event.tid.tolist() == [3]
    kit_payload = kit("spo2", {"percent": 97, "perfusion_index": 4.1})
    event_kit = decode(KIT, encode(kit_payload | {"device_serial": "X"}))
    assert isinstance(event_kit, KitEvent) and event_kit.values == {"percent": 97.0}


def test_null_optional_fields_count_as_absent() -> None:
    event = decode(STATUS, encode(payload(STATUS, battery=None, fw=None, rssi=None)))
    assert isinstance(event, StatusEvent) and event.battery is None and event.rssi is None
    event_kit = decode(KIT, encode(kit("glucose", {"mmol_l": 5.0, "context": None})))
    assert isinstance(event_kit, KitEvent) and event_kit.context is None


def test_bytearray_and_memoryview_payloads_accepted() -> None:
    raw = encode(EXAMPLES[BUTTON])
    assert isinstance(decode(BUTTON, bytearray(raw)), ButtonEvent)
    assert isinstance(decode(BUTTON, memoryview(raw)), ButtonEvent)  # type: ignore[arg-type]


def test_str_payload_rejected_as_bad_type() -> None:
    rejects(BUTTON, b"", "not_json")
    with pytest.raises(ContractError) as info:
        decode(BUTTON, '{"ts": 1, "seq": 1, "action": "call"}')  # type: ignore[arg-type]
    assert info.value.reason == "bad_type"


# --- Topics ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TOPIC_KINDS)
def test_topic_for_and_parse_topic_round_trip(kind: str) -> None:
    topic = topic_for("Radar_07-b", kind)  # type: ignore[arg-type]
    assert topic == f"care/v1/Radar_07-b/{kind}"
    assert parse_topic(topic) == ("Radar_07-b", kind)


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "care/v1/",
        "care/v1/dev-1",
        "care/v1/dev-1/",
        "care/v2/dev-1/status",
        "care/v1//status",
        "/care/v1/dev-1/status",
        "care/v1/dev 1/status",
        "care/v1/dév/status",
        "care/v1/+/status",
        "care/v1/#",
        "care/v1/dev-1/status/extra",
        "care/v1/dev-1/radar",
        "care/v1/dev-1/Status",
        "care/v1/" + "a" * 65 + "/status",
        "care/v1/dev-1\n/status",
        "care/v1/dev-1/status\x00",
    ],
)
def test_bad_topics_rejected(topic: str) -> None:
    with pytest.raises(ContractError) as info:
        parse_topic(topic)
    assert info.value.reason == "bad_topic"


def test_longest_device_id_accepted() -> None:
    assert parse_topic("care/v1/" + "a" * 64 + "/kit") == ("a" * 64, "kit")


def test_cmd_topic_is_not_a_device_topic() -> None:
    assert cmd_topic("btn-4") == "care/v1/btn-4/cmd"
    with pytest.raises(ContractError) as info:
        parse_topic(cmd_topic("btn-4"))
    assert info.value.reason == "not_device_topic"
    rejects("care/v1/btn-4/cmd", {"cmd": "call_acknowledged", "alert_id": "a1"}, "not_device_topic")


def test_topic_builders_refuse_bad_ids() -> None:
    assert (
        not is_valid_device_id("a/b") and not is_valid_device_id("") and is_valid_device_id("a_1")
    )
    for build in (
        lambda: cmd_topic("a/b"),
        lambda: topic_for("", "kit"),
        lambda: topic_for("a", "x"),
    ):  # type: ignore[arg-type]
        with pytest.raises(ContractError):
            build()


def test_non_string_topic_rejected() -> None:
    with pytest.raises(ContractError) as info:
        decode(b"care/v1/dev-1/button", encode(EXAMPLES[BUTTON]))  # type: ignore[arg-type]
    assert info.value.reason == "bad_topic"


def test_subscription_filters_cover_every_kind_and_not_cmd() -> None:
    filters = dict(SUBSCRIPTION_FILTERS)
    assert set(filters) == {f"care/v1/+/{kind}" for kind in TOPIC_KINDS}
    assert filters["care/v1/+/button"] == 1 and filters["care/v1/+/radar/frames"] == 0


# --- Envelope and parsing --------------------------------------------------------------------------


def test_payload_size_checked_first() -> None:
    big = b" " * (MAX_PAYLOAD_BYTES + 1)  # not even JSON: size is checked before parsing
    error = rejects(BUTTON, big, "too_large")
    assert error.device_id == "dev-1" and error.kind == "button"
    rejects("not/a/topic", big, "too_large")  # before the topic too


def test_payload_at_limit_is_parsed() -> None:
    raw = encode(EXAMPLES[BUTTON])
    padded = raw[:-1] + b" " * (MAX_PAYLOAD_BYTES - len(raw)) + b"}"
    assert len(padded) == MAX_PAYLOAD_BYTES
    assert isinstance(decode(BUTTON, padded), ButtonEvent)


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"not json", b"\xff\xfe", b'{"ts": NaN}', b"[" * 2000, b'{"ts": 1e400, "seq": 1}'],
)
def test_not_json(raw: bytes) -> None:
    rejects(BUTTON, raw, "not_json")


@pytest.mark.parametrize("raw", [b"[]", b"1", b'"x"', b"null", b"true"])
def test_not_object(raw: bytes) -> None:
    rejects(BUTTON, raw, "not_object")


@pytest.mark.parametrize("field", ["ts", "seq"])
def test_envelope_fields_required(field: str) -> None:
    error = rejects(BUTTON, payload(BUTTON, **{field: ...}), "missing_field")
    assert error.field == field and str(error) == f"button.{field}: required"


@pytest.mark.parametrize("ts", [True, "1764320000", [1.0], None])
def test_ts_type(ts: Any) -> None:
    rejects(BUTTON, payload(BUTTON, ts=ts), "missing_field" if ts is None else "bad_type")


@pytest.mark.parametrize("ts", [0, 0.0, -1.0, 5e9, 1e30, 10**30])
def test_ts_range(ts: float) -> None:
    rejects(BUTTON, json.dumps(payload(BUTTON, ts=ts)).encode(), "out_of_range")


def test_ts_integer_accepted() -> None:
    event = decode(BUTTON, encode(payload(BUTTON, ts=1764320100)))
    assert event.env.ts == 1764320100.0 and isinstance(event.env.ts, float)


@pytest.mark.parametrize(
    ("seq", "reason"),
    [
        (-1, "out_of_range"),
        (2**63, "out_of_range"),
        (1.0, "bad_type"),
        (True, "bad_type"),
        ("1", "bad_type"),
    ],
)
def test_seq(seq: Any, reason: str) -> None:
    rejects(BUTTON, payload(BUTTON, seq=seq), reason)


def test_seq_zero_and_max_accepted() -> None:
    assert decode(BUTTON, encode(payload(BUTTON, seq=0))).env.seq == 0
    assert decode(BUTTON, encode(payload(BUTTON, seq=2**63 - 1))).env.seq == 2**63 - 1


def test_not_finite_via_decode_object() -> None:
    # orjson refuses NaN/Infinity at parse (not_json); decode_object callers can still pass them.
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ContractError) as info:
            decode_object(BUTTON, payload(BUTTON, ts=bad))
        assert info.value.reason == "not_finite"


# --- status ----------------------------------------------------------------------------------------


def test_status_state_required() -> None:
    rejects(STATUS, payload(STATUS, state=...), "missing_field")


def test_status_unknown_state() -> None:
    error = rejects(STATUS, payload(STATUS, state="sleeping"), "unknown_state")
    assert error.field == "state"


@pytest.mark.parametrize(
    ("battery", "reason"),
    [
        (-0.01, "out_of_range"),
        (1.01, "out_of_range"),
        (83, "out_of_range"),
        ("0.8", "bad_type"),
        (True, "bad_type"),
    ],
)
def test_status_battery(battery: Any, reason: str) -> None:
    rejects(STATUS, payload(STATUS, battery=battery), reason)


def test_status_battery_bounds_inclusive() -> None:
    for battery in (0, 1, 0.0, 1.0):
        event = decode(STATUS, encode(payload(STATUS, battery=battery)))
        assert isinstance(event, StatusEvent) and event.battery == float(battery)


@pytest.mark.parametrize(
    ("fw", "reason"),
    [(142, "bad_type"), ("", "bad_length"), ("x" * 65, "bad_length"), ("1.4\n2", "bad_value")],
)
def test_status_fw(fw: Any, reason: str) -> None:
    rejects(STATUS, payload(STATUS, fw=fw), reason)


@pytest.mark.parametrize(
    ("rssi", "reason"), [("-61", "bad_type"), (-151, "out_of_range"), (31, "out_of_range")]
)
def test_status_rssi(rssi: Any, reason: str) -> None:
    rejects(STATUS, payload(STATUS, rssi=rssi), reason)


# --- button ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["call", "cancel", "presence"])
def test_button_actions(action: str) -> None:
    event = decode(BUTTON, encode(payload(BUTTON, action=action)))
    assert isinstance(event, ButtonEvent) and event.action == action


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        ("CALL", "unknown_action"),
        ("help", "unknown_action"),
        (1, "bad_type"),
        (..., "missing_field"),
    ],
)
def test_button_bad_action(action: Any, reason: str) -> None:
    rejects(BUTTON, payload(BUTTON, action=action), reason)


# --- radar/frames ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fps", "reason"),
    [
        (0, "out_of_range"),
        (-10, "out_of_range"),
        (100.5, "out_of_range"),
        ("10", "bad_type"),
        (..., "missing_field"),
    ],
)
def test_frames_fps(fps: Any, reason: str) -> None:
    rejects(FRAMES, payload(FRAMES, fps=fps), reason)


def test_frames_fps_limits_accepted() -> None:
    assert decode(FRAMES, encode(payload(FRAMES, fps=100))).fps == 100.0  # type: ignore[union-attr]
    assert decode(FRAMES, encode(payload(FRAMES, fps=0.5))).fps == 0.5  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        (..., "missing_field"),
        ({"targets": []}, "bad_type"),
        ([], "bad_length"),
        ([{"targets": []}] * (MAX_FRAMES_PER_WINDOW + 1), "bad_length"),
        ([{"targets": []}, 3], "bad_type"),
        ([{"targets": []}, {}], "missing_field"),
        ([{"targets": None}], "missing_field"),
        ([{"targets": {}}], "bad_type"),
        ([{"targets": "abc"}], "bad_type"),
        ([{"targets": [target()] * (MAX_TARGETS_PER_FRAME + 1)}], "bad_length"),
    ],
)
def test_frames_wrong_shape_rejects_message(frames: Any, reason: str) -> None:
    rejects(FRAMES, payload(FRAMES, frames=frames), reason)


@pytest.mark.parametrize(
    ("bad", "reason", "field"),
    [
        ([1, 2, 3], "bad_type", "frames[0].targets[1]"),
        (target(tid=...), "missing_field", "frames[0].targets[1].tid"),
        (target(z=None), "missing_field", "frames[0].targets[1].z"),
        (target(tid=1.0), "bad_type", "frames[0].targets[1].tid"),
        (target(tid=True), "bad_type", "frames[0].targets[1].tid"),
        (target(x="1.0"), "bad_type", "frames[0].targets[1].x"),
        (target(y=False), "bad_type", "frames[0].targets[1].y"),
        (target(vy="0"), "bad_type", "frames[0].targets[1].vy"),
        (target(vz=[0]), "bad_type", "frames[0].targets[1].vz"),
    ],
)
def test_frames_malformed_target_rejects_message(bad: Any, reason: str, field: str) -> None:
    if isinstance(bad, dict):
        bad = {k: v for k, v in bad.items() if v is not ...}
    error = rejects(FRAMES, frames_with(target(), bad), reason)
    assert error.field == field


@pytest.mark.parametrize(
    "bad",
    [
        target(x=50.01),
        target(x=-60),
        target(y=1e6),
        target(z=-1.5),
        target(z=5.2),
        target(tid=-1),
        target(tid=2**31),
        target(tid=2**64 - 1),
        target(vx=25.0),
        target(vz=-21),
    ],
)
def test_frames_impossible_target_dropped_and_counted(bad: dict[str, Any]) -> None:
    good_a, good_b = target(tid=1, x=0.5), target(tid=2, x=-0.5, vx=0.3, vy=0.0, vz=-0.1)
    obj = payload(
        FRAMES, frames=[{"targets": [good_a, bad]}, {"targets": []}, {"targets": [good_b]}]
    )
    event = decode(FRAMES, encode(obj))
    assert isinstance(event, RadarFramesEvent)
    assert event.dropped_targets == 1 and event.n_frames == 3
    assert event.tid.tolist() == [1, 2] and event.frame_index.tolist() == [0, 2]
    assert event.x_m.tolist() == [0.5, -0.5]
    assert np.isnan(event.vx_mps[0]) and event.vx_mps[1] == 0.3


def test_frames_bounds_are_inclusive() -> None:
    edge = target(tid=2**31 - 1, x=-50, y=50, z=5, vx=20, vy=-20, vz=0)
    event = decode(FRAMES, encode(frames_with(edge, target(z=-1))))
    assert isinstance(event, RadarFramesEvent) and event.dropped_targets == 0
    assert event.tid.tolist() == [2**31 - 1, 1]


def test_frames_all_targets_dropped_keeps_window() -> None:
    event = decode(FRAMES, encode(frames_with(target(z=9), target(x=-99))))
    assert isinstance(event, RadarFramesEvent)
    assert (event.n_frames, event.dropped_targets, event.tid.size) == (1, 2, 0)


def test_frames_missing_velocity_is_nan() -> None:
    obj = frames_with(target(tid=5), target(tid=6, vx=0.1, vy=None, vz=0.2))
    event = decode(FRAMES, encode(obj))
    assert isinstance(event, RadarFramesEvent)
    assert np.isnan(event.vx_mps[0]) and np.isnan(event.vy_mps[0]) and np.isnan(event.vz_mps[0])
    assert event.vx_mps[1] == 0.1 and np.isnan(event.vy_mps[1]) and event.vz_mps[1] == 0.2


def test_frames_empty_room_window() -> None:
    event = decode(FRAMES, encode(payload(FRAMES, frames=[{"targets": []}] * 10)))
    assert isinstance(event, RadarFramesEvent)
    assert event.n_frames == 10 and event.tid.size == 0 and event.frame_index.dtype == np.int32
    for column in (event.x_m, event.y_m, event.z_m, event.vx_mps, event.vy_mps, event.vz_mps):
        assert column.dtype == np.float64 and column.size == 0


def test_frames_many_targets_flatten_in_order() -> None:
    rng = random.Random(3)
    frames = []
    expected = []
    for i in range(20):
        targets = []
        for _ in range(rng.randrange(0, 4)):
            t = target(
                tid=rng.randrange(0, 9),
                x=round(rng.uniform(-5, 5), 3),
                z=round(rng.uniform(0, 2), 3),
            )
            targets.append(t)
            expected.append((i, t["tid"], t["x"], t["z"]))
        frames.append({"targets": targets})
    event = decode(FRAMES, encode(payload(FRAMES, fps=20, frames=frames)))
    assert isinstance(event, RadarFramesEvent) and event.n_frames == 20
    got = list(
        zip(
            event.frame_index.tolist(),
            event.tid.tolist(),
            event.x_m.tolist(),
            event.z_m.tolist(),
            strict=True,
        )
    )
    assert got == expected


def test_frames_nan_position_via_decode_object_dropped() -> None:
    event = decode_object(
        FRAMES, frames_with(target(tid=1), target(tid=2, x=math.nan), target(tid=3, vx=math.inf))
    )
    assert isinstance(event, RadarFramesEvent)
    assert event.tid.tolist() == [1] and event.dropped_targets == 2


def test_frames_columns_are_independent_of_payload() -> None:
    obj = frames_with(target(tid=1), target(tid=2))
    event = decode_object(FRAMES, obj)
    obj["frames"][0]["targets"][0]["x"] = 9.9
    assert isinstance(event, RadarFramesEvent) and event.x_m.tolist() == [1.0, 1.0]


# --- radar/vitals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tid", "reason"),
    [(-1, "out_of_range"), (1.5, "bad_type"), (False, "bad_type"), (..., "missing_field")],
)
def test_vitals_tid(tid: Any, reason: str) -> None:
    rejects(VITALS, payload(VITALS, tid=tid), reason)


@pytest.mark.parametrize(
    ("fs", "reason"),
    [(0.5, "out_of_range"), (1001, "out_of_range"), ("20", "bad_type"), (..., "missing_field")],
)
def test_vitals_fs(fs: Any, reason: str) -> None:
    rejects(VITALS, payload(VITALS, fs=fs), reason)


@pytest.mark.parametrize(
    ("samples", "reason", "field"),
    [
        ([], "bad_length", "displacement_mm"),
        ([0.1] * (MAX_VITALS_SAMPLES + 1), "bad_length", "displacement_mm"),
        ("0.1,0.2", "bad_type", "displacement_mm"),
        ([0.1, "0.2"], "bad_type", "displacement_mm[1]"),
        ([0.1, None], "bad_type", "displacement_mm[1]"),
        ([0.1, 0.2, True], "bad_type", "displacement_mm[2]"),
        ([0.1, 10_000.5], "out_of_range", "displacement_mm[1]"),
        ([-20_000, 0.1], "out_of_range", "displacement_mm[0]"),
    ],
)
def test_vitals_samples(samples: Any, reason: str, field: str) -> None:
    error = rejects(VITALS, payload(VITALS, displacement_mm=samples), reason)
    assert error.field == field


def test_vitals_full_window_and_ints() -> None:
    samples = [i % 7 for i in range(MAX_VITALS_SAMPLES)]
    event = decode(VITALS, encode(payload(VITALS, displacement_mm=samples)))
    assert isinstance(event, RadarVitalsEvent) and event.displacement_mm.tolist() == samples


def test_vitals_not_finite_via_decode_object() -> None:
    with pytest.raises(ContractError) as info:
        decode_object(VITALS, payload(VITALS, displacement_mm=[0.1, math.nan]))
    assert info.value.reason == "not_finite" and info.value.field == "displacement_mm[1]"


# --- kit -------------------------------------------------------------------------------------------


def test_kit_message_names_the_field() -> None:
    error = rejects(KIT, kit("spo2", {"percent": 104}), "out_of_range")
    assert str(error) == "kit.values.percent: 104 above 100"
    assert (error.field, error.device_id, error.kind) == ("values.percent", "dev-1", "kit")


@pytest.mark.parametrize(
    ("resident", "reason"),
    [
        (..., "missing_field"),
        (42, "bad_type"),
        ("", "bad_length"),
        ("R" * 65, "bad_length"),
        ("   ", "bad_value"),
        ("R-1\x1b", "bad_value"),
    ],
)
def test_kit_resident(resident: Any, reason: str) -> None:
    rejects(KIT, payload(KIT, resident=resident), reason)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("bp", "unknown_kit_kind"),
        ("weight", "unknown_kit_kind"),
        (3, "bad_type"),
        (..., "missing_field"),
    ],
)
def test_kit_kind(kind: Any, reason: str) -> None:
    rejects(KIT, payload(KIT, kind=kind), reason)


@pytest.mark.parametrize("values", [[182, 95], "182/95", 182])
def test_kit_values_must_be_object(values: Any) -> None:
    rejects(KIT, payload(KIT, values=values), "bad_type")


def test_kit_values_required() -> None:
    rejects(KIT, payload(KIT, values=...), "missing_field")


@pytest.mark.parametrize(
    ("kind", "values", "field"),
    [
        ("blood_pressure", {"diastolic": 80}, "values.systolic"),
        ("blood_pressure", {"systolic": 120}, "values.diastolic"),
        ("glucose", {"context": "fasting"}, "values.mmol_l"),
        ("spo2", {"pulse": 70}, "values.percent"),
        ("temperature", {"fahrenheit": 98.6}, "values.celsius"),
        ("pulse", {"pulse": 60}, "values.bpm"),
    ],
)
def test_kit_required_values(kind: str, values: dict[str, Any], field: str) -> None:
    assert rejects(KIT, kit(kind, values), "missing_field").field == field


@pytest.mark.parametrize(
    ("kind", "values", "field"),
    [
        ("spo2", {"percent": 100.1}, "values.percent"),
        ("spo2", {"percent": 49}, "values.percent"),
        ("spo2", {"percent": 97, "pulse": 19}, "values.pulse"),
        ("blood_pressure", {"systolic": 301, "diastolic": 95}, "values.systolic"),
        ("blood_pressure", {"systolic": 39, "diastolic": 30}, "values.systolic"),
        ("blood_pressure", {"systolic": 120, "diastolic": 19}, "values.diastolic"),
        ("blood_pressure", {"systolic": 120, "diastolic": 80, "pulse": 301}, "values.pulse"),
        ("temperature", {"celsius": 24.9}, "values.celsius"),
        ("temperature", {"celsius": 98.6}, "values.celsius"),  # Fahrenheit sent as Celsius
        ("pulse", {"bpm": 19}, "values.bpm"),
        ("pulse", {"bpm": 301}, "values.bpm"),
        ("glucose", {"mmol_l": 0.4}, "values.mmol_l"),
        ("glucose", {"mmol_l": 110}, "values.mmol_l"),  # mg/dL sent as mmol/L
    ],
)
def test_kit_impossible_values(kind: str, values: dict[str, Any], field: str) -> None:
    assert rejects(KIT, kit(kind, values), "out_of_range").field == field


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("spo2", {"percent": 50}),
        ("blood_pressure", {"systolic": 300, "diastolic": 250}),
        ("blood_pressure", {"systolic": 40, "diastolic": 20}),
        ("temperature", {"celsius": 25}),
        ("temperature", {"celsius": 45}),
        ("pulse", {"bpm": 20}),
        ("pulse", {"bpm": 300}),
        ("glucose", {"mmol_l": 0.5}),
        ("glucose", {"mmol_l": 60}),
    ],
)
def test_kit_range_limits_inclusive(kind: str, values: dict[str, Any]) -> None:
    assert isinstance(decode(KIT, encode(kit(kind, values))), KitEvent)


@pytest.mark.parametrize(("systolic", "diastolic"), [(95, 182), (90, 90)])
def test_kit_systolic_must_exceed_diastolic(systolic: int, diastolic: int) -> None:
    error = rejects(
        KIT, kit("blood_pressure", {"systolic": systolic, "diastolic": diastolic}), "inconsistent"
    )
    assert error.field == "values.systolic"


@pytest.mark.parametrize("value", ["97", True, [97], {"v": 97}])
def test_kit_value_types(value: Any) -> None:
    assert rejects(KIT, kit("spo2", {"percent": value}), "bad_type").field == "values.percent"


def test_kit_not_finite_via_decode_object() -> None:
    with pytest.raises(ContractError) as info:
        decode_object(KIT, kit("temperature", {"celsius": math.nan}))
    assert info.value.reason == "not_finite"


@pytest.mark.parametrize(
    ("context", "reason"), [("after_meal", "unknown_context"), (1, "bad_type")]
)
def test_kit_glucose_context(context: Any, reason: str) -> None:
    assert (
        rejects(KIT, kit("glucose", {"mmol_l": 5.0, "context": context}), reason).field
        == "values.context"
    )


def test_kit_context_only_for_glucose() -> None:
    event = decode(KIT, encode(kit("pulse", {"bpm": 60, "context": "fasting"})))
    assert isinstance(event, KitEvent) and event.context is None


# --- encode / excerpt ------------------------------------------------------------------------------


def test_encode_is_compact_json_and_handles_numpy() -> None:
    raw = encode({"ts": 1.0, "seq": np.int64(3), "displacement_mm": np.array([0.5, 1.5])})
    assert raw == b'{"ts":1.0,"seq":3,"displacement_mm":[0.5,1.5]}'


def test_excerpt_is_printable_and_bounded() -> None:
    raw = b'{"a":"\x1b[31m\n\xff' + "\u202e".encode() + b'"}' + b"x" * 1000
    text = excerpt(raw, limit=64)
    assert text.isprintable()
    assert "\\x1b" in text and "\\n" in text and "\\xff" in text and "\\u202e" in text
    assert text.endswith(f"...[{len(raw)} bytes]")
    assert len(text) < 64 * 4 + 30
    assert excerpt(b'{"ts":1}') == '{"ts":1}'
    assert excerpt(b"abc", limit=0) == "...[3 bytes]"


# --- Fuzzing ---------------------------------------------------------------------------------------

_VALID_EVENTS = (StatusEvent, ButtonEvent, KitEvent, RadarFramesEvent, RadarVitalsEvent)
_WEIRD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    2**64 - 1,
    -(2**63) - 1,
    10**30,
    1e308,
    -1e-308,
    0.5,
    "",
    "x" * 70,
    "\u202e\x00",
    "online",
    "call",
    "spo2",
    [],
    [1, 2],
    [[[]]],
    {},
    {"targets": []},
    {"tid": 1, "x": 1, "y": 1, "z": 1},
]


def _mutate(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """Replace, drop or recurse into one random place of a JSON-like value."""
    if depth > 6 or rng.random() < 0.25:
        return (
            copy.deepcopy(rng.choice(_WEIRD_VALUES))
            if rng.random() < 0.8
            else rng.uniform(-1e3, 1e3)
        )
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        if rng.random() < 0.15:
            del value[key]
        else:
            value[key] = _mutate(rng, value[key], depth + 1)
    elif isinstance(value, list) and value:
        i = rng.randrange(len(value))
        if rng.random() < 0.15:
            del value[i]
        elif rng.random() < 0.15:
            value.extend(copy.deepcopy(value) * rng.randrange(1, 4))
        else:
            value[i] = _mutate(rng, value[i], depth + 1)
    return value


def _check_outcome(topic: Any, raw: Any) -> None:
    try:
        event = decode(topic, raw)
    except ContractError as error:
        assert error.reason in REASONS and error.reason != "decoder_bug", (error, raw[:200])
        str(error)  # the message must render
        return
    assert isinstance(event, _VALID_EVENTS)
    if isinstance(event, RadarFramesEvent):
        n = event.tid.size
        columns = (
            event.frame_index,
            event.x_m,
            event.y_m,
            event.z_m,
            event.vx_mps,
            event.vy_mps,
            event.vz_mps,
        )
        assert all(column.shape == (n,) for column in columns)
        assert np.isfinite(event.x_m).all() and np.isfinite(event.z_m).all()
        assert (event.tid >= 0).all() and (event.frame_index < event.n_frames).all()
    if isinstance(event, RadarVitalsEvent):
        assert np.isfinite(event.displacement_mm).all()
    if isinstance(event, KitEvent):
        assert all(math.isfinite(v) for v in event.values.values())


def test_fuzz_mutated_valid_payloads() -> None:
    rng = random.Random(20261128)
    topics = list(EXAMPLES)
    accepted = 0
    for _ in range(4000):
        topic = rng.choice(topics)
        obj = copy.deepcopy(EXAMPLES[topic])
        if topic == FRAMES and rng.random() < 0.5:
            obj["frames"] = [
                {"targets": [target(tid=rng.randrange(3)) for _ in range(rng.randrange(3))]}
                for _ in range(10)
            ]
        for _ in range(rng.randrange(1, 4)):
            obj = _mutate(rng, obj)
        if rng.random() < 0.1:  # a payload sent to the wrong topic
            topic = rng.choice(topics)
        raw = json.dumps(obj).encode()  # orjson refuses ints beyond 64 bits
        if rng.random() < 0.2:  # byte-level damage
            damaged = bytearray(raw)
            for _ in range(rng.randrange(1, 4)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            raw = bytes(damaged)
        try:
            decode(topic, raw)
            accepted += 1
        except ContractError:
            pass
        _check_outcome(topic, raw)
    assert 100 < accepted < 3900  # the fuzzer exercises both outcomes


def test_fuzz_random_bytes_and_topics() -> None:
    rng = random.Random(7)
    topics = [
        *EXAMPLES,
        "care/v1/x/cmd",
        "",
        "care/v1/ü/kit",
        "care/v1/a/radar/frames/x",
        "\x00" * 100,
        "care/v1/" + "b" * 10_000 + "/kit",
    ]
    alphabet = b'{}[]:,"0123456789.eE+-truefalsn \\u'
    for _ in range(3000):
        topic = (
            rng.choice(topics)
            if rng.random() < 0.9
            else "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(20)))
        )
        if rng.random() < 0.5:
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        else:
            raw = bytes(rng.choice(alphabet) for _ in range(rng.randrange(64)))
        _check_outcome(topic, raw)


def test_fuzz_deep_nesting_and_huge_numbers() -> None:
    cases = [
        b"[" * 1023 + b"]" * 1023,
        b'{"ts":1,"seq":1,"action":' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"ts":' + b"9" * 5000 + b',"seq":1,"action":"call"}',
        b'{"ts":1,"seq":' + b"9" * 400 + b',"action":"call"}',
        b'{"ts":1e308,"seq":1,"action":"call"}',
        b'{"ts":1,"seq":-0,"action":"call"}',
        b'{"ts":1,"seq":1,"fps":1e-320,"frames":[{"targets":[]}]}',
        b'{"ts":1,"seq":1,"tid":18446744073709551615,"fs":20,"displacement_mm":[1e308,-1e308]}',
        b'{"ts":1,"seq":1,"fps":10,"frames":[{"targets":[{"tid":18446744073709551615,"x":1,"y":1,"z":1}]}]}',
        b'{"ts":1,"seq":1,"fps":10,"frames":[{"targets":[{"tid":1,"x":1e308,"y":-1e308,"z":1e308,"vx":1e308}]}]}',
        b'{"ts":1,"seq":1,"resident":"R","kind":"spo2","values":{"percent":' + b"9" * 30 + b"}}",
    ]
    for raw in cases:
        for topic in EXAMPLES:
            _check_outcome(topic, raw)


def test_fuzz_large_valid_windows() -> None:
    rng = random.Random(11)
    for _ in range(30):
        frames = [
            {
                "targets": [
                    target(
                        tid=rng.randrange(2**31),
                        x=rng.uniform(-60, 60),
                        y=rng.uniform(-60, 60),
                        z=rng.uniform(-2, 6),
                        vx=rng.choice([None, rng.uniform(-30, 30)]),
                    )
                    for _ in range(rng.randrange(0, 5))
                ]
            }
            for _ in range(rng.randrange(1, 200))
        ]
        _check_outcome(FRAMES, encode(payload(FRAMES, frames=frames)))


def test_unexpected_exception_becomes_decoder_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    import devices.contract as contract

    def broken(env: Any, obj: Any) -> Any:
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(contract._DECODERS, "button", broken)
    error = rejects(BUTTON, EXAMPLES[BUTTON], "decoder_bug")
    assert "ZeroDivisionError" in str(error) and error.device_id == "dev-1"


def test_frames_without_any_velocity_keys() -> None:
    # A device that never sends velocities (LD6002B-style adapter) takes its own C-level path.
    obj = payload(FRAMES, frames=[{"targets": [target(tid=i)]} for i in range(5)])
    event = decode(FRAMES, encode(obj))
    assert isinstance(event, RadarFramesEvent) and event.tid.tolist() == [0, 1, 2, 3, 4]
    assert event.frame_index.tolist() == [0, 1, 2, 3, 4]
    assert (
        np.isnan(event.vx_mps).all()
        and np.isnan(event.vy_mps).all()
        and np.isnan(event.vz_mps).all()
    )
    rejects(
        FRAMES,
        payload(FRAMES, frames=[{"targets": [target(), {"tid": 1, "x": 1, "y": 1}]}]),
        "missing_field",
    )


def test_event_arrays_are_read_only() -> None:
    one_per_frame = decode(FRAMES, encode(EXAMPLES[FRAMES]))
    several = decode(FRAMES, encode(frames_with(target(), target(x=99), target())))
    empty = decode(FRAMES, encode(payload(FRAMES, frames=[{"targets": []}])))
    vitals = decode(VITALS, encode(EXAMPLES[VITALS]))
    assert isinstance(vitals, RadarVitalsEvent)
    arrays = [vitals.displacement_mm]
    for event in (one_per_frame, several, empty):
        assert isinstance(event, RadarFramesEvent)
        arrays += [
            event.frame_index,
            event.tid,
            event.x_m,
            event.y_m,
            event.z_m,
            event.vx_mps,
            event.vy_mps,
            event.vz_mps,
        ]
    for array in arrays:
        assert not array.flags.writeable
        if array.size:
            with pytest.raises(ValueError, match="read-only"):
                array[0] = 0
