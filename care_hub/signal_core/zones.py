"""Zone maps, vectorised point classification and a vectorised zone tracker emitting visits.

A zone map names rectangles and polygons in room coordinates (bed, bathroom, chair, door); a point
in none of them is in the "room"; nobody seen for ``away_after_s`` (after being in the room or at
the door) is "away". The tracker smooths per-second zone samples with a minimum dwell, so tracker
jitter at a zone edge does not create visits, and emits compact ``ZoneVisit`` records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArr = npt.NDArray[np.float64]
IntArr = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]

ZoneName = Literal["away", "room", "bed", "bathroom", "chair", "door"]
# Codes are indices into ZONES. Where shapes overlap the lower code wins (a bed inside the room).
ZONES: tuple[ZoneName, ...] = ("away", "room", "bed", "bathroom", "chair", "door")
ZONE_CODE: dict[str, int] = {z: i for i, z in enumerate(ZONES)}
AWAY, ROOM = 0, 1

# Zone samples are taken per 1 s bin (a radar window) and the bin's majority zone is used.
ZONE_BIN_S = 1.0
# A new zone must hold this long before a visit starts: xy jitter of 0.1-0.2 m at a bed edge flips
# a frame-by-frame classification several times a minute (FIELD-NOTES).
MIN_DWELL_S = 10.0
# Nobody seen this long after the room or the door: the resident left. After the bed, chair or
# bathroom the zone is kept instead: trackers drop people who keep still (FIELD-NOTES).
AWAY_AFTER_S = 120.0
MAX_SHAPES = 16
MAX_VERTICES = 8


@dataclass(frozen=True, slots=True)
class ZoneShape:
    zone: ZoneName
    vertices: tuple[tuple[float, float], ...]  # polygon in room metres, >= 3 vertices

    @staticmethod
    def rect(zone: ZoneName, xmin: float, ymin: float, xmax: float, ymax: float) -> ZoneShape:
        return ZoneShape(zone, ((xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax)))


@dataclass(frozen=True, slots=True)
class ZoneMap:
    shapes: tuple[ZoneShape, ...] = ()


@dataclass(frozen=True, slots=True)
class ZoneVisit:
    slot: int
    zone: ZoneName
    entered_at: float  # device time
    left_at: float | None  # None while the visit is ongoing


@dataclass(frozen=True, slots=True)
class ZoneParams:
    min_dwell_s: float = MIN_DWELL_S
    away_after_s: float = AWAY_AFTER_S


@dataclass(frozen=True, slots=True)
class CompiledZones:
    """Zone maps of many slots packed into arrays (S, MAX_SHAPES, MAX_VERTICES, 2)."""

    vx: FloatArr = field(repr=False)
    vy: FloatArr = field(repr=False)
    nv: IntArr = field(repr=False)  # vertices per shape (0 = unused)
    code: IntArr = field(repr=False)  # zone code per shape
    # per edge, precomputed once (classification runs on every row): the next vertex's y, the
    # edge's x and y extents, and whether the edge exists
    y2: FloatArr = field(repr=False)
    dx: FloatArr = field(repr=False)
    dy: FloatArr = field(repr=False)
    valid: npt.NDArray[np.bool_] = field(repr=False)
    # vy and y2 with NaN on edges that do not exist: a NaN compares False either way, so such an
    # edge never straddles a point's y and `valid` need not be gathered per point
    vy_e: FloatArr = field(repr=False)
    y2_e: FloatArr = field(repr=False)
    # Shapes that are axis-aligned rectangles (4 vertices, edges alternately horizontal and
    # vertical): ray casting puts a point inside exactly when x0 <= x < x1 and y0 <= y < y1 (a
    # vertical edge's x test is `x < x_edge`: its dx is 0, so dx * (y - vy) / dy + vx == vx), so
    # they are tested on their bounds. `rect` (S, P); bounds (S, P); -inf/+inf bounds elsewhere.
    rect: npt.NDArray[np.bool_] = field(repr=False)
    x0: FloatArr = field(repr=False)
    x1: FloatArr = field(repr=False)
    y0: FloatArr = field(repr=False)
    y1: FloatArr = field(repr=False)
    polygons: bool = True  # any shape that is not such a rectangle


def compile_zones(capacity: int, maps: Mapping[int, ZoneMap]) -> CompiledZones:
    vx = np.zeros((capacity, MAX_SHAPES, MAX_VERTICES))
    vy = np.zeros((capacity, MAX_SHAPES, MAX_VERTICES))
    nv = np.zeros((capacity, MAX_SHAPES), dtype=np.int64)
    code = np.full((capacity, MAX_SHAPES), ROOM, dtype=np.int64)
    for slot, zm in maps.items():
        if len(zm.shapes) > MAX_SHAPES:
            raise ValueError(f"at most {MAX_SHAPES} shapes per zone map")
        for i, sh in enumerate(sorted(zm.shapes, key=lambda s: ZONE_CODE[s.zone])):
            if not 3 <= len(sh.vertices) <= MAX_VERTICES:
                raise ValueError(f"a zone polygon needs 3..{MAX_VERTICES} vertices")
            n = len(sh.vertices)
            vx[slot, i, :n] = [v[0] for v in sh.vertices]
            vy[slot, i, :n] = [v[1] for v in sh.vertices]
            nv[slot, i] = n
            code[slot, i] = ZONE_CODE[sh.zone]
    # trim to the shapes and vertices actually used: classification cost scales with both
    p_used = max(1, int((nv > 0).sum(axis=1).max(initial=0)))
    v_used = max(3, int(nv.max(initial=0)))
    vx, vy, nv = (
        vx[:, :p_used, :v_used].copy(),
        vy[:, :p_used, :v_used].copy(),
        nv[:, :p_used].copy(),
    )
    j = np.arange(v_used)
    nxt = (j[None, None, :] + 1) % np.maximum(nv[..., None], 1)
    x2 = np.take_along_axis(vx, nxt, axis=2)
    y2 = np.take_along_axis(vy, nxt, axis=2)
    valid = j[None, None, :] < nv[..., None]
    dxs, dys = x2 - vx, y2 - vy
    rect = nv == 4
    if v_used >= 4:
        horizontal = (dys[..., :4] == 0) & (dxs[..., :4] != 0)
        vertical = (dxs[..., :4] == 0) & (dys[..., :4] != 0)
        alternate = (horizontal[..., 0::2].all(-1) & vertical[..., 1::2].all(-1)) | (
            vertical[..., 0::2].all(-1) & horizontal[..., 1::2].all(-1)
        )
        rect &= alternate
    else:
        rect &= False
    x0 = np.where(rect, vx[..., :4].min(-1, initial=np.inf), np.inf)
    x1 = np.where(rect, vx[..., :4].max(-1, initial=-np.inf), -np.inf)
    y0 = np.where(rect, vy[..., :4].min(-1, initial=np.inf), np.inf)
    y1 = np.where(rect, vy[..., :4].max(-1, initial=-np.inf), -np.inf)
    return CompiledZones(
        vx,
        vy,
        nv,
        code[:, :p_used].copy(),
        y2,
        x2 - vx,
        y2 - vy,
        valid,
        np.where(valid, vy, np.nan),
        np.where(valid, y2, np.nan),
        rect,
        x0,
        x1,
        y0,
        y1,
        bool((~rect & (nv > 0)).any()),
    )


def classify_points(zones: CompiledZones, slot: IntArr, x_m: FloatArr, y_m: FloatArr) -> IntArr:
    """Zone code of each point (ray casting over every shape of its slot's map; 'room' if none).

    Axis-aligned rectangles are tested on their bounds (the same answer, see CompiledZones.rect).
    For other polygons an edge counts when it straddles the point's y and the point lies left of
    it; the x test is evaluated only on the straddling edges, with the same arithmetic as over
    all of them: same codes."""
    px, py = x_m[:, None], y_m[:, None]
    inside = (zones.x0[slot] <= px) & (px < zones.x1[slot])  # (n, P)
    inside &= (zones.y0[slot] <= py) & (py < zones.y1[slot])
    if zones.polygons:
        inside |= _in_polygons(zones, slot, x_m, y_m)
    codes = np.where(inside, zones.code[slot], 99)
    best = codes.min(axis=1, initial=99)
    return np.where(best == 99, ROOM, best).astype(np.int64)


def _in_polygons(zones: CompiledZones, slot: IntArr, x_m: FloatArr, y_m: FloatArr) -> BoolArr:
    """(n, P): inside each shape that is not a rectangle, by ray casting (rectangles: False)."""
    n = slot.shape[0]
    p_used = zones.code.shape[1]
    poly = ~zones.rect[slot]  # (n, P)
    py = y_m[:, None, None]
    straddle = (zones.vy_e[slot] > py) != (zones.y2_e[slot] > py)  # (n, P, V)
    straddle &= poly[..., None]
    i, p, v = np.nonzero(straddle)
    s = slot[i]
    yi = y_m[i]
    with np.errstate(divide="ignore", invalid="ignore"):
        left = (
            x_m[i]
            < zones.dx[s, p, v] * (yi - zones.vy[s, p, v]) / zones.dy[s, p, v] + zones.vx[s, p, v]
        )
    crossings = np.bincount((i * p_used + p)[left], minlength=n * p_used).reshape(n, p_used)
    return (crossings % 2) == 1


class ZoneTracker:
    """Per-slot zone state with minimum dwell; ``step`` returns closed visits."""

    def __init__(
        self,
        capacity: int,
        maps: Mapping[int, ZoneMap] | None = None,
        params: ZoneParams | None = None,
    ) -> None:
        self.capacity = capacity
        self.params = params or ZoneParams()
        self._maps: dict[int, ZoneMap] = dict(maps or {})
        self.zones = compile_zones(capacity, self._maps)
        self._cur = np.full(capacity, -1, dtype=np.int64)  # -1 = unknown yet
        self._entered = np.full(capacity, np.nan)
        self._cand = np.full(capacity, -1, dtype=np.int64)
        self._cand_since = np.full(capacity, np.nan)
        self._last_seen = np.full(capacity, np.nan)
        self._last_bin = np.full(capacity, -1, dtype=np.int64)

    def set_map(self, slot: int, zone_map: ZoneMap) -> None:
        self.set_maps({slot: zone_map})

    def set_maps(self, maps: Mapping[int, ZoneMap]) -> None:
        """Set many slots' maps with one compile (configuring 10,000 radars one by one is quadratic)."""
        self._maps.update(maps)
        self.zones = compile_zones(self.capacity, self._maps)

    def current(self, slot: int) -> ZoneVisit | None:
        """The ongoing visit of a slot (``left_at`` None), once a zone has been established."""
        if self._cur[slot] < 0:
            return None
        return ZoneVisit(slot, ZONES[self._cur[slot]], float(self._entered[slot]), None)

    def last_seen_s(self, slot: int) -> float | None:
        """Device time anyone was last seen by this slot's radar (None if never)."""
        v = float(self._last_seen[slot])
        return None if np.isnan(v) else v

    def step(
        self,
        slot: IntArr,
        t_s: FloatArr,
        x_m: FloatArr,
        y_m: FloatArr,
        covered_slot: IntArr | None = None,
        covered_until_s: FloatArr | None = None,
    ) -> list[ZoneVisit]:
        """Feed rows (e.g. a ``FallBatch``'s) and how far each slot's clock got; return visits
        that ended, in time order."""
        out: list[ZoneVisit] = []
        ok = np.isfinite(x_m) & np.isfinite(y_m)
        slot, t_s, x_m, y_m = slot[ok], t_s[ok], x_m[ok], y_m[ok]
        if slot.size:
            code = classify_points(self.zones, slot, x_m, y_m)
            b = np.floor(t_s / ZONE_BIN_S + 1e-6).astype(np.int64)
            # majority zone per (slot, bin); ties -> lower code
            key = (slot * (1 << 40) + b) * len(ZONES) + code
            uk, cnt = np.unique(key, return_counts=True)
            sb = uk // len(ZONES)
            zc = uk % len(ZONES)
            order = np.lexsort((zc, -cnt, sb))
            sb, zc = sb[order], zc[order]
            first = np.ones(sb.size, dtype=np.bool_)
            first[1:] = sb[1:] != sb[:-1]
            sb, zc = sb[first], zc[first]
            ss, bb = sb // (1 << 40), sb % (1 << 40)
            tb = bb * ZONE_BIN_S
            gfirst = np.ones(ss.size, dtype=np.bool_)
            gfirst[1:] = ss[1:] != ss[:-1]
            st = np.maximum.accumulate(np.where(gfirst, np.arange(ss.size), 0))
            rank = np.arange(ss.size) - st
            for r in range(int(rank.max()) + 1):
                m = rank == r
                self._observe(ss[m], tb[m], zc[m], out)
        if covered_slot is not None and covered_until_s is not None and covered_slot.size:
            self._absence(covered_slot, covered_until_s, out)
        out.sort(key=lambda v: (v.left_at or 0.0, v.slot))
        return out

    def _observe(self, s: IntArr, t: FloatArr, z: IntArr, out: list[ZoneVisit]) -> None:
        self._last_seen[s] = np.fmax(self._last_seen[s], t + ZONE_BIN_S)
        self._switch_towards(s, t, z, out)

    def _switch_towards(self, s: IntArr, t: FloatArr, z: IntArr, out: list[ZoneVisit]) -> None:
        unknown = self._cur[s] < 0
        if unknown.any():
            u = s[unknown]
            self._cur[u] = z[unknown]
            self._entered[u] = t[unknown]
        same = self._cur[s] == z
        self._cand[s[same]] = -1
        diff = ~same
        new_cand = diff & (self._cand[s] != z)
        self._cand[s[new_cand]] = z[new_cand]
        self._cand_since[s[new_cand]] = t[new_cand]
        due = diff & (t - self._cand_since[s] + ZONE_BIN_S >= self.params.min_dwell_s)
        for sl, zc, since in zip(
            s[due].tolist(), z[due].tolist(), self._cand_since[s[due]].tolist(), strict=True
        ):
            out.append(ZoneVisit(sl, ZONES[self._cur[sl]], float(self._entered[sl]), since))
            self._cur[sl] = zc
            self._entered[sl] = since
            self._cand[sl] = -1

    def _absence(self, s: IntArr, until: FloatArr, out: list[ZoneVisit]) -> None:
        gone = (
            np.isfinite(self._last_seen[s])
            & (until - self._last_seen[s] >= self.params.away_after_s)
            & np.isin(self._cur[s], [ROOM, ZONE_CODE["door"]])
        )
        for sl in np.unique(s[gone]).tolist():
            left = float(self._last_seen[sl])
            out.append(ZoneVisit(sl, ZONES[self._cur[sl]], float(self._entered[sl]), left))
            self._cur[sl] = AWAY
            self._entered[sl] = left
            self._cand[sl] = -1


def visits_in(visits: Sequence[ZoneVisit], zone: ZoneName) -> list[ZoneVisit]:
    """The visits to one zone, in time order."""
    return sorted((v for v in visits if v.zone == zone), key=lambda v: v.entered_at)
