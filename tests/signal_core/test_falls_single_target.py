"""Fall detector on a single-target sample-and-hold module (HLK-LD6002B-like, issue 13): fresh
samples only, and a fall confirmed within 10 s of the impact."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from care_hub.signal_core import falls
from care_hub.signal_core.falls import (
    HOLD_FLOOR_AFTER_S,
    FallDetection,
    FallDetector,
    FallParams,
    make_batch,
)
from care_hub.signal_core.falls_model import FEATURES
from devices.events import Envelope, RadarFramesEvent

T0 = 1_764_320_000.0
FPS = 20.0
STAND = 1.0
FLOOR = 0.25
# issue 13, "the cheap module": confirmed alert p95 <= 10 s after the impact
MAX_LATENCY_S = 10.0
# the sofa of these tests (xmin, ymin, xmax, ymax) and a seated centroid on it
SOFA = (1.0, 1.0, 2.8, 1.9)
SEATED = 0.6


def ramp(n: int, a: float, b: float) -> np.ndarray:
    return np.linspace(a, b, n + 1)[1:]


def path(*segments: tuple[float, float, float]) -> np.ndarray:
    """Values from (duration_s, start, end) segments at FPS (linear)."""
    return np.concatenate([ramp(max(1, round(d * FPS)), a, b) for d, a, b in segments])


def held(n: int, seed: int, fraction: float = 0.7) -> np.ndarray:
    """Which frames resend the previous frame: holds of 0.25-2 s covering ~``fraction``."""
    rng = np.random.default_rng(seed)
    out = np.zeros(n, dtype=bool)
    i = 0
    while i < n:
        i += max(1, int(rng.geometric(1 / max(1.0, 0.8 * FPS * (1 - fraction) / fraction))))
        hold = int(rng.uniform(0.25, 2.0) * FPS)
        out[i : i + hold] = True
        i += hold
    return out


def windows(
    z: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    hold: np.ndarray,
    seed: int,
    z_sd: float = 0.15,
    xy_sd: float = 0.1,
    tid: np.ndarray | None = None,
) -> list[RadarFramesEvent]:
    """1 s windows of one target at FPS: jittered (x, y, z), held frames repeat the last fresh
    frame exactly, millimetre-rounded as payloads are (no velocities: the module gives none).
    ``tid``: each frame's target id (default 1 throughout)."""
    rng = np.random.default_rng(seed)
    n = z.shape[0]
    tids = np.ones(n, dtype=np.int64) if tid is None else tid.astype(np.int64)
    zz = np.round(z + rng.normal(0, z_sd, n), 3)
    xx = np.round(x + rng.normal(0, xy_sd, n), 3)
    yy = np.round(y + rng.normal(0, xy_sd, n), 3)
    hold = hold.copy()
    hold[0] = False
    src = np.maximum.accumulate(np.where(hold, 0, np.arange(n)))
    zz, xx, yy, tids = zz[src], xx[src], yy[src], tids[src]
    out = []
    per = int(FPS)
    for w in range(0, n, per):
        m = min(per, n - w)
        nan = np.full(m, np.nan)
        out.append(
            RadarFramesEvent(
                env=Envelope("r1", "radar/frames", T0 + w / FPS, w),
                fps=FPS,
                n_frames=m,
                frame_index=np.arange(m, dtype=np.int32),
                tid=tids[w : w + m],
                x_m=xx[w : w + m],
                y_m=yy[w : w + m],
                z_m=zz[w : w + m],
                vx_mps=nan,
                vy_mps=nan.copy(),
                vz_mps=nan.copy(),
            )
        )
    return out


def run(evs: list[RadarFramesEvent], det: FallDetector) -> list[FallDetection]:
    out: list[FallDetection] = []
    for ev in evs:
        out += det.step(make_batch([(0, ev)]))
    return out


def confirmed_at(dets: list[FallDetection]) -> list[float]:
    return [d.at_s for d in dets if d.kind == "confirmed"]


