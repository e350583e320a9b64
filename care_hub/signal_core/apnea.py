"""Streaming apnea detection from radar chest displacement, vectorised over slots.

Apnea here follows the AASM scoring rule: a drop of the breathing signal's amplitude by >= 90%
from the person's own recent (pre-event) amplitude lasting >= 10 s (AASM Manual for the Scoring of
Sleep and Associated Events, v2.6, 2020, rule VIII.3.A). The breathing amplitude is the RMS of the
band-passed displacement, smoothed by a one-pole average; the reference is a slow average of that
amplitude while the person breathes normally. All times are the device clock (window ``ts`` plus
sample index / fs); there is no wall-clock read anywhere.

Filter and smoothing state (``sosfilt`` ``zi``, the averages) are kept per slot in the detector's
arrays and advanced window by window, as ``sosfilt(sos, x, zi=zi) -> (y, zf)`` does.

Limits: radar sees chest movement, not airflow. A central apnea stops the chest; an obstructive
apnea often keeps (paradoxical) effort, which this cannot tell from breathing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import signal

from care_hub.signal_core.vitals import resample_to

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_FS_HZ = 20.0
# AASM: apnea = >= 90% drop of the signal for >= 10 s.
APNEA_DROP_FRACTION = 0.90
APNEA_MIN_DURATION_S = 10.0
# Severity. Brief's rule: critical when one event lasts >= 20 s (twice the AASM minimum: SpO2
# falls measurably in frail elders within about 20-30 s of no breathing), or when events repeat.
CRITICAL_DURATION_S = 20.0
# Repetition: 3 events within 10 minutes is an 18/h pace, above AASM's "moderate" threshold
# (15/h) and far above its "normal" (< 5/h), seen over a span short enough for a caregiver to act on
# the current sleep period. Two in ten minutes (12/h) is still inside "mild".
REPEAT_COUNT = 3
REPEAT_WINDOW_S = 600.0
# AASM apnea-hypopnea index bands (events per hour): < 5 normal, 5-15 mild, 15-30 moderate, >= 30.
AHI_BANDS = ((5.0, "normal"), (15.0, "mild"), (30.0, "moderate"))

# Breathing band for the amplitude: 0.08 Hz keeps 6/min breathing (0.1 Hz) near unity gain and
# rejects posture drift; 0.6 Hz passes 30/min (0.5 Hz) and, with order 4, attenuates a slow
# heartbeat (>= 0.75 Hz, <= 0.5 mm) by ~15 dB so it cannot pass as breathing during an apnea.
BREATH_BAND_HZ = (0.08, 0.6)
FILTER_ORDER = 4
# One-pole smoothing of the squared band-passed signal: tau = 1 s keeps the amplitude above 50% of
# its mean through the zero crossings of a 6/min breath, and falls to 10% of it (1% of the power)
# in 4.6 tau = 4.6 s after breathing stops; that lag is undone when the start is reported.
AMPLITUDE_TAU_S = 1.0
# The person's reference amplitude: a 60 s average (6-30 breaths), frozen while the amplitude is
# under the apnea threshold so that an event never lowers its own reference.
BASELINE_TAU_S = 60.0
# Do not judge before the reference has seen this much breathing (three breaths at 6/min).
BASELINE_WARMUP_S = 30.0
# Hysteresis: an event ends when the amplitude is back above 20% of the reference (twice the entry
# level), so noise around the 10% line does not split one apnea into two.
RECOVERY_FRACTION = 0.20
# The event's start is the last time the amplitude was at or above half the reference: within half a
# breath of the last breath, and free of the smoothing lag.
ONSET_FRACTION = 0.5
# ... but never earlier than this before the amplitude crossed the 10% line: the smoothing lag
# (4.6 s) plus the band-pass's ringing; a long hypopnea before an apnea is not part of it.
ONSET_LOOKBACK_S = 8.0
# Body movement (same rule as vitals.py): a per-sample step above 60 mm/s; the band-pass rings for
# about 10 s after one, so no event may start or the reference learn during that hold.
MOTION_STEP_MM_PER_S = 60.0
MOTION_HOLD_S = 10.0
# Decisions every 0.25 s of device time: start and end are reported to that resolution.
DECISION_STEP_S = 0.25

Severity = Literal["low", "critical"]
Phase = Literal["onset", "escalated", "end"]


@dataclass(frozen=True, slots=True)
class ApneaEvent:
    """An apnea seen on one slot.

    ``phase``: ``onset`` when it reaches 10 s (``end_ts`` None), ``escalated`` when an ongoing
    event turns critical, ``end`` when breathing returns (final start/end/duration). The pair
    ``(slot, start_ts)`` identifies the event across phases.
    """

    slot: int
    phase: Phase
    start_ts: float
    end_ts: float | None
    duration_s: float
    severity: Severity
    recent_count: int  # events on this slot within REPEAT_WINDOW_S, this one included
    baseline_amplitude_mm: float  # the reference breathing amplitude (peak-to-peak)
    residual_fraction: float  # lowest amplitude during the event / reference


def apnea_severity(duration_s: float, recent_count: int) -> Severity:
    """``critical`` if the event lasts >= CRITICAL_DURATION_S or REPEAT_COUNT repeat in 10 min."""
    if duration_s >= CRITICAL_DURATION_S or recent_count >= REPEAT_COUNT:
        return "critical"
    return "low"


def ahi_category(events: int, hours: float) -> str:
    """AASM severity for an events-per-hour rate: normal, mild, moderate or severe."""
    rate = events / hours if hours > 0 else 0.0
    for upper, name in AHI_BANDS:
        if rate < upper:
            return name
    return "severe"


class ApneaDetector:
    """Per-slot streaming apnea detector (device time), fed the same windows as the estimator."""

    def __init__(self, capacity: int, fs_hz: float = DEFAULT_FS_HZ) -> None:
        self.capacity = int(capacity)
        self.fs_hz = float(fs_hz)
        self.sos = np.asarray(
            signal.butter(FILTER_ORDER, BREATH_BAND_HZ, btype="bandpass", fs=fs_hz, output="sos")
        )
        self.alpha = 1.0 - np.exp(-1.0 / (AMPLITUDE_TAU_S * fs_hz))
        self.zi = np.zeros((self.sos.shape[0], self.capacity, 2))
        self.power = np.zeros(self.capacity)  # smoothed squared breathing signal, mm^2
        self.baseline = np.zeros(self.capacity)  # reference power, mm^2
        self.learned_s = np.zeros(self.capacity)  # breathing time seen by the reference
        self.motion_until = np.full(self.capacity, -np.inf)
        self.last_x = np.full(self.capacity, np.nan)
        self.last_strong_ts = np.full(self.capacity, np.nan)  # amplitude >= ONSET_FRACTION
        self.in_event = np.zeros(self.capacity, dtype=bool)  # amplitude under the 10% line
        self.event_start = np.full(self.capacity, np.nan)
        self.reported = np.zeros(self.capacity, dtype=np.int8)  # 0 none, 1 onset, 2 escalated
        self.nadir = np.full(self.capacity, np.inf)
        self.recent_starts = np.full((self.capacity, REPEAT_COUNT), -np.inf)

    def reset(self, slots: npt.ArrayLike) -> None:
        """Forget slots entirely (a new person or a new track)."""
        s = np.atleast_1d(np.asarray(slots, dtype=np.intp))
        self.zi[:, s, :] = 0.0
        self.power[s] = 0.0
        self.baseline[s] = 0.0
        self.learned_s[s] = 0.0
        self.motion_until[s] = -np.inf
        self.last_x[s] = np.nan
        self.last_strong_ts[s] = np.nan
        self._clear_event(s)
        self.recent_starts[s] = -np.inf

    def _clear_event(self, s: IntArray) -> None:
        self.in_event[s] = False
        self.event_start[s] = np.nan
        self.reported[s] = 0
        self.nadir[s] = np.inf

    def update(
        self,
        slots: npt.ArrayLike,
        ts_s: npt.ArrayLike,
        windows: FloatArray | Sequence[npt.ArrayLike],
        present: npt.ArrayLike | None = None,
        fs_hz: float | None = None,
    ) -> list[ApneaEvent]:
        """Advance slots by one window each; return the events that started, escalated or ended.

        ``windows``: 2-D (slots x samples) or a sequence of 1-D arrays of equal length after
        resampling; ``ts_s``: each window's start (device clock); ``present``: whether the person
        is still in view (default True). A slot that is not present has any ongoing event dropped
        silently: someone leaving the bed is not an apnea.
        """
        s = np.atleast_1d(np.asarray(slots, dtype=np.intp))
        if isinstance(windows, np.ndarray) and windows.ndim == 2:
            x = np.asarray(windows, dtype=np.float64)
        else:
            x = np.stack([np.asarray(w, dtype=np.float64).ravel() for w in windows])
        if fs_hz is not None and abs(fs_hz - self.fs_hz) > 1e-9:
            x = resample_to(x, fs_hz, self.fs_hz)
        if len(np.unique(s)) != len(s):
            raise ValueError("each slot at most once per update call")
        ts = np.broadcast_to(np.asarray(ts_s, dtype=np.float64), s.shape).copy()
        pres = (
            np.ones(len(s), dtype=bool)
            if present is None
            else np.broadcast_to(np.asarray(present, dtype=bool), s.shape)
        )
        gone = s[~pres]
        if len(gone):
            self._clear_event(gone)
            self.last_strong_ts[gone] = np.nan
        finite = np.isfinite(x).all(axis=1)
        s, x, ts = s[pres & finite], x[pres & finite], ts[pres & finite]
        if len(s) == 0:
            return []

        k, m = x.shape
        fs = self.fs_hz
        # Movement: per-sample steps, including the step from the previous window's last sample.
        prev = np.where(np.isfinite(self.last_x[s]), self.last_x[s], x[:, 0])
        steps = np.abs(np.diff(np.concatenate([prev[:, None], x], axis=1), axis=1)) * fs
        moving = steps > MOTION_STEP_MM_PER_S  # (k, m)
        self.last_x[s] = x[:, -1]

        y, zf = signal.sosfilt(self.sos, x, axis=1, zi=self.zi[:, s, :])
        self.zi[:, s, :] = zf
        # One-pole smoothing of y^2 with carried state: p[n] = (1-a) p[n-1] + a y[n]^2.
        a = self.alpha
        p, pz = signal.lfilter(
            [a], [1.0, -(1.0 - a)], y * y, axis=1, zi=(1.0 - a) * self.power[s, None]
        )
        self.power[s] = p[:, -1]
        del pz

        events: list[ApneaEvent] = []
        step = max(1, round(DECISION_STEP_S * fs))
        cols = list(range(step - 1, m, step))
        if not cols or cols[-1] != m - 1:
            cols.append(m - 1)
        prev_col = -1
        b_decay = np.exp(-(step / fs) / BASELINE_TAU_S)
        for c in cols:
            now = ts + c / fs
            dt = (c - prev_col) / fs
            mv = moving[:, prev_col + 1 : c + 1].any(axis=1)
            prev_col = c
            self.motion_until[s] = np.where(mv, now + MOTION_HOLD_S, self.motion_until[s])
            held = now < self.motion_until[s]
            pw = p[:, c]
            base = self.baseline[s]
            warm = self.learned_s[s] >= BASELINE_WARMUP_S
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(base > 0, np.sqrt(pw / base), np.inf)

            strong = ratio >= ONSET_FRACTION
            self.last_strong_ts[s] = np.where(strong | held, now, self.last_strong_ts[s])

            # Reference learns from normal breathing only (not during events, holds or drops).
            learn = ~held & ~self.in_event[s] & (~warm | (ratio >= 1.0 - APNEA_DROP_FRACTION))
            decay = np.where(
                self.learned_s[s] < BASELINE_TAU_S,
                1.0 - dt / np.maximum(self.learned_s[s] + dt, dt),
                b_decay,
            )
            new_base = decay * base + (1.0 - decay) * pw
            self.baseline[s] = np.where(learn, new_base, base)
            self.learned_s[s] = np.where(learn, self.learned_s[s] + dt, self.learned_s[s])

            in_ev = self.in_event[s]
            # Movement cancels a candidate: an arousal at the end of an apnea is handled below
            # (it ends the event), but a low amplitude seen right after a movement is not trusted.
            enter = ~in_ev & warm & ~held & (ratio < 1.0 - APNEA_DROP_FRACTION)
            leave = in_ev & ((ratio >= RECOVERY_FRACTION) | mv)
            if enter.any():
                e = s[enter]
                start = self.last_strong_ts[e]
                earliest = now[enter] - ONSET_LOOKBACK_S
                self.event_start[e] = np.where(
                    np.isfinite(start), np.maximum(start, earliest), now[enter]
                )
                self.in_event[e] = True
                self.reported[e] = 0
                self.nadir[e] = np.inf
            ongoing = self.in_event[s]
            self.nadir[s] = np.where(ongoing, np.minimum(self.nadir[s], ratio), self.nadir[s])

            dur = now - self.event_start[s]
            for i in np.flatnonzero(ongoing & ~leave & (dur >= APNEA_MIN_DURATION_S)):
                slot = int(s[i])
                count = self._count_recent(slot, float(now[i]), include_current=True)
                sev = apnea_severity(float(dur[i]), count)
                level = 2 if sev == "critical" else 1
                if self.reported[slot] < level:
                    events.append(
                        self._event(
                            slot,
                            "onset" if self.reported[slot] == 0 else "escalated",
                            float(now[i]),
                            None,
                            sev,
                            count,
                        )
                    )
                    self.reported[slot] = level
            for i in np.flatnonzero(leave):
                slot = int(s[i])
                d = float(dur[i])
                if d >= APNEA_MIN_DURATION_S:
                    count = self._count_recent(slot, float(now[i]), include_current=True)
                    sev = apnea_severity(d, count)
                    events.append(
                        self._event(slot, "end", float(now[i]), float(now[i]), sev, count)
                    )
                    self.recent_starts[slot] = np.roll(self.recent_starts[slot], -1)
                    self.recent_starts[slot, -1] = self.event_start[slot]
                self._clear_event(np.array([slot]))
        return events

    def _count_recent(self, slot: int, now: float, include_current: bool) -> int:
        n = int((self.recent_starts[slot] >= now - REPEAT_WINDOW_S).sum())
        return n + (1 if include_current else 0)

    def _event(
        self,
        slot: int,
        phase: Phase,
        now: float,
        end_ts: float | None,
        severity: Severity,
        count: int,
    ) -> ApneaEvent:
        start = float(self.event_start[slot])
        base_pp = 2.0 * np.sqrt(2.0) * np.sqrt(self.baseline[slot])
        return ApneaEvent(
            slot=slot,
            phase=phase,
            start_ts=start,
            end_ts=end_ts,
            duration_s=now - start,
            severity=severity,
            recent_count=count,
            baseline_amplitude_mm=float(base_pp),
            residual_fraction=float(self.nadir[slot]) if np.isfinite(self.nadir[slot]) else 0.0,
        )
