"""Fall detector on randomised families (issue 13): confounders at floor level, falls at furniture,
learned heights, and the baseline rule of bench.fall_families."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.fall_clips import CLIP_S, HOLD_S, clip_episode
from bench.fall_families import baseline_alarms, run_detector, wilson
from care_hub.signal_core import falls
from care_hub.signal_core.falls import FallBatch, FallDetection, FallDetector, FallParams
from care_hub.signal_core.falls_model import FEATURES
from simulators.fall_families import (
    FamilyEpisode,
    cell_episodes,
    family_episode,
    make_family_episode,
    make_family_episodes,
)

PARAMS = FallParams(floor_dwell_s=60.0)


def _episodes(kind: str, n: int, tracker: str = "multi_clean") -> list[FamilyEpisode]:
    rng = np.random.default_rng(13)
    return [make_family_episode("T1_average", tracker, kind, rng) for _ in range(n)]


def _confirmed(eps: list[FamilyEpisode]) -> list[bool]:
    return [any(d.kind == "confirmed" for d in ds) for ds in run_detector(eps, PARAMS)]


@pytest.mark.parametrize("kind", ["all_fours", "on_heels", "kneel_upright", "sit_floor"])
def test_floor_level_confounders_rarely_alarm(kind: str) -> None:
    assert sum(_confirmed(_episodes(kind, 8))) <= 1


@pytest.mark.parametrize("kind", ["slide_off_sofa", "fall_beside_bed", "fall_from_chair", "trip"])
def test_falls_at_furniture_are_falls(kind: str) -> None:
    assert sum(_confirmed(_episodes(kind, 8))) >= 7


def test_fall_detection_says_what_was_seen() -> None:
    (ds,) = run_detector(_episodes("trip", 1), PARAMS)
    c = [d for d in ds if d.kind == "confirmed"][0]
    assert 0 < c.descent_s <= 2.5 and c.drop_m > 0.3 and c.down_s >= PARAMS.confirm_s - 0.01


def test_learned_upright_height_round_trips() -> None:
    det = FallDetector(2)
    assert det.learned_heights(0) == {}
    det.set_learned_heights(0, {"upright_m": 0.78})
    assert det.learned_heights(0) == {"upright_m": 0.78}
    det.set_learned_heights(1, {"upright_m": 3.0, "other": 1.0})  # implausible: ignored
    assert det.learned_heights(1) == {}


def test_floor_bed_protects_at_any_height_but_a_bed_margin_does_not() -> None:
    det = FallDetector(1)
    det.set_bed_zones(0, [], floor_beds=[(0.0, 0.0, 1.0, 2.0)])
    assert det._seat[0].tolist()[:1] == [False]
    det.set_bed_zones(0, [(0.0, 0.0, 1.0, 2.0)])
    assert det._seat[0].tolist()[:1] == [True]


def test_baseline_detects_a_clear_fall_and_ignores_standing() -> None:
    # the trivial rule misses a fallen person read above 0.35 m: a family that lands low
    rng = np.random.default_rng(3)
    fall = make_family_episode("T2_short_far", "multi_clean", "trip", rng)
    assert fall.impact_s is not None
    hits = [a for a in baseline_alarms(fall.rows, [fall.room.bed]) if a >= fall.impact_s - 1]
    assert hits and hits[0] - fall.impact_s <= 8.0
    (stand,) = _episodes("stand", 1)
    assert baseline_alarms(stand.rows, [stand.room.bed]) == []


def test_wilson_interval() -> None:
    lo, hi = wilson(98, 100)
    assert 0.92 < lo < 0.95 and 0.99 < hi <= 1.0
    assert all(math.isnan(v) for v in wilson(0, 0))  # nothing measured


def test_the_learned_judge_is_shipped_and_explains_itself() -> None:
    from care_hub.signal_core.falls_model import FEATURES, default_model

    model = default_model()
    assert model is not None and model.features == FEATURES
    x = np.full((3, len(FEATURES)), np.nan)  # all missing still scores
    x[1] = 0.5
    p = model.proba(x)
    assert p.shape == (3,) and ((p >= 0) & (p <= 1)).all()
    (ds,) = run_detector(_episodes("trip", 1), PARAMS)
    c = [d for d in ds if d.kind == "confirmed"][0]
    names = [name for name, _ in c.features]
    assert names == list(FEATURES) and c.score >= model.threshold_p
    seen = dict(c.features)
    # a multi-target tracker's true velocities reach the judge: the descent's downward speed
    assert seen["vz_min_mps"] < -0.5 and seen["peak_fall_mps"] > 0.5
    assert math.isfinite(seen["slope_min_mps"])


def test_without_velocities_the_judge_still_sees_the_descent() -> None:
    from dataclasses import replace

    ep = _episodes("trip", 1)[0]
    no_vz = replace(ep, rows=replace(ep.rows, vz_mps=np.full(ep.rows.vz_mps.shape[0], np.nan)))
    (ds,) = run_detector([no_vz], PARAMS)
    c = [d for d in ds if d.kind == "confirmed"][0]
    seen = dict(c.features)
    assert math.isnan(seen["vz_min_mps"]) and seen["peak_fall_mps"] > 0.5
    assert math.isfinite(seen["slope_min_mps"])


def test_rules_alone_without_a_model() -> None:
    from care_hub.signal_core.falls_model import TreeModel

    eps = _episodes("trip", 4)
    ruled = run_detector(eps, PARAMS, model=None)
    assert all(any(d.kind == "confirmed" for d in ds) for ds in ruled)
    assert all(d.features == () for ds in ruled for d in ds)
    assert FallDetector(1, model=None)._model is None
    assert isinstance(FallDetector(1)._model, TreeModel)


def test_a_pet_darting_about_is_not_a_person_on_the_floor() -> None:
    # an hour of a room with a pet: at floor level all the time, never 60 s in one spot
    from simulators.fall_families import make_family_day

    rng = np.random.default_rng(21)
    days = [make_family_day("T1_average", "multi_clean", 0.5, rng) for _ in range(6)]
    pets = [d for d in days if d.pet]
    assert pets
    dets = run_detector(pets, PARAMS)
    dwell_on_open_floor = [
        d for ds in dets for d in ds if d.kind == "floor_dwell" and d.floor_height_m < 0.3
    ]
    assert len(dwell_on_open_floor) <= len(pets)


def _scored(
    fall_scores: list[float], other_scores: list[float], day_scores: list[float]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One candidate per episode of multi_clean, then one 24 h ordinary day with its candidates."""
    nf, n = len(fall_scores), len(fall_scores) + len(other_scores)
    d = {
        "ep": np.r_[np.arange(n), np.full(len(day_scores), n)],
        "at_ok": np.ones(n + len(day_scores), dtype=np.bool_),
        "ep_trk": np.asarray(["multi_clean"] * n + ["day_multi_clean"]),
        "ep_fall": np.r_[np.ones(nf, dtype=np.bool_), np.zeros(n + 1 - nf, dtype=np.bool_)],
        "ep_hours": np.r_[np.zeros(n), 24.0],
    }
    return d, np.asarray(fall_scores + other_scores + day_scores)


