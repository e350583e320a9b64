"""The radar processor: feeds decoded radar windows of many devices to the signal core at once.

Pure computation over in-memory state (no I/O): falls, zones and the activity trail, behaviour
rules, radar vitals and apnea. It runs inside the hub's ingest pipeline, or in a worker process of
its own for large communities (`devices/radar/worker.py`), where it reports only detections.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from care_hub.kernel.detections import (
    ApneaFound,
    BehaviourFound,
    Detection,
    FallFound,
    VisitFound,
    VitalsAbnormal,
    VitalsFound,
)
from care_hub.signal_core import behaviour, news2
from care_hub.signal_core.apnea import ApneaDetector
from care_hub.signal_core.falls import (
    MAX_BED_ZONES,
    FallBatch,
    FallDetection,
    FallDetector,
    FallParams,
    make_batch,
)
from care_hub.signal_core.vitals import StorageRateLimiter, VitalsEstimator
from care_hub.signal_core.zones import ZoneMap, ZoneShape, ZoneTracker, ZoneVisit
from devices.events import RadarFramesEvent, RadarVitalsEvent
from devices.registry import DeviceInfo

log = logging.getLogger(__name__)

# Zones where lying or sitting low is not being on the floor (falls.set_bed_zones takes these):
# inside the footprint at any height, in the margin only above floor level (someone low beside a
# chair, a sofa or a bed is on the floor). Beds are where the detector learns the person's lying
# height, seats (chairs, sofas) their seated height.
SUPPORT_ZONES = ("bed", "chair", "sofa")
SEAT_ZONES = ("chair", "sofa")
FLOOR_BED_ZONES = ("floor_bed",)
# Behaviour rules are judged at most this often per radar (device time): their timescales are
# minutes to hours, so 30 s keeps them timely at a tiny cost.
BEHAVIOUR_EVERY_S = 30.0
# Visits kept per radar for the behaviour rules (a day of an active person fits easily).
VISITS_KEPT = 200
# A radar-derived rate in the NEWS2 '3' band (respiration <= 8 or >= 25/min; pulse <= 40 or
# >= 131/min, RCP 2017) for this long raises a `vitals` alert; shorter excursions are noise
# or movement more often than illness.
ABNORMAL_SUSTAIN_S = 120.0
# Rates are estimated from a 30 s buffer; re-estimating every 5 s window mostly repeats itself.
# Every 15 s keeps storage (1/min) and the 2-minute sustain rule well fed at a third of the cost.
ESTIMATE_EVERY_S = 15.0


@dataclass(frozen=True, slots=True)
class RadarConfig:
    """What the processor needs to know about one radar: where it is and whom it watches."""

    device_id: str
    resident_id: str | None
    zone_map: dict[str, Any] = field(default_factory=dict)  # {"bed": {"rect": [...]}, ...}
    lives_alone: bool = False
    at_risk: bool = False
    # Per-resident overrides of the behaviour rules (Resident.settings["behaviour"]), e.g.
    # {"bathroom_max_min": 30, "night_start_h": 21, "no_movement_h": 8, "utc_offset_s": 3600}.
    behaviour: dict[str, Any] = field(default_factory=dict)
    # The facility's fall confirmation time (Facility.settings["fall_confirm_s"]); None: the hub's.
    confirm_s: float | None = None
    # The facility's IANA time zone: behaviour rules (night, "not up by") run in local time.
    timezone: str | None = None
    # What the fall detector learned of this resident on this radar (persisted on the device row
    # with the resident it belongs to), e.g. {"upright_m": 0.86}.
    learned: dict[str, float] = field(default_factory=dict)
    # Height calibration set at installation: metres this radar's centroids read above the
    # heights the detectors assume; subtracted from every height before they see it.
    height_offset_m: float = 0.0


BEHAVIOUR_FIELDS = frozenset(behaviour.ResidentSettings.__dataclass_fields__) - {
    "at_risk_of_falls",
    "lives_alone",
}


def resident_settings(cfg: RadarConfig) -> behaviour.ResidentSettings:
    """Defaults (cited in `signal_core.behaviour`) overridden by the resident's own settings."""
    overrides = {k: v for k, v in cfg.behaviour.items() if k in BEHAVIOUR_FIELDS}
    overrides.setdefault("timezone", cfg.timezone)
    return behaviour.ResidentSettings(
        at_risk_of_falls=cfg.at_risk, lives_alone=cfg.lives_alone, **overrides
    )


