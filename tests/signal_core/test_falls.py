"""Fall detector: hand-made trajectories per fall type and confounder, and tracker reality."""

from __future__ import annotations

import numpy as np
import pytest

from care_hub.signal_core import falls
from care_hub.signal_core.falls import FallDetection, FallDetector, FallParams, make_batch
from devices.events import Envelope, RadarFramesEvent
from simulators.radar_motion import (
    BED_RECT,
    CHAIR_RECT,
    CONFOUNDER_KINDS,
    FALL_KINDS,
    make_episode,
    to_events,
)

T0 = 1_764_320_000.0
FPS = 10.0


def smooth(n: int, a: float, b: float) -> np.ndarray:
    u = np.arange(1, n + 1) / n
    return a + (b - a) * u * u * (3 - 2 * u)


def traj(*segments: tuple[float, float, float]) -> np.ndarray:
    """Heights from (duration_s, z_start, z_end) segments at FPS."""
    return np.concatenate([smooth(max(1, round(d * FPS)), a, b) for d, a, b in segments])


def events(
    z: np.ndarray,
    x: np.ndarray | float = 2.5,
    y: np.ndarray | float = 2.5,
    tid: np.ndarray | int = 1,
    seed: int = 0,
    z_sd: float = 0.0,
    present: np.ndarray | None = None,
    extra: list[tuple[int, int, float, float, float]] | None = None,
) -> list[RadarFramesEvent]:
    """1 s windows of one target per frame (plus optional extra (frame, tid, x, y, z) rows)."""
    rng = np.random.default_rng(seed)
    n = z.shape[0]
    xs = np.broadcast_to(np.asarray(x, dtype=float), (n,))
    ys = np.broadcast_to(np.asarray(y, dtype=float), (n,))
    tids = np.broadcast_to(np.asarray(tid, dtype=np.int64), (n,))
    zz = z + rng.normal(0, z_sd, n) if z_sd else z
    pres = np.ones(n, dtype=bool) if present is None else present
    rows = [
        (i, int(tids[i]), float(xs[i]), float(ys[i]), float(zz[i])) for i in range(n) if pres[i]
    ]
    rows += extra or []
    rows.sort()
    out = []
    per = int(FPS)
    for w in range(0, n, per):
        r = [row for row in rows if w <= row[0] < w + per]
        nan = np.full(len(r), np.nan)
        out.append(
            RadarFramesEvent(
                env=Envelope("r1", "radar/frames", T0 + w / FPS, w),
                fps=FPS,
                n_frames=min(per, n - w),
                frame_index=np.asarray([row[0] - w for row in r], dtype=np.int32),
                tid=np.asarray([row[1] for row in r], dtype=np.int64),
                x_m=np.asarray([row[2] for row in r]),
                y_m=np.asarray([row[3] for row in r]),
                z_m=np.asarray([row[4] for row in r]),
                vx_mps=nan,
                vy_mps=nan.copy(),
                vz_mps=nan.copy(),
            )
        )
    return out


def run(
    evs: list[RadarFramesEvent], det: FallDetector | None = None, slot: int = 0
) -> list[FallDetection]:
    det = det or FallDetector(1)
    out: list[FallDetection] = []
    for ev in evs:
        out += det.step(make_batch([(slot, ev)]))
    return out


def confirmed(dets: list[FallDetection]) -> list[FallDetection]:
    return [d for d in dets if d.kind == "confirmed"]


STAND = 1.05
FLOOR = 0.4
FALL = traj((6, STAND, STAND), (0.6, STAND, FLOOR), (20, FLOOR, FLOOR))
IMPACT = T0 + 6.6


def test_forward_fall_is_confirmed_after_confirmation_time() -> None:
    dets = run(events(FALL, z_sd=0.05))
    conf = confirmed(dets)
    assert len(conf) == 1
    assert dets[0].kind == "suspected"
    assert 3.5 <= conf[0].at_s - IMPACT <= 7.0
    assert conf[0].pre_height_m > 0.9 and conf[0].floor_height_m < 0.5


