"""Throughput of the fall detector (+ zone tracker) over many radars, in target-frames/s per core.

    .venv/bin/python -m bench.signal --radars 10000 --seconds 20

Each step is one batch of 1 s windows at 10 fps from every radar (one person each, typical noise).
``--repeat N`` runs fresh detectors N times over the same batches and reports the median and the
best run (a shared machine's other jobs only ever slow a run down); the load average is printed
beside the figures.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)

import argparse
import os
import statistics
import time

import numpy as np

from care_hub.signal_core.falls import FallBatch, FallDetector
from care_hub.signal_core.zones import ZoneMap, ZoneShape, ZoneTracker
from simulators.radar_motion import BED_RECT, ordinary_activity


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--radars", type=int, default=10_000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs over the same batches")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    # a pool of 64 simulated rooms, reused across radars (generation is not what we measure)
    pool = [ordinary_activity(rng, args.seconds + 1, "typical") for _ in range(64)]
    n = args.radars
    zmap = ZoneMap((ZoneShape.rect("bed", *BED_RECT),))
    batches = []
    for w in range(args.seconds):
        parts = []
        for s in range(n):
            r = pool[s % len(pool)]
            m = (r.frame >= w * 10) & (r.frame < (w + 1) * 10)
            parts.append(
                (
                    np.full(int(m.sum()), s),
                    r.t0_s + r.frame[m] / r.fps,
                    r.x_m[m],
                    r.y_m[m],
                    r.z_m[m],
                    r.tid[m],
                )
            )
        cs = np.arange(n, dtype=np.int64)
        batches.append(
            FallBatch(
                slot=np.concatenate([p[0] for p in parts]).astype(np.int64),
                t_s=np.concatenate([p[1] for p in parts]),
                x_m=np.concatenate([p[2] for p in parts]),
                y_m=np.concatenate([p[3] for p in parts]),
                z_m=np.concatenate([p[4] for p in parts]),
                tid=np.concatenate([p[5] for p in parts]),
                covered_slot=cs,
                covered_until_s=np.full(n, pool[0].t0_s + w + 1.0),
            )
        )
    rows = sum(b.n_rows for b in batches)
    runs: list[tuple[float, float]] = []
    for _ in range(max(1, args.repeat)):
        det = FallDetector(n)
        for s in range(n):
            det.set_bed_zones(s, [BED_RECT])
        zones = ZoneTracker(n, {s: zmap for s in range(n)})
        t_f = t_z = 0.0
        for b in batches:
            t = time.process_time()
            det.step(b)
            t_f += time.process_time() - t
            t = time.process_time()
            zones.step(b.slot, b.t_s, b.x_m, b.y_m, b.covered_slot, b.covered_until_s)
            t_z += time.process_time() - t
        runs.append((t_f, t_z))
    load = os.getloadavg()
    print(
        f"{n} radars x {args.seconds} s at 10 fps: {rows} target-frames in {len(batches)} batches;"
        f" {len(runs)} run(s); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )

    def rate(times: list[float]) -> str:
        med, best = rows / statistics.median(times), rows / min(times)
        return f"{med:12,.0f} target-frames/s per core" + (
            f" (median; best {best:,.0f})" if len(times) > 1 else ""
        )

    t_fs = [r[0] for r in runs]
    print(
        f"fall detector:        {rate(t_fs)}, "
        f"{1000 * statistics.median(t_fs) / len(batches):.0f} ms per 1 s batch"
    )
    print(f"zone tracker:         {rate([r[1] for r in runs])}")
    print(f"falls + zones:        {rate([r[0] + r[1] for r in runs])} (goal >= 1,000,000)")


if __name__ == "__main__":
    main()
