"""bench.fall_days --trace: the per-bin track table behind a detection."""

from __future__ import annotations

import re

import numpy as np

from bench.fall_days import trace
from bench.fall_families import run_detector
from care_hub.signal_core.falls import FallParams
from simulators.fall_families import make_family_episode


def test_trace_shows_the_track_that_came_down() -> None:
    params = FallParams(floor_dwell_s=60.0)
    ep = make_family_episode("T1_average", "multi_clean", "trip", np.random.default_rng(5))
    (ds,) = run_detector([ep], params)
    d = next(x for x in ds if x.kind == "confirmed")
    lines = trace(ep, d, params)
    rows = [
        re.match(r"\s+t\s*([+-][\d.]+) s\s+k(\d) id\s+(-?\d+) z\s+(-?[\d.]+)", ln) for ln in lines
    ]
    assert lines and all(rows)
    t = np.array([float(m.group(1)) for m in rows if m])
    z = np.array([float(m.group(4)) for m in rows if m])
    assert t.min() >= -12.0 and t.max() <= d.at_s - d.impact_s + 1e-6
    # upright before the impact, at floor level after it
    assert np.median(z[t < -2]) > 0.7 and np.median(z[t > 1]) < 0.5