def zone_shapes(zone_map: dict[str, Any]) -> tuple[ZoneShape, ...]:
    shapes = []
    for name, shape in zone_map.items():
        zone = "bed" if name in FLOOR_BED_ZONES else name  # a floor bed is a bed for the trail
        if zone not in ("bed", "bathroom", "chair", "door"):
            continue  # zones the trail does not know are ignored, not an error
        if "rect" in shape:
            x0, y0, x1, y1 = shape["rect"]
            shapes.append(ZoneShape.rect(zone, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))  # type: ignore[arg-type]
        elif "polygon" in shape:
            shapes.append(ZoneShape(zone, tuple(tuple(p) for p in shape["polygon"])))  # type: ignore[arg-type]
    return tuple(shapes)


Rect = tuple[float, float, float, float]


def _bounding_rect(shape: dict[str, Any]) -> Rect | None:
    if "rect" in shape:
        x0, y0, x1, y1 = shape["rect"]
    elif "polygon" in shape:
        xs = [p[0] for p in shape["polygon"]]
        ys = [p[1] for p in shape["polygon"]]
        x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    else:
        return None
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


Named = list[tuple[str, Rect]]


def support_zones(zone_map: dict[str, Any]) -> tuple[Named, Named, Named]:
    """The zone map's support zones as (name, bounding rectangle): beds, floor beds (mattresses
    on the floor, ``floor_bed``: low is normal there) and seats (chairs, sofas), at most
    ``MAX_BED_ZONES`` together (beds first, then seats, then floor beds)."""
    beds: Named = []
    floor_beds: Named = []
    seats: Named = []
    for name, shape in zone_map.items():
        if name in SUPPORT_ZONES or name in FLOOR_BED_ZONES:
            rect = _bounding_rect(shape)
            if rect is not None:
                kind = (
                    seats if name in SEAT_ZONES else floor_beds if name in FLOOR_BED_ZONES else beds
                )
                kind.append((name, rect))
    beds = beds[:MAX_BED_ZONES]
    seats = seats[: MAX_BED_ZONES - len(beds)]
    return beds, floor_beds[: MAX_BED_ZONES - len(beds) - len(seats)], seats


def support_rects(zone_map: dict[str, Any]) -> tuple[list[Rect], list[Rect]]:
    """Bounding rectangles of the zone map's beds and seats (chairs and sofas)."""
    beds, _, seats = support_zones(zone_map)
    return [r for _, r in beds], [r for _, r in seats]


