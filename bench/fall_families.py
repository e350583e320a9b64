"""Fall detection on randomised episode families, tuned on some and reported on held-out ones.

    .venv/bin/python -m bench.fall_families --split held --per-kind 15 --seed 2

Every family x tracker cell gets ``--per-kind`` episodes of each of 21 kinds (8 falls, 13
confounders; simulators/fall_families.py). The product (FallDetector) and the baseline (the
trivial rule of issue 13: smoothed height from above 0.6 m to below 0.35 m within 2.5 s outside the
bed, low for most of the next 5 s) judge the same episodes. Proportions carry 95% Wilson intervals;
the summary names the WORST family of the split per tracker, not the average.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)

import argparse
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from bench.falls import judge
from care_hub.signal_core.falls import (
    OWN_ID_BASE,
    FallBatch,
    FallDetection,
    FallDetector,
    FallParams,
)
from care_hub.signal_core.falls_model import FEATURES, TreeModel, default_model
from simulators.fall_families import (
    FALL_KINDS,
    HELD_OUT_FAMILIES,
    KINDS,
    MULTI_TARGET,
    SINGLE_TARGET,
    TID_MODES,
    TRACKERS,
    TUNING_FAMILIES,
    Body,
    FamilyDay,
    FamilyEpisode,
    Room,
    TidMode,
    family_episode,
    make_family_episodes,
    retid,
)
from simulators.radar_motion import Rows

# The product's floor_dwell safety net in this bench (issue 13: sooner than 120 s).
FLOOR_DWELL_S = 60.0
# A slow slump counts as reported by floor_dwell if it comes within this long of the impact.
SLUMP_REPORT_S = 75.0

# --- the baseline rule (issue 13), as an outside evaluator wrote it --------------------------
BASE_SMOOTH_S = 1.0  # smoothed height: median of the target's last 1 s of rows
BASE_HIGH_M = 0.6
BASE_LOW_M = 0.35
BASE_WITHIN_S = 2.5
BASE_STAY_S = 5.0
BASE_STAY_SHARE = 0.5  # "most of the next 5 s"


def _windowed(t: np.ndarray, v: np.ndarray, span_s: float, k: int) -> np.ndarray:
    """(n, k): v of the row and its k-1 predecessors within ``span_s`` (NaN elsewhere)."""
    n = t.shape[0]
    idx = np.arange(n)[:, None] - np.arange(k)[None, :]
    ok = idx >= 0
    ic = np.clip(idx, 0, None)
    ok &= (t[:, None] - t[ic]) < span_s
    return np.where(ok, v[ic], np.nan)


def _window_reduce(
    t: np.ndarray, v: np.ndarray, span_s: float, k: int, reduce: Callable[..., np.ndarray]
) -> np.ndarray:
    """``reduce(_windowed(t, v, span_s, k), axis=1)``, a chunk of rows at a time: a day of rows
    (hundreds of thousands) would need gigabytes at once. Each chunk takes its k-1 predecessors
    along, so the result is the same row for row."""
    n, step = t.shape[0], 20_000
    out = np.empty(n, dtype=np.float64)
    for a in range(0, n, step):
        lo = max(a - k + 1, 0)
        b = min(a + step, n)
        out[a:b] = reduce(_windowed(t[lo:b], v[lo:b], span_s, k), axis=1)[a - lo :]
    return out


def baseline_alarms(rows: Rows, beds: Sequence[tuple[float, float, float, float]]) -> list[float]:
    """Device times at which the trivial rule alarms (decision time = crossing + 5 s)."""
    t_all = rows.t0_s + rows.frame / rows.fps
    out: list[float] = []
    for tid in np.unique(rows.tid):
        m = rows.tid == tid
        t, z, x, y = t_all[m], rows.z_m[m], rows.x_m[m], rows.y_m[m]
        if t.shape[0] < 3:
            continue
        k = max(2, round(BASE_SMOOTH_S * rows.fps))
        with np.errstate(all="ignore"):
            zs = _window_reduce(t, z, BASE_SMOOTH_S, k, np.nanmedian)
            xs = _window_reduce(t, x, BASE_SMOOTH_S, k, np.nanmedian)
            ys = _window_reduce(t, y, BASE_SMOOTH_S, k, np.nanmedian)
            prev_hi = _window_reduce(
                t, zs, BASE_WITHIN_S, round(BASE_WITHIN_S * rows.fps) + 1, np.nanmax
            )
        cross = np.nonzero((zs < BASE_LOW_M) & (prev_hi > BASE_HIGH_M))[0]
        last = -np.inf
        for i in cross.tolist():
            if t[i] < last + BASE_STAY_S:
                continue
            if any(b[0] <= xs[i] <= b[2] and b[1] <= ys[i] <= b[3] for b in beds):
                continue
            # rows of the next 5 s (a tid's rows are in frame order)
            a, b = np.searchsorted(t, [t[i], t[i] + BASE_STAY_S], side="right")
            if b > a and np.mean(zs[a:b] < BASE_LOW_M) < BASE_STAY_SHARE:
                continue
            out.append(float(t[i] + BASE_STAY_S))
            last = t[i]
    return sorted(out)


def baseline_judge(ep: FamilyEpisode) -> tuple[bool, float | None]:
    alarms = baseline_alarms(ep.rows, [ep.room.bed])
    if not ep.is_fall or ep.impact_s is None:
        return bool(alarms), None
    hits = [a for a in alarms if a >= ep.impact_s - 1.0]
    return bool(hits), (hits[0] - ep.impact_s) if hits else None


# --- the product --------------------------------------------------------------------------------
def set_room(det: FallDetector, slot: int, room: Room, seats_mapped: bool = True) -> None:
    """Zones as the hub passes them: beds, chairs and sofas as seats, floor beds of their own
    (``seats_mapped=False``: nobody drew the chair and the sofa on the map)."""
    beds = [room.bed] if room.bed_kind == "bed" else []
    floor_beds = [room.bed] if room.bed_kind == "floor_bed" else []
    seats = [room.chair, room.sofa] if seats_mapped else []
    names: list[str] = [room.bed_kind] if beds or floor_beds else []
    names += ["chair", "sofa"] if seats_mapped else []
    det.set_bed_zones(slot, beds, seats=seats, floor_beds=floor_beds, names=names)


# What the hub has learned of a person before an episode (docs/detection.md, "Seated and lying
# heights"): episodes last a minute, the hub learns over hours, so seated and lying heights are
# given as hours of sitting and lying would have taught them, not learned inside the episode
# (which would teach the judge the episode's length). LEARNED_SHARE of people have them (the rest
# are new to their radar); the value is the body's height on that chair, sofa or bed, with
# LEARNED_SD_M of error (what hours of the family days teach the detector: docs/detection.md).
# Upright is learned inside the episode, as before.
LEARNED_SHARE = 0.8
LEARNED_SD_M = 0.03


def learned_before(body: Body | None, room: Room) -> dict[str, float]:
    """Seated and lying heights the hub would have learned of ``body`` in ``room`` (maybe none).
    Drawn from a stream of the body's own (its heights are continuous draws), so an episode gets
    the same whatever else is in the batch, and the episodes' own draws are untouched."""
    if body is None:
        return {}
    rng = np.random.default_rng([round(v * 1e9) for v in (body.stand_m, body.chair_m, body.bed_m)])
    if rng.random() >= LEARNED_SHARE:
        return {}
    err = rng.normal(0.0, LEARNED_SD_M, 3)
    out = {"on_chair_m": body.chair_m + err[0], "on_sofa_m": body.sofa_m + err[1]}
    if room.bed_kind == "bed":
        out["on_bed_m"] = body.bed_m + err[2]
    return out


