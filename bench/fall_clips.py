"""Falls in short clips whose final posture is held: the protocol of issue 13's real recordings.

    .venv/bin/python -m bench.fall_clips --split held --per-kind 15 --seed 2

Issue 13 measured care-hub on 40 real clips of a low-cost 60 GHz single-target module, 5 s each,
"the final posture held for 12 s after each clip". Replayed, a held posture is the clip's last
frame repeated: identical values, which a sample-and-hold module also sends when it has nothing
new. This bench cuts every randomised-family episode to 5 s (a fall's impact 2.5-4 s in; a
confounder's window anywhere in its activity), repeats the last frame that holds rows for 12 s
at the tracker's frame rate, and judges the product and the trivial baseline on the same clips
(zones as provisioned, or none with ``--unmapped``: a clip sent to a radar nobody mapped).
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)

import argparse
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from bench.fall_families import FLOOR_DWELL_S, _ci, baseline_judge, run_detector
from bench.falls import judge
from care_hub.signal_core.falls import FallParams
from simulators.fall_families import (
    FALL_KINDS,
    HELD_OUT_FAMILIES,
    TRACKERS,
    TUNING_FAMILIES,
    FamilyEpisode,
    make_family_episodes,
)
from simulators.radar_motion import Rows

CLIP_S = 5.0
HOLD_S = 12.0
IMPACT_IN_CLIP_S = (2.5, 4.0)


def clip_rows(rows: Rows, start_s: float, clip_s: float = CLIP_S, hold_s: float = HOLD_S) -> Rows:
    """``rows`` from ``start_s`` (episode time) for ``clip_s``, then the last frame that holds
    rows repeated, value for value, every frame for ``hold_s``."""
    fps = rows.fps
    f0 = max(0, min(round(start_s * fps), rows.n_frames - 1))
    n_clip = min(round(clip_s * fps), rows.n_frames - f0)
    keep = (rows.frame >= f0) & (rows.frame < f0 + n_clip)
    fr = rows.frame[keep] - f0
    cols = {
        k: getattr(rows, k)[keep]
        for k in ("tid", "x_m", "y_m", "z_m", "vx_mps", "vy_mps", "vz_mps")
    }
    n_hold = round(hold_s * fps)
    if fr.size:
        last = fr == fr.max()
        reps = np.repeat(np.arange(n_clip, n_clip + n_hold), int(last.sum()))
        fr = np.concatenate([fr, reps])
        cols = {k: np.concatenate([v, np.tile(v[last], n_hold)]) for k, v in cols.items()}
    return replace(
        rows,
        t0_s=rows.t0_s + f0 / fps,
        n_frames=n_clip + n_hold,
        frame=fr.astype(rows.frame.dtype),
        **cols,
    )


def clip_episode(ep: FamilyEpisode, rng: np.random.Generator) -> FamilyEpisode:
    """The 5 s clip of ``ep`` (a fall's impact 2.5-4 s in) with its last frame held for 12 s."""
    dur = ep.rows.n_frames / ep.rows.fps
    if ep.is_fall and ep.impact_s is not None:
        start = ep.impact_s - ep.rows.t0_s - float(rng.uniform(*IMPACT_IN_CLIP_S))
    else:
        # the activity of a confounder lies after its first seconds of standing or walking
        start = float(rng.uniform(min(3.0, dur / 2), max(min(3.0, dur / 2), dur - CLIP_S)))
    rows = clip_rows(ep.rows, max(0.0, start))
    return replace(ep, rows=rows, duration_s=rows.n_frames / rows.fps)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", choices=("tune", "held"), default="held")
    ap.add_argument("--trackers", nargs="*", default=list(TRACKERS))
    ap.add_argument("--per-kind", type=int, default=15)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--unmapped", action="store_true", help="no zones: nobody mapped the room")
    args = ap.parse_args(argv)
    fams = TUNING_FAMILIES if args.split == "tune" else HELD_OUT_FAMILIES
    params = FallParams(floor_dwell_s=FLOOR_DWELL_S)
    t = time.perf_counter()
    rng = np.random.default_rng((args.seed, 5))
    eps = [
        clip_episode(e, rng)
        for e in make_family_episodes(fams, tuple(args.trackers), args.per_kind, args.seed)
    ]
    by_trk: dict[str, list[FamilyEpisode]] = defaultdict(list)
    for e in eps:
        by_trk[e.tracker].append(e)
    print(
        f"split {args.split}, seed {args.seed}: {len(eps)} clips of {CLIP_S:.0f} s + "
        f"{HOLD_S:.0f} s held ({'no zones' if args.unmapped else 'zones as provisioned'})"
    )
    print(
        "| tracker | falls | sensitivity [95% CI] | baseline | non-falls | specificity [95% CI] "
        "| baseline | falls first judged (of the missed: never a candidate) |"
    )
    print("| --- | ---: | --- | ---: | ---: | --- | ---: | --- |")
    per_kind: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for trk, group in by_trk.items():
        dets = run_detector(group, params, unmapped=[args.unmapped] * len(group))
        tp = tn = btp = btn = nf = no = never = 0
        for e, d in zip(group, dets, strict=True):
            hit, _ = judge(d, e.is_fall, e.impact_s)
            bhit, _ = baseline_judge(e)
            per_kind[(e.kind, trk)].append(hit == e.is_fall)
            if e.is_fall:
                nf += 1
                tp += hit
                btp += bhit
                never += not hit and not any(x.kind == "suspected" for x in d)
            else:
                no += 1
                tn += not hit
                btn += not bhit
        print(
            f"| {trk} | {nf} | {_ci(tp, nf)} | {100 * btp / max(1, nf):.1f}% | {no} | "
            f"{_ci(tn, no)} | {100 * btn / max(1, no):.1f}% | {nf - tp} missed, {never} never suspected |"
        )
    print()
    print("Share judged right per kind (all families of the split)")
    print("| kind | " + " | ".join(by_trk) + " |")
    print("| --- |" + " ---: |" * len(by_trk))
    for kind in dict.fromkeys(e.kind for e in eps):
        row = [per_kind[(kind, t)] for t in by_trk]
        tag = " (fall)" if kind in FALL_KINDS else ""
        print(
            f"| {kind}{tag} | "
            + " | ".join(f"{100 * sum(r) / max(1, len(r)):.0f}" for r in row)
            + " |"
        )
    print(f"\n(ran in {time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
