"""A simulated community of call buttons, room radars and shared health kits speaking PROTOCOL.md.

The simulation is pure and clocked from outside: `Fleet.step(now)` advances every device to the
simulated time ``now`` and returns the messages due, as ``(topic, payload_bytes, qos, retain)``
tuples, so tests check payloads without a broker. `Fleet.run(duration_s, rate)` drives `step`
from a `clock` (scaled by `speed`, so demos run faster than real time) and hands each message to a
publisher: `MqttPublisher` (one or a few shared connections, for load) or `PerDeviceMqttPublisher`
(one connection per device with its own Last Will, for small demos).

Behaviour, per resident: status heartbeats (retained, QoS 1, every 60 s, battery slowly
draining), call-button presses now and then (a call, sometimes cancelled, otherwise a presence
when staff arrive), readings from the shared kits (mostly normal, sometimes high blood pressure,
low SpO2 or hypoglycaemia), radar frame windows at 1 Hz (10 frames at 10 fps) from a simple
walking/sitting/lying model of a 4 x 5 m room, and radar vitals windows every 5 s (100 samples at
20 Hz: breathing + heartbeat + noise) while the resident is still. Falls, apnea and calls can be
injected for demos. A more realistic motion generator can replace the frames with
``frames_source`` (see `FramesSource`).

Command line: ``python -m simulators.fleet --residents 20 --speed 10 --duration 600``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import logging
import math
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from simulators import residents as seedlib

# orjson (a project dependency) encodes these payloads several times faster than json.
_dumps = orjson.dumps


log = logging.getLogger(__name__)

Publish = tuple[str, bytes, int, bool]
"""One message to publish: ``(topic, payload_bytes, qos, retain)``."""

PublishFn = Callable[[str, bytes, int, bool], Any]

FramesSource = Callable[[str, float, int, float], list[dict[str, Any]]]
"""``frames_source(radar_id, ts, n_frames, fps) -> frames``: replaces the built-in motion model's
frames for one window. Returns ``n_frames`` dicts ``{"targets": [{"tid", "x", "y", "z", "vx",
"vy", "vz"}, ...]}`` for frames taken at ``ts + i / fps``. Called once per radar per window, in
time order. The built-in model still decides when the resident is still (for vitals windows)."""

TOPIC_PREFIX = "care/v1"
HEARTBEAT_INTERVAL_S = 60.0  # PROTOCOL.md: offline after 3 missed 60 s heartbeats
FRAMES_FPS = 10.0  # TI-style tracker output rate used by PROTOCOL.md's example
FRAMES_PER_WINDOW = 10  # one window per second, as PROTOCOL.md says is typical
VITALS_FS_HZ = 20.0
VITALS_SAMPLES = 100  # 5 s windows at 20 Hz
VITALS_WINDOW_S = VITALS_SAMPLES / VITALS_FS_HZ
MOTION_DT_S = 1.0 / FRAMES_FPS  # the motion model advances once per frame

FIRMWARE = {"button": "1.4.2", "radar": "3.1.0", "kit": "2.0.7"}

# Centroid heights (m) of a tracked person by posture, as a ceiling radar reports them.
STANDING_Z_M = (0.95, 1.15)  # per-resident range
SITTING_Z_M = 0.70
LYING_IN_BED_Z_M = 0.55
ON_FLOOR_Z_M = 0.25
# Ordinary posture changes are slow (sitting down, lying in bed); a fall drops 0.7-0.9 m within
# about 0.5-1 s (FIELD-NOTES), so a fall detector can tell them apart.
POSTURE_RATE_MPS = 0.3
FALL_RATE_MPS = 1.2

STILL_STATES = frozenset({"bed", "chair", "fallen"})
ZONE_STATE = {"bed": "bed", "chair": "chair", "bathroom": "bathroom", "door": "out"}
STATE_Z = {"bed": LYING_IN_BED_Z_M, "chair": SITTING_Z_M, "fallen": ON_FLOOR_Z_M}
# Where a resident goes next from each place (weights), and how long they stay (s, uniform).
NEXT_ZONE = {
    "bed": {"bathroom": 0.4, "chair": 0.4, "door": 0.2},
    "chair": {"bed": 0.4, "bathroom": 0.3, "door": 0.3},
    "bathroom": {"bed": 0.4, "chair": 0.5, "door": 0.1},
    "out": {"chair": 0.5, "bed": 0.3, "bathroom": 0.2},
    "fallen": {"bed": 0.5, "chair": 0.5},
}
DWELL_S = {
    "bed": (600.0, 3600.0),
    "chair": (300.0, 2400.0),
    "bathroom": (120.0, 480.0),
    "out": (300.0, 2700.0),
}


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How often things happen. Defaults give a lively but plausible demo."""

    call_rate_per_h: float = 0.25  # calls per resident per hour (one per 4 h)
    cancel_probability: float = 0.15  # a call the resident cancels themselves
    cancel_after_s: tuple[float, float] = (5.0, 40.0)
    presence_after_s: tuple[float, float] = (60.0, 480.0)  # FIELD-NOTES: ~8 min average response
    kit_interval_s: float = 900.0  # mean time between two readings of one kit
    abnormal_probability: float = 0.1
    fall_rate_per_h: float = 0.0  # random falls; use Fleet.inject_fall for demos
    fall_lie_s: tuple[float, float] = (120.0, 900.0)
    battery_drain_per_h: Mapping[str, float] = field(
        default_factory=lambda: {"button": 0.0005, "kit": 0.002}
    )
    low_battery_probability: float = 0.03  # devices that start nearly flat, to show battery_low


