"""Batched radar vital signs: breathing and heart rate from chest displacement, many targets at once.

Each tracked still person (``(device_id, tid)``) owns a *slot*: one row of a 2-D ring buffer
(slots x samples) holding the last ``buffer_s`` seconds of chest displacement. ``push`` writes
windows into their rows, ``estimate`` turns the rows into rates, vectorised over slots:

1. gate: warming-up, missing samples, flat, saturated/stuck, body movement -> no estimate;
2. linear detrend, then zero-phase SOS band-pass per band (breathing, heart);
3. Hann-windowed, zero-padded periodogram; the strongest peak in the band, refined by Gaussian
   (log-parabolic) interpolation, is the rate;
4. quality = share of the band's power near the peak; the peak must also stand clear of the
   white-noise floor measured above the vital bands, else the estimate is dropped, never guessed.

Heart: breathing harmonics (k * f_breath, k >= 2) land in the heart band and can be stronger than
the heartbeat (0.1-0.5 mm against 1-12 mm of breathing), so heart-band power near those harmonics
is discounted before the peak is picked.

References: Welch/periodogram estimation and SOS filtering as in ``scipy.signal``; Gaussian peak
interpolation (Gasior & Gonzalez, CERN-AB-2004-023); radar vital-sign bands as in PROTOCOL.md.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import fft, ndimage, signal

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

# --- Rates and buffers -------------------------------------------------------------------------
DEFAULT_FS_HZ = 20.0  # PROTOCOL.md radar/vitals: typically 20 Hz.
# 30 s holds three breaths at the slowest rate we report (6/min) and gives a 1/30 Hz (2/min)
# spectral resolution, refined well below that by zero-padding and peak interpolation.
DEFAULT_BUFFER_S = 30.0
# Zero-padded FFT length at 20 Hz: 20/2048 Hz = 0.59/min grid before interpolation (Gaussian
# interpolation on a Hann window is then accurate to a few hundredths of a bin).
NFFT_AT_20HZ = 2048
# A gap larger than this between the expected and the actual start of the next window means the
# stream broke (dropped messages, tracker lost the person): stitching would fake a spectrum.
GAP_TOLERANCE_S = 1.0

# --- Bands ---------------------------------------------------------------------------------------
# Search bands (what a rate may be). Breathing 0.1-0.6 Hz = 6-36/min (PROTOCOL.md); 6/min is the
# slowest we can see three cycles of in 30 s, and 36/min is above NEWS2's top band (>= 25/min).
BREATH_SEARCH_HZ = (0.1, 0.6)
# Heart 0.7-3.0 Hz = 42-180/min: PROTOCOL.md says ~0.8-3 Hz; we go down to 0.7 Hz so that
# bradycardia into NEWS2's 41-50/min band is still seen. It overlaps breathing harmonics, which
# are rejected explicitly (below).
HEART_SEARCH_HZ = (0.7, 3.0)
# Filter pass bands are a little wider than the search bands so that the filter's roll-off does
# not tilt the spectrum at the band edges (a tilted peak biases the interpolated frequency).
# Breathing: 0.05 Hz high-pass removes posture drift (periods > 20 s) yet keeps 6/min at ~-1 dB.
BREATH_FILTER_HZ = (0.05, 0.8)
# Heart: 0.6 Hz high-pass keeps 42/min near unity gain and attenuates the breathing fundamental
# (<= 0.5 Hz, up to 12 mm) by >20 dB before its spectral leakage can reach the heart band.
HEART_FILTER_HZ = (0.6, 3.5)
FILTER_ORDER = 4  # Butterworth, per edge; 4 gives 24 dB/octave, enough with the margins above.
# White-noise floor reference: above the heart's first harmonics and below Nyquist at 20 Hz.
NOISE_BAND_HZ = (6.0, 9.5)

# --- Gates ---------------------------------------------------------------------------------------
# Flat: a detrended standard deviation below 5 um is below any radar's displacement resolution
# (60 GHz: lambda/4pi = 0.4 mm per radian of phase; 0.01 rad phase noise is already 4 um).
FLAT_STD_MM = 0.005
# Saturated/clipped: this share of samples sitting exactly at the buffer's min or max. A sine
# puts well under 5% of its samples within a hair of its extremes; a clipped signal puts more.
SATURATION_FRACTION = 0.10
# Stuck: the module repeats its last value (FIELD-NOTES: held repeats) for this share of samples.
HELD_FRACTION = 0.5
# Body movement: a per-sample step above 3 mm at 20 Hz (60 mm/s) is three times the fastest chest
# velocity of breathing we accept (12 mm peak-to-peak at 30/min: pi * 0.5 Hz * 12 mm = 19 mm/s).
MOTION_STEP_MM_PER_S = 60.0
# ... or a drift-removed excursion above 40 mm: over three times the deepest tidal excursion
# (12 mm) and above a sigh (about 2-3 tidal volumes).
MOTION_RANGE_MM = 40.0

# --- Acceptance ----------------------------------------------------------------------------------
# Peak power density over the white-noise floor density. Noise alone rarely exceeds 5 (7 dB) over
# the ~15 independent bins of the breathing band (max of 15 unit exponentials: ~3.3 on average).
MIN_PEAK_TO_FLOOR = 20.0
# Share of band power within +-PEAK_HALF_WIDTH_HZ of the peak (tuned on bench/vitals.py seed 1).
BREATH_MIN_QUALITY = 0.35
HEART_MIN_QUALITY = 0.25
BREATH_PEAK_HALF_WIDTH_HZ = 0.05
HEART_PEAK_HALF_WIDTH_HZ = 0.08
# Breathing harmonics k * f_b, k = 2..8, are discounted in the heart band within
# +-(HARMONIC_TOL_HZ + k * f_b * HARMONIC_REL_SPREAD): a 30 s window locates f_b to about
# +-0.01 Hz and breathing rate wanders by several percent over it, which widens harmonic k k-fold.
HARMONIC_TOL_HZ = 0.04
# Heart peaks are ranked by prominence over the geometric mean of the spectrum within +-0.25 Hz.
HEART_BACKGROUND_HZ = 0.5
HARMONIC_REL_SPREAD = 0.06
# Power kept near harmonic k (k = 2, 3, ...). A breath cycle with smooth halves has harmonics
# falling ~k^-3 in amplitude (k^-6 in power): the 2nd harmonic of a 12 mm breath carries ~100x the
# power of a 0.2 mm heartbeat, the 6th is below it. Tuned on bench/vitals.py seed 1.
HARMONIC_DISCOUNT = (1e-3, 1e-2, 0.05, 0.2, 0.5, 0.5, 0.5)
# A pick that still lands near harmonic 2..5 cannot be told from it (the heartbeat may sit there,
# or the harmonic won): no estimate, reason "harmonic". Above order 5 harmonics are weaker than a
# heartbeat for the breath shapes we model, and the zones cover the whole band for slow breathing.
HARMONIC_AMBIGUOUS_MAX_ORDER = 1
# When the pick may be the heartbeat's own 2nd harmonic, its fundamental is looked for this close
# to half the pick's frequency.
HALF_SEARCH_HZ = 0.05

# Reasons (strings, so the wiring can store them as-is).
OK = "ok"
WARMING_UP = "warming_up"
MISSING = "missing"
FLAT = "flat"
SATURATED = "saturated"
MOTION = "motion"
NO_SIGNAL = "no_signal"
LOW_QUALITY = "low_quality"
HARMONIC = "harmonic"  # heart peak on a breathing harmonic: ambiguous
NO_BREATH_FOR_HEART = "no_breathing"  # heart withheld when breathing failed the gates


@dataclass(frozen=True, slots=True)
class VitalsEstimate:
    """One estimate per requested slot; NaN rates where ``*_valid`` is False (see ``*_reason``)."""

    slots: IntArray
    breathing_bpm: FloatArray
    heart_bpm: FloatArray
    breathing_quality: FloatArray  # 0..1, share of breathing-band power at the peak
    heart_quality: FloatArray  # 0..1
    breathing_amplitude_mm: FloatArray  # peak-to-peak of the band-passed breathing (2*sqrt(2)*RMS)
    valid: BoolArray  # breathing valid
    heart_valid: BoolArray
    reason: npt.NDArray[np.str_]  # breathing reason, "ok" when valid
    heart_reason: npt.NDArray[np.str_]

    @property
    def quality(self) -> FloatArray:
        """Overall quality: the breathing quality (heart is reported only with valid breathing)."""
        return self.breathing_quality


def resample_to(x: FloatArray, from_hz: float, to_hz: float) -> FloatArray:
    """Polyphase resampling along the last axis (``scipy.signal.resample_poly``)."""
    if abs(from_hz - to_hz) < 1e-9:
        return np.asarray(x, dtype=np.float64)
    ratio = Fraction(to_hz / from_hz).limit_denominator(100)
    y = signal.resample_poly(np.asarray(x, np.float64), ratio.numerator, ratio.denominator, axis=-1)
    return np.asarray(y, dtype=np.float64)


def band_sos(band_hz: tuple[float, float], fs_hz: float, order: int = FILTER_ORDER) -> FloatArray:
    """Butterworth band-pass as second-order sections."""
    return np.asarray(
        signal.butter(order, band_hz, btype="bandpass", fs=fs_hz, output="sos"), np.float64
    )


def _interp_peak(power: FloatArray, idx: IntArray) -> FloatArray:
    """Gaussian (log-parabolic) interpolation of the peak at ``idx`` per row, in bins."""
    rows = np.arange(power.shape[0])
    i = np.clip(idx, 1, power.shape[1] - 2)
    tiny = 1e-30
    a = np.log(power[rows, i - 1] + tiny)
    b = np.log(power[rows, i] + tiny)
    c = np.log(power[rows, i + 1] + tiny)
    den = a - 2.0 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(den < 0, 0.5 * (a - c) / den, 0.0)
    return i + np.clip(delta, -0.5, 0.5)


def _peak_quality(
    power: FloatArray, freqs: FloatArray, peak_hz: FloatArray, band: BoolArray, half_hz: float
) -> FloatArray:
    """Share of the band's power within +-half_hz of the peak, per row."""
    fb = freqs[band]
    pb = power[:, band]
    near = np.abs(fb[None, :] - peak_hz[:, None]) <= half_hz
    total = pb.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(total > 0, (pb * near).sum(axis=1) / total, 0.0)
    return np.asarray(q, np.float64)


