"""False alarms per resident-day of ordinary life, on randomised families (issue 13).

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.fall_days --split held --residents 6 --hours 6 --seed 2

Every family x tracker cell gets ``--residents`` people living ``--hours`` each of an ordinary day
in their family's room (simulators/fall_families.make_family_day: walking, chair, sofa, bed or floor
bed, bathroom trips out of view, bending, kneeling upright, on all fours, on the heels, sitting on
the floor, exercise on a floor mat, squats; visits and pets for some). Nobody falls, so every
confirmed fall is a false alarm. Printed per tracker over the split's families: confirmed falls
per resident-day with a 95% exact Poisson interval and a 95% interval resampling residents
(the Poisson one assumes every resident-hour alike; a pet or a visitor makes some residents' days
far worse than others', and then only the resampled one is honest), the rate on days with a pet
and without, the same folded into alerts as the alert engine folds them (within 10 min of the
previous one on the radar), and floor_dwell reports (a person at floor level for FLOOR_DWELL_S:
not a false alarm in the fall sense, a different, lower priority alert), and which activity was
going on at each false alarm and where each floor_dwell report's time down began (one during
sitting in a chair or lying in bed reports nobody on the floor). The baseline (the trivial rule of
issue 13, ``bench.fall_families.baseline_alarms``) runs on the same days: its alarms per
resident-day, and folded into alerts the same way.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)

import argparse
import bisect
import time
from collections import Counter
from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy.stats import chi2

from bench.fall_families import FLOOR_DWELL_S, baseline_alarms, run_detector, trace
from bench.falls import ALERT_FOLD_S
from care_hub.signal_core.falls import FallDetection, FallParams
from simulators.fall_families import (
    FAMILIES,
    HELD_OUT_FAMILIES,
    TRACKERS,
    TUNING_FAMILIES,
    FamilyDay,
    make_family_day,
)


def poisson_ci(k: int, exposure: float) -> tuple[float, float]:
    """95% exact (Garwood) interval of a Poisson rate: k events over ``exposure``."""
    lo = 0.0 if k == 0 else chi2.ppf(0.025, 2 * k) / 2
    hi = chi2.ppf(0.975, 2 * k + 2) / 2
    return lo / exposure, hi / exposure


def resident_ci(counts: Sequence[int], hours: float, n_boot: int = 4000) -> tuple[float, float]:
    """95% percentile-bootstrap interval of false alarms per resident-day, resampling residents
    (each ``hours`` long) with replacement: honest when residents differ (pets, visitors)."""
    c = np.asarray(counts, dtype=np.float64)
    if c.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(0)
    rates = c[rng.integers(0, c.size, (n_boot, c.size))].mean(axis=1) * 24.0 / hours
    lo, hi = np.percentile(rates, [2.5, 97.5])
    return float(lo), float(hi)


def folded(times: list[float]) -> int:
    """Confirmations as alerts: one within ALERT_FOLD_S of the previous one joins it."""
    n, last = 0, -np.inf
    for t in sorted(times):
        if t - last > ALERT_FOLD_S:
            n += 1
        last = t
    return n


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", choices=("tune", "held"), default="held")
    ap.add_argument("--families", nargs="*")
    ap.add_argument("--trackers", nargs="*", default=list(TRACKERS))
    ap.add_argument("--residents", type=int, default=6)
    ap.add_argument("--hours", type=float, default=6.0)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--rules", action="store_true", help="the hand-written rules alone (no model)")
    ap.add_argument(
        "--unmapped",
        action="store_true",
        help="no chair or sofa zones (beds stay mapped): days in a room whose seats nobody drew",
    )
    ap.add_argument(
        "--list",
        action="store_true",
        help="also print every false alarm: family, activity, pet / visitor that day, the "
        "candidate's path, heights and distances to the furniture (what to look at first)",
    )
    ap.add_argument(
        "--trace",
        type=int,
        metavar="N",
        help="then print how the detector's tracks took the rows around the N-th listed false "
        "alarm (1-based, --list order): per 0.5 s bin each track's id, height, position and "
        "birth, 12 s before the impact to the confirmation (association bugs show here)",
    )
    args = ap.parse_args(argv)
    if args.trace is not None:
        args.list = True
    fams = tuple(args.families or (TUNING_FAMILIES if args.split == "tune" else HELD_OUT_FAMILIES))
    params = FallParams(floor_dwell_s=FLOOR_DWELL_S)
    t0 = time.perf_counter()
    print(
        f"split {args.split}, seed {args.seed}: {args.residents} residents x {args.hours:g} h per "
        f"family and tracker, families {', '.join(fams)}; floor_dwell_s={FLOOR_DWELL_S:g}"
        + ("; chairs and sofas unmapped" if args.unmapped else "")
    )
    print(
        "| tracker | resident-days | false alarms / resident-day [95% CI Poisson] "
        "[95% CI by resident] | with a pet / without (days) | as alerts / day "
        "| floor_dwell / day | worst family (FA / day) | activities at the false alarms "
        "| activities at the floor_dwell reports | baseline: false alarms / day (as alerts) |"
    )
    print("| --- | ---: | --- | --- | ---: | ---: | --- | --- | --- | --- |")
    listed: list[str] = []
    where: list[tuple[FamilyDay, FallDetection]] = []
    for trk in args.trackers:
        n_alerts = n_dwell = n_base = n_base_alerts = 0
        acts: Counter[str] = Counter()
        dwell_acts: Counter[str] = Counter()
        per_fam: dict[str, int] = {}
        per_day: list[int] = []
        days = []
        for fam in fams:
            key = (args.seed, list(FAMILIES).index(fam), list(TRACKERS).index(trk), 777)
            rng = np.random.default_rng(key)
            days += [make_family_day(fam, trk, args.hours, rng) for _ in range(args.residents)]
            per_fam[fam] = 0
        # one detector for all of the tracker's residents, as the hub runs one for many radars
        model: Literal["default"] | None = None if args.rules else "default"
        for i_day, (day, ds) in enumerate(
            zip(
                days,
                run_detector(days, params, model=model, unmapped=[args.unmapped] * len(days)),
                strict=True,
            )
        ):
            conf = [d for d in ds if d.kind == "confirmed"]
            per_day.append(len(conf))
            per_fam[day.family] += len(conf)
            n_alerts += folded([d.at_s for d in conf])
            n_dwell += sum(d.kind == "floor_dwell" for d in ds)
            base = baseline_alarms(day.rows, [day.room.bed])
            n_base += len(base)
            n_base_alerts += folded(base)
            starts = [t for t, _ in day.log]
            for d in ds:
                if d.kind == "floor_dwell":  # what was going on when the person went down
                    i = bisect.bisect_right(starts, d.impact_s) - 1
                    dwell_acts[day.log[max(i, 0)][1]] += 1
            for d in conf:
                i = bisect.bisect_right(starts, d.impact_s) - 1
                acts[day.log[max(i, 0)][1]] += 1
                if args.list:
                    listed.append(
                        describe(trk, day, d, day.log[max(i, 0)], i_day % args.residents)
                    )
                    where.append((day, d))
        res_days = len(fams) * args.residents * args.hours / 24.0
        n_conf = sum(per_day)
        lo, hi = poisson_ci(n_conf, res_days)
        blo, bhi = resident_ci(per_day, args.hours)
        pets = np.asarray([d.pet for d in days], dtype=np.bool_)
        counts = np.asarray(per_day, dtype=np.float64)
        split = " / ".join(
            f"{counts[m].mean() * 24.0 / args.hours:.2f} ({m.sum() * args.hours / 24.0:.1f})"
            if m.any()
            else "- (0)"
            for m in (pets, ~pets)
        )
        worst = max(per_fam, key=lambda f: per_fam[f])
        worst_rate = per_fam[worst] / (args.residents * args.hours / 24.0)
        print(
            f"| {trk} | {res_days:.1f} | {n_conf / res_days:.2f} [{lo:.2f}, {hi:.2f}] "
            f"[{blo:.2f}, {bhi:.2f}] | {split} | {n_alerts / res_days:.2f} "
            f"| {n_dwell / res_days:.2f} | {worst} ({worst_rate:.2f}) "
            f"| {', '.join(f'{a} {k}' for a, k in acts.most_common()) or '-'} "
            f"| {', '.join(f'{a} {k}' for a, k in dwell_acts.most_common()) or '-'} "
            f"| {n_base / res_days:.2f} ({n_base_alerts / res_days:.2f}) |",
            flush=True,
        )
    if args.list:
        print(
            "\nFalse alarms (tracker family day-in-family at-s activity+s_into_it pet visitor path "
            "heights distances):"
        )
        print("\n".join(listed))
    if args.trace is not None:
        if not 1 <= args.trace <= len(where):
            raise SystemExit(f"--trace {args.trace}: {len(where)} false alarms listed")
        day, d = where[args.trace - 1]
        print(f"\nTrace of false alarm {args.trace}: {listed[args.trace - 1]}")
        print("\n".join(trace(day, d, params)))
    print(f"\n(ran in {time.perf_counter() - t0:.0f} s)")


def _edge_distance(x: float, y: float, r: tuple[float, float, float, float]) -> float:
    """Distance from (x, y) to a rectangle's edge: negative inside it."""
    x0, y0, x1, y1 = r
    dx, dy = max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1)
    if dx == 0.0 and dy == 0.0:
        return -min(x - x0, x1 - x, y - y0, y1 - y)
    return float(np.hypot(dx, dy))