@dataclass(frozen=True, slots=True)
class ResidentSpec:
    """One simulated resident and the devices bound to them."""

    resident_id: str
    button_id: str
    radar_id: str
    at_risk_wandering: bool = False


@dataclass(slots=True)
class _Device:
    id: str
    type: str  # button | radar | kit
    battery0: float | None
    rssi: int
    next_heartbeat: float
    seq: dict[str, int] = field(default_factory=dict)
    silent: bool = False

    def next_seq(self, kind: str) -> int:
        n = self.seq.get(kind, 0)
        self.seq[kind] = n + 1
        return n


@dataclass(slots=True)
class _Resident:
    spec: ResidentSpec
    button: _Device
    radar: _Device
    state: str  # walking | bed | chair | bathroom | out | fallen
    until: float  # when the current stay ends
    x: float
    y: float
    z: float
    stand_z: float
    walk_mps: float
    breath_hz: float
    breath_mm: float
    heart_hz: float
    phase: float
    tid: int
    dest: str = "chair"
    tx: float = 0.0
    ty: float = 0.0
    still_since: float = math.inf
    model_t: float = 0.0
    next_frames_ts: float = 0.0
    next_vitals_ts: float = 0.0
    next_call: float = math.inf
    next_fall: float = math.inf
    pending_fall: tuple[float, float] | None = None  # (at, lie_s)
    button_events: list[tuple[float, str]] = field(default_factory=list)
    apnea: list[tuple[float, float]] = field(default_factory=list)
    # presses the hub has not confirmed: seq -> (next re-send at, re-sends so far, payload)
    unconfirmed: dict[int, tuple[float, int, bytes]] = field(default_factory=dict)


@dataclass(slots=True)
class _Kit:
    device: _Device
    next_reading: float


# A call button re-sends a press the hub has not confirmed (`{"cmd": "received"}`: the broker can
# acknowledge a press and die before saving it, docs/reliability.md), after RESEND_S, then twice
# as long each time, at most RESEND_MAX times; only once it has heard a receipt from this hub (a
# hub that sends none would get every press again and again).
RESEND_S = 5.0
RESEND_MAX = 8
RESEND_KEPT = 32  # unconfirmed presses kept per button


def topic(device_id: str, kind: str) -> str:
    """MQTT topic of ``kind`` (status, button, kit, radar/frames, radar/vitals) for a device."""
    return f"{TOPIC_PREFIX}/{device_id}/{kind}"


def device_of_topic(topic_name: str) -> str:
    """The device id in a ``care/v1/<id>/...`` topic."""
    return topic_name.split("/", 3)[2]


