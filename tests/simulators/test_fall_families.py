"""Randomised fall families: seeded, labelled, physically inside their ranges, furniture-aware."""

from __future__ import annotations

import numpy as np

from simulators.fall_families import (
    FAMILIES,
    HELD_OUT_FAMILIES,
    KINDS,
    TRACKERS,
    TUNING_FAMILIES,
    make_family_episode,
    make_family_episodes,
)


def test_tuning_and_held_out_families_are_disjoint() -> None:
    assert set(TUNING_FAMILIES).isdisjoint(HELD_OUT_FAMILIES)
    assert set(TUNING_FAMILIES) | set(HELD_OUT_FAMILIES) == set(FAMILIES)


def test_seeded_and_every_kind_and_tracker_renders() -> None:
    a = make_family_episodes(("H4_full_random",), tuple(TRACKERS), 1, 5)
    b = make_family_episodes(("H4_full_random",), tuple(TRACKERS), 1, 5)
    assert len(a) == len(KINDS) * len(TRACKERS)
    assert all(np.array_equal(x.rows.z_m, y.rows.z_m) for x, y in zip(a, b, strict=True))
    for e in a:
        assert e.is_fall == (e.impact_s is not None)
        assert e.rows.frame.shape[0] > 0


def test_fallen_bodies_land_beside_furniture_never_inside() -> None:
    rng = np.random.default_rng(1)
    for kind in ("slide_off_sofa", "fall_from_chair", "fall_beside_bed", "trip"):
        for _ in range(5):
            e = make_family_episode("T1_average", "multi_clean", kind, rng)
            assert e.impact_s is not None
            t = e.rows.t0_s + e.rows.frame / e.rows.fps
            m = (t > e.impact_s + 1) & (t < e.impact_s + 4) & (e.rows.z_m < 0.6)
            x, y = np.median(e.rows.x_m[m]), np.median(e.rows.y_m[m])
            for r in e.room.furniture:
                inside = r[0] + 0.1 < x < r[2] - 0.1 and r[1] + 0.1 < y < r[3] - 0.1
                assert not inside, (kind, r, x, y)


def test_low_kneels_read_in_the_field_range() -> None:
    rng = np.random.default_rng(2)
    e = make_family_episode("T1_average", "multi_clean", "on_heels", rng)
    z = e.rows.z_m[(e.rows.z_m < 0.58) & (e.rows.z_m > 0.38)]  # not the pet
    assert z.size and 0.4 < np.median(z) < 0.6


def test_quantising_tracker_reports_on_a_grid() -> None:
    e = make_family_episode("T1_average", "quantised_10fps", "walk", np.random.default_rng(3))
    assert e.rows.fps == 10.0
    assert np.allclose(e.rows.z_m * 10, np.round(e.rows.z_m * 10))


def test_an_ordinary_day_is_reproducible_and_busy() -> None:
    from simulators.fall_families import DAY_ACTIVITIES, make_family_day

    a = make_family_day("T1_average", "quantised_10fps", 0.5, np.random.default_rng(4))
    b = make_family_day("T1_average", "quantised_10fps", 0.5, np.random.default_rng(4))
    assert np.array_equal(a.rows.z_m, b.rows.z_m) and a.log == b.log
    assert a.rows.n_frames == round(0.5 * 3600 * 10)
    assert len(a.log) >= 5 and {act for _, act in a.log} <= set(DAY_ACTIVITIES)