def run_detector(
    eps: Sequence[FamilyEpisode | FamilyDay],
    params: FallParams,
    window_s: float = 1.0,
    model: TreeModel | Literal["default"] | None = "default",
    collect: list[tuple[int, float, float, np.ndarray]] | None = None,
    unmapped: Sequence[bool] | None = None,
    detector: type[FallDetector] = FallDetector,
    learned: bool = True,
) -> list[list[FallDetection]]:
    """One detector over many radars (one slot per episode, same fps) in lockstep 1 s windows;
    tracker velocities go in where the tracker gives them. ``detector``: a FallDetector
    subclass (bench.fall_days --trace records its tracks). ``learned``: the hub knows most people
    already (learned_before); False: a hub new to all of them (as bench.falls_e2e's is)."""
    n = len(eps)
    det = detector(n, params, model=model, collect=collect)
    for s, e in enumerate(eps):
        set_room(det, s, e.room, seats_mapped=unmapped is None or not unmapped[s])
        if learned:
            det.set_learned_heights(s, learned_before(e.body, e.room))
    rl = [e.rows for e in eps]
    fps = rl[0].fps
    per = max(1, round(window_s * fps))
    slot = np.concatenate([np.full(r.frame.shape[0], i, dtype=np.int64) for i, r in enumerate(rl)])
    frame = np.concatenate([r.frame for r in rl])
    t0 = np.asarray([r.t0_s for r in rl])
    nfr = np.asarray([r.n_frames for r in rl])
    x = np.concatenate([r.x_m for r in rl])
    y = np.concatenate([r.y_m for r in rl])
    z = np.concatenate([r.z_m for r in rl])
    tid = np.concatenate([r.tid for r in rl])
    vz = np.concatenate([r.vz_mps for r in rl])
    has_vz = bool(np.isfinite(vz).any())
    w = frame // per
    o = np.argsort(w, kind="stable")
    slot, frame, x, y, z, tid, w = slot[o], frame[o], x[o], y[o], z[o], tid[o], w[o]
    vz = vz[o]
    n_w = int(np.ceil(nfr.max() / per))
    bounds = np.searchsorted(w, np.arange(n_w + 1))
    out: list[list[FallDetection]] = [[] for _ in range(n)]
    all_slots = np.arange(n, dtype=np.int64)
    for wi in range(n_w):
        a, b = bounds[wi], bounds[wi + 1]
        cov = all_slots[nfr > wi * per]
        batch = FallBatch(
            slot=slot[a:b],
            t_s=t0[slot[a:b]] + frame[a:b] / fps,
            x_m=x[a:b],
            y_m=y[a:b],
            z_m=z[a:b],
            tid=tid[a:b],
            covered_slot=cov,
            covered_until_s=t0[cov] + np.minimum((wi + 1) * per, nfr[cov]) / fps,
            vz_mps=vz[a:b] if has_vz else None,
        )
        for d in det.step(batch):
            out[d.slot].append(d)
    return out