class Fleet:
    """N residents with a call button and a radar each, plus shared health kits.

    ``residents`` is a count (ids ``R-0001``.., devices ``<prefix>btn-<n>``, ``<prefix>radar-<n>``)
    or explicit `ResidentSpec`s; ``kits`` a count (``<prefix>kit-<k>``) or explicit ids. Simulated
    time starts at ``start`` (default: ``clock()`` now) and runs ``speed`` times faster than
    ``clock``. Same ``seed``, same arguments and the same sequence of ``step`` times give
    byte-identical messages (unless a ``frames_source`` is not itself reproducible).
    """

    def __init__(
        self,
        residents: int | Sequence[ResidentSpec] = 10,
        *,
        kits: int | Sequence[str] = 2,
        prefix: str = "",
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        speed: float = 1.0,
        start: float | None = None,
        behaviour: Behaviour | None = None,
        frames_source: FramesSource | None = None,
        radar_frames: bool = True,
        radar_vitals: bool = True,
        frames_qos: int = 0,
        vitals_qos: int = 0,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.clock = clock
        self.speed = speed
        self._wall0 = clock()
        self.start = self._wall0 if start is None else float(start)
        self.behaviour = behaviour or Behaviour()
        self.frames_source = frames_source
        self.radar_frames = radar_frames
        self.radar_vitals = radar_vitals
        self.frames_qos = frames_qos
        self.vitals_qos = vitals_qos
        self._rng = random.Random(seed)
        self._np = np.random.default_rng(seed)
        self._commands: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self.receipts_heard = 0  # "received" commands from the hub (re-sends start with the first)
        self.resent = 0

        if isinstance(residents, int):
            specs = [
                ResidentSpec(
                    seedlib.resident_id(n),
                    seedlib.button_id(n, prefix),
                    seedlib.radar_id(n, prefix),
                    at_risk_wandering=n % 8 == 0,
                )
                for n in range(1, residents + 1)
            ]
        else:
            specs = list(residents)
        kit_ids = (
            [seedlib.kit_id(k, prefix) for k in range(1, kits + 1)]
            if isinstance(kits, int)
            else list(kits)
        )
        self.residents: list[_Resident] = [self._new_resident(s) for s in specs]
        self.kits: list[_Kit] = [
            _Kit(self._new_device(k, "kit"), self.start + self._kit_gap()) for k in kit_ids
        ]
        self.devices: dict[str, _Device] = {}
        for r in self.residents:
            self.devices[r.button.id] = r.button
            self.devices[r.radar.id] = r.radar
        for kit in self.kits:
            self.devices[kit.device.id] = kit.device
        self._by_resident = {r.spec.resident_id: r for r in self.residents}
        self._by_button = {r.button.id: r for r in self.residents}

    @classmethod
    def from_seed(cls, seed_dict: Mapping[str, Any], **kwargs: Any) -> Fleet:
        """A fleet publishing as exactly the devices of a `simulators.residents` seed dict."""
        wandering = {r["id"]: bool(r.get("at_risk_wandering")) for r in seed_dict["residents"]}
        bound: dict[str, dict[str, str]] = {}
        kit_ids: list[str] = []
        for d in seed_dict["devices"]:
            if d["type"] == "kit":
                kit_ids.append(d["id"])
            elif d.get("resident_id"):
                bound.setdefault(d["resident_id"], {})[d["type"]] = d["id"]
        specs = [
            ResidentSpec(rid, devs["button"], devs["radar"], wandering.get(rid, False))
            for rid, devs in bound.items()
            if "button" in devs and "radar" in devs
        ]
        return cls(specs, kits=kit_ids, **kwargs)

    # -- time -----------------------------------------------------------------------------------

    def sim_time(self, wall: float | None = None) -> float:
        """Simulated time at wall-clock ``wall`` (default: ``clock()`` now)."""
        wall = self.clock() if wall is None else wall
        return self.start + (wall - self._wall0) * self.speed

    # -- demo controls (thread-safe enough: they only schedule, step() applies) -----------------

    def resident(self, who: int | str) -> _Resident:
        """A resident by 1-based number or resident id."""
        return self.residents[who - 1] if isinstance(who, int) else self._by_resident[who]

    def press_call(
        self,
        who: int | str,
        *,
        at: float | None = None,
        cancel_after_s: float | None = None,
        presence_after_s: float | None = None,
    ) -> None:
        """Schedule a call (at sim time ``at``, default: the next step), then cancel or presence."""
        r = self.resident(who)
        at = r.model_t if at is None else at
        self._schedule(r, at, "call")
        if cancel_after_s is not None:
            self._schedule(r, at + cancel_after_s, "cancel")
        if presence_after_s is not None:
            self._schedule(r, at + presence_after_s, "presence")

    def inject_fall(self, who: int | str, *, at: float | None = None, lie_s: float = 600.0) -> None:
        """Make the resident fall at sim time ``at`` and lie on the floor for ``lie_s``."""
        r = self.resident(who)
        r.pending_fall = (r.model_t if at is None else at, lie_s)

    def inject_apnea(
        self, who: int | str, *, at: float | None = None, duration_s: float = 20.0
    ) -> None:
        """Stop the resident's breathing signal for ``duration_s`` (seen while they are still)."""
        r = self.resident(who)
        at = r.model_t if at is None else at
        r.apnea.append((at, at + duration_s))

    def fail_device(self, device_id: str, failed: bool = True) -> None:
        """Silence a device (no Last Will, no messages: the hub must notice by timeout)."""
        self.devices[device_id].silent = failed

    def handle_command(self, device_id: str, cmd: dict[str, Any]) -> None:
        """Queue a hub -> device command (``care/v1/<id>/cmd``); applied at the next step."""
        self._commands.append((device_id, cmd))

    # -- the simulation -------------------------------------------------------------------------

    def step(self, now: float) -> list[Publish]:
        """Advance to sim time ``now``; the messages due since the last step, in time order."""
        out: list[tuple[float, str, bytes, int, bool]] = []
        self._apply_commands()
        for dev in self.devices.values():
            while dev.next_heartbeat <= now:
                ts = dev.next_heartbeat
                # Everyone reports at start (so the hub sees them online), then the heartbeats
                # spread over the minute so 10,000 devices do not publish in the same instant.
                gap = self._rng.uniform(1.0, HEARTBEAT_INTERVAL_S) if ts == self.start else None
                dev.next_heartbeat = ts + (gap or HEARTBEAT_INTERVAL_S)
                if not dev.silent:
                    out.append((ts, topic(dev.id, "status"), self._status(dev, ts), 1, True))
        for r in self.residents:
            self._advance_resident(r, now, out)
        for kit in self.kits:
            while kit.next_reading <= now:
                ts = kit.next_reading
                kit.next_reading = ts + self._kit_gap()
                payload = self._kit_reading(kit.device, ts)
                if not kit.device.silent:
                    out.append((ts, topic(kit.device.id, "kit"), payload, 1, False))
        out.sort(key=lambda m: m[0])  # stable: one device's messages stay in seq order
        return [(t, p, q, rt) for _, t, p, q, rt in out]

    def goodbye(self, now: float) -> list[Publish]:
        """Retained ``offline`` statuses for every device: a graceful shutdown of the fleet."""
        return [
            (topic(d.id, "status"), _dumps(self._status_dict(d, now, "offline")), 1, True)
            for d in self.devices.values()
        ]

    def run(
        self,
        duration_s: float,
        rate: float = 10.0,
        *,
        publish: PublishFn,
        sleep: Callable[[float], None] = time.sleep,
        stop: threading.Event | None = None,
    ) -> dict[str, int]:
        """Call `step` ``rate`` times per wall-clock second for ``duration_s`` wall seconds.

        Each message goes to ``publish(topic, payload, qos, retain)`` (e.g. an `MqttPublisher`'s
        ``publish``). Returns counts: ``messages``, ``bytes`` and one per topic kind.
        """
        stats: collections.Counter[str] = collections.Counter()
        tick_s = 1.0 / rate
        wall0 = self.clock()
        n = 0
        while not (stop and stop.is_set()):
            wall = self.clock()
            if wall - wall0 >= duration_s:
                break
            for t, payload, qos, retain in self.step(self.sim_time(wall)):
                publish(t, payload, qos, retain)
                stats["messages"] += 1
                stats["bytes"] += len(payload)
                stats[t.split("/", 3)[3]] += 1
            n += 1
            delay = wall0 + n * tick_s - self.clock()
            if delay > 0:
                sleep(delay)
        return dict(stats)

    # -- internals: devices -----------------------------------------------------------------------

    def _new_device(self, device_id: str, kind: str) -> _Device:
        rng = self._rng
        battery: float | None = None
        if kind != "radar":  # radars are mains powered
            low = rng.random() < self.behaviour.low_battery_probability
            battery = rng.uniform(0.08, 0.14) if low else rng.uniform(0.45, 1.0)
        return _Device(device_id, kind, battery, rng.randint(-82, -48), self.start)

    def _status_dict(self, dev: _Device, ts: float, state: str) -> dict[str, Any]:
        msg: dict[str, Any] = {"ts": round(ts, 3), "seq": dev.next_seq("status"), "state": state}
        if dev.battery0 is not None:
            drain = self.behaviour.battery_drain_per_h.get(dev.type, 0.0)
            hours = max(0.0, ts - self.start) / 3600.0
            msg["battery"] = round(max(0.0, dev.battery0 - drain * hours), 3)
        msg["fw"] = FIRMWARE[dev.type]
        msg["rssi"] = dev.rssi
        return msg

    def _status(self, dev: _Device, ts: float) -> bytes:
        return _dumps(self._status_dict(dev, ts, "online"))

    def _kit_gap(self) -> float:
        return self.behaviour.kit_interval_s * self._rng.uniform(0.5, 1.5)

    def _kit_reading(self, dev: _Device, ts: float) -> bytes:
        rng = self._rng
        who = rng.choice(self.residents).spec.resident_id if self.residents else "R-0001"
        kind = rng.choices(
            ("blood_pressure", "glucose", "spo2", "temperature", "pulse"), (4, 2, 3, 2, 1)
        )[0]
        abnormal = rng.random() < self.behaviour.abnormal_probability
        values: dict[str, Any]
        if kind == "blood_pressure":
            if abnormal:  # hypertensive crisis: > 180 and/or > 120 mmHg (FIELD-NOTES)
                values = {"systolic": rng.randint(182, 210), "diastolic": rng.randint(95, 125)}
            else:
                values = {"systolic": rng.randint(112, 142), "diastolic": rng.randint(66, 88)}
            values["pulse"] = rng.randint(58, 92)
        elif kind == "glucose":
            # Level 1 hypoglycaemia < 3.9 mmol/L, level 2 < 3.0 (ADA)
            mmol = rng.uniform(2.6, 3.7) if abnormal else rng.uniform(4.4, 7.8)
            ctx = rng.choice(("fasting", "postprandial", "random"))
            values = {"mmol_l": round(mmol, 1), "context": ctx}
        elif kind == "spo2":  # NEWS2 scale 1 scores 3 at <= 91 %
            values = {"percent": rng.randint(86, 91) if abnormal else rng.randint(95, 99)}
            values["pulse"] = rng.randint(58, 95)
        elif kind == "temperature":
            c = rng.uniform(38.4, 39.6) if abnormal else rng.uniform(36.2, 37.4)
            values = {"celsius": round(c, 1)}
        else:
            values = {"bpm": rng.randint(118, 140) if abnormal else rng.randint(58, 90)}
        return _dumps(
            {
                "ts": round(ts, 3),
                "seq": dev.next_seq("kit"),
                "resident": who,
                "kind": kind,
                "values": values,
            }
        )

    def _apply_commands(self) -> None:
        while self._commands:
            device_id, cmd = self._commands.popleft()
            r = self._by_button.get(device_id)
            if r is None:
                continue
            if cmd.get("cmd") == "received" and cmd.get("kind") == "button":
                self.receipts_heard += 1
                if isinstance(seq := cmd.get("seq"), int):
                    r.unconfirmed.pop(seq, None)
            elif cmd.get("cmd") == "call_acknowledged":
                # Staff said they are coming: make sure a presence follows soon.
                if not any(a == "presence" for _, a in r.button_events):
                    self._schedule(r, r.model_t + self._rng.uniform(30.0, 180.0), "presence")
            elif cmd.get("cmd") == "call_closed":
                r.button_events = [(t, a) for t, a in r.button_events if a == "call"]

    # -- internals: residents ---------------------------------------------------------------------

    def _new_resident(self, spec: ResidentSpec) -> _Resident:
        rng = self._rng
        state = rng.choices(("bed", "chair", "out", "bathroom"), (4, 3, 2, 1))[0]
        x, y = self._zone_point("door" if state == "out" else _zone_of(state))
        r = _Resident(
            spec=spec,
            button=self._new_device(spec.button_id, "button"),
            radar=self._new_device(spec.radar_id, "radar"),
            state=state,
            until=self.start + rng.uniform(*DWELL_S[state]) * rng.random(),
            x=x,
            y=y,
            z=0.0,
            stand_z=rng.uniform(*STANDING_Z_M),
            walk_mps=rng.uniform(0.35, 0.8),
            breath_hz=rng.uniform(12.0, 18.0) / 60.0,
            breath_mm=rng.uniform(3.0, 6.0),
            heart_hz=rng.uniform(58.0, 85.0) / 60.0,
            phase=rng.uniform(0.0, 2 * math.pi),
            tid=rng.randint(1, 50),
            model_t=self.start,
            next_frames_ts=self.start,
            next_vitals_ts=self.start,
        )
        r.z = STATE_Z.get(state, r.stand_z)
        r.tx, r.ty = x, y
        r.still_since = self.start if state in STILL_STATES else math.inf
        b = self.behaviour
        if b.call_rate_per_h > 0:
            r.next_call = self.start + rng.expovariate(b.call_rate_per_h / 3600.0)
        if b.fall_rate_per_h > 0:
            r.next_fall = self.start + rng.expovariate(b.fall_rate_per_h / 3600.0)
        return r

    def _zone_point(self, zone: str) -> tuple[float, float]:
        z = _ZONES[zone]
        m = 0.15  # keep clear of the zone's edges
        return (
            self._rng.uniform(z["x0"] + m, z["x1"] - m),
            self._rng.uniform(z["y0"] + m, z["y1"] - m),
        )

    def _schedule(self, r: _Resident, at: float, action: str) -> None:
        r.button_events.append((at, action))
        r.button_events.sort(key=lambda e: e[0])

    def _advance_resident(
        self, r: _Resident, now: float, out: list[tuple[float, str, bytes, int, bool]]
    ) -> None:
        rng = self._rng
        b = self.behaviour
        while r.next_call <= now:
            at = r.next_call
            r.next_call = at + rng.expovariate(b.call_rate_per_h / 3600.0)
            self._schedule(r, at, "call")
            if rng.random() < b.cancel_probability:
                self._schedule(r, at + rng.uniform(*b.cancel_after_s), "cancel")
            else:
                self._schedule(r, at + rng.uniform(*b.presence_after_s), "presence")
        while r.next_fall <= now:
            at = r.next_fall
            r.next_fall = at + rng.expovariate(b.fall_rate_per_h / 3600.0)
            r.pending_fall = (at, rng.uniform(*b.fall_lie_s))
        while r.button_events and r.button_events[0][0] <= now:
            at, action = r.button_events.pop(0)
            if not r.button.silent:
                seq = r.button.next_seq("button")
                payload = _dumps({"ts": round(at, 3), "seq": seq, "action": action})
                out.append((at, topic(r.button.id, "button"), payload, 1, False))
                r.unconfirmed[seq] = (at + RESEND_S, 0, payload)
                if len(r.unconfirmed) > RESEND_KEPT:  # a hub silent for hours: keep the latest
                    del r.unconfirmed[min(r.unconfirmed)]
        if self.receipts_heard and not r.button.silent:
            for seq, (due, n, payload) in list(r.unconfirmed.items()):
                if due > now:
                    continue
                out.append((now, topic(r.button.id, "button"), payload, 1, False))
                self.resent += 1
                if n + 1 >= RESEND_MAX:
                    del r.unconfirmed[seq]
                else:
                    r.unconfirmed[seq] = (now + RESEND_S * 2 ** (n + 1), n + 1, payload)

        radar = r.radar
        while r.next_frames_ts + FRAMES_PER_WINDOW / FRAMES_FPS <= now:
            ts = r.next_frames_ts
            r.next_frames_ts = ts + FRAMES_PER_WINDOW / FRAMES_FPS
            frames = []
            for i in range(FRAMES_PER_WINDOW):
                frames.append(self._tick(r, ts + i / FRAMES_FPS))
            r.model_t = r.next_frames_ts
            if self.frames_source is not None:
                frames = self.frames_source(radar.id, ts, FRAMES_PER_WINDOW, FRAMES_FPS)
            if self.radar_frames and not radar.silent:
                payload = _dumps(
                    {
                        "ts": round(ts, 3),
                        "seq": radar.next_seq("radar/frames"),
                        "fps": FRAMES_FPS,
                        "frames": frames,
                    }
                )
                out.append((ts, topic(radar.id, "radar/frames"), payload, self.frames_qos, False))
            while r.next_vitals_ts + VITALS_WINDOW_S <= r.model_t:
                vts = r.next_vitals_ts
                r.next_vitals_ts = vts + VITALS_WINDOW_S
                if self.radar_vitals and not radar.silent and r.still_since <= vts:
                    payload = self._vitals(r, vts)
                    out.append(
                        (vts, topic(radar.id, "radar/vitals"), payload, self.vitals_qos, False)
                    )

    def _tick(self, r: _Resident, t: float) -> dict[str, Any]:
        """Advance one resident's motion to time ``t``; the tracker frame seen then."""
        rnd = self._rng.random  # uniform noise: several times cheaper than gauss, as good here
        if r.pending_fall and r.pending_fall[0] <= t:
            _, lie_s = r.pending_fall
            r.pending_fall = None
            if r.state == "out":  # falls just inside the door
                r.x, r.y = self._zone_point("door")
                r.z = r.stand_z
                r.tid += 1
            elif r.state in FALL_BESIDE_X_M:  # falls while getting up, beside the furniture
                r.x = FALL_BESIDE_X_M[r.state]
                r.z = r.stand_z
            r.tx, r.ty = r.x, r.y
            r.state, r.until, r.still_since = "fallen", t + lie_s, t + 1.0
        elif r.state != "walking" and t >= r.until:
            self._depart(r, t)

        x0, y0, z0 = r.x, r.y, r.z
        if r.state == "walking":
            dx, dy = r.tx - r.x, r.ty - r.y
            dist = math.hypot(dx, dy)
            stride = r.walk_mps * MOTION_DT_S
            if dist <= stride:
                r.x, r.y = r.tx, r.ty
                self._arrive(r, t)
            else:
                sway = (rnd() - 0.5) * 0.035
                r.x += stride * dx / dist - sway * dy / dist
                r.y += stride * dy / dist + sway * dx / dist
        elif r.state in STILL_STATES:  # small movements around where they settled
            r.x = r.tx + (rnd() - 0.5) * 0.035
            r.y = r.ty + (rnd() - 0.5) * 0.035
        target_z = STATE_Z.get(r.state, r.stand_z)
        rate = FALL_RATE_MPS if r.state == "fallen" else POSTURE_RATE_MPS
        r.z += max(-rate * MOTION_DT_S, min(rate * MOTION_DT_S, target_z - r.z))
        if r.state == "out":
            return {"targets": []}
        return {
            "targets": [
                {
                    "tid": r.tid,
                    "x": round(r.x, 3),
                    "y": round(r.y, 3),
                    "z": round(r.z + (rnd() - 0.5) * 0.035, 3),
                    "vx": round((r.x - x0) / MOTION_DT_S, 3),
                    "vy": round((r.y - y0) / MOTION_DT_S, 3),
                    "vz": round((r.z - z0) / MOTION_DT_S, 3),
                }
            ]
        }

    def _depart(self, r: _Resident, t: float) -> None:
        weights = dict(NEXT_ZONE[r.state])
        if r.spec.at_risk_wandering and "door" in weights:
            weights["door"] *= 3.0
        zones = list(weights)
        r.dest = self._rng.choices(zones, [weights[z] for z in zones])[0]
        if r.state == "out":  # comes back in through the door as a new track
            r.x, r.y = self._zone_point("door")
            r.z = r.stand_z
            r.tid += 1
        r.tx, r.ty = self._zone_point(r.dest)
        r.state, r.until, r.still_since = "walking", math.inf, math.inf

    def _arrive(self, r: _Resident, t: float) -> None:
        state = ZONE_STATE[r.dest]
        lo, hi = DWELL_S[state]
        if state == "out" and r.spec.at_risk_wandering:
            lo, hi = lo / 3.0, hi / 3.0
        r.state, r.until = state, t + self._rng.uniform(lo, hi)
        # Vitals need a settled, still person: allow time to sit or lie down.
        r.still_since = t + 2.0 if state in STILL_STATES else math.inf

    def _vitals(self, r: _Resident, ts: float) -> bytes:
        t = ts + np.arange(VITALS_SAMPLES) / VITALS_FS_HZ
        breathing = r.breath_mm * np.sin(2 * np.pi * r.breath_hz * t + r.phase)
        for a0, a1 in r.apnea:
            breathing[(t >= a0) & (t < a1)] = 0.0
        heart = 0.3 * np.sin(2 * np.pi * r.heart_hz * t + 2 * r.phase)
        noise = self._np.normal(0.0, 0.08, VITALS_SAMPLES)
        samples = np.round(breathing + heart + noise, 3).tolist()
        return _dumps(
            {
                "ts": round(ts, 3),
                "seq": r.radar.next_seq("radar/vitals"),
                "tid": r.tid,
                "fs": VITALS_FS_HZ,
                "displacement_mm": samples,
            }
        )


_ZONES = {z["name"]: z for z in seedlib.ZONES}
# Where a resident who falls while getting up lands: just beside the bed or the chair.
FALL_BESIDE_X_M = {"bed": _ZONES["bed"]["x1"] + 0.3, "chair": _ZONES["chair"]["x0"] - 0.3}


def _zone_of(state: str) -> str:
    return {"out": "door"}.get(state, state)


# -- publishers ---------------------------------------------------------------------------------

QOS1_MAX_INFLIGHT = 200  # FIELD-NOTES: ~4.3k msg/s at QoS 1 with 200 in flight; unbounded stalls
CONNECT_TIMEOUT_S = 10.0


def _new_client(client_id: str, username: str | None, password: str | None) -> Any:
    from paho.mqtt import client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
    c.max_inflight_messages_set(QOS1_MAX_INFLIGHT)
    if username:
        c.username_pw_set(username, password)
    return c


def _wait_connected(clients: Iterable[Any], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for c in clients:
        while not c.is_connected():
            if time.monotonic() > deadline:
                raise TimeoutError("MQTT broker did not accept the connection in time")
            time.sleep(0.01)


class MqttPublisher:
    """Publishes many devices' topics over a few shared connections (for load).

    One device always goes through the same connection, so its messages stay in order. If a
    ``fleet`` is given, hub commands on ``care/v1/+/cmd`` reach `Fleet.handle_command`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        connections: int = 1,
        client_id_prefix: str = "care-sim",
        username: str | None = None,
        password: str | None = None,
        fleet: Fleet | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.fleet = fleet
        self.clients = [
            _new_client(f"{client_id_prefix}-{i}", username, password) for i in range(connections)
        ]
        self._last: list[Any] = [None] * connections
        if fleet is not None:
            self.clients[0].on_connect = self._on_connect
            self.clients[0].on_message = self._on_message

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe(f"{TOPIC_PREFIX}/+/cmd", qos=1)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        try:
            cmd = orjson.loads(msg.payload)
            if self.fleet is not None and device_of_topic(msg.topic) in self.fleet.devices:
                self.fleet.handle_command(device_of_topic(msg.topic), cmd)
        except Exception:  # a bad command must not kill the simulator's network loop
            log.warning("ignoring bad command on %s", msg.topic)

    def connect(self, timeout_s: float = CONNECT_TIMEOUT_S) -> MqttPublisher:
        for c in self.clients:
            c.connect(self.host, self.port, keepalive=30)
            c.loop_start()
        _wait_connected(self.clients, timeout_s)
        return self

    def publish(self, topic_name: str, payload: bytes, qos: int, retain: bool) -> None:
        i = zlib.crc32(device_of_topic(topic_name).encode()) % len(self.clients)
        self._last[i] = self.clients[i].publish(topic_name, payload, qos=qos, retain=retain)

    def close(self, timeout_s: float = 10.0) -> None:
        """Wait (up to ``timeout_s``) for queued messages to go out, then disconnect."""
        for info in self._last:
            if info is not None:
                with contextlib.suppress(RuntimeError, ValueError):
                    info.wait_for_publish(timeout_s)
        for c in self.clients:
            c.disconnect()
            c.loop_stop()


class PerDeviceMqttPublisher(MqttPublisher):
    """One connection per device, each with its Last Will (``{"state":"offline"}``, retained).

    For small demos only: 10,000 connections is too many for one process.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        device_ids: Iterable[str],
        client_id_prefix: str = "care-sim",
        username: str | None = None,
        password: str | None = None,
        fleet: Fleet | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.fleet = fleet
        self.by_device: dict[str, Any] = {}
        for device_id in device_ids:
            c = _new_client(f"{client_id_prefix}-{device_id}", username, password)
            c.will_set(topic(device_id, "status"), b'{"state":"offline"}', qos=1, retain=True)
            if fleet is not None:
                c.user_data_set(device_id)
                c.on_connect = self._on_device_connect
                c.on_message = self._on_message
            self.by_device[device_id] = c
        self.clients = list(self.by_device.values())
        self._last = [None] * len(self.clients)
        self._index = {d: i for i, d in enumerate(self.by_device)}

    def _on_device_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        client.subscribe(topic(userdata, "cmd"), qos=1)

    def publish(self, topic_name: str, payload: bytes, qos: int, retain: bool) -> None:
        i = self._index[device_of_topic(topic_name)]
        self._last[i] = self.clients[i].publish(topic_name, payload, qos=qos, retain=retain)


def main(argv: list[str] | None = None) -> int:
    """Run a simulated fleet against an MQTT broker."""
    p = argparse.ArgumentParser(prog="python -m simulators.fleet", description=main.__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--residents", type=int, default=20)
    p.add_argument("--kits", type=int, default=2)
    p.add_argument("--prefix", default="", help="device id prefix (match the seed's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    p.add_argument("--duration", type=float, default=3600.0, help="wall-clock seconds to run")
    p.add_argument("--rate", type=float, default=10.0, help="steps per wall second")
    p.add_argument("--connections", type=int, default=1)
    p.add_argument("--per-device", action="store_true", help="one connection + Last Will each")
    p.add_argument("--no-frames", action="store_true")
    p.add_argument("--no-vitals", action="store_true")
    p.add_argument("--fall", action="append", default=[], metavar="N@S",
                   help="resident N falls S sim seconds after start (repeatable)")  # fmt: skip
    p.add_argument("--call", action="append", default=[], metavar="N@S",
                   help="resident N presses call S sim seconds after start")  # fmt: skip
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    fleet = Fleet(
        args.residents,
        kits=args.kits,
        prefix=args.prefix,
        seed=args.seed,
        speed=args.speed,
        radar_frames=not args.no_frames,
        radar_vitals=not args.no_vitals,
    )
    for spec, inject in ((args.fall, fleet.inject_fall), (args.call, fleet.press_call)):
        for item in spec:
            n, _, s = item.partition("@")
            inject(int(n), at=fleet.start + float(s or 0))
    publisher: MqttPublisher
    if args.per_device:
        publisher = PerDeviceMqttPublisher(
            args.host, args.port, device_ids=list(fleet.devices), fleet=fleet
        )
    else:
        publisher = MqttPublisher(args.host, args.port, connections=args.connections, fleet=fleet)
    publisher.connect()
    log.info("fleet: %d residents, %d devices, speed x%g", args.residents, len(fleet.devices),
             args.speed)  # fmt: skip
    try:
        stats = fleet.run(args.duration, args.rate, publish=publisher.publish)
    except KeyboardInterrupt:
        stats = {}
    finally:
        publisher.close()
    log.info("published %s", stats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