class RadarProcessor:
    def __init__(
        self, capacity: int = 1024, *, confirm_s: float = 5.0, floor_dwell_s: float = 0.0
    ) -> None:
        self.capacity = capacity
        self.params = FallParams(confirm_s=confirm_s, floor_dwell_s=floor_dwell_s or None)
        self._slots: dict[str, int] = {}
        self._ids: list[str] = []
        self._configs: dict[str, RadarConfig] = {}
        self._settings: dict[str, behaviour.ResidentSettings] = {}
        self._learned_reported: dict[str, dict[str, float]] = {}
        self._build()

    def _build(self) -> None:
        c = self.capacity
        self.falls = FallDetector(c, self.params)
        self.zones = ZoneTracker(c)
        self.vitals = VitalsEstimator(c)
        self.apnea = ApneaDetector(c)
        self.store = StorageRateLimiter(c)
        self._visits: list[deque[ZoneVisit]] = [deque(maxlen=VISITS_KEPT) for _ in range(c)]
        self._behaviour_at = np.full(c, -1e18)
        self._raised: list[set[str]] = [set() for _ in range(c)]
        self._height_offset = np.zeros(c)  # per slot (RadarConfig.height_offset_m)
        self._offset_any = False
        self._estimated_at = np.full(c, -1e18)
        self._abnormal_since = np.full((c, 2), np.nan)  # respiration, pulse
        self._abnormal_raised = np.zeros((c, 2), dtype=bool)

    def __len__(self) -> int:
        return len(self._slots)

    def configure(self, cfg: RadarConfig) -> None:
        self.configure_many([cfg])

    def configure_many(self, configs: list[RadarConfig]) -> None:
        maps: dict[int, ZoneMap] = {}
        for cfg in configs:
            slot = self._slots.get(cfg.device_id)
            if slot is None:
                if len(self._ids) >= self.capacity:
                    self._grow()
                slot = len(self._ids)
                self._slots[cfg.device_id] = slot
                self._ids.append(cfg.device_id)
            previous = self._configs.get(cfg.device_id)
            if previous is not None and (
                previous.resident_id != cfg.resident_id
                or previous.height_offset_m != cfg.height_offset_m
            ):
                # another person, or heights calibrated anew: what was learned does not hold
                self.falls.reset_slot(slot)
                self._learned_reported.pop(cfg.device_id, None)
            self._configs[cfg.device_id] = cfg
            self._settings[cfg.device_id] = resident_settings(cfg)
            beds, floor_beds, seats = support_zones(cfg.zone_map)
            self.falls.set_bed_zones(
                slot,
                [r for _, r in beds],
                seats=[r for _, r in seats],
                floor_beds=[r for _, r in floor_beds],
                names=[n for n, _ in (*beds, *floor_beds, *seats)],
            )
            self.falls.set_confirm_s(slot, cfg.confirm_s or self.params.confirm_s)
            if cfg.learned and (
                previous is None
                or previous.resident_id != cfg.resident_id
                or previous.height_offset_m != cfg.height_offset_m
            ):
                self.falls.set_learned_heights(slot, cfg.learned)
            maps[slot] = ZoneMap(zone_shapes(cfg.zone_map))
            self._height_offset[slot] = cfg.height_offset_m
        self.zones.set_maps(maps)
        self._offset_any = bool(self._height_offset.any())

    def _grow(self) -> None:
        """Double the capacity; detector state restarts (rare: only when radars are added)."""
        log.warning(
            "radar processor capacity %d reached; growing (detector state restarts)", self.capacity
        )
        self.capacity *= 2
        self._build()
        configs, self._slots, self._ids = list(self._configs.values()), {}, []
        self.configure_many(configs)

    def learned_changes(self) -> dict[str, tuple[str, dict[str, float]]]:
        """device id -> (resident id, learned heights) for radars whose learned heights changed by
        more than 1 cm since the last call: what the hub persists."""
        out: dict[str, tuple[str, dict[str, float]]] = {}
        for device_id, slot in self._slots.items():
            cfg = self._configs.get(device_id)
            if cfg is None or cfg.resident_id is None:
                continue
            now = {k: round(v, 3) for k, v in self.falls.learned_heights(slot).items()}
            before = self._learned_reported.get(device_id, cfg.learned)
            if now and any(abs(now[k] - before.get(k, -1.0)) > 0.01 for k in now):
                out[device_id] = (cfg.resident_id, now)
                self._learned_reported[device_id] = now
        return out

    def knows(self, device_id: str) -> bool:
        return device_id in self._slots

    def cancel_fall(self, device_id: str, t_s: float) -> FallFound | None:
        slot = self._slots.get(device_id)
        if slot is None:
            return None
        found = self.falls.cancel(slot, t_s)
        return self._fall(found) if found is not None else None

    def _fall(self, d: FallDetection) -> FallFound:
        return FallFound(
            self._ids[d.slot],
            d.kind,
            d.at_s,
            d.impact_s,
            d.pre_height_m,
            d.floor_height_m,
            d.x_m,
            d.y_m,
            d.reason,
            descent_s=d.descent_s,
            peak_fall_mps=d.peak_fall_mps,
            down_s=d.down_s,
            score=d.score,
            features=d.features,
        )

    def process(
        self, frames: list[RadarFramesEvent], vitals: list[RadarVitalsEvent]
    ) -> list[Detection]:
        out: list[Detection] = []
        if frames:
            out += self._frames(frames)
        if vitals:
            out += self._vitals(vitals)
        return out

    def warm_up(self, frames: list[RadarFramesEvent]) -> int:
        """Rebuild detector state from frames windows another node already processed and stored
        (a partition taken over): they go through the signal core as they did there, in one
        batch (``FallDetector.step`` takes a radar's windows one at a time, as live ingest does
        after a backlog), and what they detect is dropped (the previous owner stored its own detections). Windows
        not newer than what a radar's detectors have already seen are skipped, so state is never
        fed backwards in time. Returns the windows used."""
        pairs: list[tuple[int, RadarFramesEvent]] = []
        last: dict[int, float] = {}  # each radar's last window taken (a resent one is skipped)
        for ev in sorted(frames, key=lambda e: e.env.ts):
            slot = self._slots.get(ev.env.device_id)
            if slot is None:
                continue
            ts = ev.env.ts
            if ts <= last.get(slot, -np.inf) or ts < self.falls.covered_until(slot):
                continue
            last[slot] = ts
            pairs.append((slot, ev))
        if pairs:  # the fall detector steps several windows of a radar one at a time itself
            self.process_frames_batch(make_batch(pairs))
        return len(pairs)

    @property
    def slot_of(self) -> dict[str, int]:
        """device id -> row in the detectors' arrays (for `FramesColumns.slots_for`)."""
        return self._slots

    def _frames(self, frames: list[RadarFramesEvent]) -> list[Detection]:
        pairs = [
            (self._slots[ev.env.device_id], ev) for ev in frames if ev.env.device_id in self._slots
        ]
        return self.process_frames_batch(make_batch(pairs)) if pairs else []

    def process_frames_batch(self, batch: FallBatch) -> list[Detection]:
        """Many radars' windows already flattened (e.g. by `devices.radar.frames_batch`)."""
        out: list[Detection] = []
        if batch.covered_slot.size == 0:
            return out
        if self._offset_any:  # calibrated radars: heights as the detectors assume them
            batch = replace(batch, z_m=batch.z_m - self._height_offset[batch.slot])
        out += [self._fall(d) for d in self.falls.step(batch)]
        changed: set[int] = set()
        for visit in self.zones.step(
            batch.slot, batch.t_s, batch.x_m, batch.y_m, batch.covered_slot, batch.covered_until_s
        ):
            self._visits[visit.slot].append(visit)
            changed.add(visit.slot)
            out.append(
                VisitFound(self._ids[visit.slot], visit.zone, visit.entered_at, visit.left_at)
            )
        # The stay that began as each of those ended (left_at None): screens show where the
        # resident is now ("in the bathroom since 14:05", "out of the room since 14:05").
        for slot in sorted(changed):
            now_in = self.zones.current(slot)
            if now_in is not None:
                out.append(VisitFound(self._ids[slot], now_in.zone, now_in.entered_at, None))
        # Behaviour rules, per radar at most every BEHAVIOUR_EVERY_S of its own clock.
        now = np.full(self.capacity, np.nan)
        np.fmax.at(now, batch.covered_slot, batch.covered_until_s)
        due = np.flatnonzero(now - self._behaviour_at >= BEHAVIOUR_EVERY_S)
        for slot in due.tolist():
            self._behaviour_at[slot] = now[slot]
            out += self._behaviour(slot, float(now[slot]))
        return out

    def _behaviour(self, slot: int, now_s: float) -> list[Detection]:
        cfg = self._configs.get(self._ids[slot])
        if cfg is None or cfg.resident_id is None:
            return []
        current = self.zones.current(slot)
        visits = list(self._visits[slot]) + ([current] if current is not None else [])
        settings = self._settings.get(cfg.device_id) or resident_settings(cfg)
        found: list[Detection] = []
        for alert in behaviour.evaluate(visits, now_s, settings, self.zones.last_seen_s(slot)):
            if alert.key not in self._raised[slot]:
                self._raised[slot].add(alert.key)
                found.append(
                    BehaviourFound(
                        self._ids[slot], alert.kind, alert.reason, alert.since_s, alert.key
                    )
                )
        if len(self._raised[slot]) > 100:  # keys are per situation; old ones can go
            self._raised[slot] = {
                a.key
                for a in behaviour.evaluate(visits, now_s, settings, self.zones.last_seen_s(slot))
            }
        return found

    def _vitals(self, windows: list[RadarVitalsEvent]) -> list[Detection]:
        out: list[Detection] = []
        # One window per slot per call (the detectors' contract): later ones go in the next round.
        rounds: list[list[RadarVitalsEvent]] = []
        depth: dict[str, int] = {}  # how many windows of this device are already placed
        for ev in windows:
            device_id = ev.env.device_id
            if device_id not in self._slots:
                continue
            k = depth.get(device_id, 0)
            depth[device_id] = k + 1
            if k == len(rounds):
                rounds.append([])
            rounds[k].append(ev)
        for r in rounds:
            out += self._vitals_round(r)
        return out

    def _vitals_round(self, windows: list[RadarVitalsEvent]) -> list[Detection]:
        out: list[Detection] = []
        slots = np.array([self._slots[ev.env.device_id] for ev in windows], dtype=np.intp)
        ts = np.array([ev.env.ts for ev in windows])
        fs = np.array([ev.fs_hz for ev in windows])
        self.vitals.push(slots, [ev.displacement_mm for ev in windows], fs_hz=fs, ts_s=ts)
        end_ts = ts + np.array([len(ev.displacement_mm) for ev in windows]) / fs
        # Apnea: windows of equal length (after resampling to the detector's rate) go together.
        lengths = np.array(
            [round(len(ev.displacement_mm) * self.apnea.fs_hz / ev.fs_hz) for ev in windows]
        )
        for n in np.unique(lengths):
            idx = np.flatnonzero(lengths == n)
            groups = [
                windows[i].displacement_mm if windows[i].fs_hz == self.apnea.fs_hz else None
                for i in idx
            ]
            if any(g is None for g in groups):
                for i in idx:  # rare: mixed rates; resampled one by one
                    out += self._apnea_one(windows[i])
                continue
            for a in self.apnea.update(slots[idx], ts[idx], np.stack(groups)):  # type: ignore[arg-type]
                out.append(
                    ApneaFound(
                        self._ids[a.slot],
                        a.phase,
                        a.start_ts,
                        a.end_ts,
                        a.duration_s,
                        a.severity,
                        a.recent_count,
                    )
                )
        due = (end_ts - self._estimated_at[slots] >= ESTIMATE_EVERY_S) | (
            end_ts < self._estimated_at[slots]
        )
        if not due.any():
            return out
        slots, end_ts = slots[due], end_ts[due]
        self._estimated_at[slots] = end_ts
        est = self.vitals.estimate(slots)
        allowed = self.store.allow(slots[est.valid], end_ts[est.valid])
        for i in np.flatnonzero(est.valid)[allowed]:
            out.append(
                VitalsFound(
                    self._ids[slots[i]],
                    float(end_ts[i]),
                    float(est.breathing_bpm[i]),
                    float(est.heart_bpm[i]) if est.heart_valid[i] else None,
                    float(est.breathing_quality[i]),
                )
            )
        out += self._sustained(
            slots,
            end_ts,
            est.breathing_bpm,
            est.valid,
            0,
            "respiration_rate",
            news2.score_respiration_rate,
        )
        out += self._sustained(
            slots, end_ts, est.heart_bpm, est.heart_valid, 1, "pulse", news2.score_pulse
        )
        return out

    def _apnea_one(self, ev: RadarVitalsEvent) -> list[Detection]:
        slot = self._slots[ev.env.device_id]
        return [
            ApneaFound(
                self._ids[a.slot],
                a.phase,
                a.start_ts,
                a.end_ts,
                a.duration_s,
                a.severity,
                a.recent_count,
            )
            for a in self.apnea.update([slot], [ev.env.ts], [ev.displacement_mm], fs_hz=ev.fs_hz)
        ]

    def _sustained(
        self,
        slots: np.ndarray,
        ts: np.ndarray,
        value: np.ndarray,
        valid: np.ndarray,
        col: int,
        parameter: str,
        score_fn: Any,
    ) -> list[Detection]:
        score = np.where(valid, np.nan_to_num(score_fn(value), nan=0.0), 0.0)
        bad = score >= 3
        since = self._abnormal_since[slots, col]
        start = bad & np.isnan(since)
        self._abnormal_since[slots[start], col] = ts[start]
        ok = ~bad & valid
        self._abnormal_since[slots[ok], col] = np.nan
        self._abnormal_raised[slots[ok], col] = False
        since = self._abnormal_since[slots, col]
        due = bad & (ts - since >= ABNORMAL_SUSTAIN_S) & ~self._abnormal_raised[slots, col]
        self._abnormal_raised[slots[due], col] = True
        return [
            VitalsAbnormal(
                self._ids[slots[i]],
                float(ts[i]),
                parameter,
                float(value[i]),
                int(score[i]),
                float(ts[i] - since[i]),
            )
            for i in np.flatnonzero(due)
        ]


def radar_config(device: DeviceInfo) -> RadarConfig:
    """What the radar processor needs to know of a provisioned radar and its resident."""
    return RadarConfig(
        device_id=device.id,
        resident_id=device.resident_id,
        zone_map=device.zone_map,
        lives_alone=device.lives_alone,
        at_risk=device.at_risk,
        behaviour=dict(device.resident_settings.get("behaviour", {})),
        confirm_s=device.fall_confirm_s,
        timezone=device.timezone,
        learned=dict(device.learned),
        height_offset_m=device.height_offset_m,
    )