def trip(seed: int, fraction: float = 0.7) -> tuple[list[RadarFramesEvent], float]:
    """Walk, stand, trip (0.6 s accelerating), lie still: the clear fall of the brief, on a
    module holding ``fraction`` of its frames (0.9: about 1.4 fresh samples a second, as a
    10 Hz unit holding 85% of its frames gives)."""
    stand_s, walk_s = 4.0, 3.0
    u = np.linspace(0, 1, round(0.6 * FPS) + 1)[1:]
    z = np.concatenate(
        [
            path((stand_s, STAND, STAND), (walk_s, STAND, STAND)),
            STAND - (STAND - FLOOR) * u * u,
            path((30.0, FLOOR, FLOOR)),
        ]
    )
    n = z.shape[0]
    x = np.concatenate(
        [path((stand_s, 1.0, 1.0), (walk_s, 1.0, 3.0)), np.full(n - round(7 * FPS), 3.5)]
    )
    y = np.full(n, 3.0)
    return windows(z, x, y, held(n, seed, fraction), seed), T0 + stand_s + walk_s + 0.6


def test_held_module_falls_are_confirmed_within_10_s_of_impact() -> None:
    """Every confirmation comes within 10 s of the impact, and the judge confirms nearly all of
    these clear falls (it rejects some falls of the single-target module: sensitivity there is
    ~83% on the tuning families, docs/detection.md)."""
    hits = 0
    for seed in range(8):
        evs, impact = trip(seed)
        conf = confirmed_at(run(evs, FallDetector(1)))
        assert all(impact - 1.0 <= t <= impact + MAX_LATENCY_S for t in conf[:1]), seed
        hits += bool(conf)
    assert hits >= 6


def test_a_held_module_is_judged_at_the_cancel_window_not_a_look_later() -> None:
    """Held modules repeat stale rows, so a longer look adds little there and would cost their
    10 s goal: their falls are judged ``confirm_s`` after the landing whatever
    ``every_frame_look_s`` is."""
    judged = 0
    for seed in range(4):
        evs, _ = trip(seed)
        ats = []
        for look in (0.0, 3.0):
            col: list[tuple[int, float, float, np.ndarray]] = []
            params = FallParams(every_frame_look_s=look)
            run(evs, FallDetector(1, params, model=None, collect=col))
            ats.append([at for _, _, at, _ in col])
        assert ats[0] == ats[1], seed
        judged += bool(ats[0])
    assert judged >= 3


def slide_off_sofa(seed: int) -> tuple[list[RadarFramesEvent], float]:
    """Sit on a low sofa for 12 s (its centroid dips to floor level under 0.15 m jitter), then
    slide off onto the floor beside it and lie still."""
    z = path((3.0, STAND, STAND), (1.5, STAND, SEATED), (12.0, SEATED, SEATED))
    z = np.concatenate([z, path((0.8, SEATED, FLOOR), (30.0, FLOOR, FLOOR))])
    n = z.shape[0]
    x = np.full(n, 1.9)
    y = np.concatenate(
        [
            path((3.0, 3.0, 3.0), (1.5, 3.0, 1.5), (12.0, 1.5, 1.5)),
            path((0.8, 1.5, 2.45), (30.0, 2.45, 2.45)),
        ]
    )
    return windows(z, x, y, held(n, seed), seed), T0 + 3.0 + 1.5 + 12.0 + 0.8


def _sofa_candidates(seed: int) -> tuple[list[float], float]:
    evs, impact = slide_off_sofa(seed)
    col: list[tuple[int, float, float, np.ndarray]] = []
    det = FallDetector(1, model=None, collect=col)
    det.set_bed_zones(0, [SOFA])
    run(evs, det)
    return [at for _, _, at, _ in col], impact


def test_slide_off_a_sofa_on_a_held_module_is_judged_at_once() -> None:
    """A seated person's bin medians that dip to floor level are not "the floor reached": taken
    for it, the slide seconds later was judged only once the 20 s history forgot the seat
    (16 s late for one of these 8 slides before the fix, tuning families p95 ~24 s)."""
    early = 0
    for seed in range(8):
        ats, impact = _sofa_candidates(seed)
        assert all(at <= impact + MAX_LATENCY_S for at in ats[:1]), seed
        early += bool(ats)
    assert early >= 7


