"""Personal baselines: median/MAD over 14 days, modified z (Iglewicz & Hoaglin), trend judgement."""

from __future__ import annotations

import numpy as np
import pytest

from care_hub.signal_core.baselines import (
    DAY_S,
    judge_against_baseline,
    modified_z,
    robust_baseline,
    rolling_modified_z,
)

NOW = 1_764_320_000.0


def history(seed: int, days: float = 14.0, per_day: int = 2, median: float = 62.0, sd: float = 2.0):
    rng = np.random.default_rng(seed)
    ts = NOW - np.sort(rng.uniform(0.01, days, int(days * per_day))) * DAY_S
    return ts, median + sd * rng.standard_normal(len(ts))


def test_baseline_median_and_mad() -> None:
    ts, v = history(1)
    b = robust_baseline(ts, v, now_s=NOW)
    assert b.trusted and b.n == 28
    assert b.median == pytest.approx(62.0, abs=1.5)
    assert b.mad == pytest.approx(2.0 * 0.6745, abs=0.6)  # MAD of a normal = 0.6745 sd


def test_modified_z_definition() -> None:
    assert modified_z(10.0, median=4.0, mad=2.0) == pytest.approx(0.6745 * 3.0)


def test_far_from_own_baseline_is_a_low_trend_even_inside_population_bands() -> None:
    ts, v = history(2)
    j = judge_against_baseline("pulse", 88.0, NOW, ts, v)  # NEWS2 scores 88 as 0
    assert j.alert and j.severity == "low" and j.rule_id == "baseline.pulse.above"
    assert j.score is not None and j.score >= 3.5
    base = j.detail()["baseline"]
    assert base["median"] == pytest.approx(62.0, abs=1.5) and base["trusted"]


def test_within_own_range_is_not_flagged() -> None:
    ts, v = history(3)
    j = judge_against_baseline("pulse", 64.0, NOW, ts, v)
    assert not j.alert and j.rule_id == "baseline.within"


def test_untrusted_baseline_never_alerts() -> None:
    ts, v = history(4, days=2.0)  # 4 readings over 2 days
    j = judge_against_baseline("pulse", 120.0, NOW, ts, v)
    assert not j.alert and j.rule_id == "baseline.untrusted"


def test_old_and_future_readings_are_outside_the_window() -> None:
    ts, v = history(5)
    ts_all = np.concatenate([ts, [NOW - 30 * DAY_S, NOW + 10.0]])
    v_all = np.concatenate([v, [500.0, 500.0]])
    b = robust_baseline(ts_all, v_all, now_s=NOW)
    assert b.n == len(ts) and b.median < 70


def test_mad_is_floored_for_flat_histories() -> None:
    ts = NOW - np.linspace(0.5, 13.0, 20) * DAY_S
    v = np.full(20, 97.0)
    assert not judge_against_baseline("spo2", 96.0, NOW, ts, v).alert  # 1% is resolution
    assert not judge_against_baseline("spo2", 92.0, NOW, ts, v).alert  # z = -3.37
    assert judge_against_baseline("spo2", 91.0, NOW, ts, v).alert  # z = -4.05


def test_rolling_z_flags_a_step_change() -> None:
    ts, v = history(6, days=20.0)
    order = np.argsort(ts)
    ts, v = ts[order], v[order]
    v[-1] = 90.0
    z = rolling_modified_z(ts, v)
    assert np.isnan(z[:3]).all()  # not yet trusted
    assert z[-1] > 3.5
    assert np.nanmax(np.abs(z[:-1])) < 3.5 + 1.0