# --- judging and reporting --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Judged:
    ep: FamilyEpisode
    alarmed: bool
    latency_s: float | None
    base_alarmed: bool
    base_latency_s: float | None
    dwell_s: float | None  # impact -> first floor_dwell (falls only)
    # impact -> the judge's first look at a candidate of this fall (estimated landing no earlier
    # than 2 s before the labelled one; falls only): no confirmation can come before it
    judged_s: float | None = None
    # what the judge saw of this fall (falls only): per candidate whose estimated landing was
    # no earlier than 3 s before the labelled one, (landing - impact s, score, features)
    candidates: tuple[tuple[float, float, tuple[float, ...]], ...] = ()


# In time: confirmed within the latency goal (7 s; 10 s on a single-target module)
LATE_S = {trk: 10.0 if trk in SINGLE_TARGET else 7.0 for trk in TRACKERS}


def evaluate(
    eps: Sequence[FamilyEpisode], params: FallParams, unmapped: bool = False
) -> list[Judged]:
    """Every episode through the product (one detector per tracker model) and the baseline;
    ``unmapped``: no chair or sofa zones (a room whose seats nobody drew on the map)."""
    by_trk: dict[str, list[FamilyEpisode]] = defaultdict(list)
    for e in eps:
        by_trk[e.tracker].append(e)
    out = []
    for group in by_trk.values():
        log: list[tuple[int, float, float, np.ndarray]] = []
        first: dict[int, float] = {}
        seen: dict[int, list[tuple[float, float, tuple[float, ...]]]] = defaultdict(list)
        model = default_model()
        dets = run_detector(group, params, collect=log, unmapped=[unmapped] * len(group))
        near: list[tuple[int, float, np.ndarray]] = []
        for slot, impact, at, x in log:
            e = group[slot]
            if e.impact_s is not None and impact >= e.impact_s - 2.0 and slot not in first:
                first[slot] = at - e.impact_s
            if e.impact_s is not None and impact >= e.impact_s - 3.0:
                near.append((slot, impact - e.impact_s, x))
        if near:
            xs = np.stack([x for _, _, x in near])
            scores = model.proba(xs) if model is not None else np.full(len(near), np.nan)
            for (slot, off, x), score in zip(near, scores.tolist(), strict=True):
                seen[slot].append((off, score, tuple(x.tolist())))
        for i, (e, d) in enumerate(zip(group, dets, strict=True)):
            alarmed, lat = judge(d, e.is_fall, e.impact_s)
            balarm, blat = baseline_judge(e)
            dw = [x.at_s for x in d if x.kind == "floor_dwell"]
            dwell = dw[0] - e.impact_s if dw and e.impact_s is not None else None
            out.append(
                Judged(e, alarmed, lat, balarm, blat, dwell, first.get(i), tuple(seen.get(i, ())))
            )
    return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of k successes in n (Wilson 1927)."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def _ci(k: int, n: int) -> str:
    if n == 0:
        return "n/a"
    lo, hi = wilson(k, n)
    return f"{100 * k / n:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"


