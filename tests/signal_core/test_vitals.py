"""Radar vitals: rates recovered from seeded synthetic displacement; no estimate from bad signal."""

from __future__ import annotations

import numpy as np
import pytest

from care_hub.signal_core import vitals as v
from care_hub.signal_core.vitals import (
    SlotMap,
    StorageRateLimiter,
    VitalsEstimator,
    estimate_rates,
)

FS = 20.0
N = int(30 * FS)


def chest(
    breath_bpm: float,
    heart_bpm: float,
    *,
    seed: int,
    breath_pp_mm: float = 6.0,
    heart_pp_mm: float = 0.3,
    noise_mm: float = 0.02,
    n: int = N,
    fs: float = FS,
    shaped: bool = False,
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    ph_b = 2 * np.pi * breath_bpm / 60 * t + rng.uniform(0, 2 * np.pi)
    if shaped:  # asymmetric breath: strong harmonics in the heart band
        p = (ph_b / (2 * np.pi)) % 1.0
        b = np.where(
            p < 0.4,
            0.5 * (1 - np.cos(np.pi * p / 0.4)),
            0.5 * (1 + np.cos(np.pi * (p - 0.4) / 0.6)),
        )
        breath = breath_pp_mm * b
    else:
        breath = breath_pp_mm / 2 * np.sin(ph_b)
    heart = heart_pp_mm / 2 * np.sin(2 * np.pi * heart_bpm / 60 * t + rng.uniform(0, 2 * np.pi))
    return breath + heart + noise_mm * rng.standard_normal(n)


@pytest.mark.parametrize(
    ("breath_bpm", "heart_bpm", "seed"),
    [(6.5, 48.0, 1), (12.0, 62.0, 2), (16.3, 75.0, 3), (22.0, 97.0, 4), (29.0, 128.0, 5)],
)
def test_rates_recovered_from_known_frequencies(
    breath_bpm: float, heart_bpm: float, seed: int
) -> None:
    est = estimate_rates(chest(breath_bpm, heart_bpm, seed=seed)[None, :], FS)
    assert est.valid[0] and est.heart_valid[0], (est.reason, est.heart_reason)
    assert est.breathing_bpm[0] == pytest.approx(breath_bpm, abs=0.5)
    assert est.heart_bpm[0] == pytest.approx(heart_bpm, abs=2.0)
    assert 0.0 < est.breathing_quality[0] <= 1.0


def test_batch_is_vectorised_and_rows_are_independent() -> None:
    rates = [(10.0, 55.0), (18.0, 80.0), (25.0, 110.0)]
    x = np.stack([chest(b, h, seed=i) for i, (b, h) in enumerate(rates)])
    est = estimate_rates(x, FS)
    np.testing.assert_allclose(est.breathing_bpm, [b for b, _ in rates], atol=0.5)
    np.testing.assert_allclose(est.heart_bpm, [h for _, h in rates], atol=2.0)


def test_breathing_harmonics_are_not_reported_as_heart_rate() -> None:
    # 27/min breathing of 10 mm with an asymmetric shape: its harmonics (54, 81, 108, 135/min)
    # carry far more power than a 0.15 mm heartbeat at 95/min, which lies between two of them.
    x = chest(27.0, 95.0, seed=7, breath_pp_mm=10.0, heart_pp_mm=0.15, shaped=True, noise_mm=0.005)
    est = estimate_rates(x[None, :], FS)
    assert est.breathing_bpm[0] == pytest.approx(27.0, abs=0.5)
    assert est.heart_valid[0], est.heart_reason
    assert est.heart_bpm[0] == pytest.approx(95.0, abs=2.0)


@pytest.mark.xfail(
    strict=True,
    reason="known limit: with perfectly periodic breathing, a heartbeat hidden under harmonic 3 "
    "loses to harmonic 5 (135/min), which is reported; needs a harmonic-amplitude model",
)
def test_heartbeat_on_a_breathing_harmonic_is_withheld_not_guessed() -> None:
    # Heart at 83/min sits on the 3rd harmonic of 27/min breathing (81/min): ambiguous.
    x = chest(27.0, 83.0, seed=7, breath_pp_mm=10.0, heart_pp_mm=0.15, shaped=True, noise_mm=0.005)
    est = estimate_rates(x[None, :], FS)
    assert est.valid[0]
    if est.heart_valid[0]:
        assert est.heart_bpm[0] == pytest.approx(83.0, abs=2.0)
    else:
        assert est.heart_reason[0] in (v.HARMONIC, v.LOW_QUALITY)


def test_flat_signal_gives_no_estimate() -> None:
    est = estimate_rates(np.full((1, N), 3.2), FS)
    assert not est.valid[0] and np.isnan(est.breathing_bpm[0]) and np.isnan(est.heart_bpm[0])
    assert est.reason[0] == v.FLAT


def test_noise_only_gives_no_estimate() -> None:
    rng = np.random.default_rng(11)
    x = 0.1 * rng.standard_normal((20, N))
    est = estimate_rates(x, FS)
    assert not est.valid.any()
    assert set(est.reason) <= {v.NO_SIGNAL, v.LOW_QUALITY}
    assert np.isnan(est.breathing_bpm).all() and np.isnan(est.heart_bpm).all()


def test_saturated_signal_gives_no_estimate() -> None:
    x = np.clip(chest(15.0, 70.0, seed=3, breath_pp_mm=10.0), -2.0, 2.0)
    est = estimate_rates(x[None, :], FS)
    assert est.reason[0] == v.SATURATED and np.isnan(est.breathing_bpm[0])


def test_held_samples_give_no_estimate() -> None:
    x = chest(15.0, 70.0, seed=3)
    held = np.repeat(x[::4], 4)[:N]  # the module re-sends each value four times
    assert estimate_rates(held[None, :], FS).reason[0] == v.SATURATED


def test_body_movement_gives_no_estimate() -> None:
    x = chest(15.0, 70.0, seed=4)
    x[300:] += 25.0  # the person shifted: a 25 mm step within one sample
    est = estimate_rates(x[None, :], FS)
    assert est.reason[0] == v.MOTION and np.isnan(est.breathing_bpm[0])


def test_missing_samples_give_no_estimate() -> None:
    x = chest(15.0, 70.0, seed=4)
    x[100] = np.nan
    assert estimate_rates(x[None, :], FS).reason[0] == v.MISSING


def test_estimator_warms_up_then_estimates_from_5s_windows() -> None:
    est = VitalsEstimator(capacity=4)
    x = chest(14.0, 66.0, seed=5, n=int(45 * FS))
    out = None
    for i, w0 in enumerate(range(0, len(x), 100)):
        est.push([2], x[None, w0 : w0 + 100], ts_s=1000.0 + w0 / FS)
        out = est.estimate([2])
        if (i + 1) * 100 < N:
            assert out.reason[0] == v.WARMING_UP and not out.valid[0]
    assert out is not None and out.valid[0]
    assert out.slots[0] == 2
    assert out.breathing_bpm[0] == pytest.approx(14.0, abs=0.5)
    assert out.heart_bpm[0] == pytest.approx(66.0, abs=2.0)


def test_other_sampling_rates_are_resampled() -> None:
    est = VitalsEstimator(capacity=2)
    x10 = chest(18.0, 72.0, seed=6, n=300, fs=10.0)  # 30 s at 10 Hz
    est.push([0], [x10], fs_hz=10.0)
    out = est.estimate([0])
    assert out.valid[0]
    assert out.breathing_bpm[0] == pytest.approx(18.0, abs=0.5)
    assert out.heart_bpm[0] == pytest.approx(72.0, abs=2.0)


def test_variable_length_windows_and_slots_in_one_push() -> None:
    est = VitalsEstimator(capacity=3)
    a = chest(12.0, 60.0, seed=1)
    b = chest(20.0, 90.0, seed=2)
    est.push([0, 1], [a[:250], b[:350]])
    est.push([0, 1], [a[250:], b[350:]])
    out = est.estimate([0, 1])
    np.testing.assert_allclose(out.breathing_bpm, [12.0, 20.0], atol=0.5)


def test_gap_in_device_time_resets_the_slot() -> None:
    est = VitalsEstimator(capacity=1)
    x = chest(12.0, 60.0, seed=1)
    est.push([0], x[None, :], ts_s=100.0)
    assert est.estimate([0]).valid[0]
    est.push([0], x[None, :100], ts_s=100.0 + 30.0 + 60.0)  # a minute missing
    assert est.estimate([0]).reason[0] == v.WARMING_UP


def test_rate_limiter_lets_one_value_per_minute_per_slot() -> None:
    rl = StorageRateLimiter(capacity=3)
    ts = np.arange(0.0, 180.0, 5.0)
    stored = [bool(rl.allow([1], t)[0]) for t in ts]
    assert sum(stored) == 3  # t = 0, 60, 120
    assert rl.allow([0, 1], [0.0, 181.0]).tolist() == [True, True]
    assert rl.allow([2, 2], [10.0, 20.0]).tolist() == [True, False]


def test_slot_map_reuses_released_slots() -> None:
    sm = SlotMap(2)
    a, new_a = sm.slot_for(("radar-1", 3))
    assert new_a and sm.slot_for(("radar-1", 3)) == (a, False)
    b, _ = sm.slot_for(("radar-1", 4))
    with pytest.raises(OverflowError):
        sm.slot_for(("radar-2", 1))
    assert sm.release(("radar-1", 3)) == a
    assert sm.slot_for(("radar-2", 1)) == (a, True)
    assert b != a


def test_a_radars_rates_do_not_depend_on_the_radars_estimated_beside_it() -> None:
    """The hub estimates every due radar in one call: twelve buffers (breathing, a weaker
    heartbeat, noise from faint to heavy) estimated together and one by one give the same
    validity and reasons, and rates equal but for the last bits of batched FFT sums."""
    rng = np.random.default_rng(1)
    n = 12
    est = VitalsEstimator(n)
    t = np.arange(est.n_samples) / est.fs_hz
    sig = np.stack(
        [
            rng.uniform(2, 6) * np.sin(2 * np.pi * rng.uniform(0.15, 0.5) * t)
            + 0.3 * np.sin(2 * np.pi * rng.uniform(0.9, 1.8) * t)
            + rng.normal(0, rng.uniform(0.05, 1.0), t.size)
            for _ in range(n)
        ]
    )
    est.push(np.arange(n), sig)
    together = est.estimate(np.arange(n))
    assert 3 <= together.valid.sum() < n  # both outcomes
    for i in range(n):
        one = est.estimate([i])
        for f in ("valid", "heart_valid", "reason", "heart_reason"):
            assert getattr(one, f)[0] == getattr(together, f)[i], f
        for f in ("breathing_bpm", "heart_bpm", "breathing_quality", "heart_quality"):
            np.testing.assert_allclose(getattr(one, f)[0], getattr(together, f)[i], rtol=1e-9)
