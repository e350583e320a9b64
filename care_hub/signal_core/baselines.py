"""Personal baselines: a resident's own median and robust spread per vital, and departures from it.

A reading inside the population bands can still be unusual for this person (a resting pulse of
88 in someone who sits at 62). Over the past ``window_days`` (default 14) of the resident's own
readings, the baseline is the median and the MAD (median absolute deviation); a reading with a
modified z-score |M| >= 3.5 is flagged as a low-severity trend.

Modified z-score: M = 0.6745 * (x - median) / MAD, outlier when |M| > 3.5 (Iglewicz B, Hoaglin DC.
How to Detect and Handle Outliers. ASQC Quality Press, 1993). 0.6745 is the 0.75 quantile of the
standard normal, which makes MAD / 0.6745 a consistent estimate of the standard deviation.

Pure functions over arrays of (ts, value); no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from care_hub.signal_core.kit_rules import Judgement, Severity

FloatArray = npt.NDArray[np.float64]

DEFAULT_WINDOW_DAYS = 14.0
DAY_S = 86_400.0
# Fewer than 10 readings make the MAD too unstable to call anything 3.5 MADs out: with n = 5 the
# MAD's own sampling error is about +-50%. Two readings a day for a week passes it.
MIN_COUNT = 10
# The readings must also span >= 3 days so one unusual day cannot become the baseline.
MIN_SPAN_DAYS = 3.0
MODIFIED_Z_CONSTANT = 0.6745  # Iglewicz & Hoaglin 1993
MODIFIED_Z_THRESHOLD = 3.5  # Iglewicz & Hoaglin 1993
# A resident whose readings barely move (MAD near 0) would be flagged for a 1-unit change; the MAD
# is floored at about one measurement resolution/error of the instrument.
MIN_MAD: dict[str, float] = {
    "pulse": 2.0,  # bpm
    "heart_rate": 2.0,
    "respiration_rate": 1.0,  # breaths/min
    "spo2": 1.0,  # % (oximeter resolution 1%, accuracy +-2%)
    "systolic_bp": 3.0,  # mmHg (cuff accuracy +-3 mmHg, ISO 81060-2)
    "diastolic_bp": 3.0,
    "temperature": 0.1,  # degrees C
    "glucose": 0.3,  # mmol/L (meters read in 0.1, ISO 15197 +-0.83 below 5.55)
}
DEFAULT_MIN_MAD = 1e-6
TREND_SEVERITY: Severity = "low"  # a trend asks for awareness, not a response


@dataclass(frozen=True, slots=True)
class Baseline:
    median: float
    mad: float  # raw MAD (floored), same unit as the values
    n: int
    span_days: float
    from_ts: float
    to_ts: float
    trusted: bool  # enough readings over enough days

    def to_dict(self) -> dict[str, float | int | bool]:
        return {
            "median": self.median,
            "mad": self.mad,
            "n": self.n,
            "span_days": round(self.span_days, 2),
            "from_ts": self.from_ts,
            "to_ts": self.to_ts,
            "trusted": self.trusted,
        }


def robust_baseline(
    ts_s: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    now_s: float,
    window_days: float = DEFAULT_WINDOW_DAYS,
    min_count: int = MIN_COUNT,
    min_span_days: float = MIN_SPAN_DAYS,
    min_mad: float = DEFAULT_MIN_MAD,
) -> Baseline:
    """Median and MAD of the readings in ``[now_s - window_days, now_s)`` (strictly before now,
    so the reading being judged is not part of its own baseline). NaN values are ignored."""
    ts = np.asarray(ts_s, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    sel = (ts >= now_s - window_days * DAY_S) & (ts < now_s) & np.isfinite(v)
    w, t = v[sel], ts[sel]
    if len(w) == 0:
        return Baseline(float("nan"), float("nan"), 0, 0.0, float("nan"), float("nan"), False)
    med = float(np.median(w))
    mad = max(float(np.median(np.abs(w - med))), min_mad)
    span = float((t.max() - t.min()) / DAY_S)
    trusted = len(w) >= min_count and span >= min_span_days
    return Baseline(med, mad, int(len(w)), span, float(t.min()), float(t.max()), trusted)


def modified_z(values: npt.ArrayLike, median: float, mad: float) -> FloatArray:
    """Iglewicz-Hoaglin modified z-score, vectorised."""
    return MODIFIED_Z_CONSTANT * (np.asarray(values, dtype=np.float64) - median) / mad


def rolling_modified_z(
    ts_s: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    window_days: float = DEFAULT_WINDOW_DAYS,
    min_count: int = MIN_COUNT,
    min_span_days: float = MIN_SPAN_DAYS,
    min_mad: float = DEFAULT_MIN_MAD,
) -> FloatArray:
    """For each reading (sorted by time), its modified z against the baseline of the readings
    before it; NaN where that baseline is not yet trusted. For replay and back-fill."""
    ts = np.asarray(ts_s, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    order = np.argsort(ts, kind="stable")
    ts, v = ts[order], v[order]
    lo = np.searchsorted(ts, ts - window_days * DAY_S, side="left")
    hi = np.searchsorted(ts, ts, side="left")
    z = np.full(len(v), np.nan)
    for i in range(len(v)):
        w = v[lo[i] : hi[i]]
        w = w[np.isfinite(w)]
        if len(w) < min_count:
            continue
        tw = ts[lo[i] : hi[i]]
        if (tw.max() - tw.min()) / DAY_S < min_span_days:
            continue
        med = np.median(w)
        mad = max(float(np.median(np.abs(w - med))), min_mad)
        z[i] = MODIFIED_Z_CONSTANT * (v[i] - med) / mad
    out = np.empty_like(z)
    out[order] = z
    return out


def judge_against_baseline(
    kind: str,
    value: float,
    ts_s: float,
    history_ts_s: npt.ArrayLike,
    history_values: npt.ArrayLike,
    *,
    window_days: float = DEFAULT_WINDOW_DAYS,
    min_count: int = MIN_COUNT,
    threshold: float = MODIFIED_Z_THRESHOLD,
) -> Judgement:
    """Low-severity trend judgement when ``value`` is far from the resident's own baseline.

    ``kind`` names the vital (``pulse``, ``spo2``, ``systolic_bp``, ...; see ``MIN_MAD``). The
    baseline is in the judgement's ``extra["baseline"]``, hence in the alert's detail.
    """
    base = robust_baseline(
        history_ts_s,
        history_values,
        now_s=ts_s,
        window_days=window_days,
        min_count=min_count,
        min_mad=MIN_MAD.get(kind, DEFAULT_MIN_MAD),
    )
    reading = ({"kind": kind, "value": value, "ts": ts_s},)
    extra = {"baseline": {"kind": kind, **base.to_dict()}}
    if not base.trusted:
        return Judgement(
            False,
            None,
            "baseline.untrusted",
            f"{kind}: baseline not yet trusted ({base.n} readings over {base.span_days:.1f} days)",
            None,
            reading,
            extra=extra,
        )
    z = float(modified_z(value, base.median, base.mad))
    extra["baseline"]["modified_z"] = round(z, 2)
    direction = "above" if z > 0 else "below"
    if abs(z) >= threshold:
        return Judgement(
            True,
            TREND_SEVERITY,
            f"baseline.{kind}.{direction}",
            f"{kind} {value:g} is {direction} this resident's usual {base.median:g} "
            f"(modified z {z:+.1f}, |z| >= {threshold}; {base.n} readings, "
            f"{window_days:g} days)",
            z,
            reading,
            extra=extra,
        )
    return Judgement(
        False,
        None,
        "baseline.within",
        f"{kind} {value:g} within this resident's usual range (modified z {z:+.1f})",
        z,
        reading,
        extra=extra,
    )