def _judged_at(evs: list[RadarFramesEvent], look_s: float) -> list[float]:
    col: list[tuple[int, float, float, np.ndarray]] = []
    run(evs, FallDetector(1, FallParams(every_frame_look_s=look_s), model=None, collect=col))
    return [at for _, _, at, _ in col]


def test_a_radar_reporting_every_frame_is_judged_a_look_after_the_cancel_window() -> None:
    """The judge reads what followed the landing EVERY_FRAME_LOOK_S longer on a radar reporting
    every frame (fewer deliberate floor sits confirmed, docs/detection.md round 23); the
    resident's cancel window is still ``confirm_s``."""
    (base,) = _judged_at(events(FALL, z_sd=0.05), 0.0)
    (later,) = _judged_at(events(FALL, z_sd=0.05), falls.EVERY_FRAME_LOOK_S)
    assert falls.EVERY_FRAME_LOOK_S > 0 and later == pytest.approx(base + falls.EVERY_FRAME_LOOK_S)
    assert FallParams().every_frame_look_s == falls.EVERY_FRAME_LOOK_S
    conf = confirmed(run(events(FALL, z_sd=0.05)))
    assert [c.at_s for c in conf] == [later]


def test_confirmation_time_is_configurable() -> None:
    conf = confirmed(run(events(FALL), FallDetector(1, FallParams(confirm_s=12.0))))
    assert len(conf) == 1 and 10.5 <= conf[0].at_s - IMPACT <= 14.0


def test_fall_read_at_045_m_near_sensor_is_a_fall() -> None:
    z = traj((6, 1.1, 1.1), (0.8, 1.1, 0.45), (20, 0.45, 0.45))
    assert len(confirmed(run(events(z, z_sd=0.03)))) == 1


def test_getting_up_within_the_window_cancels() -> None:
    z = traj(
        (6, STAND, STAND),
        (0.6, STAND, FLOOR),
        (1.5, FLOOR, FLOOR),
        (1.5, FLOOR, STAND),
        (10, STAND, STAND),
    )
    dets = run(events(z))
    assert not confirmed(dets)
    assert any(d.kind == "cancelled" and d.reason == "got_up" for d in dets)


def test_cancel_button_during_window_is_recorded() -> None:
    det = FallDetector(1)
    evs = events(FALL)
    dets = run(evs[:9], det)
    assert det.pending(0)
    c = det.cancel(0, T0 + 9.0)
    assert c is not None and c.kind == "cancelled" and c.reason == "button"
    assert not confirmed(dets + run(evs[9:], det))
    assert det.cancel(0, T0 + 30.0) is None


def test_a_press_in_time_applied_after_the_confirmation_cancels_it_late() -> None:
    """The press was made before the confirmation but reached the detector after it (same
    batch as the confirming window, or a dead node's forward): cancelled as "button_late", once;
    a press after the confirmation, or before the impact, cancels nothing."""
    det = FallDetector(1)
    (c,) = [d for d in run(events(FALL), det) if d.kind == "confirmed"]
    assert det.cancel(0, c.at_s + 0.5) is None  # after the confirmation: too late
    assert det.cancel(0, c.impact_s - 2.0) is None  # before the fall
    late = det.cancel(0, c.at_s - 1.0)
    assert late is not None and (late.kind, late.reason) == ("cancelled", "button_late")
    assert late.impact_s == c.impact_s and late.at_s == c.at_s - 1.0
    assert det.cancel(0, c.at_s - 0.5) is None  # once