def test_training_threshold_prefers_fewer_day_false_alarms_at_no_cost() -> None:
    # bench.train_falls: among thresholds with the best worst margin to the goals on episodes,
    # the one with the fewest ordinary-day false alarms (out of fold)
    from bench.train_falls import choose_threshold, day_false_alarms

    d, score = _scored([0.9] * 10, [0.1] * 10, [0.5, 0.6, 0.7])
    assert day_false_alarms(d, score, 0.55) == {"multi_clean": 2.0}
    assert 0.7 < choose_threshold(d, score) <= 0.9  # every fall kept, no day false alarm left
    # a fall scoring 0.65: keeping it costs one day false alarm unless sensitivity may give
    d, score = _scored([0.9] * 10 + [0.65], [0.1] * 10, [0.5, 0.6, 0.7])
    assert 0.6 < choose_threshold(d, score) <= 0.65
    assert 0.7 < choose_threshold(d, score, fa_tolerance=0.1) <= 0.9


def test_judges_compare_at_matched_sensitivity() -> None:
    # bench.train_falls --matched: the highest threshold whose sensitivity reaches the target, and
    # the specificity and day false alarms there
    from bench.train_falls import at_matched_sensitivity

    d, score = _scored([0.9] * 8 + [0.65, 0.4], [0.1] * 9 + [0.5], [0.5, 0.6, 0.7])
    ((thr, se, sp, fa),) = at_matched_sensitivity(d, score, {"multi_clean": 0.85}).values()
    assert 0.6 < thr <= 0.65 and se == 0.9 and sp == 1.0 and fa == 1.0  # the day's 0.7 alarms
    ((thr, se, sp, fa),) = at_matched_sensitivity(d, score, {"multi_clean": 1.0}).values()
    assert 0.35 < thr <= 0.4 and se == 1.0 and sp == 0.9 and fa == 3.0