@dataclass(frozen=True, slots=True)
class _Plan:
    """Per (fs, n) constants: detrend basis, window, FFT grid and filter power responses."""

    basis: FloatArray  # (n, 2) orthonormal [1, t]
    window: FloatArray
    nfft: int
    freqs: FloatArray
    breath_gain: FloatArray  # |H|^2 of the zero-phase (filtfilt) band-pass = |H_sos|^4
    heart_gain: FloatArray
    breath_sos: FloatArray


@lru_cache(maxsize=16)
def _plan(fs_hz: float, n: int) -> _Plan:
    nfft = int(max(NFFT_AT_20HZ * fs_hz / DEFAULT_FS_HZ, 2 * n))
    nfft = 1 << (nfft - 1).bit_length()
    freqs = np.fft.rfftfreq(nfft, 1.0 / fs_hz)
    sos_b = band_sos(BREATH_FILTER_HZ, fs_hz)
    sos_h = band_sos(HEART_FILTER_HZ, fs_hz)
    _, hb = signal.sosfreqz(sos_b, worN=freqs, fs=fs_hz)
    _, hh = signal.sosfreqz(sos_h, worN=freqs, fs=fs_hz)
    return _Plan(
        basis=_plan_basis(n),
        window=signal.windows.hann(n, sym=False),
        nfft=nfft,
        freqs=np.asarray(freqs, np.float64),
        breath_gain=np.abs(hb) ** 4,
        heart_gain=np.abs(hh) ** 4,
        breath_sos=sos_b,
    )