@pytest.mark.parametrize(
    "z",
    [
        traj((6, STAND, STAND), (0.5, STAND, 0.72), (20, 0.72, 0.72)),  # sit down fast on a chair
        traj(
            (6, STAND, STAND), (0.6, STAND, 0.6), (2, 0.6, 0.6), (1, 0.6, STAND), (10, STAND, STAND)
        ),  # bend
        traj((6, STAND, STAND), (1.5, STAND, 0.66), (20, 0.66, 0.66)),  # kneel
        traj(
            (6, STAND, STAND), (2, STAND, 0.66), (2, 0.66, 0.66), (4, 0.66, 0.42), (20, 0.42, 0.42)
        ),  # floor, slowly
        np.concatenate(
            [1.05 - 0.4 * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(300) / 20))]
        ),  # squats
    ],
    ids=["sit_fast", "bend", "kneel", "sit_floor_slowly", "exercise"],
)
def test_confounders_do_not_alarm(z: np.ndarray) -> None:
    assert not confirmed(run(events(z, z_sd=0.05)))


def test_lying_down_on_bed_is_not_a_fall_but_same_motion_elsewhere_is() -> None:
    z = traj((6, STAND, STAND), (0.5, STAND, 0.6), (20, 0.6, 0.55))
    det = FallDetector(1)
    det.set_bed_zones(0, [(2.0, 2.0, 3.0, 4.0)])
    assert not confirmed(run(events(z, x=2.5, y=3.0), det))
    z_floor = traj((6, STAND, STAND), (0.5, STAND, 0.35), (20, 0.35, 0.35))
    assert len(confirmed(run(events(z_floor, x=2.5, y=3.0)))) == 1


def test_fall_out_of_bed_is_a_fall() -> None:
    n_bed, n_fall, n_after = 100, 8, 200
    z = traj((n_bed / FPS, 0.62, 0.62), (n_fall / FPS, 0.62, 0.3), (n_after / FPS, 0.3, 0.3))
    x = np.concatenate([np.full(n_bed, 0.7), np.linspace(0.7, 1.6, n_fall), np.full(n_after, 1.6)])
    det = FallDetector(1)
    det.set_bed_zones(0, [BED_RECT])
    assert len(confirmed(run(events(z, x=x, y=4.0), det))) == 1


def test_target_dropping_out_after_fall_still_confirms() -> None:
    present = np.ones(FALL.shape[0], dtype=bool)
    present[round(8.5 * FPS) :] = False  # static clutter removal drops the still person
    assert len(confirmed(run(events(FALL, present=present, z_sd=0.05)))) == 1


def test_dropouts_and_tid_change_during_fall() -> None:
    present = np.ones(FALL.shape[0], dtype=bool)
    present[62:66] = False
    tid = np.where(np.arange(FALL.shape[0]) < 66, 7, 12)
    x = np.concatenate([np.full(62, 2.5), np.linspace(2.5, 3.2, FALL.shape[0] - 62)])
    assert len(confirmed(run(events(FALL, x=x, tid=tid, present=present, z_sd=0.05)))) == 1


def test_held_repeats_do_not_hide_a_fall() -> None:
    rng = np.random.default_rng(3)
    z = FALL + rng.normal(0, 0.15, FALL.shape[0])
    held = np.asarray(rng.random(FALL.shape[0]) < 0.6, dtype=bool)
    held[0] = False
    src = np.maximum.accumulate(np.where(held, 0, np.arange(FALL.shape[0])))
    assert len(confirmed(run(events(z[src])))) == 1


def test_phantoms_far_away_do_not_alarm_or_mask() -> None:
    rng = np.random.default_rng(4)
    frames = rng.choice(300, 40, replace=False)
    extra = [(int(f), 90, 0.3, 0.3, float(rng.uniform(0, 2.6))) for f in frames]
    stand = np.full(300, STAND)
    assert not confirmed(run(events(stand, z_sd=0.1, extra=extra)))
    fall_extra = [e for e in extra if e[0] < FALL.shape[0]]
    assert len(confirmed(run(events(FALL, z_sd=0.05, extra=fall_extra)))) == 1


def test_visitor_standing_next_to_fallen_resident_is_still_a_fall() -> None:
    extra = [(i, 2, 3.4, 2.5, 1.1) for i in range(70, FALL.shape[0])]  # 0.9 m away, standing
    assert len(confirmed(run(events(FALL, tid=1, extra=extra)))) == 1