def test_training_threshold_weighs_episodes_for_its_spread() -> None:
    # bench.train_falls --spread: the choice under episode weights (a resampling draws them)
    from bench.train_falls import choose_threshold, threshold_spread

    d, score = _scored([0.9] * 10 + [0.65], [0.1] * 10, [0.5, 0.6, 0.7])
    ones = np.ones(d["ep_trk"].shape[0])
    assert choose_threshold(d, score, w=ones) == choose_threshold(d, score)
    # drawn without the fall scoring 0.65, nothing holds the threshold below the day's 0.7
    w = ones.copy()
    w[10] = 0.0
    assert 0.7 < choose_threshold(d, score, w=w) <= 0.9
    # a day drawn twice weighs twice: its false alarms and its hours alike
    from bench.train_falls import day_false_alarms

    w2 = ones.copy()
    w2[-1] = 2.0
    assert day_false_alarms(d, score, 0.55, w2) == day_false_alarms(d, score, 0.55)
    spread = threshold_spread(d, score, 0.0, draws=30, seed=1)
    assert set(spread) == {"peak", "chosen", "band_middle"}
    assert all(v.shape == (30,) for v in spread.values())
    # the fall at 0.65 is in some draws and not in others: the choice moves between them
    assert spread["chosen"].min() <= 0.65 < 0.7 < spread["chosen"].max()


def test_frequent_sample_candidates_have_a_threshold_of_their_own() -> None:
    # the shipped model carries one more tree: a logit offset for candidates with many fresh
    # samples per second (trackers that report every frame), so the shared threshold_p means the
    # frequent trackers' own threshold for them (bench.train_falls.choose_frequent_threshold)
    import json
    from importlib import resources

    from bench.train_falls import FRESH_SPLIT_PER_S
    from care_hub.signal_core.falls_model import FEATURES, from_dict

    doc = json.loads(
        resources.files("care_hub.signal_core").joinpath("models", "falls_gbm.json").read_text()
    )
    split = doc["frequent_samples"]
    assert split["fresh_per_s_above"] == FRESH_SPLIT_PER_S
    full = from_dict(doc)
    without = from_dict({**doc, "trees": doc["trees"][:-1]})
    x = np.full((2, len(FEATURES)), 0.3)
    x[:, FEATURES.index("fresh_per_s")] = [FRESH_SPLIT_PER_S - 3, FRESH_SPLIT_PER_S + 3]

    def logit(p: np.ndarray) -> np.ndarray:
        return np.asarray(np.log(p / (1 - p)))

    moved = logit(full.proba(x)) - logit(without.proba(x))
    t_held, t_frequent = full.threshold_p, split["threshold_p"]
    assert t_frequent != t_held
    assert moved[0] == pytest.approx(0.0, abs=1e-9)  # a held module: the shared threshold
    assert moved[1] == pytest.approx(
        math.log(t_held / (1 - t_held) * (1 - t_frequent) / t_frequent)
    )


def test_report_splits_falls_by_visitor(capsys: pytest.CaptureFixture[str]) -> None:
    """The bench's visitor table counts every fall once, alone or with a visitor."""
    from bench.fall_families import evaluate, report

    eps = make_family_episodes(("T1_average",), ("single_hold",), 2, 3)
    js = evaluate(eps, PARAMS)
    report(js, ("T1_average",), ("single_hold",))
    out = capsys.readouterr().out
    table = out.split("Falls with and without a visitor")[1].splitlines()
    row = next(r for r in table if r.startswith("| single_hold |"))
    counts = [int(c.split(" of ")[1].split()[0]) for c in row.split("|") if " of " in c]
    falls = [e for e in eps if e.is_fall]
    assert counts == [sum(not e.visitor for e in falls), sum(e.visitor for e in falls)]
    assert sum(counts) == len(falls)
    # late falls (not confirmed within 10 s), split into "none judged by then" and "turned down"
    from bench.fall_families import LATE_S

    late_cells = [c.strip() for c in row.split("|") if ":" in c and "/" in c and "%" not in c]
    for vis, cell in zip((False, True), late_cells, strict=True):
        n, split = cell.split(":")
        unseen, turned = (int(v) for v in split.split("/"))
        f = [j for j in js if j.ep.is_fall and j.ep.visitor == vis]
        late = [j for j in f if not (j.alarmed and (j.latency_s or 0.0) <= LATE_S["single_hold"])]
        assert int(n) == len(late) == unseen + turned


