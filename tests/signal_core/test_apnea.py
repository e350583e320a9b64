"""Streaming apnea detection on seeded synthetic chest displacement with known stops."""

from __future__ import annotations

import numpy as np
import pytest

from care_hub.signal_core.apnea import ApneaDetector, ApneaEvent, ahi_category, apnea_severity

FS = 20.0
T0 = 1_764_320_000.0


def breathing(
    duration_s: float,
    stops: list[tuple[float, float]],
    *,
    seed: int,
    rate_bpm: float = 15.0,
    pp_mm: float = 4.0,
) -> np.ndarray:
    """Breath by breath; each stop begins at the end of a breath (end-expiration) at or after its
    nominal start and lasts exactly its nominal length. Returns x; actual stops in ``.stops``."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * FS)
    x = np.zeros(n)
    cyc = int(FS * 60.0 / rate_bpm)
    i = 0
    pending = sorted(stops)
    actual: list[tuple[float, float]] = []
    while i < n:
        j = min(n, i + cyc)
        p = np.arange(j - i) / cyc
        x[i:j] = pp_mm * 0.5 * (1 - np.cos(2 * np.pi * p))
        i = j
        if pending and i / FS >= pending[0][0]:
            s0, s1 = pending.pop(0)
            hold = int((s1 - s0) * FS)
            actual.append((i / FS, (i + hold) / FS))
            i += hold  # chest rests at end-expiration (x stays 0)
    t = np.arange(n) / FS
    x += 0.1 * np.sin(2 * np.pi * 1.2 * t)  # heartbeat
    x += 0.02 * rng.standard_normal(n)
    breathing.stops = actual  # type: ignore[attr-defined]
    return x


def run(det: ApneaDetector, slots: list[int], xs: np.ndarray, present=None) -> list[ApneaEvent]:
    events: list[ApneaEvent] = []
    for w0 in range(0, xs.shape[1], 100):
        events += det.update(slots, T0 + w0 / FS, xs[:, w0 : w0 + 100], present=present)
    return events


def test_apnea_start_end_and_phases() -> None:
    x = breathing(150.0, [(60.0, 85.0)], seed=1)
    (s0, s1) = breathing.stops[0]  # type: ignore[attr-defined]
    events = run(ApneaDetector(1), [0], x[None, :])
    phases = [e.phase for e in events]
    assert phases == ["onset", "escalated", "end"]
    onset, esc, end = events
    assert onset.end_ts is None and onset.severity == "low"
    assert esc.severity == "critical"  # the same event passed 20 s
    assert end.start_ts == onset.start_ts
    assert end.start_ts - T0 == pytest.approx(s0, abs=2.0)
    assert end.end_ts is not None and end.end_ts - T0 == pytest.approx(s1, abs=3.0)
    assert end.duration_s == pytest.approx(s1 - s0, abs=4.0)
    assert end.residual_fraction < 0.1
    assert end.baseline_amplitude_mm > 1.0


def test_short_apnea_is_low_severity() -> None:
    x = breathing(150.0, [(60.0, 73.0)], seed=2)
    ends = [e for e in run(ApneaDetector(1), [0], x[None, :]) if e.phase == "end"]
    assert len(ends) == 1 and ends[0].severity == "low"
    assert 10.0 <= ends[0].duration_s < 20.0


def test_normal_breathing_and_short_pauses_are_not_apnea() -> None:
    rng_rates = [6.0, 12.0, 20.0, 30.0]
    for k, rate in enumerate(rng_rates):
        x = breathing(180.0, [(50.0, 56.0), (110.0, 117.0)], seed=10 + k, rate_bpm=rate)
        assert run(ApneaDetector(1), [0], x[None, :]) == [], rate


def test_only_the_slot_that_stops_breathing_reports() -> None:
    xs = np.stack(
        [
            breathing(150.0, [], seed=3),
            breathing(150.0, [(60.0, 80.0)], seed=4),
            breathing(150.0, [], seed=5, rate_bpm=8.0),
        ]
    )
    events = run(ApneaDetector(8), [5, 6, 7], xs)
    assert events and {e.slot for e in events} == {6}


def test_third_apnea_in_ten_minutes_is_critical() -> None:
    x = breathing(400.0, [(60.0, 72.0), (160.0, 172.0), (260.0, 272.0)], seed=6)
    ends = [e for e in run(ApneaDetector(1), [0], x[None, :]) if e.phase == "end"]
    assert [e.recent_count for e in ends] == [1, 2, 3]
    assert [e.severity for e in ends] == ["low", "low", "critical"]


def test_person_not_present_is_not_apnea() -> None:
    x = breathing(150.0, [(60.0, 90.0)], seed=7)
    assert run(ApneaDetector(1), [0], x[None, :], present=[False]) == []


def test_movement_does_not_count_as_apnea_or_poison_the_reference() -> None:
    x = breathing(200.0, [], seed=8)
    x[int(60 * FS) : int(64 * FS)] += 40.0 * np.hanning(int(4 * FS))  # turning over
    x[int(64 * FS) :] += 15.0
    assert run(ApneaDetector(1), [0], x[None, :]) == []


def test_severity_and_ahi_helpers() -> None:
    assert apnea_severity(12.0, 1) == "low"
    assert apnea_severity(20.0, 1) == "critical"
    assert apnea_severity(12.0, 3) == "critical"
    assert ahi_category(4, 1.0) == "normal"
    assert ahi_category(5, 1.0) == "mild"
    assert ahi_category(15, 1.0) == "moderate"
    assert ahi_category(30, 1.0) == "severe"


def test_a_radars_apnea_events_do_not_depend_on_the_radars_beside_it() -> None:
    """The hub updates every radar's detector in one call: eight radars of 15 min of breathing
    with pauses of 8-40 s and moments out of view report the same events together as one by
    one."""
    rng = np.random.default_rng(3)
    n, secs, per = 8, 900, int(FS)
    t = np.arange(secs * per) / FS
    sig = np.empty((n, t.size))
    for i in range(n):
        x = rng.uniform(2, 6) * np.sin(2 * np.pi * rng.uniform(0.2, 0.4) * t)
        x += rng.normal(0, 0.2, t.size)
        for a in rng.integers(60, secs - 60, 4):
            x[int(a * FS) : int((a + rng.uniform(8, 40)) * FS)] *= 0.05
        sig[i] = x
    present = rng.random((n, secs)) > 0.02

    def run(which: list[int]) -> list[list[tuple[object, ...]]]:
        det = ApneaDetector(len(which), fs_hz=FS)
        out: list[ApneaEvent] = []
        for w in range(secs):
            out += det.update(
                np.arange(len(which)),
                np.full(len(which), T0 + w),
                sig[which, w * per : (w + 1) * per],
                present=present[which, w],
            )
        return [
            [
                (e.phase, e.start_ts, e.end_ts, e.severity, e.recent_count)
                for e in out
                if e.slot == j
            ]
            for j in range(len(which))
        ]

    together = run(list(range(n)))
    assert sum(len(v) for v in together) > 20
    for i in range(n):
        assert run([i])[0] == together[i]