def test_many_radars_in_one_batch_only_the_faller_alarms() -> None:
    det = FallDetector(3)
    fall_ev = events(FALL)
    stand_ev = events(np.full(FALL.shape[0], STAND))
    sit_ev = events(traj((6, STAND, STAND), (0.5, STAND, 0.72), (20, 0.72, 0.72)))
    out = []
    for a, b, c in zip(fall_ev, stand_ev, sit_ev, strict=True):
        out += det.step(make_batch([(0, a), (1, b), (2, c)]))
    assert [d.slot for d in confirmed(out)] == [0]


def test_replay_in_one_batch_matches_streaming() -> None:
    evs = events(FALL, z_sd=0.05)
    streamed = confirmed(run(evs))
    det = FallDetector(1)
    replayed = confirmed(det.step(make_batch([(0, e) for e in evs])))
    assert len(streamed) == len(replayed) == 1
    assert replayed[0].at_s == pytest.approx(streamed[0].at_s, abs=0.25)


@pytest.mark.parametrize("kind", list(FALL_KINDS))
def test_simulated_fall_types_clean_tracker(kind: str) -> None:
    rng = np.random.default_rng(11)
    ep = make_episode(kind, "clean", rng)
    # the rules alone, the chair unmapped (as before issue 13 round 2) ...
    det = FallDetector(1, model=None)
    det.set_bed_zones(0, [BED_RECT])
    conf = confirmed(run(to_events(ep.rows, "r1"), det))
    assert ep.impact_s is not None and len(conf) >= 1
    assert conf[0].at_s - ep.impact_s <= 7.0
    # ... and the learned judge with the room mapped as the hub maps it (an unmapped chair's
    # slow 0.35 m drop scores at its threshold: map the chairs)
    det = FallDetector(1)
    det.set_bed_zones(0, [BED_RECT], seats=[CHAIR_RECT])
    conf = confirmed(run(to_events(ep.rows, "r1"), det))
    assert len(conf) >= 1
    assert conf[0].at_s - ep.impact_s <= 7.0


@pytest.mark.parametrize("kind", list(CONFOUNDER_KINDS))
def test_simulated_confounders_clean_tracker(kind: str) -> None:
    rng = np.random.default_rng(12)
    ep = make_episode(kind, "clean", rng, visitor=True)
    det = FallDetector(1)
    det.set_bed_zones(0, [BED_RECT])
    assert not confirmed(run(to_events(ep.rows, "r1"), det))


SIT_FLOOR_LONG = traj(
    (6, STAND, STAND), (2, STAND, 0.66), (2, 0.66, 0.66), (4, 0.66, 0.42), (100, 0.42, 0.42)
)


def test_long_stay_on_the_floor_gives_one_floor_dwell_when_enabled() -> None:
    det = FallDetector(1, FallParams(floor_dwell_s=60.0))
    dets = run(events(SIT_FLOOR_LONG, z_sd=0.05), det)
    assert not confirmed(dets)
    dwell = [d for d in dets if d.kind == "floor_dwell"]
    assert len(dwell) == 1
    # reported about 60 s after first reaching the floor (~12-14 s into the trace)
    assert 70.0 <= dwell[0].at_s - T0 <= 80.0 and dwell[0].floor_height_m < 0.5


def test_long_floor_stays_on_a_noisy_module_are_all_alerted() -> None:
    # 30 people sitting on the floor for 5 min under the messy profile (~4 fresh samples/s, 0.25 m
    # jitter, flicker, holds): each gets a fall or a floor_dwell alert, nearly all within 130 s.
    # With a 3 s "up again" median (FLOOR_UP_WINDOW_S) 2 got none and 6 came later.
    from bench.falls import run_rows
    from simulators.radar_motion import NOISE_PROFILES, Script, render

    prof = NOISE_PROFILES["messy"]
    rows = []
    for i in range(30):
        rng = np.random.default_rng(100 + i)
        sc = Script(prof.fps, 2.5, 2.0, 1.0)
        sc.stay(3.0, rng)
        sc.move(2.0, z=0.66)
        sc.stay(2.0, rng)
        sc.move(3.0, z=0.42)
        sc.stay(300.0, rng, sway_m=0.02)
        rows.append(render([sc.track(round(sc.t_s * prof.fps))], prof, rng, T0, tid_base=1))
    dets = run_rows(rows, FallParams(floor_dwell_s=120.0))
    first = [
        min((x.at_s for x in d if x.kind in ("confirmed", "floor_dwell")), default=np.inf)
        - (T0 + 10.0)
        for d in dets
    ]
    assert all(np.isfinite(first))
    assert sum(t <= 130.0 for t in first) >= 25


