"""What the radar processor reports to the hub: small, picklable results, never raw frames."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FallFound:
    device_id: str
    kind: str  # suspected | confirmed | cancelled | floor_dwell
    at_s: float
    impact_s: float
    pre_height_m: float
    floor_height_m: float
    x_m: float
    y_m: float
    reason: str | None = None
    # What was seen, for the alert to say why: descent time, fastest descent, time down, and the
    # judge's score with the features it weighed (empty where the detector gives none).
    descent_s: float = float("nan")
    peak_fall_mps: float = float("nan")
    down_s: float = float("nan")
    score: float = float("nan")
    features: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class VisitFound:
    device_id: str
    zone: str
    entered_at: float
    left_at: float | None


@dataclass(frozen=True, slots=True)
class VitalsFound:
    """A radar-derived vital-sign value, at most one per minute per device (for storage)."""

    device_id: str
    ts: float
    breathing_bpm: float | None
    heart_bpm: float | None
    quality: float


@dataclass(frozen=True, slots=True)
class VitalsAbnormal:
    """Breathing or heart rate out of the NEWS2 '3' band for a sustained time."""

    device_id: str
    ts: float
    parameter: str  # respiration_rate | pulse
    value: float
    news2_score: int
    sustained_s: float


@dataclass(frozen=True, slots=True)
class ApneaFound:
    device_id: str
    phase: str  # onset | escalated | end
    start_ts: float
    end_ts: float | None
    duration_s: float
    severity: str
    recent_count: int


@dataclass(frozen=True, slots=True)
class BehaviourFound:
    device_id: str
    kind: str  # bed_exit | inactivity
    reason: str
    since_s: float
    key: str


Detection = FallFound | VisitFound | VitalsFound | VitalsAbnormal | ApneaFound | BehaviourFound