def test_standing_height_held_across_a_slow_descent_is_no_fast_descent() -> None:
    """A hold of the standing value over a slow, deliberate sit to the floor: the held value is
    one sample, not one a second, so the descent is "unseen", never a 0.5 s "seen" fall."""
    z = path((6.0, STAND, STAND), (4.0, STAND, 0.35), (20.0, 0.35, 0.35))
    n = z.shape[0]
    hold = np.zeros(n, dtype=bool)
    hold[round(5.9 * FPS) : round(10.0 * FPS)] = True  # 4.1 s: FIELD-NOTES holds up to ~4 s
    evs = windows(z, np.full(n, 2.5), np.full(n, 2.5), hold, seed=1, z_sd=0.03, xy_sd=0.03)
    col: list[tuple[int, float, float, np.ndarray]] = []
    run(evs, FallDetector(1, model=None, collect=col))
    fi = {name: i for i, name in enumerate(FEATURES)}
    assert col, "reaching the floor makes a candidate for the judge"
    for _, _, _, f in col:
        seen_fast = f[fi["seen"]] == 1 and f[fi["descent_s"]] < 2.0
        assert not seen_fast, f"held value read as a {f[fi['descent_s']]:.1f} s seen descent"


def test_a_long_hold_of_a_floor_height_alone_does_not_make_a_fall() -> None:
    """A standing person; the module then resends one low outlier for 4 s. One sample is one
    sample: no candidate, no confirmation."""
    z = path((10.0, STAND, STAND), (4.0, 0.3, 0.3), (10.0, STAND, STAND))
    n = z.shape[0]
    hold = np.zeros(n, dtype=bool)
    hold[round(10.0 * FPS) + 1 : round(14.0 * FPS)] = True
    evs = windows(z, np.full(n, 2.5), np.full(n, 2.5), hold, seed=2, z_sd=0.03, xy_sd=0.03)
    col: list[tuple[int, float, float, np.ndarray]] = []
    run(evs, FallDetector(1, model=None, collect=col))
    assert col == []
    assert not confirmed_at(run(evs, FallDetector(1)))


def test_quantised_repeats_of_a_still_person_still_count() -> None:
    """A quantising tracker (0.1 m grid) repeats exact values while someone lies still: those
    repeats are re-admitted once a second (they are real readings); a held module's value at
    floor level only once held for HOLD_FLOOR_AFTER_S."""
    z = path((6.0, STAND, STAND), (0.6, STAND, FLOOR), (30.0, FLOOR, FLOOR))
    n = z.shape[0]
    rng = np.random.default_rng(4)
    zq = np.round((z + rng.normal(0, 0.03, n)) / 0.1) * 0.1
    # after the fall every frame repeats one grid value: only the refresh brings samples
    zq[round(6.6 * FPS) :] = 0.3
    evs = windows(zq, np.full(n, 2.5), np.full(n, 2.5), np.zeros(n, bool), 3, 0.0, 0.0)
    assert confirmed_at(run(evs, FallDetector(1)))
    off_grid = windows(zq + 0.013, np.full(n, 2.5), np.full(n, 2.5), np.zeros(n, bool), 3, 0.0, 0.0)
    col: list[tuple[int, float, float, np.ndarray]] = []
    run(off_grid, FallDetector(1, model=None, collect=col))
    # off the grid the same repeats are one held sample until held for 3 s, then one a second
    landed = T0 + 6.6
    assert col
    assert min(at for _, _, at, _ in col) >= landed + HOLD_FLOOR_AFTER_S


def test_few_fresh_samples_a_second_still_make_a_candidate_in_time() -> None:
    """ "Height now" needs 3 fresh samples; at 1-1.5 a second its 1.5 s window seldom holds them
    and the floor went unnoticed until a burst of fresh frames: the window stretches to 3 s
    there. 16-17 of these 20 trips per hold level were candidates within 10 s of the impact
    with the 1.5 s window alone."""
    for fraction in (0.9, 0.93):
        timely = 0
        for seed in range(20):
            evs, impact = trip(seed, fraction)
            col: list[tuple[int, float, float, np.ndarray]] = []
            run(evs, FallDetector(1, model=None, collect=col))
            timely += any(impact - 1.0 <= at <= impact + MAX_LATENCY_S for _, _, at, _ in col)
        assert timely >= 19, fraction