def test_floor_dwell_is_off_by_default() -> None:
    assert not [d for d in run(events(SIT_FLOOR_LONG, z_sd=0.05)) if d.kind == "floor_dwell"]


def test_confirmed_fall_is_not_reported_again_as_floor_dwell() -> None:
    z = traj((6, STAND, STAND), (0.6, STAND, FLOOR), (90, FLOOR, FLOOR))
    dets = run(events(z, z_sd=0.05), FallDetector(1, FallParams(floor_dwell_s=30.0)))
    assert [d.kind for d in dets if d.kind in ("confirmed", "floor_dwell")] == ["confirmed"]


def test_held_repeats_count_once() -> None:
    """A value held for 4 s (FIELD-NOTES: holds up to several seconds) must not outvote fresh
    samples: a standing person whose last fresh sample before a hold was a low outlier is not
    'on the floor'."""
    z = np.full(300, STAND)
    z[100:140] = 0.3  # one outlier at frame 100, then held unchanged for 4 s
    rng = np.random.default_rng(7)
    fresh = np.ones(300, dtype=bool)
    fresh[101:140] = False
    noisy = np.where(fresh, STAND + rng.normal(0, 0.05, 300), 0.3)
    noisy[100] = 0.3
    # (it may be *suspected*: the hold refresh re-admits the held value once a second, which is
    # what lets a still person on a quantising tracker count; it is not confirmed)
    assert not confirmed(run(events(noisy)))


def test_fall_whose_track_is_reborn_far_away_at_floor_level_is_a_fall() -> None:
    # The standing track vanishes in a 2 s dropout and a new track appears 2.5 m away (beyond the
    # gate and the inherit distance) already at floor level, with no history of its own: judged
    # against the slot's upright reference (TI's 0.6 x rule).
    z = traj((8, STAND, STAND), (0.5, STAND, STAND), (0.3, STAND, FLOOR), (20, FLOOR, FLOOR))
    n = z.shape[0]
    present = np.ones(n, dtype=bool)
    present[80:100] = False
    x = np.where(np.arange(n) < 90, 2.0, 4.5)
    tid = np.where(np.arange(n) < 90, 3, 9)
    det = FallDetector(1)
    dets = run(events(z, x=x, tid=tid, present=present, z_sd=0.03), det)
    assert len(confirmed(dets)) == 1


def test_floor_level_track_is_not_a_fall_while_the_upright_one_is_still_seen() -> None:
    # A second target at floor level appears while the standing person is still seen (a pet, a
    # phantom cluster): the slot's upright reference belongs to someone who did not fall.
    n = 300
    extra = [(i, 9, 3.8, 2.5, 0.3) for i in range(100, n)]
    assert not confirmed(run(events(np.full(n, STAND), z_sd=0.03, extra=extra)))


def test_kneeling_plateau_before_the_floor_rarely_alarms_under_jitter() -> None:
    # Sitting down on the floor on purpose: kneel (1.5 s down, 2 s at 0.68 m), then 2.5 s down to
    # 0.42 m. Under 0.15 m jitter the descent timing is noise; the kneeling veto halves the alarms
    # over 40 noise seeds (4 -> 2 without and with it) and removes the one of seed 10.
    z = traj((8, STAND, STAND), (1.5, STAND, 0.68), (2.0, 0.68, 0.68), (2.5, 0.68, 0.42))
    z = np.concatenate([z, np.full(150, 0.42)])
    alarms = [seed for seed in range(40) if confirmed(run(events(z, z_sd=0.15, seed=seed)))]
    assert len(alarms) <= 2
    assert 10 not in alarms


