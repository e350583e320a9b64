"""The radar motion simulator: seeded, labelled, protocol-shaped, noisy as FIELD-NOTES says."""

from __future__ import annotations

import numpy as np

from simulators.radar_motion import make_episode, ordinary_activity, to_events, to_payload


def test_seeded_and_labelled() -> None:
    a = make_episode("fall_forward", "messy", np.random.default_rng(5))
    b = make_episode("fall_forward", "messy", np.random.default_rng(5))
    assert np.array_equal(a.rows.z_m, b.rows.z_m)
    assert (
        a.is_fall
        and a.impact_s is not None
        and a.rows.t0_s < a.impact_s < a.rows.t0_s + a.duration_s
    )
    c = make_episode("sit_fast", "clean", np.random.default_rng(5))
    assert not c.is_fall and c.impact_s is None


def test_payload_matches_protocol() -> None:
    ep = make_episode("walk", "messy", np.random.default_rng(1))
    ev = to_events(ep.rows, "radar-1")[2]
    p = to_payload(ev)
    assert set(p) == {"ts", "seq", "fps", "frames"}
    assert len(p["frames"]) == ev.n_frames  # type: ignore[arg-type]
    tgts = [t for f in p["frames"] for t in f["targets"]]  # type: ignore[attr-defined]
    assert tgts and all({"tid", "x", "y", "z"} <= set(t) for t in tgts)
    assert all("vz" not in t for t in tgts)  # messy module gives no velocity


def test_messy_profile_has_holds_and_clean_has_velocities() -> None:
    ep = make_episode("walk", "messy", np.random.default_rng(2))
    held = np.mean(np.diff(ep.rows.z_m) == 0)
    assert 0.37 <= held <= 0.99
    clean = make_episode("walk", "clean", np.random.default_rng(2))
    assert np.isfinite(clean.rows.vz_mps).all()
    assert np.mean(np.diff(clean.rows.z_m) == 0) < 0.05


def test_fall_descends_to_floor_and_stays() -> None:
    ep = make_episode("fall_sideways", "clean", np.random.default_rng(3))
    t = ep.rows.t0_s + ep.rows.frame / ep.rows.fps
    assert ep.impact_s is not None
    before = ep.rows.z_m[(t < ep.impact_s - 1.5) & (t > ep.impact_s - 3)]
    after = ep.rows.z_m[(t > ep.impact_s + 0.5) & (t < ep.impact_s + 5)]
    assert np.median(before) > 0.85 and np.median(after) < 0.5


def test_ordinary_activity_spans_duration() -> None:
    r = ordinary_activity(np.random.default_rng(4), 600.0, "typical")
    assert r.n_frames == 6000 and r.frame.max() < 6000
