"""The descent-shape probe (bench.fall_shape) finds the shape a descent was made with."""

from __future__ import annotations

import numpy as np
import pytest

from bench.fall_shape import Shape, best_fit, shape_scores, template


def _descent(
    shape: Shape, dur_s: float, noise_m: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """20 fps: 4 s standing at 0.9 m, a 0.6 m descent of ``shape``, 10 s lying at 0.3 m."""
    t = np.arange(0.0, 4.0 + dur_s + 10.0, 0.05)
    z = 0.9 - 0.6 * template(shape, (t - 4.0) / dur_s)
    return t, z + np.random.default_rng(seed).normal(0.0, noise_m, t.size)


@pytest.mark.parametrize("shape", ["fall", "minjerk", "linear"])
def test_best_fit_recovers_a_clean_descents_shape_start_and_duration(shape: Shape) -> None:
    t, z = _descent(shape, 1.2, 0.0, 0)
    starts = np.arange(2.0, 6.0, 0.05)
    fits = {s: best_fit(t, z, s, starts) for s in ("fall", "minjerk", "linear")}
    sse, start, dur = fits[shape]
    assert sse < 1e-9
    assert start == pytest.approx(4.0, abs=1e-6) and dur == pytest.approx(1.2, abs=1e-6)
    assert all(fits[o][0] > 1e-3 for o in fits if o != shape)


def test_shape_scores_tell_an_impact_from_a_smooth_stop_under_light_noise() -> None:
    falls = [shape_scores(*_descent("fall", 0.8, 0.03, s)) for s in range(10)]
    smooth = [shape_scores(*_descent("minjerk", 1.5, 0.03, s)) for s in range(10)]
    assert all(f is not None and f[0] > 0 for f in falls)
    assert all(m is not None and m[0] < 0 for m in smooth)


def test_shape_scores_need_a_landing() -> None:
    t = np.arange(0.0, 1.0, 0.05)  # under 2 s of rows: no bins to find a level in
    assert shape_scores(t, np.full(t.size, 0.9)) is None