def test_slow_descent_through_a_low_kneel_rarely_alarms_under_jitter() -> None:
    # Kneeling low (0.62 m, within 0.15 m jitter of floor level) for 1.5 s, then 3 s down to
    # 0.38 m. Bin medians of a kneeling person dip below 0.5 m, so "reached the floor" came early
    # and the descent looked short; counting the bins between upright and the floor level the
    # 3-bin median confirms (SLOW_BINS) cut alarms over 60 noise seeds from 13 to 7.
    z = traj((8, STAND, STAND), (2.0, STAND, 0.62), (1.5, 0.62, 0.62), (3.0, 0.62, 0.38))
    z = np.concatenate([z, np.full(150, 0.38)])
    alarms = [seed for seed in range(60) if confirmed(run(events(z, z_sd=0.15, seed=seed)))]
    assert len(alarms) <= 8


@pytest.mark.parametrize("sit_s", [1.0, 2.0])
def test_fall_from_an_unmapped_seat_after_a_short_sit_is_a_fall(sit_s: float) -> None:
    # Sat on a chair nobody mapped (0.74 m) for 1-2 s, then fell to 0.35 m: the seated bins lie
    # between floor and upright height like a kneel, but the 0.39 m step down from them is a fall
    # (SLOW_MAX_DROP_M); without that exception 15 of 40 such 2 s sits were missed.
    z = traj(
        (6, STAND, STAND),
        (0.5, STAND, 0.74),
        (sit_s, 0.74, 0.74),
        (0.6, 0.74, 0.35),
        (20, 0.35, 0.35),
    )
    runs = [(seed, sd) for seed in range(20) for sd in (0.05, 0.15)]
    rules = sum(
        bool(confirmed(run(events(z, z_sd=sd, seed=seed), FallDetector(1, model=None))))
        for seed, sd in runs
    )
    assert rules >= 36
    # The learned judge looks at where the body lands too (round 5: ``shift_m``, "before" spot
    # -> landing): off a seat a body lands in front of it, never inside it. Landing 0.4 m in
    # front of the seat, as falls in the simulated families do, it confirms all of them; landing
    # where the seat was (0 m) it confirmed 37 of 40 1 s sits but only 3 of 40 2 s sits, with
    # 0.2 m 10 of 40 (docs/detection.md, round 5: a limit). Map the chairs.
    k = int((6.5 + sit_s) * FPS)
    x = 2.5 + np.clip((np.arange(z.shape[0]) - k) / 6.0, 0.0, 1.0) * 0.4
    judged = sum(bool(confirmed(run(events(z, x=x, z_sd=sd, seed=seed)))) for seed, sd in runs)
    assert judged >= 36


def test_fall_out_of_chair_landing_near_a_stale_track_is_a_fall() -> None:
    # The person stood at (2.6, 2.0), the tracker jumped to the chair (a new track; the old one
    # goes stale with a 2 m gate), sat 6 s, then fell out of the chair onto (3.2, 1.75): nearer
    # the stale track than the chair track. The chair track, seen just now, must take the rows
    # (the stale one has no "before" of the sitting, so the fall went unnoticed).
    z = traj((4, STAND, STAND), (1, STAND, 0.75), (6, 0.75, 0.75), (0.6, 0.75, 0.3), (20, 0.3, 0.3))
    n = z.shape[0]
    i_chair, i_fall = 40, 110
    x = np.where(np.arange(n) < i_chair, 2.6, 4.0)
    y = np.where(np.arange(n) < i_chair, 2.0, 1.0)
    x = np.where(np.arange(n) < i_fall + 5, x, 3.2)
    y = np.where(np.arange(n) < i_fall + 5, y, 1.75)
    det = FallDetector(1)
    det.set_bed_zones(0, [CHAIR_RECT])
    assert len(confirmed(run(events(z, x=x, y=y, z_sd=0.02), det))) == 1