def _p(v: list[float], q: float) -> str:
    return f"{np.percentile(v, q):.1f}" if v else "n/a"


@dataclass(frozen=True, slots=True)
class Cell:
    falls: int
    tp: int
    others: int
    tn: int
    base_tp: int
    base_tn: int
    lat: list[float]
    base_lat: list[float]
    # falls caught within ``late_s`` of the impact (the latency goal), by each
    tp_in: int = 0
    base_tp_in: int = 0


def _in_time(alarmed: bool, latency_s: float | None, late_s: float) -> bool:
    return alarmed and latency_s is not None and latency_s <= late_s


def cell(js: Sequence[Judged], late_s: float = math.inf) -> Cell:
    f = [j for j in js if j.ep.is_fall]
    o = [j for j in js if not j.ep.is_fall]
    return Cell(
        len(f),
        sum(j.alarmed for j in f),
        len(o),
        sum(not j.alarmed for j in o),
        sum(j.base_alarmed for j in f),
        sum(not j.base_alarmed for j in o),
        [j.latency_s for j in f if j.latency_s is not None],
        [j.base_latency_s for j in f if j.base_latency_s is not None],
        sum(_in_time(j.alarmed, j.latency_s, late_s) for j in f),
        sum(_in_time(j.base_alarmed, j.base_latency_s, late_s) for j in f),
    )


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Episodes only one of the product and the baseline decided right (issue 13 asks the
    product to beat the rule in every family: these are where each wins)."""

    base_falls: int  # falls the baseline confirmed and the product did not
    base_falls_none: int  # of those, no candidate near the impact (the rest: turned down)
    product_falls: int  # falls the product confirmed and the baseline did not
    product_alarms: int  # non-falls the product alarmed on and the baseline did not
    base_alarms: int  # non-falls the baseline alarmed on and the product did not


def disagreements(js: Sequence[Judged]) -> Disagreement:
    falls = [j for j in js if j.ep.is_fall]
    others = [j for j in js if not j.ep.is_fall]
    base_only = [j for j in falls if j.base_alarmed and not j.alarmed]
    return Disagreement(
        base_falls=len(base_only),
        base_falls_none=sum(not j.candidates for j in base_only),
        product_falls=sum(j.alarmed and not j.base_alarmed for j in falls),
        product_alarms=sum(j.alarmed and not j.base_alarmed for j in others),
        base_alarms=sum(j.base_alarmed and not j.alarmed for j in others),
    )


def report(js: list[Judged], families: Sequence[str], trackers: Sequence[str]) -> None:
    print(
        "| family | tracker | falls | sensitivity [95% CI] | baseline | non-falls "
        "| specificity [95% CI] | baseline | latency p50 / p95 s | baseline p95 s |"
    )
    print("| --- | --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |")
    cells: dict[tuple[str, str], Cell] = {}
    for fam in families:
        for trk in trackers:
            c = cell([j for j in js if j.ep.family == fam and j.ep.tracker == trk], LATE_S[trk])
            cells[(fam, trk)] = c
            print(
                f"| {fam} | {trk} | {c.falls} | {_ci(c.tp, c.falls)} | "
                f"{100 * c.base_tp / max(1, c.falls):.1f}% | {c.others} | {_ci(c.tn, c.others)} | "
                f"{100 * c.base_tn / max(1, c.others):.1f}% | {_p(c.lat, 50)} / {_p(c.lat, 95)} | "
                f"{_p(c.base_lat, 95)} |"
            )
    print()
    print(
        "Worst family per tracker (lowest point estimate; 95% Wilson interval); in time: falls\n"
        "confirmed within the latency goal (7 s; 10 s single-target), by the product and by the\n"
        "baseline alike (the plain figures count a confirmation however late, the rule's too):"
    )
    print(
        "| tracker | worst sensitivity (family) | baseline there | worst specificity (family) "
        "| baseline there | latency p95 s (all families) | beats baseline everywhere "
        "| in time: worst sensitivity, product / baseline (family) | beats it in time everywhere |"
    )
    print("| --- | --- | ---: | --- | ---: | ---: | --- | --- | --- |")
    for trk in trackers:
        cs = {f: cells[(f, trk)] for f in families}
        fs = min(cs, key=lambda f: cs[f].tp / max(1, cs[f].falls))
        fo = min(cs, key=lambda f: cs[f].tn / max(1, cs[f].others))
        lat = [v for c in cs.values() for v in c.lat]
        beats = all(c.tp >= c.base_tp and c.tn >= c.base_tn for c in cs.values())
        fi = min(cs, key=lambda f: cs[f].tp_in / max(1, cs[f].falls))
        beats_in = all(c.tp_in >= c.base_tp_in and c.tn >= c.base_tn for c in cs.values())
        print(
            f"| {trk} | {_ci(cs[fs].tp, cs[fs].falls)} ({fs}) | "
            f"{100 * cs[fs].base_tp / max(1, cs[fs].falls):.1f}% | "
            f"{_ci(cs[fo].tn, cs[fo].others)} ({fo}) | "
            f"{100 * cs[fo].base_tn / max(1, cs[fo].others):.1f}% | {_p(lat, 95)} | "
            f"{'yes' if beats else 'NO'} | "
            f"{100 * cs[fi].tp_in / max(1, cs[fi].falls):.1f}% / "
            f"{100 * cs[fi].base_tp_in / max(1, cs[fi].falls):.1f}% ({fi}) | "
            f"{'yes' if beats_in else 'NO'} |"
        )
    multi = [t for t in trackers if t in MULTI_TARGET]
    if multi:
        c = cell([j for j in js if j.ep.tracker in multi])
        print(
            f"| multi-target pooled | {_ci(c.tp, c.falls)} | {100 * c.base_tp / max(1, c.falls):.1f}% "
            f"| {_ci(c.tn, c.others)} | {100 * c.base_tn / max(1, c.others):.1f}% "
            f"| {_p(c.lat, 95)} | | | |"
        )
    print()
    print(
        "Per kind and tracker, all families of the split: product / baseline (share judged right)"
    )
    print("| kind | " + " | ".join(trackers) + " |")
    print("| --- |" + " --- |" * len(trackers))
    for kind in KINDS:
        cells_k = []
        for trk in trackers:
            sel = [j for j in js if j.ep.kind == kind and j.ep.tracker == trk]
            ok = sum(j.alarmed == j.ep.is_fall for j in sel)
            bok = sum(j.base_alarmed == j.ep.is_fall for j in sel)
            cells_k.append(
                f"{100 * ok / max(1, len(sel)):.0f} / {100 * bok / max(1, len(sel)):.0f}"
            )
        print(f"| {kind} | " + " | ".join(cells_k) + " |")
    print()
    print("Where the product and the baseline disagree (all families of the split): episodes")
    print("only one of them decided right; a fall only the baseline confirmed had no candidate")
    print("near its impact, or every candidate was judged and turned down")
    print(
        "| tracker | falls only the baseline confirmed: none / turned down | falls only the "
        "product confirmed | non-falls only the product alarmed on | non-falls only the "
        "baseline alarmed on |"
    )
    print("| --- | --- | ---: | ---: | ---: |")
    for trk in trackers:
        d = disagreements([j for j in js if j.ep.tracker == trk])
        print(
            f"| {trk} | {d.base_falls}: {d.base_falls_none} / "
            f"{d.base_falls - d.base_falls_none} | {d.product_falls} | {d.product_alarms} | "
            f"{d.base_alarms} |"
        )
    print()
    # a visitor arriving within seconds of the fall: a one-target module follows whoever it
    # picks, so the fallen resident may not be reported again until the visitor leaves
    # late: not confirmed within the latency goal (LATE_S), and why: no candidate judged by
    # then (the tracker did not show the person on the floor in time), or judged and turned down
    print("Falls with and without a visitor in the room (all families of the split); late = not")
    print("confirmed within the latency goal: none judged by then / judged, turned down")
    print(
        "| tracker | alone: sensitivity | latency p50 / p95 s | late | with a visitor: "
        "sensitivity | latency p50 / p95 s | late |"
    )
    print("| --- | --- | ---: | --- | --- | ---: | --- |")
    for trk in trackers:
        parts = []
        for vis in (False, True):
            f = [j for j in js if j.ep.tracker == trk and j.ep.is_fall and j.ep.visitor == vis]
            lat = [j.latency_s for j in f if j.alarmed and j.latency_s is not None]
            hit = sum(j.alarmed for j in f)
            late = [j for j in f if not (j.alarmed and (j.latency_s or 0.0) <= LATE_S[trk])]
            unseen = sum(j.judged_s is None or j.judged_s > LATE_S[trk] for j in late)
            parts.append(
                f"{_ci(hit, len(f))} of {len(f)} | {_p(lat, 50)} / {_p(lat, 95)} | "
                f"{len(late)}: {unseen} / {len(late) - unseen}"
            )
        print(f"| {trk} | " + " | ".join(parts) + " |")
    print()
    slumps = [j for j in js if j.ep.kind == "slow_slump"]
    rep = [
        j for j in slumps if j.alarmed or (j.dwell_s is not None and j.dwell_s <= SLUMP_REPORT_S)
    ]
    dw = [j.dwell_s for j in slumps if not j.alarmed and j.dwell_s is not None]
    print(
        f"slow slumps reported (confirmed, or floor_dwell within {SLUMP_REPORT_S:.0f} s): "
        f"{_ci(len(rep), len(slumps))} of {len(slumps)}; floor_dwell after "
        f"p50 {_p(dw, 50)} s, p95 {_p(dw, 95)} s (where not confirmed)"
    )


# features shown per candidate by --misses (the judge sees all of FEATURES)
MISS_FEATURES = ("pre_m", "down_med_m", "drop_m", "descent_s", "peak_fall_mps", "others_up_bins")
PATHS = ("seen", "unseen", "orphan", "from_support")


def trace(day: FamilyDay | FamilyEpisode, d: FallDetection, params: FallParams) -> list[str]:
    """Per 0.5 s bin from 12 s before the impact to the confirmation: which track took the bin
    (k), the id it carries, the bin's median height and position, fresh samples, its birth."""
    return trace_window(day, d.impact_s, d.impact_s - 12.0, d.at_s, params)


