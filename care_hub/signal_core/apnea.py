"""Streaming apnea detection from radar chest displacement, vectorised over slots.

Apnea here follows the AASM scoring rule: a drop of the breathing signal's amplitude by >= 90%
from the person's own recent (pre-event) amplitude lasting >= 10 s (AASM Manual for the Scoring of
Sleep and Associated Events, v2.6, 2020, rule VIII.3.A). The breathing amplitude is the RMS of the
low-passed displacement over a 5 s window; the reference is a slow average of that
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

# Breathing signal: a causal low-pass at 0.55 Hz (Butterworth, order 6) passes breathing up to
# 30/min (0.5 Hz, gain 0.8) and attenuates a slow heartbeat (>= 0.75 Hz, <= 0.5 mm) by >= 30 dB,
# so a heartbeat cannot pass for breathing during an apnea. No high-pass: a band-pass with an edge
# near 0.1 Hz rings for tens of seconds after breathing stops and hides the apnea; posture drift is
# removed instead by taking the spread about a straight line over a short window.
LOWPASS_HZ = 0.55
FILTER_ORDER = 6
# Breathing amplitude = standard deviation of the low-passed signal about its least-squares line
# over the last 5 s. For a 6/min
# breath (10 s cycle) any 5 s holds half a cycle, so the amplitude stays above ~40% of its mean
# between breaths; when breathing stops it falls to the residual once the window has cleared the
# last breath, 5 s later, and the event's start is placed 5 s before that moment.
AMPLITUDE_WINDOW_S = 5.0
# The person's reference amplitude: a 60 s average (6-30 breaths), frozen while the amplitude is
# under the apnea threshold so that an event never lowers its own reference.
BASELINE_TAU_S = 60.0
# Do not judge before the reference has seen this much breathing (three breaths at 6/min).
BASELINE_WARMUP_S = 30.0
# Hysteresis: an event ends when the amplitude is back above 20% of the reference (twice the entry
# level), so noise around the 10% line does not split one apnea into two.
RECOVERY_FRACTION = 0.20
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
    """Per-slot streaming apnea detector (device time), fed the same windows as the estimator.

    Per-slot state is held in arrays: the low-pass filter state ``zi`` (as ``sosfilt`` takes it),
    the last ``AMPLITUDE_WINDOW_S`` of filtered signal, the reference power and the open event.
    """

    def __init__(self, capacity: int, fs_hz: float = DEFAULT_FS_HZ) -> None:
        self.capacity = int(capacity)
        self.fs_hz = float(fs_hz)
        self.sos = np.asarray(
            signal.butter(FILTER_ORDER, LOWPASS_HZ, btype="lowpass", fs=fs_hz, output="sos")
        )
        self.win_n = max(2, round(AMPLITUDE_WINDOW_S * fs_hz))
        self.zi = np.zeros((self.sos.shape[0], self.capacity, 2))
        self.primed = np.zeros(self.capacity, dtype=bool)  # filter state initialised
        self.history = np.zeros((self.capacity, self.win_n))  # last window of filtered signal
        self.seen_n = np.zeros(self.capacity, dtype=np.int64)  # samples since reset
        self.baseline = np.zeros(self.capacity)  # reference power (variance), mm^2
        self.learned_s = np.zeros(self.capacity)  # breathing time seen by the reference
        self.motion_until = np.full(self.capacity, -np.inf)
        self.last_x = np.full(self.capacity, np.nan)
        self.in_event = np.zeros(self.capacity, dtype=bool)  # amplitude under the 10% line
        self.event_start = np.full(self.capacity, np.nan)
        self.reported = np.zeros(self.capacity, dtype=np.int8)  # 0 none, 1 onset, 2 critical
        self.nadir = np.full(self.capacity, np.inf)
        self.recent_starts = np.full((self.capacity, REPEAT_COUNT), -np.inf)

    def reset(self, slots: npt.ArrayLike) -> None:
        """Forget slots entirely (a new person or a new track)."""
        s = np.atleast_1d(np.asarray(slots, dtype=np.intp))
        self.zi[:, s, :] = 0.0
        self.primed[s] = False
        self.history[s] = 0.0
        self.seen_n[s] = 0
        self.baseline[s] = 0.0
        self.learned_s[s] = 0.0
        self.motion_until[s] = -np.inf
        self.last_x[s] = np.nan
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
        silently: someone leaving the bed is not an apnea. Each slot at most once per call.
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
        if (~pres).any():
            self._clear_event(s[~pres])
        keep = pres & np.isfinite(x).all(axis=1)
        s, x, ts = s[keep], x[keep], ts[keep]
        if len(s) == 0:
            return []

        k, m = x.shape
        fs = self.fs_hz
        wn = self.win_n
        # Movement: per-sample steps, including the step from the previous window's last sample.
        prev = np.where(np.isfinite(self.last_x[s]), self.last_x[s], x[:, 0])
        steps = np.abs(np.diff(np.concatenate([prev[:, None], x], axis=1), axis=1)) * fs
        moving = steps > MOTION_STEP_MM_PER_S  # (k, m)
        self.last_x[s] = x[:, -1]

        # Causal low-pass with carried state; a fresh slot starts from steady state at its level.
        zi = self.zi[:, s, :]
        fresh = ~self.primed[s]
        if fresh.any():
            zi0 = signal.sosfilt_zi(self.sos)  # (sections, 2) for a unit step
            zi[:, fresh, :] = zi0[:, None, :] * x[fresh, 0][None, :, None]
            self.history[s[fresh]] = x[fresh, :1]
            self.primed[s[fresh]] = True
        y, zf = signal.sosfilt(self.sos, x, axis=1, zi=zi)
        self.zi[:, s, :] = zf

        # Moving variance over the last win_n samples at every column, from cumulative sums.
        cat = np.concatenate([self.history[s], y], axis=1)  # (k, wn + m)
        self.history[s] = cat[:, -wn:]
        c1 = np.concatenate([np.zeros((k, 1)), np.cumsum(cat, axis=1)], axis=1)
        c2 = np.concatenate([np.zeros((k, 1)), np.cumsum(cat * cat, axis=1)], axis=1)
        g = np.arange(wn + m, dtype=np.float64)
        c3 = np.concatenate([np.zeros((k, 1)), np.cumsum(cat * g, axis=1)], axis=1)
        g_var = (wn * wn - 1) / 12.0  # variance of wn consecutive integers
        seen_before = self.seen_n[s].copy()
        self.seen_n[s] += m

        events: list[ApneaEvent] = []
        step = max(1, round(DECISION_STEP_S * fs))
        cols = list(range(step - 1, m, step))
        if not cols or cols[-1] != m - 1:
            cols.append(m - 1)
        prev_col = -1
        b_decay = float(np.exp(-(step / fs) / BASELINE_TAU_S))
        rows = np.arange(k)
        for c in cols:
            now = ts + c / fs
            dt = (c - prev_col) / fs
            mv = moving[:, prev_col + 1 : c + 1].any(axis=1)
            prev_col = c
            hi = c + 1 + wn  # cat index one past this column's sample
            mean = (c1[rows, hi] - c1[rows, hi - wn]) / wn
            # Variance about the window's least-squares line: slow posture drift is not breathing.
            g_mean = hi - (wn + 1) / 2.0
            cov = (c3[rows, hi] - c3[rows, hi - wn]) / wn - g_mean * mean
            var = (c2[rows, hi] - c2[rows, hi - wn]) / wn - mean * mean
            power = np.maximum(var - cov * cov / g_var, 0.0)
            filled = seen_before + c + 1 >= wn
            self.motion_until[s] = np.where(mv, now + MOTION_HOLD_S, self.motion_until[s])
            held = (now < self.motion_until[s]) | ~filled
            base = self.baseline[s]
            warm = self.learned_s[s] >= BASELINE_WARMUP_S
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(base > 0, np.sqrt(power / base), np.inf)

            # The reference learns from breathing only: not in events, holds or 90% drops.
            learn = ~held & ~self.in_event[s] & (~warm | (ratio >= 1.0 - APNEA_DROP_FRACTION))
            learned = self.learned_s[s]
            decay = np.where(
                learned + dt < BASELINE_TAU_S, learned / (learned + dt), b_decay
            )  # a running mean until one time constant has been seen, then exponential
            self.baseline[s] = np.where(learn, decay * base + (1.0 - decay) * power, base)
            self.learned_s[s] = np.where(learn, learned + dt, learned)

            in_ev = self.in_event[s]
            enter = ~in_ev & warm & ~held & (ratio < 1.0 - APNEA_DROP_FRACTION)
            # Breathing back (hysteresis), or a movement (an arousal ends an apnea).
            leave = in_ev & ((ratio >= RECOVERY_FRACTION) | mv)
            if enter.any():
                e = s[enter]
                # The whole amplitude window is quiet: breathing stopped about a window ago.
                self.event_start[e] = now[enter] - AMPLITUDE_WINDOW_S
                self.in_event[e] = True
                self.reported[e] = 0
                self.nadir[e] = np.inf
            ongoing = self.in_event[s]
            self.nadir[s] = np.where(
                ongoing & ~leave, np.minimum(self.nadir[s], ratio), self.nadir[s]
            )
            dur = now - self.event_start[s]
            for i in np.flatnonzero(ongoing & ~leave & (dur >= APNEA_MIN_DURATION_S)):
                slot = int(s[i])
                count = self._count_recent(slot, float(now[i])) + 1
                sev = apnea_severity(float(dur[i]), count)
                level = 2 if sev == "critical" else 1
                if self.reported[slot] < level:
                    phase: Phase = "onset" if self.reported[slot] == 0 else "escalated"
                    events.append(self._event(slot, phase, float(now[i]), None, sev, count))
                    self.reported[slot] = level
            for i in np.flatnonzero(leave):
                slot = int(s[i])
                d = float(dur[i])
                if d >= APNEA_MIN_DURATION_S:
                    count = self._count_recent(slot, float(now[i])) + 1
                    sev = apnea_severity(d, count)
                    events.append(
                        self._event(slot, "end", float(now[i]), float(now[i]), sev, count)
                    )
                    self.recent_starts[slot] = np.roll(self.recent_starts[slot], -1)
                    self.recent_starts[slot, -1] = self.event_start[slot]
                self._clear_event(np.array([slot]))
        return events

    def _count_recent(self, slot: int, now: float) -> int:
        """Finished events on this slot that started within REPEAT_WINDOW_S of ``now``."""
        return int((self.recent_starts[slot] >= now - REPEAT_WINDOW_S).sum())

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
