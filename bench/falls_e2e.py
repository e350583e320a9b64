"""Fall families end to end: labelled episodes through a real MQTT broker into a running hub.

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.falls_e2e            # T1_average, seed 1, 35 + 45
    .venv/bin/python -m bench.falls_e2e --families T2_short_far --trackers single_hold --speed 4

Each episode (simulators/fall_families.py) gets a radar of its own, provisioned with its room's
furniture as the radar's zone map (bed or floor_bed, chair, sofa: the hub maps them as
devices/radar/processor.support_zones says), and its windows are published to the broker (the
shared Mosquitto by default) when they end, in real time (``--speed 1``, the default: device time
is wall time, so latency is the evaluator's impact -> alert ``raised_at``) or faster (the hub
judges by device time: ``ts`` of each window). The hub is ``care-hub serve`` in a subprocess on a
fresh SQLite database (``--database-url`` for another); a caregiver's websocket hears its alerts.
That hub is new to every resident: nothing learned of their seated or lying heights (the offline
paths below are run the same way).

Beside the end-to-end figures it prints the offline decision for the same episodes: the path of
``bench.fall_families`` (FallDetector over the raw rows, lockstep 1 s windows) and the hub's own
RadarProcessor fed the very bytes that were published (the device contract rounds to 1 mm), and
lists the episodes each decided differently from the end-to-end path. Judging as the offline
bench judges: a fall is caught by a ``confirmed`` alert no earlier than 1 s before the impact; any
``confirmed`` alert on a confounder is a false alarm; ``floor_dwell`` alerts are counted apart.
Held-out families (H*) are for reporting only: they need ``--report-held-out``.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)

import argparse
import json
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import numpy as np
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from bench.fall_families import FLOOR_DWELL_S, run_detector, wilson
from bench.falls import EARLY_TOLERANCE_S
from care_hub.kernel.detections import FallFound
from care_hub.signal_core.falls import BIN_S, FallParams
from devices.broker import find_free_port
from devices.contract import decode, topic_for
from devices.events import RadarFramesEvent
from devices.radar.processor import RadarConfig, RadarProcessor
from simulators.fall_families import (
    CONFOUNDER_KINDS,
    FALL_KINDS,
    HELD_OUT_FAMILIES,
    TRACKERS,
    FamilyEpisode,
    make_family_episodes,
)
from simulators.radar_motion import to_events, to_payload

PASSWORD = "bench-password-1"
WINDOW_S = 1.0  # PROTOCOL.md: one message per window of frames, typically 1 s
ALERT_KINDS = ("confirmed", "floor_dwell")  # the fall detections that raise a `fall` alert
# Fast mode keeps at most this many windows between the broker and the hub's store, well under a
# broker's queue limit (Mosquitto's max_queued_messages is 1000 by default).
MAX_AHEAD = 300


# What a fall alert's detail says was seen (alerts/detections.py), rounded as it rounds them.
WHAT_SEEN = ("descent_s", "drop_m", "down_s", "score")


def _r2(v: float) -> float | None:
    return None if v != v else round(float(v), 2)


# --- episodes ---------------------------------------------------------------------------------
def select_episodes(
    families: Sequence[str],
    trackers: Sequence[str],
    fall_kinds: Sequence[str],
    confounder_kinds: Sequence[str],
    n_falls: int,
    n_confounders: int,
    seed: int,
) -> list[FamilyEpisode]:
    """``n_falls`` + ``n_confounders`` episodes spread over kinds x trackers x families: cell j of
    round r is kind j % K with combo (j // K + j % K) % C, so a count short of a full round still
    covers every kind and spreads trackers evenly. Episodes are make_family_episodes' own (the
    r-th of its cell), so the offline bench draws the same ones."""
    combos = [(t, f) for f in families for t in trackers]
    out: list[FamilyEpisode] = []
    for kinds, n in ((fall_kinds, n_falls), (confounder_kinds, n_confounders)):
        if n <= 0 or not kinds:
            continue
        cells = len(kinds) * len(combos)
        per = math.ceil(n / cells)
        pool = make_family_episodes(tuple(families), tuple(trackers), per, seed)
        by_cell: dict[tuple[str, str, str], list[FamilyEpisode]] = {}
        for e in pool:
            by_cell.setdefault((e.kind, e.tracker, e.family), []).append(e)
        for i in range(n):
            r, j = divmod(i, cells)
            kind = kinds[j % len(kinds)]
            trk, fam = combos[(j // len(kinds) + j % len(kinds)) % len(combos)]
            out.append(by_cell[(kind, trk, fam)][r])
    return out


@dataclass
class Radar:
    """One episode on its own radar: its windows as PROTOCOL.md messages, device time from t0."""

    ep: FamilyEpisode
    device: str
    windows: list[dict[str, Any]]  # payloads with ts relative to the episode's first frame
    ends_s: np.ndarray  # each window's end, relative
    t0_s: float = math.nan
    payloads: list[bytes] = field(default_factory=list)
    published: np.ndarray = field(default_factory=lambda: np.zeros(0))  # wall time, per window

    @property
    def topic(self) -> str:
        return topic_for(self.device, "radar/frames")

    @property
    def impact_rel_s(self) -> float | None:
        return None if self.ep.impact_s is None else self.ep.impact_s - self.ep.rows.t0_s

    def stamp(self, t0_s: float) -> None:
        """Fix device time: the first frame at ``t0_s``; the payloads as they will be sent."""
        self.t0_s = t0_s
        self.payloads = [orjson.dumps({**w, "ts": t0_s + w["ts"]}) for w in self.windows]
        self.published = np.full(len(self.windows), np.nan)


def make_radars(eps: Sequence[FamilyEpisode], prefix: str) -> list[Radar]:
    out = []
    for i, ep in enumerate(eps):
        device = f"{prefix}r{i:03d}"
        events = to_events(replace(ep.rows, t0_s=0.0), device, WINDOW_S, seq0=1)
        ends = np.asarray([ev.env.ts + ev.n_frames / ev.fps for ev in events])
        out.append(Radar(ep, device, [to_payload(ev) for ev in events], ends))
    return out


def build_seed(radars: Sequence[Radar], password: str = PASSWORD) -> dict[str, Any]:
    """One facility; per episode a room, a resident and a radar whose zone map is the room's."""
    rooms, people, devices = [], [], []
    for i, r in enumerate(radars):
        zones = [{"name": k, "shape": v} for k, v in r.ep.room.zone_map().items()]
        rooms.append({"id": str(1000 + i), "facility_id": 1, "floor": 1, "zones": zones})
        people.append(
            {"id": f"R-{i}", "name": f"Resident {i}", "facility_id": 1, "room": str(1000 + i)}
        )
        devices.append(
            {
                "id": r.device,
                "type": "radar",
                "facility_id": 1,
                "room": str(1000 + i),
                "resident_id": f"R-{i}",
                "zones": zones,
            }
        )
    return {
        "version": 1,
        "facilities": [{"id": 1, "name": "Falls e2e"}],
        "rooms": rooms,
        "residents": people,
        "devices": devices,
        "users": [
            {"username": "admin", "password": password, "role": "admin"},
            {"username": "nurse", "password": password, "role": "caregiver", "facility_id": 1},
        ],
    }


