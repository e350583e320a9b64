"""Property tests of the device decoder (issue 11): for any payload on any topic kind, `decode`
raises ContractError (and nothing else, never its `decoder_bug` catch-all) or returns a valid
event whose numbers are finite (velocities may be NaN: the device gave none, as documented)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.contract import ContractError, decode, decode_object
from devices.events import (
    ButtonEvent,
    KitEvent,
    RadarFramesEvent,
    RadarVitalsEvent,
    StatusEvent,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = ("status", "radar/frames", "radar/vitals", "button", "kit")

# Any JSON value, including the awkward ones: huge integers, negative zero, deep nesting.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# Python-side values decode_object may meet (replays, simulators): NaN and infinities too.
object_scalars = json_scalars | st.floats() | st.just(float("nan"))
numbers = st.integers(min_value=-(2**66), max_value=2**66) | st.floats()
ts = st.floats(min_value=-10, max_value=3e9) | numbers
seq = st.integers(min_value=-5, max_value=2**64) | numbers


def _target() -> st.SearchStrategy[dict[str, Any]]:
    coord = st.floats(min_value=-20, max_value=20) | numbers
    return st.fixed_dictionaries(
        {"tid": st.integers(-3, 300) | numbers, "x": coord, "y": coord, "z": coord},
        optional={"vx": coord, "vy": coord, "vz": coord | st.none()},
    )


def _payload(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    common = {"ts": ts, "seq": seq}
    if kind == "status":
        return st.fixed_dictionaries(
            {**common, "state": st.sampled_from(["online", "offline", "", "ON"])},
            optional={
                "battery": st.floats(-1, 2) | numbers,
                "fw": st.text(max_size=80),
                "rssi": st.floats(-200, 50) | numbers,
                "boot": seq,
            },
        )
    if kind == "button":
        action = st.sampled_from(["call", "cancel", "presence", "CALL", ""]) | json_scalars
        return st.fixed_dictionaries({**common, "action": action})
    if kind == "kit":
        value = st.floats(-10, 400) | numbers
        values = st.dictionaries(
            st.sampled_from(
                ["systolic", "diastolic", "pulse", "mmol_l", "percent", "celsius", "bpm", "x"]
            ),
            value | json_scalars,
            max_size=4,
        )
        return st.fixed_dictionaries(
            {
                **common,
                "resident": st.text(max_size=70) | json_scalars,
                "kind": st.sampled_from(
                    ["blood_pressure", "glucose", "spo2", "temperature", "pulse", "weight"]
                ),
                "values": values | json_values,
            },
            optional={"context": st.sampled_from(["fasting", "postprandial", "random", "x"])},
        )
    if kind == "radar/vitals":
        return st.fixed_dictionaries(
            {
                **common,
                "tid": st.integers(-2, 300) | numbers,
                "fs": st.floats(0, 2000) | numbers,
                "displacement_mm": st.lists(st.floats(-50, 50) | numbers, max_size=300)
                | json_values,
            }
        )
    frames = st.lists(
        st.fixed_dictionaries({"targets": st.lists(_target(), max_size=4) | json_values}),
        max_size=12,
    )
    return st.fixed_dictionaries(
        {**common, "fps": st.floats(0, 100) | numbers, "frames": frames | json_values}
    )


def _mutate(payload: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """Drop a field, or replace one with any JSON value."""
    if not payload:
        return payload
    key = data.draw(st.sampled_from(sorted(payload)))
    out = dict(payload)
    if data.draw(st.booleans()):
        del out[key]
    else:
        out[key] = data.draw(json_values)
    return out


def _finite(*values: Any) -> bool:
    return all(math.isfinite(float(v)) for v in values if v is not None)


def _check_event(event: Any, kind: str) -> None:
    assert _finite(event.env.ts) and event.env.seq >= 0
    if kind == "status":
        assert isinstance(event, StatusEvent) and event.state in ("online", "offline")
        assert _finite(event.battery, event.rssi)
    elif kind == "button":
        assert isinstance(event, ButtonEvent) and event.action in ("call", "cancel", "presence")
    elif kind == "kit":
        assert isinstance(event, KitEvent)
        assert _finite(*event.values.values())
    elif kind == "radar/vitals":
        assert isinstance(event, RadarVitalsEvent)
        assert _finite(event.fs_hz) and event.fs_hz > 0
        assert np.isfinite(event.displacement_mm).all()
    else:
        assert isinstance(event, RadarFramesEvent)
        assert _finite(event.fps) and event.fps > 0
        for column in (event.x_m, event.y_m, event.z_m):
            assert np.isfinite(column).all()
        for column in (event.vx_mps, event.vy_mps, event.vz_mps):
            assert not np.isinf(column).any()  # NaN only where the device gave no velocity
        assert len(event.tid) == len(event.x_m) == len(event.frame_index)
        assert ((event.frame_index >= 0) & (event.frame_index < max(event.n_frames, 1))).all()


def _decode_checked(topic: str, payload: bytes, kind: str) -> None:
    try:
        event = decode(topic, payload)
    except ContractError as exc:
        assert exc.reason != "decoder_bug", exc
        return
    _check_event(event, kind)


@SETTINGS
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_generated_and_mutated_payloads(kind: str, data: st.DataObject) -> None:
    payload = data.draw(_payload(kind))
    if data.draw(st.booleans()):
        payload = _mutate(payload, data)
    _decode_checked(f"care/v1/dev-1/{kind}", json.dumps(payload).encode(), kind)


@SETTINGS
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_python_objects_with_nan_and_infinity(kind: str, data: st.DataObject) -> None:
    """decode_object (replays, simulators) meets floats JSON cannot carry."""
    payload = data.draw(_payload(kind))
    key = data.draw(st.sampled_from(sorted(payload)))
    payload[key] = data.draw(object_scalars)
    try:
        event = decode_object(f"care/v1/dev-1/{kind}", payload)
    except ContractError as exc:
        assert exc.reason != "decoder_bug", exc
        return
    _check_event(event, kind)


@SETTINGS
@given(kind=st.sampled_from(KINDS), raw=st.binary(max_size=300))
def test_random_bytes(kind: str, raw: bytes) -> None:
    _decode_checked(f"care/v1/dev-1/{kind}", raw, kind)


@SETTINGS
@given(
    topic=st.text(max_size=80)
    | st.builds(lambda d, k: f"care/v1/{d}/{k}", st.text(max_size=70), st.text(max_size=15)),
    value=json_values,
)
def test_any_topic_and_any_json(topic: str, value: Any) -> None:
    try:
        decode(topic, json.dumps(value).encode())
    except ContractError as exc:
        assert exc.reason != "decoder_bug", exc
