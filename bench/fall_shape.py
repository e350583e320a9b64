"""Can a descent's shape be told from a tracker's raw heights? A probe, not a detector.

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.fall_shape --per-kind 10 --seed 1

Issue 13 asks the detector to rest on what a fall is: an involuntary descent that accelerates
into an impact, against a voluntary one that starts and stops smoothly (minimum jerk, Flash &
Hogan 1985) or a slump that sinks at an even pace. The families simulate exactly those shapes
(``simulators/radar_motion.Script.move``: ``fall`` = u^2, ``minjerk``, ``linear``). This probe
asks how much of that survives each tracker's noise, holds and grid, before any detector logic:
on tuning-family episodes of a resident alone (no visitor, no pet), it finds the last descent to
the lowest level the person stays at, fits each shape to the raw rows around it (start and
duration by grid search, level and drop by least squares) and scores how much better the fall
shape fits than minimum jerk (and linear than minimum jerk), in units of the rows' noise after
the landing. The printed AUC is how often a fall's score beats a deliberate floor-level
activity's (all fours, on the heels, sitting on the floor, floor exercise): 0.5 is no
information, 1.0 perfect separation.
"""

from __future__ import annotations

import argparse
import time
from typing import Literal

import numpy as np
import numpy.typing as npt

from simulators.fall_families import TRACKERS, FamilyEpisode, cell_episodes

FloatArr = npt.NDArray[np.float64]
Shape = Literal["fall", "minjerk", "linear"]

FALLS = ("trip", "faint", "knees_then_floor", "fall_beside_bed")
VOLUNTARY = ("sit_floor", "all_fours", "on_heels", "floor_exercise")
FAMILIES = ("T1_average", "T5_decorrelated", "T6_wide_slow")
DURATIONS_S = np.arange(0.3, 3.6, 0.1)


def template(shape: Shape, u: FloatArr) -> FloatArr:
    """Share of the drop covered at normalised time u (clipped to 0..1)."""
    u = np.clip(u, 0.0, 1.0)
    if shape == "fall":
        return u * u
    if shape == "minjerk":
        return u**3 * (10 - 15 * u + 6 * u * u)
    return u


def best_fit(
    t: FloatArr, z: FloatArr, shape: Shape, starts: FloatArr, durations: FloatArr = DURATIONS_S
) -> tuple[float, float, float]:
    """Least squares z ~ level - drop * template((t - start) / duration) over a grid of starts
    and durations (every start of one duration at once); (sse, start, duration) of the best
    downward fit."""
    best = (np.inf, float("nan"), float("nan"))
    n = t.size
    sz = z.sum()
    for dur in durations:
        g = template(shape, (t[None, :] - starts[:, None]) / dur)
        sg, sgg, sgz = g.sum(1), (g * g).sum(1), g @ z
        det = n * sgg - sg * sg
        ok = det > 1e-9
        b = np.where(ok, (n * sgz - sg * sz) / np.where(ok, det, 1.0), 0.0)
        a = (sz - b * sg) / n
        res = z[None, :] - a[:, None] - b[:, None] * g
        sse = np.where(ok & (b < 0), (res * res).sum(1), np.inf)
        i = int(np.argmin(sse))
        if sse[i] < best[0]:
            best = (float(sse[i]), float(starts[i]), float(dur))
    return best


def resident_rows(ep: FamilyEpisode) -> tuple[FloatArr, FloatArr]:
    """Time and height of the rows within 0.8 m of their 1 s bin's median position (phantoms
    appear far from everyone), in time order."""
    r = ep.rows
    o = np.argsort(r.frame, kind="stable")
    t = r.t0_s + r.frame[o] / r.fps
    x, y, z = r.x_m[o], r.y_m[o], r.z_m[o]
    b = np.floor(t - t[0]).astype(np.int64)
    edges = np.searchsorted(b, np.arange(b[-1] + 2))
    spans = [(i, j) for i, j in zip(edges[:-1], edges[1:], strict=True) if j > i]
    counts = [j - i for i, j in spans]
    mx = np.repeat([np.median(x[i:j]) for i, j in spans], counts)
    my = np.repeat([np.median(y[i:j]) for i, j in spans], counts)
    keep = np.hypot(x - mx, y - my) <= 0.8
    return t[keep], z[keep]


