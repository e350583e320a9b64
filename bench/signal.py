"""Throughput of the fall detector (+ zone tracker) over many radars, in target-frames/s per core.

    .venv/bin/python -m bench.signal --radars 10000 --seconds 20

Each step is one batch of 1 s windows at 10 fps from every radar (one person each, typical noise).
``--repeat N`` runs fresh detectors N times over the same batches and reports the median and the
best run (a shared machine's other jobs only ever slow a run down); the load average is printed
beside the figures.

``--against OLD_FALLS_PY`` (a copy of an earlier ``care_hub/signal_core/falls.py``, e.g. from
``git show REV:care_hub/signal_core/falls.py``) first checks that both give the same detections,
to the last bit (the repr of every detection, features included), on tuning-family episodes
(T1-T4, every tracker, the judge and the rules alone, plus the same batches with their rows
shuffled), then times both, alternating, on this bench's batches. A speed change must pass it.
``--speed-only`` skips the check: the cost of a change that decides otherwise on purpose.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)

import argparse
import importlib.util
import os
import statistics
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import care_hub.signal_core.falls as falls_now
from care_hub.signal_core.falls import FallBatch, FallDetector
from care_hub.signal_core.zones import ZoneMap, ZoneShape, ZoneTracker
from simulators.radar_motion import BED_RECT, ordinary_activity

Cols = dict[str, Any]


def _fields(b: FallBatch) -> Cols:
    return {f: getattr(b, f) for f in FallBatch.__dataclass_fields__}


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("falls_against", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["falls_against"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _family_batches(per_kind: int, seed: int) -> list[tuple[list[Any], list[Cols], str]]:
    """Tuning-family episodes per tracker in lockstep 1 s windows (as bench.fall_families), and
    the same windows with their rows shuffled (rows out of time order)."""
    from simulators.fall_families import TRACKERS, make_family_episodes

    fams = ("T1_average", "T2_short_far", "T3_tall_near", "T4_furniture_brisk")
    out = []
    rng = np.random.default_rng(seed)
    # the first five tracker models (the figures in docs/performance.md are of that mix)
    for trk in list(TRACKERS)[:5]:
        eps = make_family_episodes(fams, (trk,), per_kind, seed)
        rl = [e.rows for e in eps]
        fps = rl[0].fps
        per = round(fps)
        slot = np.concatenate([np.full(r.frame.shape[0], i) for i, r in enumerate(rl)])
        frame = np.concatenate([r.frame for r in rl])
        t0 = np.asarray([r.t0_s for r in rl])
        nfr = np.asarray([r.n_frames for r in rl])
        cols = {k: np.concatenate([getattr(r, k) for r in rl]) for k in ("x_m", "y_m", "z_m")}
        tid = np.concatenate([r.tid for r in rl])
        vz = np.concatenate([r.vz_mps for r in rl])
        o = np.argsort(frame // per, kind="stable")
        w = (frame // per)[o]
        bounds = np.searchsorted(w, np.arange(int(np.ceil(nfr.max() / per)) + 1))
        plain, shuffled = [], []
        for wi in range(bounds.shape[0] - 1):
            i = o[bounds[wi] : bounds[wi + 1]]
            cov = np.nonzero(nfr > wi * per)[0]
            b: Cols = {
                "slot": slot[i].astype(np.int64),
                "t_s": t0[slot[i]] + frame[i] / fps,
                **{k: v[i] for k, v in cols.items()},
                "tid": tid[i],
                "covered_slot": cov.astype(np.int64),
                "covered_until_s": t0[cov] + np.minimum((wi + 1) * per, nfr[cov]) / fps,
                "vz_mps": vz[i] if np.isfinite(vz).any() else None,
            }
            plain.append(b)
            p = rng.permutation(i.size)
            shuffled.append(
                {
                    k: (
                        v[p]
                        if v is not None and k not in ("covered_slot", "covered_until_s")
                        else v
                    )
                    for k, v in b.items()
                }
            )
        out += [(eps, plain, "in order"), (eps, shuffled, "rows shuffled")]
    return out


def _detections(mod: ModuleType, eps: list[Any], batches: list[Cols], model: Any) -> list[str]:
    from bench.fall_families import FLOOR_DWELL_S, set_room

    det = mod.FallDetector(len(eps), mod.FallParams(floor_dwell_s=FLOOR_DWELL_S), model=model)
    for s, e in enumerate(eps):
        set_room(det, s, e.room)
    return [repr(d) for b in batches for d in det.step(mod.FallBatch(**b))]


def differential(old: ModuleType, per_kind: int = 2, seed: int = 1) -> bool:
    """Whether the old and the current detector give the same detections (printed)."""
    n = 0
    same = True
    for eps, batches, how in _family_batches(per_kind, seed):
        for model in ("default", None):
            a = _detections(old, eps, batches, model)
            b = _detections(falls_now, eps, batches, model)
            n += len(a)
            if a != b:
                same = False
                print(f"DIFFERENT: {eps[0].tracker} ({how}), model={model}: {len(a)} vs {len(b)}")
    print(f"differential check: {'identical' if same else 'DIFFERENT'}, {n} detections compared")
    return same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--radars", type=int, default=10_000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs over the same batches")
    ap.add_argument("--against", type=Path, help="an earlier falls.py: same detections? speed?")
    ap.add_argument(
        "--speed-only",
        action="store_true",
        help="with --against: time both without the detections check (a change that decides "
        "otherwise on purpose: what does it cost?)",
    )
    args = ap.parse_args()
    old = _load(args.against) if args.against else None
    if old is not None and not args.speed_only and not differential(old):
        sys.exit(1)
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
    old_runs: list[float] = []
    old_batches = [] if old is None else [old.FallBatch(**_fields(b)) for b in batches]
    for _ in range(max(1, args.repeat)):
        if old is not None:  # alternating with the current one: the same machine state
            det_old = old.FallDetector(n)
            for s in range(n):
                det_old.set_bed_zones(s, [BED_RECT])
            t_o = time.process_time()
            for ob in old_batches:
                det_old.step(ob)
            old_runs.append(time.process_time() - t_o)
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
    if old_runs:
        print(f"fall detector --against: {rate(old_runs)}")


if __name__ == "__main__":
    main()