def trace_window(
    day: FamilyDay | FamilyEpisode, t_ref: float, t_from: float, t_to: float, params: FallParams
) -> list[str]:
    """``trace`` over [t_from, t_to] (device time), times relative to ``t_ref``."""
    lines: list[str] = []

    class Traced(FallDetector):
        def _update(
            self,
            s: np.ndarray,
            k: np.ndarray,
            tb: np.ndarray,
            zb: np.ndarray,
            xb: np.ndarray,
            yb: np.ndarray,
            nb: np.ndarray,
            *a: Any,
            **kw: Any,
        ) -> None:
            for i in np.nonzero((tb >= t_from) & (tb <= t_to))[0].tolist():
                kk = int(k[i])
                tid = int(self._ttid[0, kk])  # ids the detector handed out (JUMP_M): own0, ...
                name = f"own{tid - OWN_ID_BASE}" if tid >= OWN_ID_BASE else str(tid)
                lines.append(
                    f"  t{tb[i] - t_ref:+6.2f} s  k{kk} id {name:>5} "
                    f"z {zb[i]:5.2f} x {xb[i]:5.2f} y {yb[i]:5.2f} n {nb[i]:3.0f} "
                    f"born {self._tborn[0, kk] - t_ref:+6.1f} s"
                )
            super()._update(s, k, tb, zb, xb, yb, nb, *a, **kw)

    # the day alone in a detector of its own: a slot's tracks never depend on the other slots
    run_detector([day], params, detector=Traced)
    return lines