# --- what each path decided -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Seen:
    """One fall detection: kind, device time since the episode's first frame, and (end to end
    only) the wall time the hub raised or updated the alert."""

    kind: str
    at_s: float
    wall_s: float = math.nan
    what: tuple[tuple[str, float | None], ...] = ()  # WHAT_SEEN as an alert's detail has them


def offline_bench(
    radars: Sequence[Radar], params: FallParams, as_published: bool = False
) -> list[list[Seen]]:
    """bench.fall_families' path: FallDetector over the raw rows, one tracker's episodes at once,
    at the episodes' own device times (``as_published``: at the device times that were sent; the
    detector bins rows on absolute device time, so the phase of t0 can change a decision)."""
    out: list[list[Seen]] = [[] for _ in radars]
    for trk in {r.ep.tracker for r in radars}:
        idx = [i for i, r in enumerate(radars) if r.ep.tracker == trk]
        eps = [radars[i].ep for i in idx]
        if as_published:
            eps = [
                replace(e, rows=replace(e.rows, t0_s=radars[i].t0_s))
                for e, i in zip(eps, idx, strict=True)
            ]
        # the hub under test is new to these residents: nothing learned of them yet
        for i, e, ds in zip(idx, eps, run_detector(eps, params, learned=False), strict=True):
            out[i] = [Seen(d.kind, d.at_s - e.rows.t0_s) for d in ds]
    return out