def describe(
    trk: str, day: FamilyDay, d: FallDetection, act: tuple[float, str], resident: int = 0
) -> str:
    """One false alarm on a line: which resident's day of the family (0-based, in the family's
    stream) and when, who else was there, which path made the candidate (the judge's features),
    the heights and how far from each piece of furniture."""
    f = dict(d.features)
    path = [k for k in ("seen", "unseen", "orphan", "from_support") if f.get(k) == 1.0]
    r = day.room
    dist = " ".join(
        f"{name} {_edge_distance(d.x_m, d.y_m, rect):+.2f}"
        for name, rect in ((r.bed_kind, r.bed), ("chair", r.chair), ("sofa", r.sofa))
    )
    return (
        f"{trk} {day.family} day {resident} at {d.impact_s - day.rows.t0_s:.1f} s "
        f"{act[1]}+{d.impact_s - act[0]:.0f}s pet={int(day.pet)} "
        f"visitor={int(day.visitor)} path={'+'.join(path) or 'broad'} "
        f"rule={int(f.get('rule', 0.0))} before {d.pre_height_m:.2f} m -> floor "
        f"{d.floor_height_m:.2f} m, descent {d.descent_s:.1f} s, score {d.score:.2f}; {dist}"
    )


if __name__ == "__main__":
    main()