def trace_draw(
    family: str,
    tracker: str,
    kind: str,
    draw: int,
    seed: int,
    params: FallParams,
    tids: TidMode = "as_simulated",
    before_s: float = 12.0,
    after_s: float = 12.0,
) -> list[str]:
    """One episode, as ``--misses`` names it (``#draw`` of its kind, family and tracker; ids
    renumbered as ``--tids`` says): who was there, the detector's decisions and, per 0.5 s bin
    around the moment that matters, which track took the rows (``trace``). That moment is a
    fall's labelled impact, a confounder's first false alarm's landing, else its start. Where a
    fall got no candidate, this is where to look."""
    ep = family_episode(family, tracker, kind, draw, seed)
    if tids != "as_simulated":
        ep = replace(ep, rows=retid(ep.rows, tids))
    (ds,) = run_detector([ep], params)
    alarm = next((d.impact_s for d in ds if d.kind == "confirmed"), None)
    if ep.impact_s is not None:
        t_ref, what = ep.impact_s, "impact"
    elif alarm is not None:
        t_ref, what = alarm, "false alarm's landing"
    else:
        t_ref, what = ep.rows.t0_s, "start"
    body = f" stand {ep.body.stand_m:.2f} m, lying {ep.body.floor_lie_m:.2f} m" if ep.body else ""
    lines = [
        f"{tracker} {family} {kind} #{draw} seed {seed}: visitor={int(ep.visitor)} "
        f"pet={int(ep.pet)}{body}; times from the {what}"
    ]
    for d in ds:
        score = f" score {d.score:.2f}" if np.isfinite(d.score) else ""
        reason = f" ({d.reason})" if d.reason else ""
        lines.append(
            f"  {d.kind}{reason} at {d.at_s - t_ref:+.1f} s, landing {d.impact_s - t_ref:+.1f} s"
            f"{score}; before {d.pre_height_m:.2f} m -> floor {d.floor_height_m:.2f} m at "
            f"({d.x_m:.2f}, {d.y_m:.2f})"
        )
    if not ds:
        lines.append("  no decision")
    lines.append("  per bin (track k, tracker id, height, position, fresh samples, born):")
    lines += trace_window(ep, t_ref, t_ref - before_s, t_ref + after_s, params)
    return lines