# CHAIR_RECT spans x 3.6-4.4, y 0.6-1.4; the detector's margin around support zones is 0.15 m.
SEATED = 0.75
SLIDE_OFF = traj((6, SEATED, SEATED), (0.8, SEATED, 0.3), (20, 0.3, 0.3))


def _slide_off_chair(landing_x: float) -> tuple[np.ndarray, np.ndarray]:
    n = SLIDE_OFF.shape[0]
    x = np.where(np.arange(n) < 64, 4.0, landing_x)
    return x, np.full(n, 1.0)


def test_sliding_off_a_chair_onto_the_floor_in_front_of_it_is_a_fall() -> None:
    # lands 0.1 m in front of the seat: inside the chair zone's margin, on the floor
    x, y = _slide_off_chair(3.5)
    seat = FallDetector(1)
    seat.set_bed_zones(0, [], seats=[CHAIR_RECT])
    assert len(confirmed(run(events(SLIDE_OFF, x=x, y=y, z_sd=0.03), seat))) == 1
    # beside a sofa or a bed it is the floor too (issue 13: sofas are judged by height as
    # chairs are, and floor height at a bed's edge is the floor; it used to count as lying on it)
    bed = FallDetector(1)
    bed.set_bed_zones(0, [CHAIR_RECT])
    assert len(confirmed(run(events(SLIDE_OFF, x=x, y=y, z_sd=0.03), bed))) == 1
    # only a floor bed (a mattress on the floor) keeps its whole margin at any height for the
    # rules; the learned judge also sees a fast arrival from seat height in its margin (not on
    # the mattress itself) and judges it by the descent: a fall there is still a fall
    floor_bed = FallDetector(1, model=None)
    floor_bed.set_bed_zones(0, [], floor_beds=[CHAIR_RECT])
    assert confirmed(run(events(SLIDE_OFF, x=x, y=y, z_sd=0.03), floor_bed)) == []
    judged = FallDetector(1)
    judged.set_bed_zones(0, [], floor_beds=[CHAIR_RECT])
    assert len(confirmed(run(events(SLIDE_OFF, x=x, y=y, z_sd=0.03), judged))) == 1


def _sitter_then_low_target(
    landing_x: float, sitter_stays: bool = False, seed: int = 0
) -> list[FallDetection]:
    """Seated on the chair at 0.62 m for 8 s (tid 3), unseen for 2.5 s, then a new target (tid 9)
    at 0.2 m at ``landing_x`` (y 1.0, 2.8 m from the chair); ``sitter_stays``: the sitter is seen
    on the chair all along."""
    n_sit, gap, n_low = 80, 25, 200
    n = n_sit + gap + n_low
    z = np.concatenate([np.full(n_sit + gap, 0.62), np.full(n_low, 0.2)])
    x = np.where(np.arange(n) < n_sit + gap, 4.0, landing_x)
    tid = np.where(np.arange(n) < n_sit + gap, 3, 9)
    present = np.ones(n, dtype=bool)
    present[n_sit : n_sit + gap] = False
    extra = [(i, 3, 4.0, 1.0, 0.62) for i in range(n_sit, n)] if sitter_stays else None
    det = FallDetector(1)
    det.set_bed_zones(0, [], seats=[CHAIR_RECT])
    evs = events(z, x=x, y=1.0, tid=tid, present=present, z_sd=0.03, seed=seed, extra=extra)
    return run(evs, det)


