"""Labelled evaluation of the fall detector on simulated radar episodes and ordinary days.

    .venv/bin/python -m bench.falls --episodes 4500 --seed 2 --residents 100 --hours 4

Tune on one seed (1), report on another (2). Prints sensitivity, specificity, false alarms per
resident-day of ordinary activity and impact -> confirmed latency, by noise level and episode type.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)

import argparse
import bisect
import time
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from care_hub.signal_core.falls import FallBatch, FallDetection, FallDetector, FallParams
from simulators.radar_motion import (
    BED_RECT,
    CHAIR_RECT,
    CONFOUNDER_KINDS,
    FALL_KINDS,
    NOISE_PROFILES,
    Episode,
    Rows,
    make_episode,
    ordinary_activity,
)

VISITOR_SHARE = 0.25  # a quarter of episodes have a second person in the room
# A confirmation counts for a fall if it comes no earlier than 1 s before the labelled impact.
EARLY_TOLERANCE_S = 1.0
# The alert engine folds a fall raised while the radar's previous fall alert is still open into
# that alert; staff answer calls in ~8 min on average (FIELD-NOTES), so repeats within 10 min of
# the previous confirmation reach the screen as one alert.
ALERT_FOLD_S = 600.0


def run_rows(
    rows_list: Sequence[Rows], params: FallParams, window_s: float = 1.0
) -> list[list[FallDetection]]:
    """Run one detector over many radars (one slot per Rows) in lockstep windows."""
    n = len(rows_list)
    det = FallDetector(n, params)
    for s in range(n):
        det.set_bed_zones(s, [BED_RECT], seats=[CHAIR_RECT])
    fps = rows_list[0].fps
    per = max(1, round(window_s * fps))
    slot = np.concatenate(
        [np.full(r.frame.shape[0], i, dtype=np.int64) for i, r in enumerate(rows_list)]
    )
    frame = np.concatenate([r.frame for r in rows_list])
    t0 = np.asarray([r.t0_s for r in rows_list])
    nfr = np.asarray([r.n_frames for r in rows_list])
    x = np.concatenate([r.x_m for r in rows_list])
    y = np.concatenate([r.y_m for r in rows_list])
    z = np.concatenate([r.z_m for r in rows_list])
    tid = np.concatenate([r.tid for r in rows_list])
    w = frame // per
    order = np.argsort(w, kind="stable")
    slot, frame, x, y, z, tid, w = (
        slot[order],
        frame[order],
        x[order],
        y[order],
        z[order],
        tid[order],
        w[order],
    )
    n_w = int(np.ceil(nfr.max() / per))
    bounds = np.searchsorted(w, np.arange(n_w + 1))
    out: list[list[FallDetection]] = [[] for _ in range(n)]
    all_slots = np.arange(n, dtype=np.int64)
    for wi in range(n_w):
        a, b = bounds[wi], bounds[wi + 1]
        live = nfr > wi * per
        cov = all_slots[live]
        batch = FallBatch(
            slot=slot[a:b],
            t_s=t0[slot[a:b]] + frame[a:b] / fps,
            x_m=x[a:b],
            y_m=y[a:b],
            z_m=z[a:b],
            tid=tid[a:b],
            covered_slot=cov,
            covered_until_s=t0[cov] + np.minimum((wi + 1) * per, nfr[cov]) / fps,
        )
        for d in det.step(batch):
            out[d.slot].append(d)
    return out


def judge(
    detections: Sequence[FallDetection], is_fall: bool, impact_s: float | None
) -> tuple[bool, float | None]:
    """(alarmed, impact -> confirmed latency) of one labelled episode or recording: a fall is
    detected by a confirmation from EARLY_TOLERANCE_S before its impact (by any confirmation if the
    impact time is unknown); any confirmation of a non-fall is a false alarm."""
    conf = [x for x in detections if x.kind == "confirmed"]
    if not is_fall or impact_s is None:
        return bool(conf), None
    hits = [x for x in conf if x.at_s >= impact_s - EARLY_TOLERANCE_S]
    return bool(hits), hits[0].at_s - impact_s if hits else None


def make_episodes(n_total: int, seed: int) -> list[Episode]:
    rng = np.random.default_rng(seed)
    kinds = list(FALL_KINDS) + list(CONFOUNDER_KINDS)
    noises = list(NOISE_PROFILES)
    per_cell = max(1, n_total // (len(kinds) * len(noises)))
    eps = []
    for noise in noises:
        for kind in kinds:
            for _ in range(per_cell):
                eps.append(
                    make_episode(kind, noise, rng, visitor=bool(rng.random() < VISITOR_SHARE))
                )
    return eps


def _pct(a: float, b: float) -> str:
    return f"{100 * a / b:5.1f}%" if b else "   n/a"


def evaluate_episodes(eps: list[Episode], params: FallParams) -> dict[str, object]:
    by_noise: dict[str, list[Episode]] = defaultdict(list)
    for e in eps:
        by_noise[e.noise].append(e)
    rows: list[
        tuple[str, str, bool, bool, float | None]
    ] = []  # noise, kind, is_fall, alarmed, latency
    for noise, group in by_noise.items():
        dets = run_rows([e.rows for e in group], params)
        for e, d in zip(group, dets, strict=True):
            alarmed, lat = judge(d, e.is_fall, e.impact_s)
            rows.append((noise, e.kind, e.is_fall, alarmed, lat))
    return {"rows": rows}


def report_episodes(
    rows: list[tuple[str, str, bool, bool, float | None]], confirm_s: float
) -> None:
    def line(label: str, sel: list[tuple[str, str, bool, bool, float | None]]) -> None:
        falls = [r for r in sel if r[2]]
        other = [r for r in sel if not r[2]]
        tp = sum(r[3] for r in falls)
        tn = sum(not r[3] for r in other)
        lats = np.asarray([r[4] for r in falls if r[4] is not None])
        p50 = f"{np.percentile(lats, 50):5.1f}" if lats.size else "  n/a"
        p95 = f"{np.percentile(lats, 95):5.1f}" if lats.size else "  n/a"
        print(
            f"| {label:<16} | {len(falls):4d} | {_pct(tp, len(falls))} | {len(other):4d} | "
            f"{_pct(tn, len(other))} | {p50} | {p95} |"
        )

    head = "| group            | falls | sensitivity | non-falls | specificity | latency p50 s | p95 s |"
    print(head)
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    line("all", rows)
    for noise in NOISE_PROFILES:
        line(f"noise={noise}", [r for r in rows if r[0] == noise])
    print()
    print(
        "| episode type     | n | detected (falls) / no alarm (others) | | | latency p50 s | p95 s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind in list(FALL_KINDS) + list(CONFOUNDER_KINDS):
        line(kind, [r for r in rows if r[1] == kind])
    print(f"(goal: sensitivity >= 97%, p95 latency <= confirm + 2 s = {confirm_s + 2:.0f} s)")
    print()
    print(
        "| episode type: detected (falls) / no alarm (others) | "
        + " | ".join(NOISE_PROFILES)
        + " |"
    )
    print("| --- |" + " ---: |" * len(NOISE_PROFILES))
    for kind in list(FALL_KINDS) + list(CONFOUNDER_KINDS):
        cells = []
        for noise in NOISE_PROFILES:
            sel = [r for r in rows if r[1] == kind and r[0] == noise]
            ok = sum(r[3] == r[2] for r in sel)
            cells.append(_pct(ok, len(sel)))
        print(f"| {kind} | " + " | ".join(cells) + " |")


def _activity_at(log: list[tuple[float, str]], t_s: float) -> str:
    i = bisect.bisect_right([t for t, _ in log], t_s) - 1
    return log[i][1] if i >= 0 else "?"


def evaluate_ordinary(residents: int, hours: float, seed: int, params: FallParams) -> None:
    rng = np.random.default_rng(seed + 1000)
    print()
    print(
        "| noise | resident-days | confirmed false alarms | per resident-day "
        "| as alerts (repeats within 10 min folded) | per resident-day "
        "| floor_dwell | per resident-day |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    total_fa, total_al, total_dw, total_days = 0, 0, 0, 0.0
    done: Counter[tuple[str, str]] = Counter()
    alarmed: Counter[tuple[str, str]] = Counter()
    for noise in NOISE_PROFILES:
        logs: list[list[tuple[float, str]]] = [[] for _ in range(residents)]
        rows = [ordinary_activity(rng, hours * 3600, noise, log=lg) for lg in logs]
        dets = run_rows(rows, params)
        fa = al = dw = 0
        for lg, d in zip(logs, dets, strict=True):
            done.update((noise, a) for _, a in lg)
            last = -np.inf
            for x in d:
                if x.kind == "confirmed":
                    fa += 1
                    al += x.at_s - last > ALERT_FOLD_S
                    last = x.at_s
                    alarmed[(noise, _activity_at(lg, x.impact_s))] += 1
                dw += x.kind == "floor_dwell"
        days = residents * hours / 24
        total_fa += fa
        total_al += al
        total_dw += dw
        total_days += days
        print(
            f"| {noise} | {days:.1f} | {fa} | {fa / days:.3f} | {al} | {al / days:.3f} "
            f"| {dw} | {dw / days:.1f} |"
        )
    print(
        f"| all | {total_days:.1f} | {total_fa} | {total_fa / total_days:.3f} | {total_al} "
        f"| {total_al / total_days:.3f} | {total_dw} | {total_dw / total_days:.1f} |"
    )
    print("(goal: <= 0.1 false alarms per resident-day)")
    # which activity was going on at the (false) impact, per 100 times it was done
    acts = sorted({a for _, a in done})
    print()
    print("| false alarms per 100 activities | " + " | ".join(acts) + " |")
    print("| --- |" + " ---: |" * len(acts))
    for noise in NOISE_PROFILES:
        cells = [
            f"{100 * alarmed[(noise, a)] / done[(noise, a)]:.1f} ({done[(noise, a)]})" for a in acts
        ]
        print(f"| {noise} | " + " | ".join(cells) + " |")
    print("(in brackets: how often the activity occurred)")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--episodes", type=int, default=4500, help="15 types x 3 noise profiles x episodes/45"
    )
    ap.add_argument("--seed", type=int, default=2, help="1 = tuning seed, 2 = held-out report seed")
    ap.add_argument(
        "--residents", type=int, default=100, help="ordinary-activity residents per noise level"
    )
    ap.add_argument("--hours", type=float, default=4.0, help="ordinary-activity hours per resident")
    ap.add_argument("--confirm-s", type=float, default=FallParams().confirm_s)
    ap.add_argument(
        "--floor-dwell-s",
        type=float,
        default=120.0,
        help="lower-severity 'floor_dwell' after this long on the floor (0 = off)",
    )
    args = ap.parse_args(argv)
    params = FallParams(confirm_s=args.confirm_s, floor_dwell_s=args.floor_dwell_s or None)
    t = time.perf_counter()
    eps = make_episodes(args.episodes, args.seed)
    print(
        f"seed {args.seed}: {len(eps)} episodes, confirm_s={params.confirm_s}, "
        f"floor_dwell_s={params.floor_dwell_s}"
    )
    res = evaluate_episodes(eps, params)
    report_episodes(res["rows"], params.confirm_s)  # type: ignore[arg-type]
    if args.residents and args.hours:
        evaluate_ordinary(args.residents, args.hours, args.seed, params)
    print(f"\n(ran in {time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
