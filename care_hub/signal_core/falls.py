"""Vectorised fall detection over many radars at once, from people-tracker frames.

How it works (the signal core's README for falls):

1. ``make_batch`` flattens many ``(slot, RadarFramesEvent)`` pairs into one ``FallBatch`` of rows
   (one per frame and target) with device-clock time ``ts + frame_index / fps``. A *slot* is a
   small integer the caller assigns to each radar; all state lives in numpy arrays indexed by slot.
2. Rows are associated to up to ``TRACKS_PER_SLOT`` tracks per slot by position (nearest within a
   gate that widens with time since last seen, tid only as a tie-breaker), because real trackers
   change tids after occlusion, emit phantoms and drop still people (FIELD-NOTES).
3. Each track's heights are averaged into ``BIN_S`` bins; a short median over bins gives a height
   robust to held repeats, 0.15-0.25 m jitter and single phantom samples.
4. A fall is *suspected* when the smoothed height reaches floor level outside any bed zone after
   dropping by ``MIN_DROP_M`` within ``DESCENT_WINDOW_S`` (a slow sit to the floor drops less per
   window). It is *confirmed* ``confirm_s`` after impact unless the person got up (long median back
   above ``GETUP_HEIGHT_M``) or was seen mostly off the floor; a track that vanishes after a fall is
   presumed still down (TI's static clutter removal drops people who lie still).
5. ``cancel(slot, t_s)`` records a resident's cancel during the confirmation window.

Velocities are ignored: low-cost modules give none and differentiated held positions spike to
5-8 m/s. Only device time is used, so replays run faster than real time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from devices.events import RadarFramesEvent

FloatArr = npt.NDArray[np.float64]
IntArr = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]

# --- tracking -------------------------------------------------------------------------------
# Tracks kept per radar: the resident, a visitor and room for a phantom or two.
TRACKS_PER_SLOT = 4
# Association gate: a fresh sample within 0.6 m of a track continues it (xy jitter ~0.1-0.2 m,
# people 0.3-0.5 m apart are rare; a visitor standing next to a fallen person is ~0.8 m away).
GATE_M = 0.6
# The gate widens by the distance a brisk walker covers while unseen (older people walk <1.5 m/s).
GATE_SPEED_MPS = 1.5
GATE_MAX_M = 2.0
# Matching tid makes a candidate this much "closer": tids are hints, not truth.
TID_BONUS_M = 0.2
# Forget a track unseen this long (its pending fall, if any, is kept until resolved).
TRACK_TTL_S = 20.0
# With every track in use, a new target may replace one unseen for at least this long.
STEAL_AFTER_S = 1.0
# A value repeated this long is admitted once more: a still person on a quantising tracker repeats
# exact values too, and that is information (a real hold just stops adding weight).
HOLD_REFRESH_S = 1.0
# Heights outside this range are phantoms (sensor mounted ~1.8 m; FIELD-NOTES: phantoms above it).
Z_MIN_M = -0.3
Z_MAX_M = 2.2

# --- height smoothing -----------------------------------------------------------------------
# Bin length: 0.2 s holds 2-4 frames at 10-20 fps, short against a 0.5-1 s fall (FIELD-NOTES).
BIN_S = 0.2
# Bins remembered per track (8 s): the descent reference and the confirmation median read it.
RING_BINS = 40
# Short median over 5 bins (1 s): rejects single phantoms and the 0.5 s flicker of a lying person.
SHORT_BINS = 5
# Median of 5 bins lags a step by about half its span: used to back-date the impact time.
MEDIAN_LAG_S = SHORT_BINS * BIN_S / 2

# --- fall rule ------------------------------------------------------------------------------
# Floor level: a fallen person reads 0.35-0.45 m near the sensor, not 0 (FIELD-NOTES); sitting on a
# chair or kneeling upright keeps the centroid above ~0.6 m.
FLOOR_HEIGHT_M = 0.5
# Drop needed within the descent window: falls go 1.0-1.2 m -> <=0.4 m within 0.5-1 s (FIELD-NOTES),
# from a chair ~0.75 -> 0.4 m; a slow sit to the floor over 4-6 s drops <0.3 m per 2 s.
MIN_DROP_M = 0.3
# The "before" height is the median of the latest 5 bins that are 1.5-5 s old: a median, not a max,
# because a max is biased upwards by 0.15-0.25 m jitter and turns slow descents (or noise) into
# "fast" ones. Up to 5 s back because held repeats (up to several seconds) leave gaps.
DESCENT_WINDOW_S = 5.0
DESCENT_REF_AGE_S = 1.5
REF_BINS = 5
# At least this many fresh reference bins (heavy holds leave few; one bin is one noisy sample).
MIN_REF_BINS = 2
# Rolling out of bed drops only ~0.2-0.3 m (mattress ~0.5 m), so a smaller drop suffices when the
# track was inside a bed zone within the descent window.
MIN_DROP_FROM_BED_M = 0.12
# Bed rectangles are widened by this margin so a sleeper's xy jitter at the edge stays "in bed".
BED_MARGIN_M = 0.15
# Got up: 2 s median back at sitting/standing height (a lying person's flicker to 1.0 m lasts
# ~0.5 s, FIELD-NOTES, so it cannot move a 2 s median).
GETUP_HEIGHT_M = 0.68
GETUP_WINDOW_S = 2.0
GETUP_MIN_BINS = 3
# At confirmation the median of all fresh samples since the suspicion must be "down": below chair
# and kneeling height (>=0.6 m); a fallen person who sits up on the floor (~0.45 m) is still down.
DOWN_HEIGHT_M = 0.55
# Before a fall (outside a bed) the person was sitting on a chair or standing: the median of the
# remembered bins before the descent is at least this (chair ~0.7 m, standing 0.9-1.2 m).
PRE_MIN_HEIGHT_M = 0.6
# Confirmation: the person stayed down this long after impact. Vayyar waits ~40-52 s for a cancel
# (FIELD-NOTES); we default to 5 s so staff hear early and a cancel is still possible.
DEFAULT_CONFIRM_S = 5.0
MAX_BED_ZONES = 4

FallKind = Literal["suspected", "confirmed", "cancelled"]
CancelReason = Literal["got_up", "button", "not_down"]


@dataclass(frozen=True, slots=True)
class FallParams:
    confirm_s: float = DEFAULT_CONFIRM_S
    floor_height_m: float = FLOOR_HEIGHT_M
    min_drop_m: float = MIN_DROP_M
    min_drop_from_bed_m: float = MIN_DROP_FROM_BED_M
    descent_window_s: float = DESCENT_WINDOW_S
    descent_ref_age_s: float = DESCENT_REF_AGE_S
    getup_height_m: float = GETUP_HEIGHT_M
    down_height_m: float = DOWN_HEIGHT_M
    pre_min_height_m: float = PRE_MIN_HEIGHT_M


@dataclass(frozen=True, slots=True)
class FallDetection:
    """One state change of a fall: suspected, then confirmed or cancelled (with a reason)."""

    slot: int
    kind: FallKind
    at_s: float  # device time of this state change
    impact_s: float  # estimated device time of impact
    pre_height_m: float  # smoothed height before the descent
    floor_height_m: float  # smoothed height at the floor
    x_m: float
    y_m: float
    reason: CancelReason | None = None


@dataclass(frozen=True, slots=True)
class FallBatch:
    """Rows of many radars' frames, plus how far each radar's clock has advanced."""

    slot: IntArr = field(repr=False)
    t_s: FloatArr = field(repr=False)
    x_m: FloatArr = field(repr=False)
    y_m: FloatArr = field(repr=False)
    z_m: FloatArr = field(repr=False)
    tid: IntArr = field(repr=False)
    # Per window: which slot, and the device time up to which its frames are complete.
    covered_slot: IntArr = field(repr=False)
    covered_until_s: FloatArr = field(repr=False)

    @property
    def n_rows(self) -> int:
        return int(self.slot.shape[0])


def make_batch(pairs: Iterable[tuple[int, RadarFramesEvent]]) -> FallBatch:
    """Concatenate decoded windows of many radars into one batch (row time = ts + i / fps)."""
    slots: list[IntArr] = []
    ts: list[FloatArr] = []
    xs: list[FloatArr] = []
    ys: list[FloatArr] = []
    zs: list[FloatArr] = []
    tids: list[IntArr] = []
    cov_slot: list[int] = []
    cov_t: list[float] = []
    for slot, ev in pairs:
        n = ev.frame_index.shape[0]
        slots.append(np.full(n, slot, dtype=np.int64))
        ts.append(ev.env.ts + ev.frame_index.astype(np.float64) / ev.fps)
        xs.append(ev.x_m)
        ys.append(ev.y_m)
        zs.append(ev.z_m)
        tids.append(ev.tid)
        cov_slot.append(slot)
        cov_t.append(ev.env.ts + ev.n_frames / ev.fps)
    if not cov_slot:
        e = np.zeros(0)
        return FallBatch(e.astype(np.int64), e, e, e, e, e.astype(np.int64), e.astype(np.int64), e)
    return FallBatch(
        slot=np.concatenate(slots),
        t_s=np.concatenate(ts),
        x_m=np.concatenate(xs).astype(np.float64, copy=False),
        y_m=np.concatenate(ys).astype(np.float64, copy=False),
        z_m=np.concatenate(zs).astype(np.float64, copy=False),
        tid=np.concatenate(tids).astype(np.int64, copy=False),
        covered_slot=np.asarray(cov_slot, dtype=np.int64),
        covered_until_s=np.asarray(cov_t, dtype=np.float64),
    )


def _row_median(values: FloatArr) -> FloatArr:
    """Median along the last axis ignoring NaN, for small widths (faster than np.nanmedian)."""
    srt = np.sort(values, axis=-1)  # NaN sort last
    n = np.sum(~np.isnan(values), axis=-1)
    lo = np.clip((n - 1) // 2, 0, None)
    hi = np.clip(n // 2, 0, None)
    a = np.take_along_axis(srt, lo[..., None], axis=-1)[..., 0]
    b = np.take_along_axis(srt, hi[..., None], axis=-1)[..., 0]
    out = (a + b) / 2
    out[n == 0] = np.nan
    return out


def in_rects(x: FloatArr, y: FloatArr, rects: FloatArr, margin_m: float = 0.0) -> BoolArr:
    """True where point i lies in any of its rectangles ``rects[i]`` (k, 4: xmin, ymin, xmax, ymax).

    Unused rectangles are NaN and never match.
    """
    with np.errstate(invalid="ignore"):
        inside = (
            (x[:, None] >= rects[..., 0] - margin_m)
            & (x[:, None] <= rects[..., 2] + margin_m)
            & (y[:, None] >= rects[..., 1] - margin_m)
            & (y[:, None] <= rects[..., 3] + margin_m)
        )
    return np.asarray(inside.any(axis=-1), dtype=np.bool_)


class FallDetector:
    """Fall state for ``capacity`` radar slots, stepped with batches of many radars' frames."""

    def __init__(self, capacity: int, params: FallParams | None = None) -> None:
        self.capacity = capacity
        self.params = params or FallParams()
        s, k, r = capacity, TRACKS_PER_SLOT, RING_BINS
        self._bed = np.full((s, MAX_BED_ZONES, 4), np.nan)
        self._covered = np.full(s, -np.inf)
        # tracks
        self._tx = np.full((s, k), np.nan)
        self._ty = np.full((s, k), np.nan)
        self._tlast = np.full((s, k), np.nan)  # NaN = free
        self._ttid = np.full((s, k), -1, dtype=np.int64)
        self._tz = np.full((s, k), np.nan)
        self._tfresh = np.full((s, k), np.nan)
        # open (not yet complete) bin per track
        self._obin = np.full((s, k), -1, dtype=np.int64)
        self._oz = np.zeros((s, k))
        self._ox = np.zeros((s, k))
        self._oy = np.zeros((s, k))
        self._on = np.zeros((s, k))
        # rings of closed bins
        self._rz = np.full((s, k, r), np.nan)  # bin mean height
        self._rs = np.full((s, k, r), np.nan)  # short median after that bin
        self._rt = np.full((s, k, r), np.nan)  # bin centre time
        self._rbed = np.zeros((s, k, r), dtype=np.bool_)
        self._rpos = np.zeros((s, k), dtype=np.int64)
        # pending fall, one per slot
        self._pk = np.full(s, -1, dtype=np.int64)  # which track; -1 = none
        self._pimpact = np.full(s, np.nan)
        self._psince = np.full(s, np.nan)
        self._ppre = np.full(s, np.nan)
        self._pfloor = np.full(s, np.nan)
        self._px = np.full(s, np.nan)
        self._py = np.full(s, np.nan)

    # --- configuration ---------------------------------------------------------------------
    def set_bed_zones(self, slot: int, rects: Sequence[tuple[float, float, float, float]]) -> None:
        """Support rectangles ``(xmin, ymin, xmax, ymax)`` in room metres for one radar slot:
        beds, and also chairs/sofas, where being low is not being on the floor. A drop out of one
        of them onto the floor nearby (rolling out of bed, sliding off a chair) is a fall."""
        if len(rects) > MAX_BED_ZONES:
            raise ValueError(f"at most {MAX_BED_ZONES} bed zones per slot")
        self._bed[slot] = np.nan
        for i, (x0, y0, x1, y1) in enumerate(rects):
            self._bed[slot, i] = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def reset_slot(self, slot: int) -> None:
        """Forget everything about a slot (device unbound or reassigned); keeps its bed zones."""
        for arr, val in (
            (self._tx, np.nan),
            (self._ty, np.nan),
            (self._tlast, np.nan),
            (self._ttid, -1),
            (self._obin, -1),
            (self._on, 0.0),
            (self._rz, np.nan),
            (self._rs, np.nan),
            (self._rt, np.nan),
            (self._rbed, False),
            (self._rpos, 0),
        ):
            arr[slot] = val
        self._covered[slot] = -np.inf
        self._clear_pending(np.asarray([slot]))

    # --- public steps ----------------------------------------------------------------------
    def cancel(self, slot: int, t_s: float) -> FallDetection | None:
        """Resident pressed cancel: ends a pending fall as cancelled ("button"); else None."""
        if self._pk[slot] < 0:
            return None
        det = self._detection(slot, "cancelled", t_s, "button")
        self._clear_pending(np.asarray([slot]))
        return det

    def pending(self, slot: int) -> bool:
        """Whether a suspected fall on this slot awaits confirmation."""
        return bool(self._pk[slot] >= 0)

    def step(self, batch: FallBatch) -> list[FallDetection]:
        """Feed one batch; return fall state changes in device-time order."""
        out: list[FallDetection] = []
        if batch.covered_slot.size:
            np.maximum.at(self._covered, batch.covered_slot, batch.covered_until_s)
        ok = (
            np.isfinite(batch.z_m)
            & np.isfinite(batch.x_m)
            & np.isfinite(batch.y_m)
            & (batch.z_m >= Z_MIN_M)
            & (batch.z_m <= Z_MAX_M)
        )
        slot, t = batch.slot[ok], batch.t_s[ok]
        x, y, z, tid = batch.x_m[ok], batch.y_m[ok], batch.z_m[ok], batch.tid[ok]
        if slot.size:
            order = np.lexsort((t, slot))
            slot, t, x, y, z, tid = slot[order], t[order], x[order], y[order], z[order], tid[order]
            k, held = self._associate(slot, t, x, y, z, tid)
            # held repeats carry no new information: they keep the track alive but stay out of
            # the height statistics (a held noisy sample would otherwise count many times)
            keep = (k >= 0) & ~held
            self._bin_rows(slot[keep], k[keep], t[keep], x[keep], y[keep], z[keep], out)
        else:
            self._bin_rows(*(np.zeros(0, dtype=np.int64),) * 2, *(np.zeros(0),) * 4, out)
        self._deadline_pass(out)
        out.sort(key=lambda d: (d.at_s, d.slot))
        return out

    # --- internals -------------------------------------------------------------------------
    def _associate(
        self, slot: IntArr, t: FloatArr, x: FloatArr, y: FloatArr, z: FloatArr, tid: IntArr
    ) -> tuple[IntArr, BoolArr]:
        """Assign each row (sorted by slot, time) to a track index, frame by frame; also flag
        rows that exactly repeat their track's previous sample (held repeats)."""
        n = slot.shape[0]
        new_frame = np.ones(n, dtype=np.bool_)
        new_frame[1:] = (slot[1:] != slot[:-1]) | (t[1:] != t[:-1])
        new_slot = np.ones(n, dtype=np.bool_)
        new_slot[1:] = slot[1:] != slot[:-1]
        cum = np.cumsum(new_frame)
        slot_start_cum = np.maximum.accumulate(np.where(new_slot, cum, 0))
        ordinal: IntArr = (cum - slot_start_cum).astype(np.int64)
        rows_by_ord = np.argsort(ordinal, kind="stable")
        bounds = np.searchsorted(ordinal[rows_by_ord], np.arange(int(ordinal.max()) + 2))
        out = np.full(n, -1, dtype=np.int64)
        held_out = np.zeros(n, dtype=np.bool_)
        kk = TRACKS_PER_SLOT
        for o in range(bounds.shape[0] - 1):
            idx = rows_by_ord[bounds[o] : bounds[o + 1]]
            if idx.size == 0:
                continue
            s, tt, xx, yy, zz, td = slot[idx], t[idx], x[idx], y[idx], z[idx], tid[idx]
            dt = tt[:, None] - self._tlast[s]
            gate = np.minimum(GATE_M + GATE_SPEED_MPS * np.nan_to_num(dt, nan=0.0), GATE_MAX_M)
            d = np.hypot(xx[:, None] - self._tx[s], yy[:, None] - self._ty[s])
            d = np.where(self._ttid[s] == td[:, None], d - TID_BONUS_M, d)
            alive = ~np.isnan(dt) & (dt <= TRACK_TTL_S)
            alive |= self._pk[s][:, None] == np.arange(kk)[None, :]
            with np.errstate(invalid="ignore"):
                d = np.where(alive & (d <= gate), d, np.inf)
            best = np.argmin(d, axis=1)
            bestd = d[np.arange(idx.size), best]
            cand = np.isfinite(bestd)
            # one row per track per frame: the nearest wins
            ci = np.nonzero(cand)[0]
            if ci.size:
                key = s[ci] * kk + best[ci]
                o2 = np.lexsort((bestd[ci], key))
                ci = ci[o2]
                first = np.ones(ci.size, dtype=np.bool_)
                first[1:] = key[o2][1:] != key[o2][:-1]
                cand[:] = False
                cand[ci[first]] = True
            k_row = np.where(cand, best, -1)
            a = np.nonzero(cand)[0]
            self._tlast[s[a], best[a]] = tt[a]
            # unmatched rows start new tracks in free (or oldest, never pending) track slots
            u = np.nonzero(~cand)[0]
            if u.size:
                su = s[u]
                age = tt[u][:, None] - self._tlast[su]
                score = np.where(np.isnan(age), np.inf, age)
                score = np.where(self._pk[su][:, None] == np.arange(kk)[None, :], -np.inf, score)
                # free tracks first, then the longest unseen; tracks matched in this frame have
                # age 0 and a pending fall's track -inf, so neither is ever taken
                order_k = np.argsort(-score, axis=1, kind="stable")
                # rank of each unmatched row within its slot
                uo = np.argsort(su, kind="stable")
                su_sorted = su[uo]
                first_u = np.ones(uo.size, dtype=np.bool_)
                first_u[1:] = su_sorted[1:] != su_sorted[:-1]
                start = np.maximum.accumulate(np.where(first_u, np.arange(uo.size), 0))
                rank = np.empty(uo.size, dtype=np.int64)
                rank[uo] = np.arange(uo.size) - start
                okr = rank < kk
                newk = np.where(okr, order_k[np.arange(u.size), np.minimum(rank, kk - 1)], -1)
                okr &= score[np.arange(u.size), np.maximum(newk, 0)] >= STEAL_AFTER_S
                ur, nk = u[okr], newk[okr]
                self._reset_tracks(s[ur], nk)
                self._tlast[s[ur], nk] = tt[ur]
                k_row[ur] = nk
            m = k_row >= 0
            sm, km = s[m], k_row[m]
            held = np.zeros(idx.size, dtype=np.bool_)
            held[m] = (
                (self._tx[sm, km] == xx[m])
                & (self._ty[sm, km] == yy[m])
                & (self._tz[sm, km] == zz[m])
                & (tt[m] - self._tfresh[sm, km] < HOLD_REFRESH_S)
            )
            fresh = m.copy()
            fresh[m] = ~held[m]
            self._tfresh[s[fresh], k_row[fresh]] = tt[fresh]
            self._tx[sm, km] = xx[m]
            self._ty[sm, km] = yy[m]
            self._tz[sm, km] = zz[m]
            self._ttid[sm, km] = td[m]
            out[idx] = k_row
            held_out[idx] = held
        return out, held_out

    def _reset_tracks(self, s: IntArr, k: IntArr) -> None:
        self._obin[s, k] = -1
        self._on[s, k] = 0.0
        self._tz[s, k] = np.nan
        self._rz[s, k] = np.nan
        self._rs[s, k] = np.nan
        self._rt[s, k] = np.nan
        self._rbed[s, k] = False
        self._rpos[s, k] = 0

    def _bin_rows(
        self,
        slot: IntArr,
        k: IntArr,
        t: FloatArr,
        x: FloatArr,
        y: FloatArr,
        z: FloatArr,
        out: list[FallDetection],
    ) -> None:
        kk = TRACKS_PER_SLOT
        # merge rows with the bins left open by the previous batch
        os_, ok_ = np.nonzero((self._obin >= 0) & (self._on > 0))
        g = np.concatenate([slot * kk + k, os_ * kk + ok_])
        b = np.concatenate([np.floor(t / BIN_S + 1e-4).astype(np.int64), self._obin[os_, ok_]])
        wz = np.concatenate([z, self._oz[os_, ok_]])
        wx = np.concatenate([x, self._ox[os_, ok_]])
        wy = np.concatenate([y, self._oy[os_, ok_]])
        wn = np.concatenate([np.ones(z.shape[0]), self._on[os_, ok_]])
        self._obin[os_, ok_] = -1
        self._on[os_, ok_] = 0.0
        if g.size == 0:
            return
        order = np.lexsort((b, g))
        g, b, wz, wx, wy, wn = g[order], b[order], wz[order], wx[order], wy[order], wn[order]
        start = np.ones(g.size, dtype=np.bool_)
        start[1:] = (g[1:] != g[:-1]) | (b[1:] != b[:-1])
        si = np.nonzero(start)[0]
        gg, bb = g[si], b[si]
        sz = np.add.reduceat(wz, si)
        sx = np.add.reduceat(wx, si)
        sy = np.add.reduceat(wy, si)
        sn = np.add.reduceat(wn, si)
        gs, gk = gg // kk, gg % kk
        closed = (bb + 1) * BIN_S <= self._covered[gs] + 1e-6
        # keep the incomplete bin open for the next batch
        op = ~closed
        self._obin[gs[op], gk[op]] = bb[op]
        self._oz[gs[op], gk[op]] = sz[op]
        self._ox[gs[op], gk[op]] = sx[op]
        self._oy[gs[op], gk[op]] = sy[op]
        self._on[gs[op], gk[op]] = sn[op]
        c = np.nonzero(closed)[0]
        if c.size == 0:
            return
        gc = gg[c]
        first = np.ones(c.size, dtype=np.bool_)
        first[1:] = gc[1:] != gc[:-1]
        st = np.maximum.accumulate(np.where(first, np.arange(c.size), 0))
        rank = np.arange(c.size) - st
        for r in range(int(rank.max()) + 1):
            ci = c[rank == r]
            self._update_bins(
                gs[ci],
                gk[ci],
                (bb[ci] + 0.5) * BIN_S,
                sz[ci] / sn[ci],
                sx[ci] / sn[ci],
                sy[ci] / sn[ci],
                out,
            )

    def _update_bins(
        self,
        s: IntArr,
        k: IntArr,
        tb: FloatArr,
        zb: FloatArr,
        xb: FloatArr,
        yb: FloatArr,
        out: list[FallDetection],
    ) -> None:
        p = self.params
        r = RING_BINS
        pos = self._rpos[s, k]
        # descent reference: median of the latest REF_BINS bins at least 1 s old and at most
        # descent_window_s old (under heavy holds these may be sparse)
        prev_t = self._rt[s, k]
        with np.errstate(invalid="ignore"):
            ok = (prev_t >= tb[:, None] - p.descent_window_s) & (
                prev_t <= tb[:, None] - p.descent_ref_age_s
            )
        newest = np.argsort(np.where(ok, -prev_t, np.inf), axis=1)[:, :REF_BINS]
        ref = np.zeros_like(ok)
        np.put_along_axis(ref, newest, True, axis=1)
        ref &= ok
        pre = _row_median(np.where(ref, self._rz[s, k], np.nan))
        # history gate: the whole remembered past before the reference must be off the floor, so
        # noise while someone sits on the floor for minutes cannot fake a descent
        with np.errstate(invalid="ignore"):
            old = prev_t <= tb[:, None] - p.descent_ref_age_s
        hist = _row_median(np.where(old, self._rz[s, k], np.nan))
        # fall from bed: most reference bins strictly inside a bed (no margin)
        n_ref = ref.sum(axis=1)
        from_bed = (ref & self._rbed[s, k]).sum(axis=1) * 2 > n_ref
        # push this bin
        in_bed_strict = in_rects(xb, yb, self._bed[s])
        in_bed = in_rects(xb, yb, self._bed[s], BED_MARGIN_M)
        self._rz[s, k, pos] = zb
        self._rt[s, k, pos] = tb
        self._rbed[s, k, pos] = in_bed_strict
        ring = self._rz[s, k]
        ring_t = self._rt[s, k]
        idx_recent = (pos[:, None] - np.arange(SHORT_BINS)[None, :]) % r
        short = _row_median(np.take_along_axis(ring, idx_recent, axis=1))
        self._rpos[s, k] = (pos + 1) % r

        floor = (short <= p.floor_height_m) & ~in_bed
        # pending falls owned by these tracks
        own = self._pk[s] == k
        if own.any():
            oi = np.nonzero(own)[0]
            so = s[oi]
            deadline = self._pimpact[so] + p.confirm_s
            due = tb[oi] >= deadline
            self._resolve(so[due], deadline[due], out)
            live = oi[~due]
            sl = s[live]
            # got up: median of the bins since the suspicion, over the last 2 s, at least 3 bins
            with np.errstate(invalid="ignore"):
                after = (ring_t[live] > self._psince[sl][:, None] + BIN_S / 2) & (
                    ring_t[live] >= tb[live][:, None] - GETUP_WINDOW_S
                )
            long = _row_median(np.where(after, ring[live], np.nan))
            up = (after.sum(axis=1) >= GETUP_MIN_BINS) & (long >= p.getup_height_m)
            self._emit(sl[up], "cancelled", tb[live][up], out, "got_up")
            self._clear_pending(sl[up])
        # new suspicions
        drop = pre - short
        with np.errstate(invalid="ignore"):
            fast = ((drop >= p.min_drop_m) & (hist >= p.pre_min_height_m)) | (
                from_bed & (drop >= p.min_drop_from_bed_m)
            )
        sus = floor & fast & (self._pk[s] < 0) & (n_ref >= MIN_REF_BINS)
        if sus.any():
            si = np.nonzero(sus)[0]
            _, first = np.unique(s[si], return_index=True)
            si = si[first]
            ss = s[si]
            self._pk[ss] = k[si]
            self._pimpact[ss] = tb[si] - MEDIAN_LAG_S
            self._psince[ss] = tb[si]
            self._ppre[ss] = pre[si]
            self._pfloor[ss] = short[si]
            self._px[ss] = xb[si]
            self._py[ss] = yb[si]
            self._emit(ss, "suspected", tb[si], out)

    def _deadline_pass(self, out: list[FallDetection]) -> None:
        s = np.nonzero(self._pk >= 0)[0]
        if s.size == 0:
            return
        deadline = self._pimpact[s] + self.params.confirm_s
        due = self._covered[s] >= deadline
        self._resolve(s[due], deadline[due], out)

    def _resolve(self, s: IntArr, at: FloatArr, out: list[FallDetection]) -> None:
        """Deadline reached: confirm if the median height since the suspicion (last ring span) is
        down, or if the person was not seen at all (trackers drop people who lie still)."""
        if s.size == 0:
            return
        k = self._pk[s]
        rt = self._rt[s, k]
        with np.errstate(invalid="ignore"):
            since = (rt >= self._psince[s][:, None]) & (rt <= at[:, None])
        med = _row_median(np.where(since, self._rz[s, k], np.nan))
        down = np.isnan(med) | (med <= self.params.down_height_m)
        self._emit(s[down], "confirmed", at[down], out)
        self._emit(s[~down], "cancelled", at[~down], out, "not_down")
        self._clear_pending(s)

    def _emit(
        self,
        s: IntArr,
        kind: FallKind,
        at: FloatArr,
        out: list[FallDetection],
        reason: CancelReason | None = None,
    ) -> None:
        for sl, a in zip(s.tolist(), at.tolist(), strict=True):
            out.append(self._detection(sl, kind, a, reason))

    def _detection(
        self, slot: int, kind: FallKind, at: float, reason: CancelReason | None = None
    ) -> FallDetection:
        return FallDetection(
            slot=slot,
            kind=kind,
            at_s=float(at),
            impact_s=float(self._pimpact[slot]),
            pre_height_m=float(self._ppre[slot]),
            floor_height_m=float(self._pfloor[slot]),
            x_m=float(self._px[slot]),
            y_m=float(self._py[slot]),
            reason=reason,
        )

    def _clear_pending(self, s: IntArr) -> None:
        self._pk[s] = -1
        self._pimpact[s] = np.nan
        self._psince[s] = np.nan