def test_the_judge_sees_the_module_back_on_someone_up() -> None:
    """After a trip the module reports someone standing 2.5 m away (a visitor, or the resident
    all along while it had switched to a pet): the candidate's ``others_up_bins`` counts those
    bins, and is 0 when the module stays on the fallen person."""
    fi = {name: i for i, name in enumerate(FEATURES)}
    compared = 0
    for seed in range(6):
        evs, impact = trip(seed)
        col: list[tuple[int, float, float, np.ndarray]] = []
        run(evs, FallDetector(1, model=None, collect=col))
        switched = []
        for ev in evs:
            late = ev.env.ts + ev.frame_index / FPS >= impact + 2.0
            z, x, y = ev.z_m.copy(), ev.x_m.copy(), ev.y_m.copy()
            z[late], x[late], y[late] = STAND, 1.0, 1.0
            switched.append(replace(ev, x_m=x, y_m=y, z_m=z))
        col2: list[tuple[int, float, float, np.ndarray]] = []
        run(switched, FallDetector(1, model=None, collect=col2))
        if not col or not col2:
            continue
        compared += 1
        assert all(f[fi["others_up_bins"]] == 0 for *_, f in col), seed
        assert col2[0][3][fi["others_up_bins"]] > 0, seed
        assert col2[0][3][fi["others_up_share"]] >= 0.5, seed
    assert compared >= 4


def held_landing(seed: int, hold_s: float) -> tuple[list[RadarFramesEvent], float]:
    """A trip seen in fresh frames, two fresh samples at floor level after the impact, then the
    module resends its last value for ``hold_s`` (a person lying still under static clutter
    removal, or a recording whose final posture is held) and then for good stops reporting."""
    u = np.linspace(0, 1, round(0.6 * FPS) + 1)[1:]
    z = np.concatenate([path((5.0, STAND, STAND)), STAND - (STAND - FLOOR) * u * u])
    z = np.concatenate([z, path((0.2, FLOOR, FLOOR)), path((hold_s, FLOOR, FLOOR))])
    n = z.shape[0]
    hold = np.zeros(n, dtype=bool)
    hold[1::2] = True  # half the frames held before the landing, as the module does
    first_held = n - round(hold_s * FPS)
    hold[first_held - 4 :] = True
    hold[first_held - 4 :: -2][:1] = False  # the last fresh sample sits just before the hold
    return windows(z, np.full(n, 2.5), np.full(n, 2.5), hold, seed, z_sd=0.03), T0 + 5.6


def test_a_landing_held_by_the_module_makes_a_candidate() -> None:
    """Two fresh samples at floor level, then the module holds that value for 12 s: after 3 s
    of hold the value counts once a second, so the fall is judged (it had no candidate when held
    values never counted: issue 13's real clips end so). A hold of 2.5 s adds nothing."""
    for seed in range(5):
        col: list[tuple[int, float, float, np.ndarray]] = []
        evs, impact = held_landing(seed, 12.0)
        run(evs, FallDetector(1, model=None, collect=col))
        assert [at for _, _, at, _ in col if impact - 1.0 <= at <= impact + MAX_LATENCY_S], seed
        short: list[tuple[int, float, float, np.ndarray]] = []
        run(held_landing(seed, 2.5)[0], FallDetector(1, model=None, collect=short))
        assert short == [], seed


def test_the_floor_spot_is_let_go_when_its_person_gets_up_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The slot's floor spot (falls.SPOT_GAP_S) of someone who sits on the floor for 30 s and
    then stands up where they sat is let go once they are seen up there (SPOT_UP_BINS), so
    whoever lies on that spot next starts a floor time of their own; kept, it would carry on
    the first person's (it does with the let-go turned off)."""

    def spot_after_getting_up(seed: int) -> float:
        z = path((6.0, STAND, STAND), (2.5, STAND, 0.6), (2.0, 0.6, 0.6), (2.0, 0.6, FLOOR))
        z = np.concatenate(
            [z, path((30.0, FLOOR, FLOOR), (2.0, FLOOR, STAND), (6.0, STAND, STAND))]
        )
        n = z.shape[0]
        evs = windows(z, np.full(n, 1.5), np.full(n, 2.0), held(n, seed), seed)
        det = FallDetector(1, FallParams(floor_dwell_s=60.0))
        run(evs[:-6], det)
        assert not np.isnan(det._sd_t0[0]), seed  # on the floor: the spot is held
        run(evs[-6:], det)
        return float(det._sd_t0[0])

    for seed in range(4):
        assert np.isnan(spot_after_getting_up(seed)), seed
    monkeypatch.setattr(falls, "SPOT_UP_BINS", 10**6)
    assert not np.isnan(spot_after_getting_up(0))


