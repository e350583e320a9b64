"""The radar shifts of bench.fall_shift change what a radar reports, and only that."""

from __future__ import annotations

import numpy as np
import pytest

from bench.fall_families import evaluate
from bench.fall_shift import SHIFTS, Shift, rows_for
from care_hub.signal_core.falls import FallParams
from simulators.fall_families import cell_episodes, family_episode


def test_offset_and_scale_move_heights_velocities_and_what_the_hub_learned() -> None:
    e = family_episode("T1_average", "multi_noisy", "trip", 0, seed=1)
    assert e.body is not None
    s = Shift(offset_m=0.1, scale=1.15)
    out = s.episode(e)
    np.testing.assert_allclose(out.rows.z_m, 1.15 * e.rows.z_m + 0.1)
    np.testing.assert_allclose(out.rows.vz_mps, 1.15 * e.rows.vz_mps)
    np.testing.assert_array_equal(out.rows.x_m, e.rows.x_m)
    np.testing.assert_array_equal(out.rows.tid, e.rows.tid)
    assert out.body is not None
    assert out.body.stand_m == pytest.approx(1.15 * e.body.stand_m + 0.1)
    assert out.body.floor_lie_m == pytest.approx(1.15 * e.body.floor_lie_m + 0.1)
    assert out.body.speed_mps == e.body.speed_mps  # a pace is not a height
    assert out.impact_s == e.impact_s and out.is_fall


def test_half_frames_keeps_every_other_frame_at_half_the_rate() -> None:
    e = family_episode("T1_average", "multi_clean", "walk", 0, seed=1)
    out = SHIFTS["half_frames"].episode(e)
    assert out.rows.fps == e.rows.fps / 2
    assert out.rows.n_frames == -(-e.rows.n_frames // 2)
    kept = e.rows.frame % 2 == 0
    np.testing.assert_array_equal(out.rows.frame, e.rows.frame[kept] // 2)
    np.testing.assert_array_equal(out.rows.z_m, e.rows.z_m[kept])
    # each row keeps its time: frame / fps is unchanged
    np.testing.assert_allclose(out.rows.frame / out.rows.fps, e.rows.frame[kept] / e.rows.fps)


def test_no_velocities_blanks_them_and_nothing_else() -> None:
    e = family_episode("T1_average", "multi_clean", "trip", 0, seed=1)
    assert np.isfinite(e.rows.vz_mps).any()
    out = SHIFTS["no_velocities"].episode(e)
    assert not np.isfinite(out.rows.vz_mps).any() and not np.isfinite(out.rows.vx_mps).any()
    np.testing.assert_array_equal(out.rows.z_m, e.rows.z_m)


def test_a_fall_landing_above_the_floor_level_is_a_miss_the_report_shows() -> None:
    # Trips of a family whose people land at 0.1-0.45 m: caught unshifted; read 0.3 m higher
    # they land above every floor level the detector knows, and the row says so.
    eps = cell_episodes("T1_average", "multi_clean", "trip", 4, seed=1)
    params = FallParams()
    plain = evaluate(eps, params)
    high = evaluate([Shift(offset_m=0.3).episode(e) for e in eps], params)
    assert sum(j.alarmed for j in plain) >= 3
    assert sum(j.alarmed for j in high) < sum(j.alarmed for j in plain)
    row = rows_for(high, "multi_clean", ("T1_average",))
    assert row[0].startswith(f"{100 * sum(j.alarmed for j in high) / 4:.1f}%")


def test_lost_frames_and_extra_noise_are_drawn_from_the_episode_and_touch_nothing_else() -> None:
    e = family_episode("T1_average", "multi_noisy", "trip", 1, seed=1)
    lossy = SHIFTS["drop_30%"].episode(e)
    assert lossy.rows.fps == e.rows.fps and lossy.rows.n_frames == e.rows.n_frames
    kept = np.isin(e.rows.frame, lossy.rows.frame)
    assert 0.6 < np.unique(lossy.rows.frame).size / np.unique(e.rows.frame).size < 0.8
    np.testing.assert_array_equal(lossy.rows.z_m, e.rows.z_m[kept])  # whole frames go
    np.testing.assert_array_equal(lossy.rows.frame, e.rows.frame[kept])
    noisy = SHIFTS["jitter+0.05"].episode(e)
    d = noisy.rows.z_m - e.rows.z_m
    assert 0.04 < d.std() < 0.06 and abs(d.mean()) < 0.01
    np.testing.assert_array_equal(noisy.rows.x_m, e.rows.x_m)
    # the same episode shifted twice is the same (a run does not depend on the batch)
    np.testing.assert_array_equal(SHIFTS["jitter+0.05"].episode(e).rows.z_m, noisy.rows.z_m)


def test_training_sees_a_share_of_radars_reading_heights_offset_and_scaled() -> None:
    # bench.train_falls --sensor-shift: that share of episodes, each by its own offset and scale
    # within the spans, what the hub learned of the person alike; the same draw every run
    from bench.train_falls import SENSOR_OFFSET_M, SENSOR_SCALE, _sensor_shifted

    eps = cell_episodes("T1_average", "multi_noisy", "trip", 40, seed=1)
    assert _sensor_shifted(eps, 11, 0.0) == eps
    out = _sensor_shifted(eps, 11, 0.5)
    again = _sensor_shifted(eps, 11, 0.5)
    moved = 0
    for e, o, a in zip(eps, out, again, strict=True):
        np.testing.assert_array_equal(o.rows.z_m, a.rows.z_m)
        if np.array_equal(o.rows.z_m, e.rows.z_m):
            continue
        moved += 1
        scale, offset = np.polyfit(e.rows.z_m, o.rows.z_m, 1)
        assert abs(scale - 1) <= SENSOR_SCALE + 1e-9 and abs(offset) <= SENSOR_OFFSET_M + 1e-9
        assert o.body is not None and e.body is not None
        assert o.body.stand_m == pytest.approx(scale * e.body.stand_m + offset)
        np.testing.assert_array_equal(o.rows.x_m, e.rows.x_m)
    assert 10 <= moved <= 30
