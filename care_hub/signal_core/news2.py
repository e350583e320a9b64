"""NEWS2 early-warning score: single-parameter scores, aggregate per resident, response band.

Source: Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the
assessment of acute-illness severity in the NHS. Updated report of a working party. London: RCP,
2017 ("RCP 2017" below), chart 1 (scoring table), chart 2 (SpO2 scale 2) and the clinical response
table. The scale 2 SpO2 thresholds are RCP 2017 chart 1, row "SpO2 Scale 2", for patients with
hypercapnic respiratory failure whose prescribed target range is 88-92%; it must only be used when a
clinician has said so, so here it is a per-resident setting, never inferred.

Charts record whole numbers (temperature to 0.1 C), so values are rounded half-up before scoring:
a radar breathing rate of 20.4/min scores as 20, 20.5 as 21. Missing values (NaN) score NaN.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

Parameter = Literal[
    "respiration_rate",
    "spo2",
    "supplemental_oxygen",
    "systolic_bp",
    "pulse",
    "consciousness",
    "temperature",
]
PARAMETERS: tuple[Parameter, ...] = (
    "respiration_rate",
    "spo2",
    "supplemental_oxygen",
    "systolic_bp",
    "pulse",
    "consciousness",
    "temperature",
)

# RCP 2017 chart 1. Each table: ascending upper bounds (inclusive) and the score for values up to
# that bound; values above the last bound take ``above``.
# Respiration rate /min: <=8 -> 3; 9-11 -> 1; 12-20 -> 0; 21-24 -> 2; >=25 -> 3.
RESPIRATION_BOUNDS = (8, 11, 20, 24)
RESPIRATION_SCORES = (3, 1, 0, 2)
RESPIRATION_ABOVE = 3
# SpO2 scale 1 %: <=91 -> 3; 92-93 -> 2; 94-95 -> 1; >=96 -> 0.
SPO2_SCALE1_BOUNDS = (91, 93, 95)
SPO2_SCALE1_SCORES = (3, 2, 1)
SPO2_SCALE1_ABOVE = 0
# SpO2 scale 2 % (hypercapnic respiratory failure, target 88-92%): <=83 -> 3; 84-85 -> 2;
# 86-87 -> 1; 88-92 -> 0, and >=93 on air -> 0; on oxygen 93-94 -> 1, 95-96 -> 2, >=97 -> 3.
SPO2_SCALE2_BOUNDS = (83, 85, 87, 92)
SPO2_SCALE2_SCORES = (3, 2, 1, 0)
SPO2_SCALE2_ON_OXYGEN_BOUNDS = (94, 96)  # above 92 on oxygen: 93-94 -> 1, 95-96 -> 2, >=97 -> 3
SPO2_SCALE2_ON_OXYGEN_SCORES = (1, 2)
SPO2_SCALE2_ON_OXYGEN_ABOVE = 3
# Air or oxygen: any supplemental oxygen scores 2.
SUPPLEMENTAL_OXYGEN_SCORE = 2
# Systolic BP mmHg: <=90 -> 3; 91-100 -> 2; 101-110 -> 1; 111-219 -> 0; >=220 -> 3.
SYSTOLIC_BOUNDS = (90, 100, 110, 219)
SYSTOLIC_SCORES = (3, 2, 1, 0)
SYSTOLIC_ABOVE = 3
# Pulse /min: <=40 -> 3; 41-50 -> 1; 51-90 -> 0; 91-110 -> 1; 111-130 -> 2; >=131 -> 3.
PULSE_BOUNDS = (40, 50, 90, 110, 130)
PULSE_SCORES = (3, 1, 0, 1, 2)
PULSE_ABOVE = 3
# Consciousness (ACVPU): Alert -> 0; new Confusion, Voice, Pain, Unresponsive -> 3.
CONSCIOUSNESS_ALERT = "A"
CONSCIOUSNESS_NOT_ALERT_SCORE = 3
# Temperature C (to 0.1): <=35.0 -> 3; 35.1-36.0 -> 1; 36.1-38.0 -> 0; 38.1-39.0 -> 1; >=39.1 -> 2.
TEMPERATURE_BOUNDS_DECI = (350, 360, 380, 390)  # in tenths of a degree
TEMPERATURE_SCORES = (3, 1, 0, 1)
TEMPERATURE_ABOVE = 2

# RCP 2017 clinical response thresholds.
LOW_MEDIUM_SINGLE_SCORE = 3  # "a score of 3 in any single parameter": urgent ward-based response
MEDIUM_TOTAL = 5  # 5-6: key threshold for urgent response (within the hour)
HIGH_TOTAL = 7  # 7 or more: emergency response

# Default aggregation window: NEWS2 is charted as one set of observations; a home resident's kit
# readings of one sitting span minutes, and a reading older than an hour no longer describes now.
DEFAULT_WINDOW_S = 3600.0

Band = Literal["routine", "low", "low_medium", "medium", "high"]
Severity = Literal["low", "medium", "high", "critical"]
# Response band -> alert severity. Our alert scale has one level above IEC 60601-1-8 "high"
# (critical), so each RCP band maps one step up from its literal name: 7+ asks for an emergency
# (critical-care) response -> critical; 5-6 asks for an urgent response within the hour -> high; a
# single 3 asks for an urgent ward-based review -> medium; 1-4 asks for a ward assessment by a nurse
# -> low (awareness); 0 is routine monitoring -> no alert.
SEVERITY_BY_BAND: dict[Band, Severity | None] = {
    "routine": None,
    "low": "low",
    "low_medium": "medium",
    "medium": "high",
    "high": "critical",
}


def _half_up(x: npt.ArrayLike) -> FloatArray:
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5)


def _table(
    v: FloatArray, bounds: tuple[int, ...], scores: tuple[int, ...], above: int
) -> FloatArray:
    idx = np.searchsorted(np.asarray(bounds, dtype=np.float64), v, side="left")
    lut = np.asarray((*scores, above), dtype=np.float64)
    out = lut[np.minimum(idx, len(scores))]
    return np.where(np.isnan(v), np.nan, out)


def score_respiration_rate(per_min: npt.ArrayLike) -> FloatArray:
    """NEWS2 respiration-rate score (breaths/min), vectorised; NaN where missing."""
    return _table(_half_up(per_min), RESPIRATION_BOUNDS, RESPIRATION_SCORES, RESPIRATION_ABOVE)


def score_spo2(
    percent: npt.ArrayLike, scale: int = 1, on_oxygen: npt.ArrayLike = False
) -> FloatArray:
    """NEWS2 SpO2 score on scale 1 or 2 (scale 2 needs ``on_oxygen``), vectorised."""
    v = _half_up(percent)
    if scale == 1:
        return _table(v, SPO2_SCALE1_BOUNDS, SPO2_SCALE1_SCORES, SPO2_SCALE1_ABOVE)
    if scale != 2:
        raise ValueError("NEWS2 SpO2 scale is 1 or 2")
    low = _table(v, SPO2_SCALE2_BOUNDS, SPO2_SCALE2_SCORES, 0)
    high_o2 = _table(
        v, SPO2_SCALE2_ON_OXYGEN_BOUNDS, SPO2_SCALE2_ON_OXYGEN_SCORES, SPO2_SCALE2_ON_OXYGEN_ABOVE
    )
    o2 = np.broadcast_to(np.asarray(on_oxygen, dtype=bool), np.shape(v))
    return np.where((v > SPO2_SCALE2_BOUNDS[-1]) & o2, high_o2, np.where(np.isnan(v), np.nan, low))


def score_supplemental_oxygen(on_oxygen: npt.ArrayLike) -> FloatArray:
    """2 on oxygen, 0 on air."""
    return np.where(np.asarray(on_oxygen, dtype=bool), SUPPLEMENTAL_OXYGEN_SCORE, 0).astype(
        np.float64
    )


def score_systolic_bp(mmhg: npt.ArrayLike) -> FloatArray:
    """NEWS2 systolic blood-pressure score (mmHg), vectorised."""
    return _table(_half_up(mmhg), SYSTOLIC_BOUNDS, SYSTOLIC_SCORES, SYSTOLIC_ABOVE)


def score_pulse(per_min: npt.ArrayLike) -> FloatArray:
    """NEWS2 pulse score (beats/min), vectorised."""
    return _table(_half_up(per_min), PULSE_BOUNDS, PULSE_SCORES, PULSE_ABOVE)


def score_temperature(celsius: npt.ArrayLike) -> FloatArray:
    """NEWS2 temperature score (degrees C, rounded to 0.1), vectorised."""
    # A value beyond ~1.8e307 overflows to infinity when scaled: still "above every band", no warning.
    with np.errstate(over="ignore"):
        deci = np.floor(np.asarray(celsius, dtype=np.float64) * 10.0 + 0.5 + 1e-9)
    return _table(deci, TEMPERATURE_BOUNDS_DECI, TEMPERATURE_SCORES, TEMPERATURE_ABOVE)


def score_consciousness(acvpu: str | None) -> float:
    """``A`` (alert) -> 0; ``C``, ``V``, ``P``, ``U`` (new confusion or worse) -> 3; None -> NaN."""
    if acvpu is None:
        return float("nan")
    level = acvpu.strip().upper()[:1]
    if level not in "ACVPU" or not level:
        raise ValueError(f"ACVPU level expected, got {acvpu!r}")
    return 0.0 if level == CONSCIOUSNESS_ALERT else float(CONSCIOUSNESS_NOT_ALERT_SCORE)


def response_band(total: int, any_single_3: bool) -> Band:
    """RCP 2017 clinical response band for an aggregate score."""
    if total >= HIGH_TOTAL:
        return "high"
    if total >= MEDIUM_TOTAL:
        return "medium"
    if any_single_3:
        return "low_medium"
    if total >= 1:
        return "low"
    return "routine"


def response_bands(totals: npt.ArrayLike, any_single_3: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """Vectorised ``response_band``."""
    t = np.asarray(totals, dtype=np.float64)
    s3 = np.asarray(any_single_3, dtype=bool)
    out = np.where(
        t >= HIGH_TOTAL,
        "high",
        np.where(
            t >= MEDIUM_TOTAL,
            "medium",
            np.where(s3, "low_medium", np.where(t >= 1, "low", "routine")),
        ),
    )
    return np.asarray(out, dtype="<U10")


@dataclass(frozen=True, slots=True)
class Reading:
    """One observed value of a NEWS2 parameter for a resident.

    ``value`` is numeric for every parameter except ``consciousness`` (an ACVPU letter) and
    ``supplemental_oxygen`` (truthy = on oxygen). ``source`` says where it came from (kit, radar).
    """

    parameter: Parameter
    value: float | str | bool
    ts_s: float
    source: str = ""


@dataclass(frozen=True, slots=True)
class News2Result:
    total: int
    subscores: dict[str, int]  # parameter -> score, for the parameters that had a reading
    missing: tuple[str, ...]  # parameters without a reading in the window (scored 0)
    any_single_3: bool
    band: Band
    severity: Severity | None
    spo2_scale: int
    readings: tuple[Reading, ...] = field(default=())  # the newest reading used per parameter

    @property
    def complete(self) -> bool:
        """NEWS2 is validated on a full set; a partial total may understate the risk."""
        return not self.missing


def score_reading(reading: Reading, spo2_scale: int = 1, on_oxygen: bool = False) -> float:
    """Score one reading; NaN if its value is missing."""
    p, v = reading.parameter, reading.value
    if p == "consciousness":
        return score_consciousness(None if v is None else str(v))
    if p == "supplemental_oxygen":
        return float(score_supplemental_oxygen(bool(v)))
    x = float(v)
    if p == "respiration_rate":
        return float(score_respiration_rate(x))
    if p == "spo2":
        return float(score_spo2(x, spo2_scale, on_oxygen))
    if p == "systolic_bp":
        return float(score_systolic_bp(x))
    if p == "pulse":
        return float(score_pulse(x))
    if p == "temperature":
        return float(score_temperature(x))
    raise ValueError(f"unknown NEWS2 parameter {p!r}")


def aggregate(
    readings: Iterable[Reading],
    *,
    now_s: float,
    window_s: float = DEFAULT_WINDOW_S,
    spo2_scale: int = 1,
    on_oxygen: bool | None = None,
) -> News2Result:
    """Aggregate NEWS2 from one resident's readings: newest reading per parameter within
    ``[now_s - window_s, now_s]``.

    ``on_oxygen`` (from the resident's care plan) overrides any ``supplemental_oxygen`` reading;
    without either, the resident is taken to be on air and the parameter is listed as missing.
    """
    newest: dict[str, Reading] = {}
    for r in readings:
        if not (now_s - window_s <= r.ts_s <= now_s):
            continue
        if isinstance(r.value, float) and np.isnan(r.value):
            continue
        cur = newest.get(r.parameter)
        if cur is None or r.ts_s >= cur.ts_s:
            newest[r.parameter] = r
    if on_oxygen is None:
        o2_reading = newest.get("supplemental_oxygen")
        o2 = bool(o2_reading.value) if o2_reading is not None else False
    else:
        o2 = on_oxygen
        newest["supplemental_oxygen"] = Reading("supplemental_oxygen", o2, now_s, "care_plan")
    subs: dict[str, int] = {}
    for p, r in newest.items():
        sc = score_reading(r, spo2_scale, o2)
        if not np.isnan(sc):
            subs[p] = int(sc)
    missing = tuple(p for p in PARAMETERS if p not in subs)
    total = sum(subs.values())
    single3 = any(v >= LOW_MEDIUM_SINGLE_SCORE for v in subs.values())
    band = response_band(total, single3)
    used = tuple(sorted((newest[p] for p in subs), key=lambda r: PARAMETERS.index(r.parameter)))
    return News2Result(
        total=total,
        subscores=subs,
        missing=missing,
        any_single_3=single3,
        band=band,
        severity=SEVERITY_BY_BAND[band],
        spo2_scale=spo2_scale,
        readings=used,
    )