def test_misses_lists_each_fall_never_confirmed_with_what_the_judge_saw() -> None:
    """`bench.fall_families --misses`: one line per unconfirmed fall, naming the draw that
    rebuilds its episode, and the candidates near its impact with the shipped judge's scores."""
    from bench.fall_families import evaluate, misses
    from care_hub.signal_core.falls_model import default_model

    eps = make_family_episodes(("T1_average",), ("single_hold",), 4, 3)
    js = evaluate(eps, PARAMS)
    lines = misses(js)
    missed = [j for j in js if j.ep.is_fall and not j.alarmed]
    assert lines and len(lines) == len(missed)
    model = default_model()
    assert model is not None
    for line, j in zip(lines, missed, strict=True):
        trk, fam, kind, draw = line.split()[:4]
        same = [e for e in eps if (e.tracker, e.family, e.kind) == (trk, fam, kind)]
        assert same[int(draw.lstrip("#"))] is j.ep
        assert ("no candidate" in line) == (not j.candidates)
        for off, score, x in j.candidates:
            assert off >= -3.0
            assert score == pytest.approx(float(model.proba(np.asarray([x]))[0]))
            assert f"score {score:.2f}" in line


def test_trace_rebuilds_the_draw_misses_names_and_shows_its_rows() -> None:
    """`bench.fall_families --trace TRACKER FAMILY KIND N`: the N-th draw of that cell (the
    `#N` of `--misses`), the detector's decisions on it, and its bins around the impact."""
    import re

    from bench.fall_families import main, trace_draw

    eps = make_family_episodes(("T1_average",), ("multi_clean",), 3, 4)
    trips = [e for e in eps if e.kind == "trip"]
    for n, ep in enumerate(trips):
        again = family_episode("T1_average", "multi_clean", "trip", n, 4)
        assert again.impact_s == ep.impact_s
        assert np.array_equal(again.rows.z_m, ep.rows.z_m)
    lines = trace_draw("T1_average", "multi_clean", "trip", 2, 4, PARAMS)
    assert lines[0].startswith("multi_clean T1_average trip #2 seed 4:")
    (ds,) = run_detector([trips[2]], PARAMS)
    conf = next(d for d in ds if d.kind == "confirmed")
    assert trips[2].impact_s is not None
    assert any(
        ln.startswith(f"  confirmed at {conf.at_s - trips[2].impact_s:+.1f} s,") for ln in lines
    )
    bins = [re.match(r"\s+t\s*([+-][\d.]+) s\s+k(\d) id\s+\S+ z\s+(-?[\d.]+)", ln) for ln in lines]
    t = np.array([float(m.group(1)) for m in bins if m])
    k = np.array([int(m.group(2)) for m in bins if m])
    z = np.array([float(m.group(3)) for m in bins if m])
    assert t.size and t.min() >= -12.0 and t.max() <= 12.0
    # the person up before the impact, and a track at floor level after it (a visitor's beside)
    assert np.median(z[t < -2]) > 0.7
    assert min(np.median(z[(t > 1) & (k == kk)]) for kk in set(k[t > 1].tolist())) < 0.5
    # a confounder: around its false alarm's landing if it raised one, else from its start
    for n in range(15):
        lines = trace_draw("T7_busy_floorbed", "quantised_10fps", "all_fours", n, 1, PARAMS)
        if any(ln.startswith("  confirmed") for ln in lines):
            assert lines[0].endswith("times from the false alarm's landing")
            assert any(
                ln.startswith("  confirmed at ") and ", landing +0.0 s" in ln for ln in lines
            )
            break
        assert lines[0].endswith("times from the start")
    else:
        pytest.fail("no false alarm among 15 such confounders to trace")
    with pytest.raises(SystemExit, match="N is a draw number"):
        main(["--trace", "multi_clean", "T1_average", "trip", "two"])
    with pytest.raises(SystemExit, match="no such cell"):
        main(["--trace", "multi_clean", "T1_average", "tripping", "0"])


def test_in_time_counts_only_confirmations_within_the_latency_goal() -> None:
    """A rule's crossing half a minute after the impact (a visitor's, say) catches the fall in
    the plain count but not in time; the product's in-time count uses the same goal."""
    from bench.fall_families import Judged, cell

    (fall,) = _episodes("trip", 1)
    js = [
        Judged(fall, True, 4.5, True, 33.7, None),  # both; the rule 34 s late
        Judged(fall, True, 12.0, True, 6.0, None),  # the product late, the rule in time
        Judged(fall, False, None, False, None, None),  # neither
    ]
    c = cell(js, 10.0)
    assert (c.tp, c.base_tp) == (2, 2)
    assert (c.tp_in, c.base_tp_in) == (1, 1)
    assert cell(js).tp_in == 2  # no goal: every confirmation