def landing_time(t: FloatArr, z: FloatArr) -> float | None:
    """First time the 3-bin median of 0.5 s bin medians comes within 0.1 m of the lowest level
    held for 2 s (the posture the descent ended in)."""
    edges = np.arange(t[0], t[-1], 0.5)
    idx = np.searchsorted(t, edges)
    med = np.array(
        [np.median(z[i:j]) if j > i else np.nan for i, j in zip(idx[:-1], idx[1:], strict=True)]
    )
    if med.size < 4:
        return None
    pad = np.concatenate([[np.nan], med, [np.nan]])
    m3 = np.nanmedian(np.stack([pad[:-2], pad[1:-1], pad[2:]]), axis=0)
    level = np.nanmin(np.convolve(np.nan_to_num(m3, nan=9.0), np.ones(4) / 4, "valid"))
    low = np.nonzero(m3 <= level + 0.1)[0]
    return None if low.size == 0 else float(edges[low[0]] + 0.25)


def shape_scores(t: FloatArr, z: FloatArr) -> tuple[float, float] | None:
    """(fall better than minimum jerk, linear better than minimum jerk): the drop in residual sum
    of squares per row, in units of the variance of the rows 2-6 s after the landing."""
    t_low = landing_time(t, z)
    if t_low is None:
        return None
    w = (t >= t_low - 3.0) & (t <= t_low + 1.5)
    if w.sum() < 8:
        return None
    tw, zw = t[w], z[w]
    starts = np.arange(t_low - 4.0, t_low + 0.5, 0.05)
    sse = {s: best_fit(tw, zw, s, starts)[0] for s in ("fall", "minjerk", "linear")}
    tail = z[(t > t_low + 2.0) & (t < t_low + 6.0)]
    var = max(float(np.var(tail)) if tail.size > 5 else 0.01, 1e-4)
    n = tw.size
    return (sse["minjerk"] - sse["fall"]) / var / n, (sse["minjerk"] - sse["linear"]) / var / n


def auc(pos: FloatArr, neg: FloatArr) -> float:
    """P(a positive's score > a negative's), ties half."""
    gt = (pos[:, None] > neg[None, :]).mean()
    eq = (pos[:, None] == neg[None, :]).mean()
    return float(gt + 0.5 * eq)


def probe(tracker: str, per_kind: int, seed: int) -> dict[str, FloatArr]:
    """shape_scores per kind over episodes of a resident alone (columns: impact, linear)."""
    out: dict[str, FloatArr] = {}
    for kind in (*FALLS, "slow_slump", *VOLUNTARY):
        vals = []
        for fam in FAMILIES:
            for ep in cell_episodes(fam, tracker, kind, per_kind, seed):
                if ep.visitor or ep.pet:
                    continue
                sc = shape_scores(*resident_rows(ep))
                if sc is not None:
                    vals.append(sc)
        out[kind] = np.asarray(vals, dtype=np.float64).reshape(-1, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--trackers", nargs="*", default=["multi_clean", "multi_noisy", "quantised_10fps"]
    )
    ap.add_argument("--per-kind", type=int, default=10, help="draws per kind and family")
    ap.add_argument("--seed", type=int, default=1, help="1 = the tuning seed")
    args = ap.parse_args()
    unknown = [t for t in args.trackers if t not in TRACKERS]
    if unknown:
        raise SystemExit(f"unknown tracker(s) {unknown}; known: {', '.join(TRACKERS)}")
    start = time.perf_counter()
    print(f"families {', '.join(FAMILIES)}, seed {args.seed}, a resident alone")
    print(
        "| tracker | falls / voluntary / slumps | AUC fall shape: falls vs voluntary "
        "| AUC linear shape: slumps vs voluntary |"
    )
    print("| --- | --- | ---: | ---: |")
    for trk in args.trackers:
        res = probe(trk, args.per_kind, args.seed)
        falls = np.concatenate([res[k] for k in FALLS])
        vol = np.concatenate([res[k] for k in VOLUNTARY])
        slump = res["slow_slump"]
        print(
            f"| {trk} | {len(falls)} / {len(vol)} / {len(slump)} "
            f"| {auc(falls[:, 0], vol[:, 0]):.2f} | {auc(slump[:, 1], vol[:, 1]):.2f} |"
        )
    print(f"(ran in {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
