"""How fall detection holds on radars that report heights and frames unlike its tuning (issue 13).

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.fall_shift --split held --seed 2

The families draw people, rooms and movements, and six tracker models render them. A radar of
another model or mounting differs in ways no family draws: its centroids read a constant
offset higher or lower (mounting height and tilt, the model's idea of a body's centre:
FIELD-NOTES has a fallen person read 0.35-0.45 m close to a low-cost sensor), its height scale
is compressed or stretched (elevation resolution), its heights are noisier, it sends half the
frames or loses 30% of them at random, or it gives no velocities.
This bench renders the episodes once, shifts what each radar reports, and judges the product
and the trivial rule of issue 13 (``bench.fall_families.baseline_alarms``) on every shifted
copy. What the hub learned of each person (seated and lying heights, ``learned_before``) is
shifted too: a hub learns them from the same radar. Read the drop from the unshifted row: the
detector was tuned on none of these shifts.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from bench.fall_families import FLOOR_DWELL_S, LATE_S, Judged, _ci, _p, cell, evaluate
from care_hub.signal_core.falls import FallParams
from simulators.fall_families import (
    HELD_OUT_FAMILIES,
    MULTI_TARGET,
    TRACKERS,
    TUNING_FAMILIES,
    Body,
    FamilyEpisode,
    make_family_episodes,
)
from simulators.radar_motion import Rows


def _frames(r: Rows, keep: np.ndarray, frame: np.ndarray, fps: float, n_frames: int) -> Rows:
    """The rows of ``r`` where ``keep``, renumbered to ``frame`` at ``fps``."""
    return replace(
        r,
        fps=fps,
        n_frames=n_frames,
        frame=frame,
        tid=r.tid[keep],
        x_m=r.x_m[keep],
        y_m=r.y_m[keep],
        z_m=r.z_m[keep],
        vx_mps=r.vx_mps[keep],
        vy_mps=r.vy_mps[keep],
        vz_mps=r.vz_mps[keep],
    )


@dataclass(frozen=True, slots=True)
class Shift:
    """What a radar of another model or mounting reports instead: heights z -> scale * z +
    offset (velocities scaled alike) with ``jitter_m`` more noise a row, every ``keep``-th frame
    only, a random ``drop_share`` of frames lost, velocities or not. Random draws are seeded by
    the episode's own rows, so a shifted episode is the same in every run and batch."""

    offset_m: float = 0.0
    scale: float = 1.0
    keep: int = 1
    velocities: bool = True
    jitter_m: float = 0.0
    drop_share: float = 0.0

    def height(self, z: float) -> float:
        return self.scale * z + self.offset_m

    def rows(self, r: Rows) -> Rows:
        rng = np.random.default_rng(
            [round(r.t0_s), r.frame.size, round(1e6 * abs(r.z_m[:1].sum()))]
        )
        z = self.scale * r.z_m + self.offset_m
        if self.jitter_m:
            z = z + rng.normal(0.0, self.jitter_m, z.size)
        vz = self.scale * r.vz_mps if self.velocities else np.full_like(r.vz_mps, np.nan)
        vx = r.vx_mps if self.velocities else np.full_like(r.vx_mps, np.nan)
        vy = r.vy_mps if self.velocities else np.full_like(r.vy_mps, np.nan)
        out = replace(r, z_m=z, vx_mps=vx, vy_mps=vy, vz_mps=vz)
        if self.drop_share:
            lost = rng.random(r.n_frames) < self.drop_share
            kept = ~lost[out.frame]
            out = _frames(out, kept, out.frame[kept], out.fps, out.n_frames)
        if self.keep > 1:
            kept = out.frame % self.keep == 0
            n = -(-out.n_frames // self.keep)
            out = _frames(out, kept, out.frame[kept] // self.keep, out.fps / self.keep, n)
        return out

    def body(self, b: Body) -> Body:
        """The posture heights the same radar would show (pace unchanged)."""
        return replace(
            b, **{f.name: self.height(getattr(b, f.name)) for f in fields(b) if f.name[-2:] == "_m"}
        )

    def episode(self, e: FamilyEpisode) -> FamilyEpisode:
        return replace(
            e, rows=self.rows(e.rows), body=None if e.body is None else self.body(e.body)
        )


SHIFTS: dict[str, Shift] = {
    "none": Shift(),
    "z+0.05": Shift(offset_m=0.05),
    "z+0.10": Shift(offset_m=0.10),  # centroids read higher (near a low-cost sensor, tilted)
    "z-0.05": Shift(offset_m=-0.05),
    "z-0.10": Shift(offset_m=-0.10),
    "z*0.85": Shift(scale=0.85),  # heights compressed (coarse elevation)
    "z*1.15": Shift(scale=1.15),
    "half_frames": Shift(keep=2),  # 10 fps for a 20 fps tracker, 5 fps for a 10 fps one
    "no_velocities": Shift(velocities=False),  # a tracker that reports positions only
    "jitter+0.05": Shift(jitter_m=0.05),  # noisier heights (trackers reporting every frame)
    "drop_30%": Shift(drop_share=0.3),  # a lossy link or tracker: 30% of frames never arrive
}
# Shifts that only make sense on a tracker that reports every frame (a held module gives no
# velocities, and noise added to its held repeats would make them fresh samples).
EVERY_FRAME_ONLY = frozenset({"no_velocities", "jitter+0.05"})


def rows_for(js: Sequence[Judged], trk: str, families: Sequence[str]) -> list[str]:
    """One line per tracker: pooled and worst-family figures, product and baseline."""
    mine = [j for j in js if j.ep.tracker == trk]
    c = cell(mine, LATE_S[trk])
    cs = {f: cell([j for j in mine if j.ep.family == f]) for f in families}
    fs = min(cs, key=lambda f: cs[f].tp / max(1, cs[f].falls))
    fo = min(cs, key=lambda f: cs[f].tn / max(1, cs[f].others))
    beats = all(x.tp >= x.base_tp and x.tn >= x.base_tn for x in cs.values())
    return [
        f"{_ci(c.tp, c.falls)} / {100 * c.base_tp / max(1, c.falls):.1f}%",
        f"{_ci(c.tn, c.others)} / {100 * c.base_tn / max(1, c.others):.1f}%",
        f"{100 * cs[fs].tp / max(1, cs[fs].falls):.1f}% ({fs[:2]})",
        f"{100 * cs[fo].tn / max(1, cs[fo].others):.1f}% ({fo[:2]})",
        f"{100 * c.tp_in / max(1, c.falls):.1f}%",
        _p(c.lat, 95),
        "yes" if beats else "NO",
    ]


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", choices=("tune", "held"), default="held")
    ap.add_argument("--trackers", nargs="*", default=list(TRACKERS))
    ap.add_argument("--shifts", nargs="*", default=list(SHIFTS), choices=list(SHIFTS))
    ap.add_argument("--per-kind", type=int, default=15)
    ap.add_argument("--seed", type=int, default=2, help="1 = tuning seed, 2+ = report seeds")
    args = ap.parse_args(argv)
    fams = TUNING_FAMILIES if args.split == "tune" else HELD_OUT_FAMILIES
    params = FallParams(floor_dwell_s=FLOOR_DWELL_S)
    t = time.perf_counter()
    base = make_family_episodes(fams, tuple(args.trackers), args.per_kind, args.seed)
    n_f = sum(e.is_fall for e in base)
    print(
        f"split {args.split}, seed {args.seed}: {len(base)} episodes a shift ({n_f} falls), "
        f"families {', '.join(fams)}"
    )
    print(
        "| shift | tracker | sensitivity [95% CI] / baseline | specificity [95% CI] / baseline "
        "| worst family: sensitivity | specificity | in time | p95 latency s "
        "| beats baseline in every family |"
    )
    print("| --- | --- | --- | --- | --- | --- | ---: | ---: | --- |")
    for name in args.shifts:
        sh = SHIFTS[name]
        trks = [k for k in args.trackers if name not in EVERY_FRAME_ONLY or k in MULTI_TARGET]
        eps = [sh.episode(e) for e in base if e.tracker in trks]
        js = evaluate(eps, params)
        for trk in trks:
            print(f"| {name} | {trk} | " + " | ".join(rows_for(js, trk, fams)) + " |", flush=True)
    print(f"\n(ran in {time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