def test_disagreements_count_where_each_of_product_and_rule_wins() -> None:
    """The bench's disagreement table: falls only the rule confirmed (split into no candidate
    near the impact and turned down), falls only the product confirmed, and the false alarms
    each raised alone; episodes both decided alike count nowhere."""
    from bench.fall_families import Judged, disagreements

    (fall,) = _episodes("trip", 1)
    (walk,) = _episodes("walk", 1)
    seen = ((0.5, 0.2, (0.0,)),)  # a candidate near the impact, turned down
    js = [
        Judged(fall, False, None, True, 3.0, None),  # the rule alone, no candidate
        Judged(fall, False, None, True, 3.0, None, 2.0, seen),  # the rule alone, turned down
        Judged(fall, False, None, True, 3.0, None, 2.0, seen),
        Judged(fall, True, 4.0, False, None, None),  # the product alone
        Judged(fall, True, 4.0, True, 3.0, None),  # both
        Judged(fall, False, None, False, None, None),  # neither
        Judged(walk, True, None, False, None, None),  # a false alarm of the product alone
        Judged(walk, False, None, True, None, None),  # of the rule alone, twice
        Judged(walk, False, None, True, None, None),
        Judged(walk, True, None, True, None, None),  # both wrong
    ]
    d = disagreements(js)
    assert (d.base_falls, d.base_falls_none) == (3, 1)
    assert d.product_falls == 1
    assert (d.product_alarms, d.base_alarms) == (1, 2)


def test_unmapped_takes_the_seats_off_the_map_and_keeps_the_bed() -> None:
    """``bench.fall_families --unmapped``: the same fall from a chair judged with no chair or
    sofa zone (not out of a support; the nearest furniture is the bed, metres away) where the
    mapped room has it leave the chair."""
    from bench.fall_families import evaluate

    ep = family_episode("T1_average", "multi_clean", "fall_from_chair", 0, 1)
    at = {f: FEATURES.index(f) for f in ("from_support", "furniture_m")}
    for unmapped, support, near in ((False, 1.0, (0.0, 0.6)), (True, 0.0, (1.5, 6.0))):
        (j,) = evaluate([ep], PARAMS, unmapped=unmapped)
        (cand,) = [x for off, _, x in j.candidates if abs(off) < 2.0]
        assert cand[at["from_support"]] == support
        assert near[0] <= cand[at["furniture_m"]] <= near[1]