def detrend_linear(x: FloatArray) -> FloatArray:
    """Remove each row's least-squares line (same result as ``scipy.signal.detrend``, faster)."""
    basis = _plan_basis(x.shape[1])
    return np.asarray(x - (x @ basis) @ basis.T, np.float64)


@lru_cache(maxsize=16)
def _plan_basis(n: int) -> FloatArray:
    t = np.arange(n, dtype=np.float64)
    basis, _ = np.linalg.qr(np.stack([np.ones(n), t - t.mean()], axis=1))
    return np.asarray(basis, np.float64)


def estimate_rates(x_mm: FloatArray, fs_hz: float) -> VitalsEstimate:
    """Estimate breathing and heart rate for each row of ``x_mm`` (targets x samples), pure.

    Rows must be contiguous chest displacement in mm, oldest first, all of the same length
    (at least a few breaths: 30 s is the default buffer).

    The band-pass filters are applied as zero-phase SOS filters: in the time domain for the
    breathing amplitude and the movement gate, and as their exact power response (|H|^4 for
    forward-backward filtering) on the one shared FFT for the rate search, which costs one FFT
    per target instead of three and gives the same spectrum away from the window's edges.
    """
    x = np.atleast_2d(np.asarray(x_mm, dtype=np.float64))
    k, n = x.shape
    plan = _plan(float(fs_hz), n)
    reason = np.full(k, OK, dtype="<U12")

    finite = np.isfinite(x)
    has_nan = ~finite.all(axis=1)
    if has_nan.any():
        x = np.where(finite, x, 0.0)
        reason[has_nan] = MISSING

    xd = x - (x @ plan.basis) @ plan.basis.T
    flat = xd.std(axis=1) < FLAT_STD_MM
    reason[(reason == OK) & flat] = FLAT

    # Clipped at a rail, or the module re-sending its last value.
    xmax = x.max(axis=1, keepdims=True)
    xmin = x.min(axis=1, keepdims=True)
    at_rail = ((x == xmax) | (x == xmin)).mean(axis=1)
    dx = np.diff(x, axis=1)
    held = (dx == 0).mean(axis=1)
    saturated = (at_rail >= SATURATION_FRACTION) | (held >= HELD_FRACTION)
    reason[(reason == OK) & saturated] = SATURATED

    # Body movement: fast steps or a large excursion once posture drift (< 0.05 Hz) is removed.
    breath = signal.sosfiltfilt(plan.breath_sos, xd, axis=1)
    step = np.abs(dx).max(axis=1) * fs_hz
    excursion = breath.max(axis=1) - breath.min(axis=1)
    motion = (step > MOTION_STEP_MM_PER_S) | (excursion > MOTION_RANGE_MM)
    reason[(reason == OK) & motion] = MOTION

    freqs = plan.freqs
    df = freqs[1]
    spec = fft.rfft(xd * plan.window, plan.nfft, axis=1)
    p_raw = spec.real**2 + spec.imag**2
    # White-noise floor above every vital band.
    noise_band = (freqs >= NOISE_BAND_HZ[0]) & (freqs <= min(NOISE_BAND_HZ[1], 0.95 * fs_hz / 2))
    floor = p_raw[:, noise_band].mean(axis=1) if noise_band.any() else np.zeros(k)
    floor = np.maximum(floor, 1e-30)

    bb = (freqs >= BREATH_SEARCH_HZ[0]) & (freqs <= BREATH_SEARCH_HZ[1])
    b_off = int(np.argmax(bb))
    p_breath = p_raw[:, bb] * plan.breath_gain[bb]
    b_rel = np.argmax(p_breath, axis=1)
    b_idx = b_off + b_rel
    p_full_b = p_raw * plan.breath_gain
    b_hz = _interp_peak(p_full_b, b_idx) * df
    b_q = _peak_quality(p_full_b, freqs, b_hz, bb, BREATH_PEAK_HALF_WIDTH_HZ)
    b_snr = p_breath[np.arange(k), b_rel] / floor
    reason[(reason == OK) & (b_snr < MIN_PEAK_TO_FLOOR)] = NO_SIGNAL
    reason[(reason == OK) & (b_q < BREATH_MIN_QUALITY)] = LOW_QUALITY
    b_valid = reason == OK

    # Heart: filtered heart band. Breathing leaks a smooth, falling background into the band's low
    # end (irregular cycles, pauses, sighs), so peaks are ranked by prominence over the local
    # log-spectral background. Only local maxima compete (a skirt bin is never a rate), and those
    # near a breathing harmonic are discounted.
    hb = (freqs >= HEART_SEARCH_HZ[0]) & (freqs <= min(HEART_SEARCH_HZ[1], 0.45 * fs_hz))
    h_off = int(np.argmax(hb))
    nh = int(hb.sum())
    p_full_h = p_raw * plan.heart_gain
    p_heart = p_full_h[:, h_off - 1 : h_off + nh + 1]
    centre = p_heart[:, 1:-1]
    local_max = (centre > p_heart[:, :-2]) & (centre >= p_heart[:, 2:])
    bg_bins = max(3, round(HEART_BACKGROUND_HZ / df) | 1)
    log_p = np.log(centre + 1e-30)
    prominence = np.exp(log_p - ndimage.uniform_filter1d(log_p, bg_bins, axis=1, mode="nearest"))
    fh = freqs[hb]
    discount = np.ones((k, nh))
    ambiguous = np.zeros((k, nh), dtype=bool)
    for order, keep in enumerate(HARMONIC_DISCOUNT, start=2):
        tol_k = HARMONIC_TOL_HZ + order * b_hz * HARMONIC_REL_SPREAD
        near = (np.abs(fh[None, :] - order * b_hz[:, None]) <= tol_k[:, None]) & b_valid[:, None]
        discount = np.where(near, np.minimum(discount, keep), discount)
        if order <= HARMONIC_AMBIGUOUS_MAX_ORDER:
            ambiguous |= near
    weighted = prominence * discount
    h_rel = np.argmax(np.where(local_max, weighted, 0.0), axis=1)
    # A heartbeat's own 2nd harmonic can win when its fundamental sits on a breathing harmonic:
    # prefer the half-frequency local maximum when it is in band and stronger in raw power.
    rows = np.arange(k)
    half = np.round((h_off + h_rel) / 2.0).astype(np.intp) - h_off
    half_ok = half >= 1
    half_c = np.clip(half, 0, nh - 1)
    # the strongest bin within +-HALF_SEARCH_HZ of f/2 (heart-rate variability smears the peak)
    reach = max(1, round(HALF_SEARCH_HZ / df))
    cand = np.clip(half_c[:, None] + np.arange(-reach, reach + 1)[None, :], 0, nh - 1)
    cand_best = cand[rows, np.argmax(centre[rows[:, None], cand], axis=1)]
    use_half = (
        half_ok & local_max[rows, cand_best] & (centre[rows, cand_best] > centre[rows, h_rel])
    )
    h_rel = np.where(use_half, cand_best, h_rel)
    h_idx = h_off + h_rel
    h_hz = _interp_peak(p_full_h, h_idx) * df
    # Quality: share of prominence (discounted) near the pick.
    p_w = np.zeros_like(p_full_h)
    p_w[:, hb] = weighted
    h_q = _peak_quality(p_w, freqs, h_hz, hb, HEART_PEAK_HALF_WIDTH_HZ)
    h_snr = centre[np.arange(k), h_rel] / floor

    heart_reason = np.where(b_valid, OK, NO_BREATH_FOR_HEART).astype("<U12")
    heart_reason[(heart_reason == OK) & (h_snr < MIN_PEAK_TO_FLOOR)] = NO_SIGNAL
    heart_reason[(heart_reason == OK) & ambiguous[rows, h_rel]] = HARMONIC
    heart_reason[(heart_reason == OK) & (h_q < HEART_MIN_QUALITY)] = LOW_QUALITY
    h_valid = heart_reason == OK

    amp = 2.0 * np.sqrt(2.0) * breath.std(axis=1)
    return VitalsEstimate(
        slots=np.arange(k, dtype=np.intp),
        breathing_bpm=np.where(b_valid, b_hz * 60.0, np.nan),
        heart_bpm=np.where(h_valid, h_hz * 60.0, np.nan),
        breathing_quality=np.where(np.isfinite(b_q), b_q, 0.0),
        heart_quality=np.where(np.isfinite(h_q), h_q, 0.0),
        breathing_amplitude_mm=amp,
        valid=b_valid,
        heart_valid=h_valid,
        reason=reason,
        heart_reason=heart_reason,
    )


