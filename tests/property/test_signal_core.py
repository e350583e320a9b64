"""Property tests of the pure signal core (issue 11): NEWS2 scoring, kit rules, baselines, vitals
estimators, zones and apnea. For any finite input: no exception but the documented rejection
(ValueError), and no NaN or infinity out where a number is promised."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from care_hub.signal_core import apnea, baselines, kit_rules, news2, vitals, zones

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# The heavier estimators (FFTs over 30 s buffers) get fewer examples to keep the suite < 60 s.
HEAVY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
any_float = st.floats()
epoch = st.floats(min_value=1.6e9, max_value=2.0e9)


def _json_finite(value: Any) -> None:
    """Raises if `value` holds NaN or infinity (what a JSON detail column and screens need)."""
    json.dumps(value, allow_nan=False, default=str)


# --- NEWS2 -------------------------------------------------------------------------------------

SCORERS = [
    news2.score_respiration_rate,
    news2.score_systolic_bp,
    news2.score_pulse,
    news2.score_temperature,
    news2.score_spo2,
    lambda v: news2.score_spo2(v, 2, True),
    lambda v: news2.score_spo2(v, 2, False),
]


@SETTINGS
@given(values=hnp.arrays(np.float64, st.integers(0, 20), elements=any_float))
def test_news2_scores_are_0_to_3_and_nan_only_for_nan(values: np.ndarray) -> None:
    for score in SCORERS:
        out = score(values)
        assert out.shape == values.shape
        assert (np.isnan(out) == np.isnan(values)).all()
        assert np.isin(out[~np.isnan(out)], [0, 1, 2, 3]).all()


@SETTINGS
@given(level=st.text(max_size=5) | st.none())
def test_news2_consciousness(level: str | None) -> None:
    try:
        score = news2.score_consciousness(level)
    except ValueError:
        return  # documented: not an ACVPU letter
    assert math.isnan(score) if level is None else score in (0.0, 3.0)


@st.composite
def reading(draw: st.DrawFn) -> news2.Reading:
    """A reading as the Reading docstring defines it: numeric but for consciousness (an ACVPU
    letter or any text) and supplemental oxygen (truthy)."""
    parameter = draw(st.sampled_from(news2.PARAMETERS))
    if parameter == "consciousness":
        value: float | str | bool = draw(st.sampled_from("ACVPU") | st.text(max_size=3))
    elif parameter == "supplemental_oxygen":
        value = draw(st.booleans())
    else:
        value = draw(finite | st.just(float("nan")))
    return news2.Reading(parameter, value, draw(st.floats(0, 1000)))


@SETTINGS
@given(
    readings=st.lists(reading(), max_size=12),
    scale=st.sampled_from([1, 2]),
    on_oxygen=st.none() | st.booleans(),
)
def test_news2_aggregate(readings: list[news2.Reading], scale: int, on_oxygen: bool | None) -> None:
    try:
        res = news2.aggregate(readings, now_s=1000.0, spo2_scale=scale, on_oxygen=on_oxygen)
    except ValueError:
        # documented: a consciousness reading that is no ACVPU letter
        assert any(
            r.parameter == "consciousness"
            and str(r.value).strip().upper()[:1] not in "ACVPU"
            or r.parameter == "consciousness"
            and not str(r.value).strip()
            for r in readings
        )
        return
    assert res.total == sum(res.subscores.values()) >= 0
    assert res.band in ("routine", "low", "low_medium", "medium", "high")
    assert all(0 <= s <= 3 for s in res.subscores.values())


# --- kit rules and baselines -------------------------------------------------------------------

KIT_VALUES = {
    "blood_pressure": ("systolic", "diastolic", "pulse"),
    "glucose": ("mmol_l",),
    "spo2": ("percent", "pulse"),
    "temperature": ("celsius",),
    "pulse": ("bpm",),
}


@st.composite
def kit_reading(draw: st.DrawFn) -> tuple[str, dict[str, float], str | None]:
    kind = draw(st.sampled_from(sorted(KIT_VALUES)))
    names = KIT_VALUES[kind]
    values = {n: draw(st.floats(-50, 500) | finite) for n in names if draw(st.booleans())}
    context = draw(st.sampled_from([None, "fasting", "postprandial", "random"]))
    return kind, values, context


@SETTINGS
@given(
    kit=kit_reading(),
    ts=epoch,
    recent=st.lists(reading(), max_size=6),
    scale=st.sampled_from([1, 2]),
)
def test_judge_kit(
    kit: tuple[str, dict[str, float], str | None],
    ts: float,
    recent: list[news2.Reading],
    scale: int,
) -> None:
    kind, values, context = kit
    recent = [
        news2.Reading(r.parameter, r.value, ts - r.ts_s, r.source)
        for r in recent
        if r.parameter != "consciousness"
    ]
    j = kit_rules.judge_kit(kind, values, ts_s=ts, context=context, recent=recent, spo2_scale=scale)
    assert j.severity in (None, "low", "medium", "high", "critical")
    assert j.alert == (j.severity is not None) or j.rule_id == "kit.implausible"
    assert j.score is None or math.isfinite(j.score)
    _json_finite(j.detail())


@SETTINGS
@given(
    kind=st.sampled_from(["pulse", "spo2", "systolic_bp", "temperature", "glucose", "other"]),
    value=finite,
    history=st.lists(st.tuples(st.floats(0, 40 * 86_400), finite), max_size=40),
)
def test_judge_against_baseline(
    kind: str, value: float, history: list[tuple[float, float]]
) -> None:
    now = 40 * 86_400.0
    ts = [t for t, _ in history]
    vs = [v for _, v in history]
    j = baselines.judge_against_baseline(kind, value, now, ts, vs)
    assert j.score is None or math.isfinite(j.score)
    if j.alert:
        _json_finite(j.detail())
    base = baselines.robust_baseline(ts, vs, now_s=now)
    if base.n:
        assert math.isfinite(base.median) and math.isfinite(base.mad) and base.mad > 0


# --- vitals ------------------------------------------------------------------------------------


@HEAVY
@given(
    fs=st.sampled_from([10.0, 20.0, 25.0]),
    seconds=st.integers(8, 40),
    rows=st.integers(1, 3),
    data=st.data(),
)
def test_estimate_rates_finite_in_finite_out(
    fs: float, seconds: int, rows: int, data: st.DataObject
) -> None:
    n = int(fs * seconds)
    kind = data.draw(st.sampled_from(["random", "constant", "sine", "spiky"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    t = np.arange(n) / fs
    if kind == "random":
        x = rng.normal(0, data.draw(st.floats(1e-6, 100)), (rows, n))
    elif kind == "constant":
        x = np.full((rows, n), data.draw(st.floats(-100, 100)))
    elif kind == "sine":
        f = data.draw(st.floats(0.05, 5))
        x = np.sin(2 * np.pi * f * t)[None, :].repeat(rows, 0) * data.draw(st.floats(1e-6, 50))
    else:
        x = np.zeros((rows, n))
        x[:, rng.integers(0, n, 3)] = data.draw(st.floats(-1e6, 1e6))
    est = vitals.estimate_rates(x, fs)
    _check_estimate(est, rows)


def _check_estimate(est: vitals.VitalsEstimate, rows: int) -> None:
    assert len(est.breathing_bpm) == rows
    assert np.isfinite(est.breathing_bpm[est.valid]).all()
    assert np.isfinite(est.heart_bpm[est.heart_valid]).all()
    assert not est.heart_valid[~est.valid].any()
    for q in (est.breathing_quality, est.heart_quality):
        assert not np.isinf(q).any()
    assert not np.isinf(est.breathing_amplitude_mm).any()


@HEAVY
@given(
    windows=st.lists(
        st.tuples(
            st.sampled_from([10.0, 20.0, 40.0]),
            hnp.arrays(np.float64, st.integers(1, 200), elements=st.floats(-100, 100, width=32)),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_estimator_push_and_estimate(windows: list[tuple[float, np.ndarray]]) -> None:
    est = vitals.VitalsEstimator(capacity=2, buffer_s=10.0)
    ts = 1.7e9
    for fs, w in windows:
        est.push([0], [w], fs_hz=fs, ts_s=[ts])
        ts += len(w) / fs
    _check_estimate(est.estimate([0, 1]), 2)


# --- zones -------------------------------------------------------------------------------------

coord = st.floats(-10, 10)
shape = st.builds(
    zones.ZoneShape,
    zone=st.sampled_from(["bed", "bathroom", "chair", "door"]),
    vertices=st.lists(st.tuples(coord, coord), min_size=0, max_size=10).map(tuple),
)


@SETTINGS
@given(
    shapes=st.lists(shape, max_size=zones.MAX_SHAPES + 2),
    points=hnp.arrays(np.float64, (20, 2), elements=st.floats(-20, 20)),
)
def test_zones_classify(shapes: list[zones.ZoneShape], points: np.ndarray) -> None:
    try:
        compiled = zones.compile_zones(2, {0: zones.ZoneMap(tuple(shapes))})
    except ValueError:
        # documented: too many shapes, or a polygon of fewer than 3 / more than 8 vertices
        assert len(shapes) > zones.MAX_SHAPES or any(
            not 3 <= len(s.vertices) <= zones.MAX_VERTICES for s in shapes
        )
        return
    slot = np.array([0] * 10 + [1] * 10)
    codes = zones.classify_points(compiled, slot, points[:, 0], points[:, 1])
    assert ((codes >= zones.ROOM) & (codes < len(zones.ZONES))).all()
    assert (codes[10:] == zones.ROOM).all()  # slot 1 has no map
    assert set(codes[:10]) <= {zones.ROOM} | {zones.ZONE_CODE[s.zone] for s in shapes}


@SETTINGS
@given(
    steps=st.lists(
        st.tuples(st.floats(0, 30), st.floats(-5, 5) | st.just(float("nan")), st.floats(-5, 5)),
        max_size=30,
    )
)
def test_zone_tracker_visits_are_ordered(steps: list[tuple[float, float, float]]) -> None:
    tracker = zones.ZoneTracker(2)
    tracker.set_map(0, zones.ZoneMap((zones.ZoneShape.rect("bed", 0, 0, 2, 2),)))
    t = 1.7e9
    visits = []
    for dt, x, y in steps:
        t += dt
        visits += tracker.step(np.array([0]), np.array([t]), np.array([x]), np.array([y]))
    for v in visits:
        assert math.isfinite(v.entered_at) and v.left_at is not None and v.left_at >= v.entered_at


# --- apnea -------------------------------------------------------------------------------------


@HEAVY
@given(
    windows=st.lists(
        st.tuples(
            st.sampled_from(["breathing", "flat", "random", "spike"]),
            st.floats(1e-4, 50),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_apnea_detector_events_are_finite(
    windows: list[tuple[str, float, bool]], seed: int
) -> None:
    fs = apnea.DEFAULT_FS_HZ
    n = int(5 * fs)
    det = apnea.ApneaDetector(capacity=2, fs_hz=fs)
    rng = np.random.default_rng(seed)
    t0 = 1.7e9
    for i, (kind, amp, present) in enumerate(windows):
        t = t0 + i * 5.0 + np.arange(n) / fs
        if kind == "breathing":
            w = amp * np.sin(2 * np.pi * 0.25 * t)
        elif kind == "flat":
            w = np.zeros(n)
        elif kind == "random":
            w = rng.normal(0, amp, n)
        else:
            w = np.zeros(n)
            w[rng.integers(0, n)] = amp * 1e4
        events = det.update([0, 1], [t[0], t[0]], np.stack([w, -w]), present=[present, True])
        for e in events:
            assert e.phase in ("onset", "escalated", "end")
            assert math.isfinite(e.start_ts) and math.isfinite(e.duration_s)
            assert e.duration_s >= 0
            assert e.end_ts is None or math.isfinite(e.end_ts)
            assert math.isfinite(e.baseline_amplitude_mm)
            assert math.isfinite(e.residual_fraction)


def test_apnea_rejects_a_slot_twice_in_one_call() -> None:
    """The documented rejection: each slot at most once per update."""
    det = apnea.ApneaDetector(capacity=2)
    with pytest.raises(ValueError):
        det.update([0, 0], [0.0, 0.0], np.zeros((2, 100)))