def test_a_slide_off_a_sofa_nobody_mapped_is_judged_out_of_that_seat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no chair or sofa on the map, a slide off a low sofa (seated 0.5-0.65 m, under the
    broad path's 0.6 m "before") had no candidate; a "before" that sat still at seat height
    makes one (falls.SIT_*), judged with that seat as its "before"."""
    eps = cell_episodes("T1_average", "quantised_10fps", "slide_off_sofa", 15, 1)
    unmapped = [True] * len(eps)
    with_seat = run_detector(eps, PARAMS, unmapped=unmapped)
    confirmed = [[d for d in ds if d.kind == "confirmed"] for ds in with_seat]
    for e, ds in zip(eps, confirmed, strict=True):
        for d in ds:
            f = dict(d.features)
            if f["sat_before"] == 1:
                assert e.body is not None
                assert f["pre_m"] == pytest.approx(e.body.sofa_m, abs=0.12)
    monkeypatch.setattr(falls, "SIT_MIN_BINS", 10**6)  # no "before" ever sat still
    without = run_detector(eps, PARAMS, unmapped=unmapped)
    n_with = sum(bool(ds) for ds in confirmed)
    n_without = sum(any(d.kind == "confirmed" for d in ds) for ds in without)
    assert n_with >= 6 and n_without <= n_with - 3
    assert sum(any(dict(d.features)["sat_before"] == 1 for d in ds) for ds in confirmed) >= 4


def test_no_fall_is_confirmed_before_the_judge_first_looked_at_it() -> None:
    from bench.fall_families import evaluate

    js = evaluate(_episodes("trip", 4) + _episodes("walk", 2), PARAMS)
    falls = [j for j in js if j.ep.is_fall]
    assert any(j.alarmed for j in falls)
    for j in falls:
        if j.alarmed:
            assert j.judged_s is not None and j.latency_s is not None
            assert j.judged_s <= j.latency_s + 1e-9
    assert all(j.judged_s is None for j in js if not j.ep.is_fall)


def test_a_clip_is_5_s_then_its_last_frame_held_for_12_s() -> None:
    """bench.fall_clips: issue 13's real-recording protocol. The impact lies 2.5-4 s into the
    clip; after 5 s every frame repeats the clip's last frame value for value."""
    (ep,) = _episodes("trip", 1, tracker="single_hold")
    c = clip_episode(ep, np.random.default_rng(0))
    r = c.rows
    assert c.impact_s is not None and 2.5 <= c.impact_s - r.t0_s <= 4.0 + 1 / r.fps
    assert r.n_frames == round(CLIP_S * r.fps) + round(HOLD_S * r.fps)
    clip = r.frame < round(CLIP_S * r.fps)
    last = r.frame == r.frame[clip].max()
    tail = ~clip
    assert np.unique(r.frame[tail]).size == round(HOLD_S * r.fps)
    k = int(last.sum())
    for col in (r.z_m, r.x_m, r.tid):
        np.testing.assert_array_equal(col[tail], np.tile(col[last], round(HOLD_S * r.fps)))
    assert k >= 1
    # before the hold: exactly the episode's rows of that stretch
    f0 = round((r.t0_s - ep.rows.t0_s) * ep.rows.fps)
    orig = (ep.rows.frame >= f0) & (ep.rows.frame < f0 + round(CLIP_S * r.fps))
    np.testing.assert_array_equal(r.z_m[clip], ep.rows.z_m[orig])


def test_the_judge_sees_the_trivial_rule_on_one_tracker_id() -> None:
    """Round 8: the trivial rule of issue 13 (a tracker id's height from above 0.6 m to below
    0.35 m within 2.5 s, then low) reaches the judge as features, held repeats included: a trip
    on the sample-and-hold module crosses near its impact and stays low; a staged sit down on the
    floor (kneeling first) seldom crosses at all; a crossing two ids apart is none."""
    trips = _episodes("trip", 6, "single_hold")
    seen = [
        dict(d.features)
        for ds in run_detector(trips, PARAMS)
        for d in ds
        if d.kind in ("confirmed", "cancelled") and d.features
    ]
    crossed = [f for f in seen if math.isfinite(f["triv_dt"])]
    assert len(crossed) >= 4, seen
    assert all(-5.0 <= f["triv_dt"] <= 5.0 + PARAMS.confirm_s for f in crossed)
    assert np.nanmedian([f["triv_low_share"] for f in crossed]) >= 0.5

    det = FallDetector(1, PARAMS, model=None)
    t = 1000.0 + np.arange(0, 4.0, 0.05)
    z = np.where(t < 1002.0, 1.0, 0.2)
    tid = np.where(t < 1002.0, 1, 2)  # the module lost the target at the drop: a new id
    det.step(_batch(t, z, tid))
    assert det._tv_t[0] == -np.inf
    det.step(_batch(t + 4.0, np.full(t.shape, 0.2), np.full(t.shape, 3)))
    det2 = FallDetector(1, PARAMS, model=None)
    det2.step(_batch(t, z, np.ones(t.shape, dtype=np.int64)))
    assert 1001.9 <= det2._tv_t[0] <= 1002.6


def test_one_id_switching_to_a_low_target_metres_away_is_no_crossing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A single-target module that gives no id (every row id 1) switching from a resident
    standing at 1.0 m to a pet at 0.2 m 2 m away is no crossing of the trivial rule (a body lands
    within ~1.2 m of where it stood: TRIV_NEAR_M); the same drop 0.4 m on is one, and so is the
    switch once the distance test is off."""
    t = 1000.0 + np.arange(0, 4.0, 0.05)
    z = np.where(t < 1002.0, 1.0, 0.2)
    one = np.ones(t.shape, dtype=np.int64)

    def crossed(dx: float) -> bool:
        det = FallDetector(1, PARAMS, model=None)
        det.step(_batch(t, z, one, x=np.where(t < 1002.0, 2.0, 2.0 + dx)))
        return bool(np.isfinite(det._tv_t[0]))

    assert not crossed(2.0)
    assert crossed(0.4)
    monkeypatch.setattr(falls, "TRIV_NEAR_M", math.inf)
    assert crossed(2.0)


def _batch(
    t: np.ndarray,
    z: np.ndarray,
    tid: np.ndarray,
    x: np.ndarray | None = None,
    until: float | None = None,
) -> FallBatch:
    n = t.shape[0]
    return FallBatch(
        slot=np.zeros(n, dtype=np.int64),
        t_s=t,
        x_m=np.full(n, 2.0) if x is None else np.asarray(x, dtype=np.float64),
        y_m=np.full(n, 1.97),
        z_m=z.astype(np.float64),
        tid=np.asarray(tid, dtype=np.int64),
        covered_slot=np.zeros(1, dtype=np.int64),
        covered_until_s=np.asarray([t[-1] + 0.05 if until is None else until]),
    )


def _held_landing(
    tid_after: int,
    seen: list[tuple[float, float, float]] | None = None,
    x_after: float = 2.03,
    stand_s: int = 3,
) -> list[tuple[int, float, float]]:
    """Candidates (slot, impact, decision) of a held module's landing (each value sent 4 times):
    standing at 1.0 m on id 7 for ``stand_s``, one fresh row at 0.21 m, the same row held for
    2.5 s (too few fresh floor samples for the detector's own floor test; under the 3 s of a
    held floor value), then nothing. ``seen`` gets what a detection would report of the first
    candidate (height before, descent, height at the floor)."""
    col: list[tuple[int, float, float, np.ndarray]] = []
    det = FallDetector(1, PARAMS, model=None, collect=col)
    rng = np.random.default_rng(4)
    drop = 1000.0 + stand_s
    for w in range(stand_s + 9):
        t = 1000.0 + w + np.arange(20) / 20.0
        if w >= stand_s + 3:
            det.step(_batch(t[:0], t[:0], t[:0].astype(np.int64), until=t[-1] + 0.05))
            continue
        z = np.where(t < drop, 1.0 + np.repeat(rng.normal(0, 0.03, 5), 4), 0.213)
        tid = np.where(t < drop, 7, tid_after)
        keep = t < drop + 2.5
        det.step(_batch(t[keep], z[keep], tid[keep], x=np.where(t < drop, 2.0, x_after)[keep]))
        if seen is not None and not seen and det.pending(0):
            seen.append((det._pseen_pre[0], det._pdesc[0], det._pseen_floor[0]))
    return [(s, imp, at) for s, imp, at, _ in col]


def test_a_held_landing_the_trivial_rule_sees_is_a_candidate() -> None:
    """Round 8: where few fresh samples leave the detector's floor test in doubt, the trivial
    rule's crossing on the landing's tracker id makes a candidate for the judge (its impact at
    the crossing); the same rows under a new id after the drop make none, nor do low rows of
    the same id 2 m away (a module that gives no id switching to a pet: TRIV_NEAR_M)."""
    seen: list[tuple[float, float, float]] = []
    (cand,) = _held_landing(7, seen)
    assert 1002.9 <= cand[1] <= 1003.6
    # the alert says what the rule saw: about 1 m before, a descent under 2.5 s, 0.21 m after
    ((pre, descent, floor),) = seen
    assert 0.9 < pre < 1.1 and 0 < descent <= 2.5 and abs(floor - 0.213) < 0.01
    assert _held_landing(8) == []
    assert _held_landing(7, x_after=4.0) == []


@pytest.mark.parametrize(
    ("family", "tracker"),
    [("T7_busy_floorbed", "single_hold_10fps"), ("T2_short_far", "single_hold_noid")],
)
def test_a_radars_detections_do_not_depend_on_the_radars_beside_it(
    family: str, tracker: str
) -> None:
    """The hub steps many radars in one batch; what one radar's detector decides must be what it
    decides alone. Issue 13 round 16 found two ways it was not: a held module's own ids started
    the next batch's jump test from the row before a slot's last (unless the slot was the
    batch's last), and "got up where they vanished" ran only when some row of the step was at
    floor level (nearly always in a batch of many radars, seldom for one alone). On these
    cells a fall episode decided otherwise beside the others than alone."""
    eps = make_family_episodes((family,), (tracker,), 1, 1)
    together = run_detector(eps, PARAMS)

    def key(ds: list) -> list[tuple[str, float, float]]:
        return [(d.kind, round(d.at_s, 3), round(d.impact_s, 3)) for d in ds]

    for e, ds in zip(eps, together, strict=True):
        assert key(run_detector([e], PARAMS)[0]) == key(ds), e.kind


def _draw(fam: str, trk: str, kind: str, draw: int) -> FamilyEpisode:
    """The ``draw``-th (0-based) episode of a kind in a tuning family and tracker (seed 1), as
    the families bench makes it (``#draw`` of its ``--misses``)."""
    return family_episode(fam, trk, kind, draw, 1)


def _slide_reborn() -> FamilyEpisode:
    """A slide off a sofa on a held single-target module (family T5_decorrelated, tuning seed 1,
    the 8th of its draws): the seated track was last seen 2.5 s before the impact and the landing
    started a new track 0.85 m off, which did not inherit the seated history (issue 13 round 17)."""
    return _draw("T5_decorrelated", "single_hold", "slide_off_sofa", 7)


def test_a_slide_whose_landing_starts_a_new_track_is_judged_against_the_seat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A track born at floor level just after the seated one vanished nearby is judged like a
    fall out of that seat (falls.SEAT_ORPHAN_NEAR_M): confirmed within the single-target module's
    10 s goal, and the detection says so; without that path nothing was suspected until the
    floor_dwell safety net's timing, 30 s after the impact."""
    e = _slide_reborn()
    assert e.impact_s is not None

    def first_confirmed() -> tuple[float, dict[str, float]]:
        (ds,) = run_detector([e], PARAMS)
        c = [d for d in ds if d.kind == "confirmed" and d.at_s >= e.impact_s - 2.0][0]
        return c.at_s - e.impact_s, dict(c.features)

    latency, feats = first_confirmed()
    assert latency <= 10.0 and feats["from_support"] == 1.0 and feats["orphan"] == 0.0
    monkeypatch.setattr(falls, "SEAT_ORPHAN_NEAR_M", 0.0)
    assert first_confirmed()[0] > 10.0


def _slump(fam: str, draw: int) -> FamilyEpisode:
    """The ``draw``-th (0-based) slow slump of a tuning family on the held single-target module
    (tuning seed 1)."""
    return _draw(fam, "single_hold", "slow_slump", draw)


@pytest.mark.parametrize(("fam", "draw"), [("T1_average", 9), ("T6_wide_slow", 3)])
def test_a_slow_slump_split_over_tracks_still_gets_its_floor_dwell(
    fam: str, draw: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two slow slumps on a held module (the second with a visitor the module switches to) whose
    person the detector's tracks followed only in pieces: no track stayed at floor level for
    60 s, so nothing at all was reported before the slot's floor spot (falls.SPOT_GAP_S). Now a
    floor dwell comes within 75 s of the impact, where they lie (whether or not the judge also
    confirmed the descent: the safety net must not depend on it)."""
    e = _slump(fam, draw)
    assert e.impact_s is not None and e.visitor == (fam == "T6_wide_slow")

    def dwells() -> list[FallDetection]:
        (ds,) = run_detector([e], PARAMS)
        return [d for d in ds if d.kind == "floor_dwell" and d.at_s - e.impact_s <= 75.0]

    (dwell,) = dwells()
    assert dwell.impact_s <= e.impact_s + 15.0
    monkeypatch.setattr(falls.FallDetector, "_spot_dwell", lambda *a: None)
    assert dwells() == []


@pytest.mark.parametrize(
    ("trk", "fam", "kind", "draw", "path", "judge_says_fall"),
    [
        # the fallen resident's first rows, renumbered, fell into a pet's bin and took the pet's
        # floor-level history: their new track looked long down (then a visitor came in)
        ("multi_noisy", "T7_busy_floorbed", "trip", 9, "orphan", True),
        # a visitor's row took the resident's track as the resident fell beside it; the
        # resident's own rows (their id) started a new track without their history
        ("quantised_10fps", "T7_busy_floorbed", "trip", 7, "seen", True),
        ("quantised_10fps", "T7_busy_floorbed", "faint", 11, "seen", True),
        ("multi_clean", "T1_average", "fall_beside_bed", 3, "seen", True),
        # a visitor upright after the landing's track was born took the slot's upright moment;
        # its landing is estimated 1.25 s late and the round-23 judge scores it 0.306 against a
        # threshold of 0.31 (the round-20 judge, 1 s sooner: just over): a tuning miss now
        ("quantised_10fps", "T5_decorrelated", "fall_from_bed", 3, "", False),
    ],
)
def test_a_fall_beside_a_pet_or_a_visitor_is_judged_as_the_residents_own(
    trk: str, fam: str, kind: str, draw: int, path: str, judge_says_fall: bool
) -> None:
    """Five tuning falls on trackers reporting every frame that never became a candidate: each
    landing started a track at floor level beside someone else (a pet on the floor, a visitor
    upright). Now each is judged, where the path says so from the resident's own upright
    height, and confirmed within the 7 s goal where the judge says fall."""
    e = _draw(fam, trk, kind, draw)
    assert e.impact_s is not None and e.body is not None and (e.pet or e.visitor)
    col: list[tuple[int, float, float, np.ndarray]] = []
    (ds,) = run_detector([e], PARAMS, collect=col)
    judged = [at - e.impact_s for _, _, at, _ in col]
    assert judged and 0.0 < judged[0] <= 7.0 + PARAMS.every_frame_look_s
    if path:
        assert col[0][3][FEATURES.index(path)] == 1.0
    if judge_says_fall:
        (c,) = [d for d in ds if d.kind == "confirmed"]
        assert 0.0 < c.at_s - e.impact_s <= 7.0
        if path:
            assert abs(c.pre_height_m - e.body.stand_m) < 0.15