class VitalsEstimator:
    """Ring buffers of chest displacement for ``capacity`` slots, estimated in batches.

    State lives in plain arrays (``buffer``, ``write_pos``, ``filled``, ``next_ts``) so it can be
    inspected, snapshotted or reset per slot. Not thread-safe; one owner.
    """

    def __init__(
        self, capacity: int, fs_hz: float = DEFAULT_FS_HZ, buffer_s: float = DEFAULT_BUFFER_S
    ) -> None:
        self.capacity = int(capacity)
        self.fs_hz = float(fs_hz)
        self.n_samples = round(buffer_s * fs_hz)
        self.buffer = np.zeros((self.capacity, self.n_samples), dtype=np.float64)
        self.write_pos = np.zeros(self.capacity, dtype=np.intp)
        self.filled = np.zeros(self.capacity, dtype=np.intp)
        self.next_ts = np.full(self.capacity, np.nan)  # expected start of the next window

    def reset(self, slots: npt.ArrayLike) -> None:
        """Forget the slots' history (the person left, the tracker changed id, a gap)."""
        s = np.atleast_1d(np.asarray(slots, dtype=np.intp))
        self.buffer[s] = 0.0
        self.write_pos[s] = 0
        self.filled[s] = 0
        self.next_ts[s] = np.nan

    def push(
        self,
        slots: npt.ArrayLike,
        windows: FloatArray | Sequence[npt.ArrayLike],
        fs_hz: float | npt.ArrayLike | None = None,
        ts_s: npt.ArrayLike | None = None,
    ) -> None:
        """Append one window per slot.

        ``windows`` is a 2-D array (one row per slot) or a sequence of 1-D arrays of any length.
        ``fs_hz`` (scalar or per window) defaults to the estimator's rate; other rates are
        resampled. With ``ts_s`` (window start, device clock), a slot whose window does not follow
        on from the previous one within ``GAP_TOLERANCE_S`` is reset first.
        """
        s = np.atleast_1d(np.asarray(slots, dtype=np.intp))
        rows: list[FloatArray]
        if isinstance(windows, np.ndarray) and windows.ndim == 2:
            rows = list(windows)
        else:
            rows = [np.asarray(w, dtype=np.float64).ravel() for w in windows]
        if len(rows) != len(s):
            raise ValueError("one window per slot")
        fs = np.broadcast_to(
            np.asarray(self.fs_hz if fs_hz is None else fs_hz, dtype=np.float64), s.shape
        )
        rows = [resample_to(r, float(f), self.fs_hz) for r, f in zip(rows, fs, strict=True)]

        if ts_s is not None:
            ts = np.broadcast_to(np.asarray(ts_s, dtype=np.float64), s.shape)
            expected = self.next_ts[s]
            gap = np.isfinite(expected) & (np.abs(ts - expected) > GAP_TOLERANCE_S)
            if gap.any():
                self.reset(s[gap])
            lengths = np.array([len(r) for r in rows], dtype=np.float64)
            self.next_ts[s] = ts + lengths / self.fs_hz

        # Vectorised write, grouped by window length; a slot repeated in one call is written in order.
        if len(np.unique(s)) != len(s):
            for slot, row in zip(s, rows, strict=True):
                self._write(np.array([slot]), row[None, :])
            return
        lengths_i = np.array([len(r) for r in rows])
        for m in np.unique(lengths_i):
            sel = np.flatnonzero(lengths_i == m)
            self._write(s[sel], np.stack([rows[i] for i in sel]) if m else np.zeros((len(sel), 0)))

    def _write(self, s: IntArray, block: FloatArray) -> None:
        m = block.shape[1]
        if m == 0:
            return
        n = self.n_samples
        if m > n:
            block = block[:, -n:]
            m = n
        idx = (self.write_pos[s][:, None] + np.arange(m)[None, :]) % n
        self.buffer[s[:, None], idx] = block
        self.write_pos[s] = (self.write_pos[s] + m) % n
        self.filled[s] = np.minimum(self.filled[s] + m, n)

    def window(self, slots: npt.ArrayLike) -> FloatArray:
        """The slots' buffers in time order (oldest first), shape (len(slots), n_samples)."""
        s = np.atleast_1d(np.asarray(slots, dtype=np.intp))
        idx = (self.write_pos[s][:, None] + np.arange(self.n_samples)[None, :]) % self.n_samples
        return self.buffer[s[:, None], idx]

    def estimate(self, slots: npt.ArrayLike) -> VitalsEstimate:
        """Estimate rates for ``slots``; slots whose buffer is not yet full get ``warming_up``."""
        s = np.atleast_1d(np.asarray(slots, dtype=np.intp))
        est = estimate_rates(self.window(s), self.fs_hz)
        warm = self.filled[s] < self.n_samples
        if not warm.any():
            return VitalsEstimate(
                s,
                est.breathing_bpm,
                est.heart_bpm,
                est.breathing_quality,
                est.heart_quality,
                est.breathing_amplitude_mm,
                est.valid,
                est.heart_valid,
                est.reason,
                est.heart_reason,
            )
        reason = est.reason.copy()
        reason[warm] = WARMING_UP
        heart_reason = est.heart_reason.copy()
        heart_reason[warm] = WARMING_UP
        return VitalsEstimate(
            s,
            np.where(warm, np.nan, est.breathing_bpm),
            np.where(warm, np.nan, est.heart_bpm),
            np.where(warm, 0.0, est.breathing_quality),
            np.where(warm, 0.0, est.heart_quality),
            np.where(warm, np.nan, est.breathing_amplitude_mm),
            est.valid & ~warm,
            est.heart_valid & ~warm,
            reason,
            heart_reason,
        )