def offline_contract(radars: Sequence[Radar], params: FallParams) -> list[list[Seen]]:
    """The hub's RadarProcessor fed the bytes that were published, decoded by the device contract,
    one window of every radar per step (needs ``stamp`` first)."""
    proc = RadarProcessor(
        max(1024, 2 * len(radars)),
        confirm_s=params.confirm_s,
        floor_dwell_s=params.floor_dwell_s or 0.0,
    )
    configs = [
        RadarConfig(r.device, f"R-{i}", zone_map=r.ep.room.zone_map()) for i, r in enumerate(radars)
    ]
    proc.configure_many(configs)
    which = {r.device: i for i, r in enumerate(radars)}
    out: list[list[Seen]] = [[] for _ in radars]
    for w in range(max(len(r.payloads) for r in radars)):
        frames = []
        for r in radars:
            if w < len(r.payloads):
                ev = decode(r.topic, r.payloads[w])
                assert isinstance(ev, RadarFramesEvent)
                frames.append(ev)
        for d in proc.process(frames, []):
            if isinstance(d, FallFound):
                i = which[d.device_id]
                vals = (d.descent_s, d.pre_height_m - d.floor_height_m, d.down_s, d.score)
                what = tuple((k, _r2(v)) for k, v in zip(WHAT_SEEN, vals, strict=True))
                out[i].append(Seen(d.kind, d.at_s - radars[i].t0_s, what=what))
    return out


def hub_seen(events: Sequence[dict[str, Any]], radars: Sequence[Radar]) -> list[list[Seen]]:
    """Fall detections as a caregiver's screen heard them: `fall.suspected`/`fall.cancelled`
    events and `fall` alerts raised or updated (one alert per radar stays open, so later
    detections arrive as updates); repeats of one detection (reminders) count once."""
    which = {r.device: i for i, r in enumerate(radars)}
    out: list[list[Seen]] = [[] for _ in radars]
    keys: set[tuple[int, str, float]] = set()
    for ev in events:
        data = ev.get("data") or {}
        if ev["type"] in ("fall.suspected", "fall.cancelled"):
            kind, detail, wall = ev["type"].split(".")[1], data, math.nan
        elif ev["type"] in ("alert.raised", "alert.updated") and data.get("type") == "fall":
            detail = data.get("detail") or {}
            kind = detail.get("kind", "")
            wall = data["raised_at"] if ev["type"] == "alert.raised" else data["last_seen_at"]
        else:
            continue
        i = which.get(data.get("device_id", ""), -1)
        at = detail.get("detected_ts")
        if i < 0 or at is None or (i, kind, at) in keys:
            continue
        keys.add((i, kind, at))
        what = tuple((k, detail.get(k)) for k in WHAT_SEEN)
        out[i].append(Seen(kind, at - radars[i].t0_s, wall, what))
    return out


@dataclass(frozen=True, slots=True)
class Verdict:
    alarmed: bool  # caught (falls) or false alarm (confounders): a confirmed alert, as offline
    alerted: bool  # any fall alert at all (confirmed or floor_dwell)
    hit: Seen | None  # the confirmation that caught the fall


def verdict(seen: Sequence[Seen], impact_rel_s: float | None) -> Verdict:
    conf = [s for s in seen if s.kind == "confirmed"]
    alerted = any(s.kind in ALERT_KINDS for s in seen)
    if impact_rel_s is None:
        return Verdict(bool(conf), alerted, None)
    hits = [s for s in conf if s.at_s >= impact_rel_s - EARLY_TOLERANCE_S]
    return Verdict(bool(hits), alerted, hits[0] if hits else None)