def test_a_low_target_far_from_where_the_sitter_vanished_is_not_their_fall(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A track born at floor level after the sitter vanished is judged against the seat only
    # within SEAT_ORPHAN_NEAR_M of it (falls from seats land 0.2-1.2 m on): 2.8 m off (a pet
    # across the room) it is not; nor next to a sitter still seen on the chair.
    assert not any(confirmed(_sitter_then_low_target(1.2, seed=s)) for s in range(5))
    assert not any(confirmed(_sitter_then_low_target(1.2, True, seed=s)) for s in range(5))
    monkeypatch.setattr(falls, "SEAT_ORPHAN_NEAR_M", 5.0)
    assert all(confirmed(_sitter_then_low_target(1.2, seed=s)) for s in range(5))
    assert not any(confirmed(_sitter_then_low_target(1.2, True, seed=s)) for s in range(5))


def test_sinking_low_inside_a_chair_is_not_a_fall() -> None:
    # a deep armchair: the centroid sinks to 0.4 m but stays inside the chair's footprint
    x, y = _slide_off_chair(3.9)
    det = FallDetector(1)
    det.set_bed_zones(0, [], seats=[CHAIR_RECT])
    assert confirmed(run(events(SLIDE_OFF, x=x, y=y, z_sd=0.03), det)) == []


def test_bed_and_seat_zones_share_the_limit() -> None:
    det = FallDetector(1)
    with pytest.raises(ValueError):
        det.set_bed_zones(0, [BED_RECT] * 3, seats=[CHAIR_RECT, CHAIR_RECT])


@pytest.mark.parametrize("widest", [5, 40])
def test_group_medians_match_a_plain_median_per_group(widest: int) -> None:
    """The padded-table medians (groups up to GROUP_PAD_MAX rows) and the lexsort path (wider)
    give each group's median, NaN where the middle of the sorted group is NaN."""
    from care_hub.signal_core.falls import _group_medians

    rng = np.random.default_rng(widest)
    sizes = rng.integers(1, widest + 1, 300)
    g = np.repeat(rng.permutation(1000)[:300], sizes)
    v = rng.normal(0.5, 0.3, g.size)
    w = np.where(rng.random(g.size) < 0.1, np.nan, rng.normal(0, 1, g.size))
    perm = rng.permutation(g.size)
    gu, cnt, (mv, mw) = _group_medians(g[perm], v[perm], w[perm])
    assert np.array_equal(gu, np.unique(g))
    for i, key in enumerate(gu.tolist()):
        vals = np.sort(w[g == key])  # NaN last, as in the detector's sort
        assert cnt[i] == vals.size
        assert mv[i] == np.median(v[g == key])
        mid = (vals[(vals.size - 1) // 2] + vals[vals.size // 2]) / 2
        assert (np.isnan(mid) and np.isnan(mw[i])) or mw[i] == mid


def test_three_wide_row_median_matches_the_sorted_median() -> None:
    """The sort-free width-3 median gives what sorting each row (NaN last) and averaging its
    middle values gives, NaN where a row is all NaN, signed zeros in the sort's order."""
    from care_hub.signal_core.falls import _row_median

    rng = np.random.default_rng(11)
    v = rng.normal(0.5, 0.3, (4000, 3))
    for value, share in ((np.nan, 0.3), (0.0, 0.1), (-0.0, 0.1), (0.5, 0.1)):
        v[rng.random(v.shape) < share] = value
    srt = np.sort(v, axis=1, kind="stable")
    n = np.sum(~np.isnan(v), axis=1)
    rows = np.arange(v.shape[0])
    lo, hi = np.maximum((n - 1) // 2, 0), n // 2
    want = np.where(n > 0, (srt[rows, lo] + srt[rows, np.minimum(hi, 2)]) / 2, np.nan)
    got = _row_median(v)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("span", [5, 1 << 40])
def test_two_key_sort_is_lexsort(span: int) -> None:
    """The combined-key stable sort gives lexsort's order (ties by position), and a key range too
    wide for 62 bits falls back to lexsort itself."""
    from care_hub.signal_core.falls import _lexsort2

    rng = np.random.default_rng(span % 97)
    major = rng.integers(0, 50, 5000)
    minor = rng.integers(-span, span, 5000)
    assert np.array_equal(_lexsort2(major, minor), np.lexsort((minor, major)))
