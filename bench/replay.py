"""Evaluate the fall detector on a labelled recording set (real or simulated), or write one.

    .venv/bin/python -m bench.replay DIR                      # evaluate DIR (see devices/recording.py)
    .venv/bin/python -m bench.replay DIR --export --seed 2    # write simulated episodes to DIR first

Each recording is decoded through the device contract (as the hub would), replayed in device time
through its own fall detector (bed/sofa/chair zones from its zone map) and judged as `bench.falls`
judges episodes: a fall is detected by a confirmation no earlier than 1 s before the labelled
impact (any confirmation if the impact time is unknown); any confirmation in a non-fall recording
is a false alarm. Prints detection by kind, sensitivity, specificity, impact -> confirmed latency,
false alarms per hour of non-fall recording, and what could not be decoded.

Recordings of real radars with care-home outcome labels are what the simulated figures in
docs/detection.md cannot replace; this is the harness for them.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)

import argparse
import json
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bench.falls import _pct, judge, make_episodes
from care_hub.signal_core.falls import FallDetection, FallDetector, FallParams, make_batch
from devices.contract import topic_for
from devices.radar.processor import support_rects
from devices.recording import (
    Label,
    Recording,
    RecordingError,
    message_line,
    read_labels,
    read_recording,
    write_labels,
)


@dataclass(frozen=True, slots=True)
class Outcome:
    label: Label
    detections: list[FallDetection]
    alarmed: bool  # detected (falls) or false alarm (others)
    latency_s: float | None
    duration_s: float
    errors: list[str]


def replay(rec: Recording, params: FallParams, height_offset_m: float = 0.0) -> Outcome:
    """Run one recording through a fresh one-radar fall detector and judge it against its label.
    ``height_offset_m``: the radar's height calibration, taken off every height as the hub's
    radar processor does (devices.models.Device.height_offset_m)."""
    det = FallDetector(1, params)
    beds, seats = support_rects(rec.zone_map)
    det.set_bed_zones(0, beds, seats=seats)
    errors = list(rec.errors)
    # one radar per recording: the one most windows come from
    ids = Counter(ev.env.device_id for ev in rec.windows)
    device = ids.most_common(1)[0][0] if ids else None
    out: list[FallDetection] = []
    for ev in rec.windows:
        if ev.env.device_id != device:
            errors.append(f"window at ts {ev.env.ts:.3f}: device {ev.env.device_id}, not {device}")
            continue
        batch = make_batch([(0, ev)])
        if height_offset_m:
            batch = replace(batch, z_m=batch.z_m - height_offset_m)
        out += det.step(batch)
    alarmed, latency = judge(out, rec.label.fall, rec.label.impact_ts)
    return Outcome(rec.label, out, alarmed, latency, rec.duration_s, errors)


def evaluate(folder: Path, params: FallParams, height_offset_m: float = 0.0) -> list[Outcome]:
    return [
        replay(read_recording(folder, lb), params, height_offset_m) for lb in read_labels(folder)
    ]


def report(outcomes: list[Outcome], confirm_s: float) -> None:
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.label.kind].append(o)
    print(
        "| kind | recordings | falls | detected (falls) / no alarm (others) | latency p50 s | p95 s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for kind, group in sorted(by_kind.items()):
        ok = sum(o.alarmed == o.label.fall for o in group)
        lats = np.asarray([o.latency_s for o in group if o.latency_s is not None])
        p50 = f"{np.percentile(lats, 50):.1f}" if lats.size else "n/a"
        p95 = f"{np.percentile(lats, 95):.1f}" if lats.size else "n/a"
        n_falls = sum(o.label.fall for o in group)
        print(f"| {kind} | {len(group)} | {n_falls} | {_pct(ok, len(group))} | {p50} | {p95} |")
    falls = [o for o in outcomes if o.label.fall]
    other = [o for o in outcomes if not o.label.fall]
    lats = np.asarray([o.latency_s for o in falls if o.latency_s is not None])
    hours = sum(o.duration_s for o in other) / 3600
    n_conf = sum(sum(d.kind == "confirmed" for d in o.detections) for o in other)
    print()
    print(f"sensitivity {_pct(sum(o.alarmed for o in falls), len(falls))} of {len(falls)} falls")
    print(
        f"specificity {_pct(sum(not o.alarmed for o in other), len(other))} of {len(other)} "
        f"non-fall recordings; {n_conf} confirmed false alarms in {hours:.2f} h "
        f"({n_conf / hours if hours else 0.0:.2f} per hour)"
    )
    if lats.size:
        print(
            f"latency impact -> confirmed: p50 {np.percentile(lats, 50):.1f} s, "
            f"p95 {np.percentile(lats, 95):.1f} s (goal <= confirm + 2 s = {confirm_s + 2:.0f} s)"
        )
    errors = [(o.label.recording, e) for o in outcomes for e in o.errors]
    print(f"undecodable lines or windows: {len(errors)}")
    for name, err in errors[:10]:
        print(f"  {name}: {err}")


def export_simulated(folder: Path, episodes: int, seed: int) -> int:
    """Write `bench.falls`' labelled simulated episodes as a recording set (one radar each)."""
    from simulators.radar_motion import BED_RECT, CHAIR_RECT, to_events, to_payload

    folder.mkdir(parents=True, exist_ok=True)
    zone_map = {"bed": {"rect": list(BED_RECT)}, "chair": {"rect": list(CHAIR_RECT)}}
    labels = []
    for i, ep in enumerate(make_episodes(episodes, seed)):
        name = f"{ep.noise}-{ep.kind}-{i:05d}"
        device = f"sim-radar-{i:05d}"
        topic = topic_for(device, "radar/frames")
        with (folder / f"{name}.jsonl").open("wb") as fh:
            for ev in to_events(ep.rows, device):
                fh.write(message_line(topic, to_payload(ev)))
        (folder / f"{name}.zones.json").write_text(json.dumps(zone_map))
        labels.append(Label(name, f"{ep.noise}/{ep.kind}", ep.is_fall, ep.impact_s))
    write_labels(folder, labels)
    return len(labels)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("folder", type=Path, help="recording set (labels.csv + <recording>.jsonl)")
    ap.add_argument("--confirm-s", type=float, default=FallParams().confirm_s)
    ap.add_argument("--export", action="store_true", help="first write simulated episodes there")
    ap.add_argument("--episodes", type=int, default=900, help="with --export")
    ap.add_argument("--seed", type=int, default=2, help="with --export")
    ap.add_argument(
        "--height-offset",
        type=float,
        default=0.0,
        metavar="M",
        help="metres the recorded radar's heights read above true height (its calibration, "
        "as set on the device: docs/device-contract.md); taken off every height",
    )
    args = ap.parse_args(argv)
    t = time.perf_counter()
    if args.export:
        n = export_simulated(args.folder, args.episodes, args.seed)
        print(f"wrote {n} simulated recordings to {args.folder}")
    try:
        outcomes = evaluate(args.folder, FallParams(confirm_s=args.confirm_s), args.height_offset)
    except RecordingError as exc:
        print(f"bench.replay: {exc}", file=sys.stderr)
        return 2
    report(outcomes, args.confirm_s)
    print(f"\n({len(outcomes)} recordings in {time.perf_counter() - t:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