def e2e_latency(r: Radar, hit: Seen) -> tuple[float, float]:
    """(impact -> alert raised, of which window published -> raised): the window that ended at or
    after the confirmation is when the hub could know; in real time this is raised_at - impact."""
    w = min(int(np.searchsorted(r.ends_s, hit.at_s - 1e-6)), len(r.ends_s) - 1)
    impact = r.impact_rel_s or 0.0
    hub = hit.wall_s - float(r.published[w])
    return float(r.ends_s[w]) - impact + hub, hub


# --- the hub, the broker, the screen ------------------------------------------------------------
class Hub:
    """``care-hub serve`` in a subprocess (its CPU is not the publisher's), seeded first."""

    def __init__(self, work: Path, mqtt_url: str, db_url: str, params: FallParams) -> None:
        self.port = find_free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "CARE_HUB_DATA_DIR": str(work / "var"),
            "CARE_HUB_MQTT_URL": mqtt_url,
            "CARE_HUB_DATABASE_URL": db_url,
            "CARE_HUB_MQTT__CLIENT_ID": f"care-hub-falls-e2e-{self.port}",
            "CARE_HUB_FALL_CONFIRM_S": str(params.confirm_s),
            "CARE_HUB_FALL_FLOOR_DWELL_S": str(params.floor_dwell_s or 0.0),  # 0 = off
            # Reminders and escalation only repeat the alerts this bench reads.
            **{
                f"CARE_HUB_ALERTS__{k}": "86400"
                for k in (
                    "REMINDER_INTERVAL_S",
                    "ACK_TIMEOUT_CRITICAL_S",
                    "ACK_TIMEOUT_HIGH_S",
                    "ACK_TIMEOUT_MEDIUM_S",
                )
            },
        }
        self.work = work
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: BinaryIO | None = None

    def start(self, seed: dict[str, Any]) -> None:
        cli = [sys.executable, "-m", "care_hub.cli"]
        (self.work / "seed.json").write_text(json.dumps(seed))
        subprocess.run(
            [*cli, "seed", "--file", str(self.work / "seed.json")],
            env=self.env,
            check=True,
            capture_output=True,
        )
        self.log = open(self.work / "hub.log", "wb")  # noqa: SIM115 (open for the hub's lifetime)
        self.proc = subprocess.Popen(
            [*cli, "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"hub did not start; see {self.work / 'hub.log'}")

    def token(self, username: str) -> str:
        r = httpx.post(
            f"{self.base}/api/auth/token", data={"username": username, "password": PASSWORD}
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.log is not None:
            self.log.close()


class Screen:
    """A caregiver's websocket in a thread, keeping every event; it resumes with ``since`` after
    a disconnect, so nothing is missed."""

    def __init__(self, ws_url: str, token: str) -> None:
        self.url = f"{ws_url}?token={token}"
        self.events: list[dict[str, Any]] = []
        self.last_seq = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("caregiver websocket did not connect")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with ws_connect(f"{self.url}&since={self.last_seq}", open_timeout=10) as ws:
                    self._ready.set()
                    while not self._stop.is_set():
                        try:
                            ev = json.loads(ws.recv(timeout=0.2))
                        except TimeoutError:
                            continue
                        if ev["type"] == "hello":
                            continue
                        self.last_seq = max(self.last_seq, int(ev.get("seq") or 0))
                        self.events.append(ev)
            except (ConnectionClosed, OSError):
                time.sleep(0.2)

    def falls(self) -> int:
        return sum(
            ev["type"] == "alert.raised" and (ev.get("data") or {}).get("type") == "fall"
            for ev in list(self.events)
        )

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)


def mqtt_client(host: str, port: int, client_id: str) -> mqtt.Client:
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
    c.max_queued_messages_set(0)
    c.connect(host, port, keepalive=30)
    c.loop_start()
    return c


def publish(
    radars: Sequence[Radar],
    client: mqtt.Client,
    start_wall_s: float,
    speed: float,
    qos: int,
    accepted: Callable[[], int],
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Every radar's windows when they end (``speed`` x real time; 0 = as fast as the hub stores
    them, at most MAX_AHEAD windows ahead of it). Stamp the radars first."""
    due = sorted(
        (float(r.ends_s[w]) / speed if speed > 0 else float(r.ends_s[w]), i, w)
        for i, r in enumerate(radars)
        for w in range(len(r.payloads))
    )
    base = accepted()
    last_note = time.monotonic()
    for k, (rel, i, w) in enumerate(due):
        if speed > 0:
            time.sleep(max(0.0, start_wall_s + rel - time.time()))
        else:
            while k - (accepted() - base) > MAX_AHEAD:
                time.sleep(0.02)
        r = radars[i]
        client.publish(r.topic, r.payloads[w], qos=qos)
        r.published[w] = time.time()
        if progress is not None and time.monotonic() - last_note >= 10.0:
            last_note = time.monotonic()
            progress(k + 1, len(due))


def wait_settled(accepted: Callable[[], int], target: int, events: Callable[[], int]) -> int:
    """Until the hub stored ``target`` windows (or stopped taking any for 30 s), then until no new
    event for 3 s; returns what it accepted."""
    last, since = accepted(), time.monotonic()
    while last < target and time.monotonic() - since < 30:
        time.sleep(0.2)
        now = accepted()
        if now != last:
            last, since = now, time.monotonic()
    n, quiet = events(), time.monotonic()
    while time.monotonic() - quiet < 3.0:
        time.sleep(0.2)
        if events() != n:
            n, quiet = events(), time.monotonic()
    return last


# --- report -----------------------------------------------------------------------------------
def _ci(k: int, n: int) -> str:
    if n == 0:
        return "n/a"
    lo, hi = wilson(k, n)
    return f"{100 * k / n:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] ({k}/{n})"


def _pq(v: Sequence[float]) -> str:
    return f"{np.percentile(v, 50):.1f} / {np.percentile(v, 95):.1f}" if v else "n/a"


def _fmt(seen: Sequence[Seen]) -> str:
    return ", ".join(f"{s.kind}@{s.at_s:.1f}" for s in seen if s.kind in ALERT_KINDS) or "none"


def report(
    radars: Sequence[Radar], e2e: Sequence[list[Seen]], offline: dict[str, list[list[Seen]]]
) -> None:
    rows = []
    for name, paths in (("end to end (broker + hub)", e2e), *offline.items()):
        vs = [verdict(s, r.impact_rel_s) for s, r in zip(paths, radars, strict=True)]
        falls = [v for v, r in zip(vs, radars, strict=True) if r.ep.is_fall]
        other = [v for v, r in zip(vs, radars, strict=True) if not r.ep.is_fall]
        lat = [
            e2e_latency(r, v.hit)[0] if paths is e2e else v.hit.at_s - (r.impact_rel_s or 0.0)
            for v, r in zip(vs, radars, strict=True)
            if v.hit is not None
        ]
        dwell = sum(v.alerted and not v.alarmed for v in vs)
        rows.append(
            f"| {name} | {_ci(sum(v.alarmed for v in falls), len(falls))} "
            f"| {_ci(sum(not v.alarmed for v in other), len(other))} | {_pq(lat)} | {dwell} |"
        )
    print(
        "| path | sensitivity [95% CI] | specificity [95% CI] | latency p50 / p95 s "
        "| episodes with only a floor_dwell alert |"
    )
    print("| --- | --- | --- | ---: | ---: |")
    print("\n".join(rows))
    hub_delay = []
    for s, r in zip(e2e, radars, strict=True):
        v = verdict(s, r.impact_rel_s)
        if v.hit is not None:
            hub_delay.append(e2e_latency(r, v.hit)[1])
    print(
        f"\nend-to-end latency = (end of the window that confirmed - impact) + (window published "
        f"-> alert raised_at); the second part p50 / p95: {_pq(hub_delay)} s; offline latency = "
        "confirmation - impact in device time"
    )
    for name, other_path in offline.items():
        diff = []
        for i, r in enumerate(radars):
            a = verdict(e2e[i], r.impact_rel_s)
            b = verdict(other_path[i], r.impact_rel_s)
            if (a.alarmed, a.alerted) != (b.alarmed, b.alerted):
                diff.append(
                    f"  {r.device} {r.ep.family}/{r.ep.tracker}/{r.ep.kind}: "
                    f"e2e {_fmt(e2e[i])}; offline {_fmt(other_path[i])}"
                )
        print(
            f"\ndecided differently end to end than offline ({name}): {len(diff)} of "
            f"{len(radars)} episodes (a fall alert raised or not, or confirmed vs floor_dwell)"
        )
        print("\n".join(diff))


def phase_sweep(radars: Sequence[Radar], params: FallParams, n: int) -> None:
    """No hub: the offline path with device t0 at ``n`` phases over one 0.5 s bin
    (the detector's BIN_S), as radars whose windows start anywhere would give."""
    bin_s = BIN_S
    print("| t0 phase s | caught [95% CI] | false alarms | confounders that alarmed |")
    print("| ---: | --- | ---: | --- |")
    for k in range(n):
        for r in radars:
            r.stamp(radars[0].ep.rows.t0_s + k * bin_s / n)
        vs = [
            verdict(s, r.impact_rel_s)
            for s, r in zip(offline_bench(radars, params, True), radars, strict=True)
        ]
        tp = sum(v.alarmed for v, r in zip(vs, radars, strict=True) if r.ep.is_fall)
        fp = [
            f"{r.ep.tracker}/{r.ep.kind}"
            for v, r in zip(vs, radars, strict=True)
            if not r.ep.is_fall and v.alarmed
        ]
        n_f = sum(r.ep.is_fall for r in radars)
        print(
            f"| {k * bin_s / n:.3f} | {_ci(tp, n_f)} | {len(fp)} of {len(radars) - n_f} "
            f"| {', '.join(fp)} |",
            flush=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--families", nargs="+", default=["T1_average"])
    ap.add_argument("--trackers", nargs="+", default=list(TRACKERS), choices=list(TRACKERS))
    ap.add_argument("--kinds", nargs="+", help="default: every fall and confounder kind")
    ap.add_argument("--falls", type=int, default=35)
    ap.add_argument("--confounders", type=int, default=45)
    ap.add_argument("--seed", type=int, default=1, help="1 = tuning seed")
    ap.add_argument("--broker", default="127.0.0.1:1883", help="host:port of the MQTT broker")
    ap.add_argument("--database-url", help="default: a fresh SQLite file")
    ap.add_argument("--speed", type=float, default=1.0, help="x real time; 0 = as fast as stored")
    ap.add_argument("--qos", type=int, choices=(0, 1), default=1)
    ap.add_argument(
        "--phase-s",
        type=float,
        default=0.0,
        help="device t0 this far past a whole second (offline episodes start on one)",
    )
    ap.add_argument("--confirm-s", type=float, default=FallParams().confirm_s)
    ap.add_argument("--floor-dwell-s", type=float, default=FLOOR_DWELL_S)
    ap.add_argument(
        "--phase-sweep",
        type=int,
        default=0,
        metavar="N",
        help="no hub: the offline decision at N phases of device t0 over one 0.5 s bin",
    )
    ap.add_argument("--keep", action="store_true", help="keep the hub's data dir and log")
    ap.add_argument("--report-held-out", action="store_true", help="allow H* families (reports)")
    args = ap.parse_args(argv)
    held = [f for f in args.families if f in HELD_OUT_FAMILIES]
    if held and not args.report_held_out:
        ap.error(f"{', '.join(held)} held out: only for a report (--report-held-out)")
    kinds = args.kinds or [*FALL_KINDS, *CONFOUNDER_KINDS]
    params = FallParams(confirm_s=args.confirm_s, floor_dwell_s=args.floor_dwell_s or None)
    eps = select_episodes(
        args.families,
        args.trackers,
        [k for k in kinds if k in FALL_KINDS],
        [k for k in kinds if k in CONFOUNDER_KINDS],
        args.falls,
        args.confounders,
        args.seed,
    )
    prefix = f"fe2e{uuid.uuid4().hex[:6]}-"
    radars = make_radars(eps, prefix)
    n_f = sum(r.ep.is_fall for r in radars)
    longest = max(float(r.ends_s[-1]) for r in radars)
    pace = f"{args.speed:g}x real time" if args.speed > 0 else "as fast as the hub stores"
    print(
        f"families {', '.join(args.families)}, trackers {', '.join(args.trackers)}, seed "
        f"{args.seed}: {len(radars)} episodes ({n_f} falls, {len(radars) - n_f} confounders) on "
        f"{len(radars)} radars; broker {args.broker}, speed {pace}, qos {args.qos}; "
        f"confirm_s={params.confirm_s}, floor_dwell_s={params.floor_dwell_s}; longest episode "
        f"{longest:.0f} s",
        flush=True,
    )
    if args.phase_sweep:
        phase_sweep(radars, params, args.phase_sweep)
        return 0
    work = Path(tempfile.mkdtemp(prefix="care-hub-falls-e2e-"))
    db_url = args.database_url or f"sqlite:///{work / 'care-hub.db'}"
    host, _, port = args.broker.rpartition(":")
    hub = Hub(work, f"mqtt://{host}:{port}", db_url, params)
    t = time.perf_counter()
    hub.start(build_seed(radars))
    screen = Screen(f"ws://127.0.0.1:{hub.port}/ws/events", hub.token("nurse"))
    http = httpx.Client(base_url=hub.base, timeout=10)
    http.headers["Authorization"] = f"Bearer {hub.token('admin')}"

    def accepted() -> int:
        return int(http.get("/api/metrics").json()["ingest"]["accepted"])

    client = mqtt_client(host, int(port), f"{prefix}pub")
    try:
        # Real time: device time is wall time. Faster: device time ends about now (all in the
        # past). Whole seconds + --phase-s: the offline bench's episodes start on whole seconds.
        start = math.ceil(time.time()) + 1.0 + args.phase_s
        t0 = start if args.speed == 1 else math.floor(start - longest) + args.phase_s
        for r in radars:
            r.stamp(t0)
        total = sum(len(r.payloads) for r in radars)
        began = time.monotonic()

        def progress(k: int, n: int) -> None:
            print(
                f"  {time.monotonic() - began:5.0f} s: published {k}/{n} windows, hub stored "
                f"{accepted()}, fall alerts {screen.falls()}",
                flush=True,
            )

        publish(radars, client, start, args.speed, args.qos, accepted, progress)
        stored = wait_settled(accepted, total, lambda: len(screen.events))
        api_falls = {
            a["device_id"]
            for a in http.get("/api/alerts", params={"limit": 1000}).json()
            if a["type"] == "fall"
        }
    finally:
        client.disconnect()
        client.loop_stop()
        screen.close()
        http.close()
        hub.stop()
    e2e = hub_seen(screen.events, radars)
    ws_falls = {r.device for r, s in zip(radars, e2e, strict=True) if verdict(s, None).alerted}
    print(
        f"\ntransport: published {total} windows, hub stored {stored} (lost {total - stored}); "
        f"fall alerts on {len(ws_falls)} radars by websocket, {len(api_falls)} by /api/alerts"
        + ("" if ws_falls == api_falls else " (DIFFERENT)")
        + f"; load {os.getloadavg()[0]:.2f}\n"
    )
    offline = {
        "offline, bench.fall_families path": offline_bench(radars, params),
        "offline, same path at the published device times": offline_bench(radars, params, True),
        "offline, published bytes -> RadarProcessor": offline_contract(radars, params),
    }
    report(radars, e2e, offline)
    kept = f"; hub log {work / 'hub.log'}" if args.keep else ""
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n(ran in {time.perf_counter() - t:.0f} s{kept})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