# --- Slots and storage ---------------------------------------------------------------------------
STORE_INTERVAL_S = 60.0  # one stored value per minute per resident: the trend, not the raw stream


class StorageRateLimiter:
    """Lets through at most one value per ``interval_s`` per slot (device time)."""

    def __init__(self, capacity: int, interval_s: float = STORE_INTERVAL_S) -> None:
        self.interval_s = float(interval_s)
        self.last_ts = np.full(int(capacity), -np.inf)

    def allow(self, slots: npt.ArrayLike, ts_s: npt.ArrayLike) -> BoolArray:
        """Which of these (slot, ts) may be stored now; marks the allowed ones as stored.

        A timestamp earlier than the last stored one (device clock reset) is allowed and restarts
        the interval, so a clock jump cannot silence a resident for hours.
        """
        s = np.atleast_1d(np.asarray(slots, dtype=np.intp))
        ts = np.broadcast_to(np.asarray(ts_s, dtype=np.float64), s.shape)
        allowed = np.zeros(len(s), dtype=bool)
        for i in range(len(s)):  # sequential: the same slot may appear twice in one batch
            last = self.last_ts[s[i]]
            if ts[i] - last >= self.interval_s or ts[i] < last:
                allowed[i] = True
                self.last_ts[s[i]] = ts[i]
        return allowed

    def reset(self, slots: npt.ArrayLike) -> None:
        self.last_ts[np.atleast_1d(np.asarray(slots, dtype=np.intp))] = -np.inf


class SlotMap:
    """Maps keys such as ``(device_id, tid)`` or a resident id to slot rows, reusing freed rows."""

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self._slots: dict[Hashable, int] = {}
        self._free = list(range(self.capacity - 1, -1, -1))

    def __len__(self) -> int:
        return len(self._slots)

    def get(self, key: Hashable) -> int | None:
        return self._slots.get(key)

    def slot_for(self, key: Hashable) -> tuple[int, bool]:
        """The key's slot, and whether it was newly assigned (the caller should reset it)."""
        slot = self._slots.get(key)
        if slot is not None:
            return slot, False
        if not self._free:
            raise OverflowError("no free slot; release idle keys or raise capacity")
        slot = self._free.pop()
        self._slots[key] = slot
        return slot, True

    def release(self, key: Hashable) -> int | None:
        slot = self._slots.pop(key, None)
        if slot is not None:
            self._free.append(slot)
        return slot
