"""How well the fall detector learns a person's seated and lying heights (issue 13).

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.learned_heights --hours 2 --seed 5

Ordinary days of the tuning families (simulators/fall_families.make_family_day), one resident per
family and tracker model, run through the detector from nothing learned. At the end of the day
each chair, sofa and bed height the detector learned (``learned_heights``: ``on_chair_m``,
``on_sofa_m``, ``on_bed_m``) is compared with the body's own height there. Printed per tracker:
the 50th / 90th percentile and the largest absolute error, and how many were learned at all.
``bench.fall_families.learned_before`` gives the episodes' people heights with an error of this
size (LEARNED_SD_M).
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)

import argparse
import time
from collections.abc import Sequence

import numpy as np

from bench.fall_families import FLOOR_DWELL_S, run_detector
from care_hub.signal_core.falls import FallDetector, FallParams
from simulators.fall_families import TRACKERS, TUNING_FAMILIES, FamilyDay, make_family_day


def errors(days: Sequence[FamilyDay]) -> list[float]:
    """Learned minus true height for every chair, sofa and (raised) bed of ``days`` (NaN where
    nothing was learned), after running them from nothing learned."""
    kept: list[FallDetector] = []

    class Keep(FallDetector):  # run_detector builds its detector; keep it to read it after
        def __init__(self, *a: object, **k: object) -> None:
            super().__init__(*a, **k)  # type: ignore[arg-type]
            kept.append(self)

    run_detector(days, FallParams(floor_dwell_s=FLOOR_DWELL_S), detector=Keep, learned=False)
    out = []
    for s, day in enumerate(days):
        got, b = kept[0].learned_heights(s), day.body
        assert b is not None
        truth = {"on_chair_m": b.chair_m, "on_sofa_m": b.sofa_m}
        if day.room.bed_kind == "bed":
            truth["on_bed_m"] = b.bed_m
        out += [got.get(k, np.nan) - v for k, v in truth.items()]
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    print(f"tuning families, one resident each, {args.hours:g} h, seed {args.seed}")
    print("| tracker | learned | abs error p50 / p90 / max (m) |\n| --- | ---: | --- |")
    for trk in TRACKERS:
        days = [
            make_family_day(f, trk, args.hours, np.random.default_rng((args.seed, i)))
            for i, f in enumerate(TUNING_FAMILIES)
        ]
        e = np.abs(np.asarray(errors(days)))
        ok = e[np.isfinite(e)]
        q = np.percentile(ok, [50, 90, 100]) if ok.size else [np.nan] * 3
        print(f"| {trk} | {ok.size} of {e.size} | {q[0]:.3f} / {q[1]:.3f} / {q[2]:.3f} |")
    print(f"\n(ran in {time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