def down_beside_a_visitor(
    seed: int, up_after_s: float | None
) -> tuple[list[RadarFramesEvent], float]:
    """A resident sits down on the floor in stages while a visitor stands 1 m away; the module
    switches between the two every 1-3 s and gives the resident a new id at every return (as the
    single_hold tracker model does). ``up_after_s``: they get up after this long on the floor and
    walk off (``None``: they stay down). Returns the windows and when they reached the floor."""
    rng = np.random.default_rng(seed)
    z = path((6.0, STAND, STAND), (2.5, STAND, 0.6), (2.0, 0.6, 0.6), (2.0, 0.6, FLOOR))
    down_at = T0 + z.shape[0] / FPS
    if up_after_s is None:
        z = np.concatenate([z, path((100.0, FLOOR, FLOOR))])
        x = np.full(z.shape[0], 1.5)
    else:
        z = np.concatenate([z, path((up_after_s, FLOOR, FLOOR), (2.0, FLOOR, STAND))])
        x = np.full(z.shape[0], 1.5)
        z = np.concatenate([z, path((60.0, STAND, STAND))])
        x = np.concatenate([x, path((3.0, 1.5, 4.0), (57.0, 4.0, 4.0))])
    n = z.shape[0]
    seg = np.repeat(np.arange(n), rng.integers(round(1 * FPS), round(3 * FPS), n))[:n]
    visitor = (np.asarray(rng.random(n))[seg] < 0.5) & (np.arange(n) >= 8 * FPS)
    z = np.where(visitor, 0.95, z)
    x = np.where(visitor, 2.5, x)
    tid = np.where(visitor, 100, 1 + np.cumsum(np.r_[False, ~visitor[1:] & visitor[:-1]]))
    return windows(z, x, np.full(n, 2.0), held(n, seed), seed, tid=tid), down_at


def test_who_got_up_while_the_module_watched_a_visitor_is_not_reported_on_the_floor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """30 s on the floor beside a visitor, then up and away while the module looked at the
    visitor: the track that vanished at floor level is not reported as someone still down, as
    the slot's floor spot was let go (falls.SPOT_GAP_S: the module showed others and nobody at
    floor level there). With the spot never let go, a floor dwell came 60 s after they sat
    down. Who stays down is still reported within 75 s."""
    params = FallParams(floor_dwell_s=60.0)

    def dwells(up_after_s: float | None) -> list[list[float]]:
        out = []
        for seed in range(8):
            evs, down_at = down_beside_a_visitor(seed, up_after_s)
            dets = run(evs, FallDetector(1, params))
            out.append([d.at_s - down_at for d in dets if d.kind in ("confirmed", "floor_dwell")])
        return out

    assert all(r and r[0] <= 75.0 for r in dwells(None))
    got_up = dwells(30.0)
    assert all(at <= 15.0 for r in got_up for at in r)  # (a confirmation at the sit-down)
    monkeypatch.setattr(falls, "SPOT_GAP_S", 1e9)
    assert any(at >= 55.0 for r in dwells(30.0) for at in r)


def test_who_stays_down_while_the_module_watches_a_visitor_keeps_their_floor_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Down on the floor, then the module shows only a visitor for 15 s (longer than
    falls.SPOT_GAP_S), then the person on the floor again, where they were: the slot's floor
    spot keeps the time they came down (SPOT_RESUME_S), so the floor dwell is not put off by the
    look away. Without the resume the spot restarted at their return."""
    z = path((6.0, STAND, STAND), (2.5, STAND, 0.6), (2.0, 0.6, 0.6), (2.0, 0.6, FLOOR))
    down_at = T0 + z.shape[0] / FPS
    z = np.concatenate([z, path((20.0, FLOOR, FLOOR), (15.0, 0.95, 0.95), (10.0, FLOOR, FLOOR))])
    n = z.shape[0]
    visitor = z == 0.95
    x = np.where(visitor, 2.5, 1.5)
    tid = np.where(visitor, 100, 1 + np.cumsum(np.r_[False, ~visitor[1:] & visitor[:-1]]))

    def spot_since(seed: int) -> float:
        det = FallDetector(1, FallParams(floor_dwell_s=60.0))
        run(windows(z, x, np.full(n, 2.0), held(n, seed), seed, tid=tid), det)
        return float(det._sd_t0[0]) - down_at

    for seed in range(4):
        assert spot_since(seed) <= 3.0, seed  # (the first floor-level bin: up to 3 s after)
    monkeypatch.setattr(falls, "SPOT_RESUME_S", 0.0)
    assert spot_since(0) >= 35.0