def misses(js: Sequence[Judged]) -> list[str]:
    """One line per fall never confirmed: which draw of which cell (``#n``: the n-th episode of
    that kind in the family and tracker, 0-based, as make_family_episodes draws them), who else
    was there, the person's standing and lying heights, and every candidate the judge saw near
    the impact (landing offset, score, path, what it read), or that there was none: the place
    to start a trace (``--trace TRACKER FAMILY KIND N``)."""
    at = {name: i for i, name in enumerate(FEATURES)}
    draw: dict[tuple[str, str, str], int] = defaultdict(int)
    lines = []
    for j in js:
        e = j.ep
        key = (e.tracker, e.family, e.kind)
        n = draw[key]
        draw[key] += 1
        if not e.is_fall or j.alarmed:
            continue
        body = f"stand {e.body.stand_m:.2f} m, lying {e.body.floor_lie_m:.2f} m" if e.body else ""
        cands = []
        for off, score, x in j.candidates:
            path = "+".join(p for p in PATHS if x[at[p]] == 1.0) or "broad"
            read = " ".join(f"{f} {x[at[f]]:.2f}" for f in MISS_FEATURES)
            cands.append(f"landing {off:+.1f} s score {score:.2f} {path}: {read}")
        lines.append(
            f"{e.tracker} {e.family} {e.kind} #{n} visitor={int(e.visitor)} pet={int(e.pet)} "
            f"{body} | " + ("; ".join(cands) or "no candidate")
        )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", choices=("tune", "held"), default="held")
    ap.add_argument("--families", nargs="*", help="override the split's families")
    ap.add_argument("--trackers", nargs="*", default=list(TRACKERS))
    ap.add_argument("--per-kind", type=int, default=15)
    ap.add_argument("--seed", type=int, default=2, help="1 = tuning seed, 2+ = report seeds")
    ap.add_argument("--confirm-s", type=float, default=FallParams().confirm_s)
    ap.add_argument(
        "--tids",
        choices=TID_MODES,
        default="as_simulated",
        help="renumber tracker ids: one (every row 1, single-target modules only) or reuse "
        "(lowest free id, multi-target trackers only): devices that number targets otherwise",
    )
    ap.add_argument(
        "--unmapped",
        action="store_true",
        help="no chair or sofa zones (beds stay mapped): what a room costs whose seats nobody "
        "drew on the map",
    )
    ap.add_argument(
        "--misses",
        action="store_true",
        help="after the report, list every fall never confirmed and what the judge saw of it",
    )
    ap.add_argument(
        "--trace",
        nargs=4,
        metavar=("TRACKER", "FAMILY", "KIND", "N"),
        help="instead of the report, trace one episode (draw N of that cell at --seed and "
        "--tids, as --misses names it): the detector's decisions and, per 0.5 s bin from 12 s "
        "before to 12 s after the impact (a confounder's false alarm), which track took the rows",
    )
    args = ap.parse_args(argv)
    fams = tuple(args.families or (TUNING_FAMILIES if args.split == "tune" else HELD_OUT_FAMILIES))
    params = FallParams(confirm_s=args.confirm_s, floor_dwell_s=FLOOR_DWELL_S)
    if args.trace:
        trk, fam, kind, n = args.trace
        if not n.isdigit():
            raise SystemExit(f"--trace: N is a draw number (0, 1, ...), not {n!r}")
        try:
            print("\n".join(trace_draw(fam, trk, kind, int(n), args.seed, params, args.tids)))
        except ValueError as e:
            raise SystemExit(f"--trace: {e}") from None
        return
    t = time.perf_counter()
    eps = make_family_episodes(fams, tuple(args.trackers), args.per_kind, args.seed)
    if args.tids != "as_simulated":
        fits = SINGLE_TARGET if args.tids == "one" else MULTI_TARGET
        eps = [replace(e, rows=retid(e.rows, args.tids)) if e.tracker in fits else e for e in eps]
    n_f = sum(e.is_fall for e in eps)
    print(
        f"split {args.split}, seed {args.seed}: {len(eps)} episodes ({n_f} falls, "
        f"{len(eps) - n_f} confounders; {len(FALL_KINDS)} fall kinds, "
        f"{len(KINDS) - len(FALL_KINDS)} confounder kinds), families {', '.join(fams)}; "
        f"confirm_s={params.confirm_s}, floor_dwell_s={params.floor_dwell_s}, tids {args.tids}"
        + (", chairs and sofas unmapped" if args.unmapped else "")
    )
    js = evaluate(eps, params, unmapped=args.unmapped)
    report(js, fams, args.trackers)
    if args.misses:
        print("\nFalls never confirmed (draw #n of its kind, family and tracker):")
        print("\n".join(misses(js)))
    print(f"\n(ran in {time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
