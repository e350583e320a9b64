"""Seeded generator of realistic people-tracker radar windows with labels (falls and confounders).

Motion is scripted per person (centroid x, y, z at the radar's frame rate), then passed through a
noise model taken from FIELD-NOTES: a clean TI-like tracker (smooth, true velocities, but drops
people who keep still and changes tids after occlusion) up to a messy low-cost module (37-99% held
repeats, 0.15-0.25 m height jitter, a lying person flickering 0.0-1.0 m, phantoms, dropouts, one
target per frame, no velocity). Output: ``RadarFramesEvent`` windows and PROTOCOL.md payloads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from devices.events import Envelope, RadarFramesEvent

FloatArr = npt.NDArray[np.float64]
IntArr = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]

# Room layout used by the episodes (metres, room coordinates).
ROOM_W_M = 5.0
ROOM_D_M = 5.0
BED_RECT = (0.2, 3.0, 1.2, 5.0)  # single bed along the left wall
CHAIR_RECT = (3.6, 0.6, 4.4, 1.4)
BATHROOM_RECT = (3.8, 3.8, 5.0, 5.0)
DOOR_RECT = (2.0, 0.0, 3.0, 0.5)
CHAIR_XY = (4.0, 1.0)
BED_LIE_XY = (0.7, 4.0)
BED_EDGE_XY = (1.3, 4.0)

# Body heights: radar centroid ~0.6 of stature standing (FIELD-NOTES: falls start at 1.0-1.2 m).
STATURE_RANGE_M = (1.50, 1.90)
CENTROID_FRACTION = 0.6
CHAIR_Z_RANGE_M = (0.68, 0.85)
BED_Z_RANGE_M = (0.55, 0.72)  # lying on a mattress ~0.5 m high
KNEEL_Z_RANGE_M = (0.60, 0.72)
BEND_Z_RANGE_M = (0.52, 0.70)
# Lying on the floor: ~0.2 m far from the sensor, 0.35-0.45 m close to it (FIELD-NOTES).
FLOOR_Z_RANGE_M = (0.20, 0.45)
SIT_FLOOR_Z_RANGE_M = (0.36, 0.48)
# Older people walk 0.6-1.2 m/s.
WALK_SPEED_RANGE_MPS = (0.5, 1.2)

Velocity = Literal["true", "differentiated", "none"]


@dataclass(frozen=True, slots=True)
class NoiseProfile:
    name: str
    fps: float
    z_sd_m: float
    xy_sd_m: float
    hold_fraction: float  # share of frames that are held repeats of the previous frame
    hold_mean_s: float
    phantom_per_s: float
    dropout_per_min: float
    dropout_mean_s: float
    still_drop_s: float | None  # TI static clutter removal drops people still this long
    lying_flicker_per_s: float  # bursts of 0.0-1.0 m readings of a lying person, 0.5 s long
    velocity: Velocity
    single_target: bool
    tid_change_per_min: float


NOISE_PROFILES: dict[str, NoiseProfile] = {
    # TI 3D people tracking: smooth, velocities, but still people vanish and tids change.
    "clean": NoiseProfile(
        "clean", 20.0, 0.05, 0.05, 0.0, 0.25, 0.0, 0.3, 0.5, 10.0, 0.0, "true", False, 0.2
    ),
    # A mid-range module through an adapter that differentiates positions (velocity spikes).
    "typical": NoiseProfile(
        "typical",
        10.0,
        0.15,
        0.10,
        0.4,
        0.5,
        0.05,
        1.0,
        1.0,
        None,
        0.2,
        "differentiated",
        False,
        0.5,
    ),
    # HLK-LD6002B-like: 20 Hz, heavy holds, 0.25 m jitter, flicker, phantoms, one target, no velocity.
    "messy": NoiseProfile(
        "messy", 20.0, 0.25, 0.15, 0.8, 0.8, 0.2, 2.0, 1.0, None, 0.4, "none", True, 0.5
    ),
}


@dataclass(frozen=True, slots=True)
class Track:
    """Ground-truth centroid of one person at every frame (NaN-free), plus 'still' flags."""

    x_m: FloatArr = field(repr=False)
    y_m: FloatArr = field(repr=False)
    z_m: FloatArr = field(repr=False)
    lying: BoolArr = field(repr=False)  # on floor or in bed (flicker applies)
    present: BoolArr = field(repr=False)  # in the radar's view


@dataclass(frozen=True, slots=True)
class Rows:
    """Tracker output as rows (frame, tid, x, y, z, vx, vy, vz) over ``n_frames`` frames."""

    t0_s: float
    fps: float
    n_frames: int
    frame: IntArr = field(repr=False)
    tid: IntArr = field(repr=False)
    x_m: FloatArr = field(repr=False)
    y_m: FloatArr = field(repr=False)
    z_m: FloatArr = field(repr=False)
    vx_mps: FloatArr = field(repr=False)
    vy_mps: FloatArr = field(repr=False)
    vz_mps: FloatArr = field(repr=False)


@dataclass(frozen=True, slots=True)
class Episode:
    kind: str
    is_fall: bool
    impact_s: float | None  # device time the body reached the floor
    noise: str
    rows: Rows = field(repr=False)
    duration_s: float = 0.0


# --- motion scripting ------------------------------------------------------------------------
class Script:
    """Builds one person's truth trajectory segment by segment at ``fps``."""

    def __init__(self, fps: float, x: float, y: float, z: float) -> None:
        self.fps = fps
        self.x, self.y, self.z = x, y, z
        self._xs: list[FloatArr] = []
        self._ys: list[FloatArr] = []
        self._zs: list[FloatArr] = []
        self._lying: list[BoolArr] = []
        self._present: list[BoolArr] = []

    @property
    def t_s(self) -> float:
        return sum(a.shape[0] for a in self._xs) / self.fps

    def _n(self, dur_s: float) -> int:
        return max(1, round(dur_s * self.fps))

    def _push(
        self, xs: FloatArr, ys: FloatArr, zs: FloatArr, lying: bool, present: bool = True
    ) -> None:
        self._xs.append(xs)
        self._ys.append(ys)
        self._zs.append(zs)
        self._lying.append(np.full(xs.shape[0], lying))
        self._present.append(np.full(xs.shape[0], present))
        self.x, self.y, self.z = float(xs[-1]), float(ys[-1]), float(zs[-1])

    def move(
        self,
        dur_s: float,
        z: float | None = None,
        xy: tuple[float, float] | None = None,
        shape: Literal["smooth", "fall", "linear", "minjerk"] = "smooth",
        lying: bool = False,
    ) -> Script:
        n = self._n(dur_s)
        u = np.arange(1, n + 1) / n
        if shape == "smooth":
            w = u * u * (3 - 2 * u)
        elif shape == "minjerk":
            # voluntary movement: minimum jerk (Flash & Hogan 1985), starts and ends at rest
            w = u * u * u * (10 - 15 * u + 6 * u * u)
        elif shape == "fall":
            w = u * u  # accelerating, like a body giving way
        else:
            w = u
        z1 = self.z if z is None else z
        x1, y1 = (self.x, self.y) if xy is None else xy
        self._push(
            self.x + (x1 - self.x) * w,
            self.y + (y1 - self.y) * w,
            self.z + (z1 - self.z) * w,
            lying,
        )
        return self

    def stay(
        self, dur_s: float, rng: np.random.Generator, sway_m: float = 0.02, lying: bool = False
    ) -> Script:
        n = self._n(dur_s)
        ph = rng.uniform(0, 2 * np.pi, 3)
        tt = np.arange(n) / self.fps
        f = rng.uniform(0.1, 0.3)
        self._push(
            self.x + sway_m * np.sin(2 * np.pi * f * tt + ph[0]),
            self.y + sway_m * np.sin(2 * np.pi * f * tt + ph[1]),
            self.z + sway_m * 0.5 * np.sin(2 * np.pi * f * tt + ph[2]),
            lying,
        )
        return self

    def walk_to(self, xy: tuple[float, float], speed_mps: float) -> Script:
        dist = float(np.hypot(xy[0] - self.x, xy[1] - self.y))
        n = self._n(max(dist / speed_mps, 0.5))
        u = np.arange(1, n + 1) / n
        tt = np.arange(n) / self.fps
        z0 = self.z
        self._push(
            self.x + (xy[0] - self.x) * u,
            self.y + (xy[1] - self.y) * u,
            z0 + 0.03 * np.sin(2 * np.pi * 1.8 * tt),  # gait bob
            False,
        )
        self.z = z0
        return self

    def oscillate(self, dur_s: float, low_z: float, period_s: float) -> Script:
        """Squats: centroid between standing and ``low_z``."""
        n = self._n(dur_s)
        tt = np.arange(n) / self.fps
        top = self.z
        zs = low_z + (top - low_z) * (0.5 + 0.5 * np.cos(2 * np.pi * tt / period_s))
        self._push(np.full(n, self.x), np.full(n, self.y), zs, False)
        self.z = top
        return self

    def absent(self, dur_s: float) -> Script:
        n = self._n(dur_s)
        self._push(np.full(n, self.x), np.full(n, self.y), np.full(n, self.z), False, False)
        return self

    def track(self, n_frames: int | None = None) -> Track:
        x = np.concatenate(self._xs)
        y = np.concatenate(self._ys)
        z = np.concatenate(self._zs)
        ly = np.concatenate(self._lying)
        pr = np.concatenate(self._present)
        if n_frames is not None:
            pad = n_frames - x.shape[0]
            if pad > 0:
                x = np.concatenate([x, np.full(pad, x[-1])])
                y = np.concatenate([y, np.full(pad, y[-1])])
                z = np.concatenate([z, np.full(pad, z[-1])])
                ly = np.concatenate([ly, np.full(pad, ly[-1])])
                pr = np.concatenate([pr, np.zeros(pad, dtype=np.bool_)])
            x, y, z, ly, pr = x[:n_frames], y[:n_frames], z[:n_frames], ly[:n_frames], pr[:n_frames]
        return Track(x, y, z, ly, pr)


# --- noise -----------------------------------------------------------------------------------
def _segments(
    rng: np.random.Generator, n: int, per_frame_rate: float, mean_len: float, min_len: int = 1
) -> BoolArr:
    """Random on-segments: starts at ``per_frame_rate``, exponential lengths (frames)."""
    mask = np.zeros(n + 1, dtype=np.int64)
    if per_frame_rate <= 0 or n == 0:
        return np.zeros(n, dtype=np.bool_)
    k = rng.poisson(per_frame_rate * n)
    starts = rng.integers(0, n, k)
    lens = np.maximum(min_len, rng.exponential(mean_len, k).astype(np.int64))
    np.add.at(mask, starts, 1)
    np.add.at(mask, np.minimum(starts + lens, n), -1)
    return np.asarray(np.cumsum(mask)[:n] > 0, dtype=np.bool_)


def _hold_mask(rng: np.random.Generator, n: int, fps: float, frac: float, mean_s: float) -> BoolArr:
    """Alternating fresh runs and holds; holds last 0.25 s to 4 s (FIELD-NOTES: 0.25 s up to
    several seconds) and cover ``frac`` of the frames on average."""
    if frac <= 0 or n == 0:
        return np.zeros(n, dtype=np.bool_)
    hold_mean = max(1.0, mean_s * fps)
    fresh_mean = max(1.0, hold_mean * (1 - frac) / frac)
    k = int(n / (hold_mean + fresh_mean) * 2) + 4
    holds = np.clip(rng.exponential(hold_mean, k), 0.25 * fps, 4.0 * fps).astype(np.int64)
    fresh = np.maximum(1, rng.geometric(1 / fresh_mean, k))
    edges = np.cumsum(np.stack([fresh, holds], axis=1).ravel())
    level = np.zeros(n + 1, dtype=np.int64)
    starts, ends = edges[0::2], edges[1::2]
    np.add.at(level, np.minimum(starts, n), 1)
    np.add.at(level, np.minimum(ends, n), -1)
    return np.asarray(np.cumsum(level)[:n] > 0, dtype=np.bool_)


def _still_mask(tr: Track, fps: float, still_s: float) -> BoolArr:
    """Frames where the person has moved < 5 cm/s for at least ``still_s`` (TI drops them)."""
    sp = np.hypot(np.diff(tr.x_m, prepend=tr.x_m[0]), np.diff(tr.z_m, prepend=tr.z_m[0])) * fps
    moving = sp > 0.05
    idx = np.arange(sp.shape[0])
    last_move = np.maximum.accumulate(np.where(moving, idx, 0))
    return np.asarray((idx - last_move) >= still_s * fps, dtype=np.bool_)


def render(
    tracks: list[Track],
    profile: NoiseProfile,
    rng: np.random.Generator,
    t0_s: float,
    tid_base: int = 1,
    weights: list[float] | None = None,
) -> Rows:
    """Pass truth tracks (same length) through the noise profile; rows sorted by frame.

    ``weights``: how likely a single-target module is to report each track (a pet reflects far
    less than a person); equal when None."""
    fps = profile.fps
    n = tracks[0].x_m.shape[0]
    parts: list[tuple[IntArr, IntArr, FloatArr, FloatArr, FloatArr]] = []
    # which person a single-target module reports: sticky choice, switching every ~2 s; while
    # the chosen one is out of view (a visitor not yet arrived), the strongest reflector in view
    # (it used to report everyone in view then: two targets a frame from a one-target module)
    if profile.single_target and len(tracks) > 1:
        seg = np.cumsum(rng.random(n) < 1 / (2.0 * fps))
        w = np.ones(len(tracks)) if weights is None else np.asarray(weights, dtype=np.float64)
        if weights is None:
            choice = rng.integers(0, len(tracks), int(seg[-1]) + 1)[seg]
        else:
            choice = rng.choice(len(tracks), int(seg[-1]) + 1, p=w / w.sum())[seg]
        present = np.asarray([t.present for t in tracks])
        # argmax keeps the first of equal weights: the resident before a visitor
        fallback = np.argmax(np.where(present, w[:, None], -1.0), axis=0)
        choice = np.where(present[choice, np.arange(n)], choice, fallback)
    else:
        choice = None
    for pi, tr in enumerate(tracks):
        vis = tr.present.copy()
        drop = _segments(rng, n, profile.dropout_per_min / 60 / fps, profile.dropout_mean_s * fps)
        vis &= ~drop
        if profile.still_drop_s is not None:
            vis &= ~_still_mask(tr, fps, profile.still_drop_s)
        if choice is not None:
            vis &= choice == pi
        x = tr.x_m + rng.normal(0, profile.xy_sd_m, n)
        y = tr.y_m + rng.normal(0, profile.xy_sd_m, n)
        z = tr.z_m + rng.normal(0, profile.z_sd_m, n)
        if profile.lying_flicker_per_s > 0:
            fl = _segments(rng, n, profile.lying_flicker_per_s / fps, 0.5 * fps) & tr.lying
            z = np.where(fl, rng.uniform(0.0, 1.0, n), z)
        # tids: new after every gap in visibility, and now and then anyway
        gap_end = vis & ~np.concatenate([[False], vis[:-1]])
        change = gap_end | (rng.random(n) < profile.tid_change_per_min / 60 / fps)
        tid = tid_base + 100 * pi + np.cumsum(change)
        # held repeats: the device resends the previous frame's values unchanged
        held = _hold_mask(rng, n, fps, profile.hold_fraction, profile.hold_mean_s)
        idx = np.arange(n)
        src = np.maximum.accumulate(np.where(held, 0, idx))
        x, y, z, tid = x[src], y[src], z[src], tid[src]
        f = np.nonzero(vis)[0].astype(np.int64)
        parts.append((f, tid[f].astype(np.int64), x[f], y[f], z[f]))
    # phantoms far from everyone, sometimes above the sensor
    k = rng.poisson(profile.phantom_per_s * n / fps)
    if k:
        pf = rng.integers(0, n, k).astype(np.int64)
        px = rng.uniform(0, ROOM_W_M, k)
        py = rng.uniform(0, ROOM_D_M, k)
        far = np.ones(k, dtype=np.bool_)
        for tr in tracks:
            far &= np.hypot(px - tr.x_m[pf], py - tr.y_m[pf]) > 1.5
        pf, px, py = pf[far], px[far], py[far]
        pz = rng.uniform(0.0, 2.6, pf.shape[0])
        parts.append((pf, rng.integers(500, 600, pf.shape[0]), px, py, pz))
        if profile.single_target:  # the phantom replaces that frame's target
            drop_f = set(pf.tolist())
            for i in range(len(parts) - 1):
                f0, t0, x0, y0, z0 = parts[i]
                keep = ~np.isin(f0, list(drop_f))
                parts[i] = (f0[keep], t0[keep], x0[keep], y0[keep], z0[keep])
    frame = np.concatenate([p[0] for p in parts])
    order = np.argsort(frame, kind="stable")
    frame = frame[order]
    tid = np.concatenate([p[1] for p in parts])[order]
    x = np.concatenate([p[2] for p in parts])[order]
    y = np.concatenate([p[3] for p in parts])[order]
    z = np.concatenate([p[4] for p in parts])[order]
    vx, vy, vz = _velocities(profile.velocity, frame, tid, x, y, z, tracks, fps, rng)
    return Rows(t0_s, fps, n, frame, tid, x, y, z, vx, vy, vz)


def _velocities(
    mode: Velocity,
    frame: IntArr,
    tid: IntArr,
    x: FloatArr,
    y: FloatArr,
    z: FloatArr,
    tracks: list[Track],
    fps: float,
    rng: np.random.Generator,
) -> tuple[FloatArr, FloatArr, FloatArr]:
    m = frame.shape[0]
    if mode == "none":
        nan = np.full(m, np.nan)
        return nan, nan.copy(), nan.copy()
    if mode == "differentiated":
        # an adapter differentiating per tid: held values then a jump give 5-8 m/s spikes
        order = np.lexsort((frame, tid))
        same = np.zeros(m, dtype=np.bool_)
        same[1:] = tid[order][1:] == tid[order][:-1]
        dt = np.diff(frame[order], prepend=frame[order][0]) / fps
        out = []
        for a in (x, y, z):
            d = np.diff(a[order], prepend=a[order][0])
            v = np.where(same & (dt > 0), d / np.where(dt > 0, dt, 1), 0.0)
            res = np.empty(m)
            res[order] = v
            out.append(res)
        return out[0], out[1], out[2]
    # true velocity of the nearest truth track, with tracker noise
    vs = []
    for a_name in ("x_m", "y_m", "z_m"):
        best = np.zeros(m)
        bestd = np.full(m, np.inf)
        for tr in tracks:
            arr = getattr(tr, a_name)
            v = np.gradient(arr) * fps
            d = np.hypot(tr.x_m[frame] - x, tr.y_m[frame] - y)
            better = d < bestd
            best = np.where(better, v[frame], best)
            bestd = np.where(better, d, bestd)
        vs.append(best + rng.normal(0, 0.05, m))
    return vs[0], vs[1], vs[2]


# --- output formats --------------------------------------------------------------------------
def to_events(
    rows: Rows, device_id: str, window_s: float = 1.0, seq0: int = 0
) -> list[RadarFramesEvent]:
    """Cut rows into windows of ``window_s`` as the decoder would produce them."""
    per = max(1, round(window_s * rows.fps))
    out: list[RadarFramesEvent] = []
    bounds = np.searchsorted(rows.frame, np.arange(0, rows.n_frames + per, per))
    for w, f0 in enumerate(range(0, rows.n_frames, per)):
        a, b = bounds[w], bounds[w + 1]
        nf = min(per, rows.n_frames - f0)
        ts = rows.t0_s + f0 / rows.fps
        out.append(
            RadarFramesEvent(
                env=Envelope(device_id=device_id, kind="radar/frames", ts=ts, seq=seq0 + w),
                fps=rows.fps,
                n_frames=nf,
                frame_index=(rows.frame[a:b] - f0).astype(np.int32),
                tid=rows.tid[a:b].copy(),
                x_m=rows.x_m[a:b].copy(),
                y_m=rows.y_m[a:b].copy(),
                z_m=rows.z_m[a:b].copy(),
                vx_mps=rows.vx_mps[a:b].copy(),
                vy_mps=rows.vy_mps[a:b].copy(),
                vz_mps=rows.vz_mps[a:b].copy(),
            )
        )
    return out


def to_payload(event: RadarFramesEvent) -> dict[str, object]:
    """The PROTOCOL.md radar/frames JSON object for a decoded window (velocity omitted if NaN)."""
    frames: list[dict[str, object]] = [{"targets": []} for _ in range(event.n_frames)]
    for i in range(event.frame_index.shape[0]):
        tgt: dict[str, object] = {
            "tid": int(event.tid[i]),
            "x": round(float(event.x_m[i]), 3),
            "y": round(float(event.y_m[i]), 3),
            "z": round(float(event.z_m[i]), 3),
        }
        for key, arr in (("vx", event.vx_mps), ("vy", event.vy_mps), ("vz", event.vz_mps)):
            if np.isfinite(arr[i]):
                tgt[key] = round(float(arr[i]), 3)
        targets = frames[int(event.frame_index[i])]["targets"]
        assert isinstance(targets, list)
        targets.append(tgt)
    return {"ts": event.env.ts, "seq": event.env.seq, "fps": event.fps, "frames": frames}


# --- episodes --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Person:
    stature_m: float
    speed_mps: float

    @property
    def stand_z_m(self) -> float:
        return CENTROID_FRACTION * self.stature_m


def random_person(rng: np.random.Generator) -> Person:
    return Person(float(rng.uniform(*STATURE_RANGE_M)), float(rng.uniform(*WALK_SPEED_RANGE_MPS)))


def _u(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(*lo_hi))


def _open_spot(rng: np.random.Generator) -> tuple[float, float]:
    """A point in the open floor (not bed, chair or bathroom) with room around it."""
    return float(rng.uniform(1.8, 3.4)), float(rng.uniform(1.5, 3.4))


def _start(rng: np.random.Generator, fps: float, p: Person) -> Script:
    x, y = _open_spot(rng)
    sc = Script(fps, x, y, p.stand_z_m)
    sc.stay(_u(rng, (1.0, 3.0)), rng)
    sc.walk_to(_open_spot(rng), p.speed_mps)
    return sc


def _beside_furniture(x: float, y: float) -> tuple[float, float]:
    """Nobody lies on the floor under a chair: a landing point inside the chair's footprint
    (the open-floor clip box overlaps it) moves to just beyond its nearest edge."""
    x0, y0, x1, y1 = CHAIR_RECT
    if not (x0 < x < x1 and y0 < y < y1):
        return x, y
    gap = 0.05
    exits = [
        (x - x0, x0 - gap, y),
        (x1 - x, x1 + gap, y),
        (y - y0, x, y0 - gap),
        (y1 - y, x, y1 + gap),
    ]
    _, nx, ny = min(exits)
    return nx, ny


def _fall_to_floor(
    sc: Script, rng: np.random.Generator, dur: tuple[float, float], shift_m: float, angle: float
) -> float:
    """Fall: accelerating descent to the floor, displacing the centroid; returns impact time."""
    zf = _u(rng, FLOOR_Z_RANGE_M)
    nx = float(np.clip(sc.x + shift_m * np.cos(angle), 1.5, 3.8))
    ny = float(np.clip(sc.y + shift_m * np.sin(angle), 0.8, 3.6))
    nx, ny = _beside_furniture(nx, ny)
    sc.move(_u(rng, dur), z=zf, xy=(nx, ny), shape="fall", lying=True)
    return sc.t_s


def _lie_after(sc: Script, rng: np.random.Generator, dur_s: float) -> None:
    sc.stay(dur_s, rng, sway_m=0.01, lying=True)


EpisodeBuilder = Callable[[np.random.Generator, float, Person], tuple[Script, float | None]]


def _ep_fall_dir(direction: float) -> EpisodeBuilder:
    def build(rng: np.random.Generator, fps: float, p: Person) -> tuple[Script, float | None]:
        sc = _start(rng, fps, p)
        heading = float(rng.uniform(0, 2 * np.pi))
        impact = _fall_to_floor(sc, rng, (0.4, 1.0), _u(rng, (0.4, 0.9)), heading + direction)
        _lie_after(sc, rng, 25.0)
        return sc, impact

    return build


def _ep_fall_from_chair(
    rng: np.random.Generator, fps: float, p: Person
) -> tuple[Script, float | None]:
    sc = _start(rng, fps, p)
    sc.walk_to(CHAIR_XY, p.speed_mps)
    sc.move(_u(rng, (0.8, 1.5)), z=_u(rng, CHAIR_Z_RANGE_M))
    sc.stay(_u(rng, (3.0, 8.0)), rng)
    impact = _fall_to_floor(
        sc, rng, (0.5, 1.0), _u(rng, (0.65, 0.9)), float(rng.uniform(np.pi * 0.6, np.pi * 1.4))
    )
    _lie_after(sc, rng, 25.0)
    return sc, impact


def _ep_fall_from_bed(
    rng: np.random.Generator, fps: float, p: Person
) -> tuple[Script, float | None]:
    x, y = BED_LIE_XY
    sc = Script(fps, x, y + float(rng.uniform(-0.5, 0.5)), _u(rng, BED_Z_RANGE_M))
    sc.stay(_u(rng, (6.0, 12.0)), rng, sway_m=0.01, lying=True)
    # roll over the edge (bed spans x 0.2-1.2): land 0.3-0.6 m beyond it
    zf = _u(rng, FLOOR_Z_RANGE_M)
    sc.move(
        _u(rng, (0.6, 1.2)),
        z=zf,
        xy=(BED_RECT[2] + _u(rng, (0.3, 0.6)), sc.y),
        shape="fall",
        lying=True,
    )
    impact = sc.t_s
    _lie_after(sc, rng, 25.0)
    return sc, impact


def _ep_slow_slump(rng: np.random.Generator, fps: float, p: Person) -> tuple[Script, float | None]:
    sc = _start(rng, fps, p)
    sc.stay(_u(rng, (1.0, 3.0)), rng)
    # knees give way over 1.5-3 s (syncope), ending lying
    sc.move(
        _u(rng, (1.5, 3.0)),
        z=_u(rng, FLOOR_Z_RANGE_M),
        xy=(sc.x + 0.3, sc.y),
        shape="linear",
        lying=True,
    )
    impact = sc.t_s
    _lie_after(sc, rng, 25.0)
    return sc, impact


def _ep_walk(rng: np.random.Generator, fps: float, p: Person) -> tuple[Script, float | None]:
    sc = _start(rng, fps, p)
    for _ in range(4):
        sc.walk_to(_open_spot(rng), p.speed_mps)
        sc.stay(_u(rng, (1.0, 5.0)), rng)
    return sc, None


def _ep_stand(rng: np.random.Generator, fps: float, p: Person) -> tuple[Script, float | None]:
    sc = _start(rng, fps, p)
    sc.stay(25.0, rng, sway_m=0.04)
    return sc, None


def _ep_sit(fast: bool) -> EpisodeBuilder:
    def build(rng: np.random.Generator, fps: float, p: Person) -> tuple[Script, float | None]:
        sc = _start(rng, fps, p)
        sc.walk_to(CHAIR_XY, p.speed_mps)
        dur = (0.3, 0.6) if fast else (1.2, 2.5)
        sc.move(_u(rng, dur), z=_u(rng, CHAIR_Z_RANGE_M), shape="fall" if fast else "smooth")
        sc.stay(_u(rng, (15.0, 25.0)), rng)
        sc.move(_u(rng, (1.0, 2.0)), z=p.stand_z_m)
        sc.stay(2.0, rng)
        return sc, None

    return build


def _ep_lie_bed(rng: np.random.Generator, fps: float, p: Person) -> tuple[Script, float | None]:
    sc = _start(rng, fps, p)
    sc.walk_to(BED_EDGE_XY, p.speed_mps)
    sc.move(_u(rng, (0.4, 1.2)), z=_u(rng, CHAIR_Z_RANGE_M), xy=(1.05, sc.y), shape="fall")
    sc.stay(_u(rng, (1.0, 4.0)), rng)
    sc.move(_u(rng, (0.5, 1.5)), z=_u(rng, BED_Z_RANGE_M), xy=BED_LIE_XY, lying=True)
    sc.stay(25.0, rng, sway_m=0.01, lying=True)
    return sc, None


def _ep_bend(rng: np.random.Generator, fps: float, p: Person) -> tuple[Script, float | None]:
    sc = _start(rng, fps, p)
    for _ in range(2):
        sc.move(_u(rng, (0.4, 0.8)), z=_u(rng, BEND_Z_RANGE_M), shape="fall")
        sc.stay(_u(rng, (1.0, 3.0)), rng)
        sc.move(_u(rng, (0.6, 1.2)), z=p.stand_z_m)
        sc.stay(_u(rng, (3.0, 6.0)), rng)
    return sc, None


def _ep_kneel(rng: np.random.Generator, fps: float, p: Person) -> tuple[Script, float | None]:
    sc = _start(rng, fps, p)
    sc.move(_u(rng, (0.8, 2.0)), z=_u(rng, KNEEL_Z_RANGE_M))
    sc.stay(_u(rng, (15.0, 25.0)), rng)
    sc.move(_u(rng, (1.5, 3.0)), z=p.stand_z_m)
    return sc, None


def _ep_sit_floor(rng: np.random.Generator, fps: float, p: Person) -> tuple[Script, float | None]:
    sc = _start(rng, fps, p)
    sc.move(_u(rng, (1.5, 2.5)), z=_u(rng, KNEEL_Z_RANGE_M))
    sc.stay(_u(rng, (1.0, 3.0)), rng)
    sc.move(_u(rng, (2.5, 4.0)), z=_u(rng, SIT_FLOOR_Z_RANGE_M), xy=(sc.x + 0.2, sc.y))
    sc.stay(25.0, rng, sway_m=0.02)
    return sc, None


def _ep_exercise(rng: np.random.Generator, fps: float, p: Person) -> tuple[Script, float | None]:
    sc = _start(rng, fps, p)
    sc.oscillate(_u(rng, (15.0, 25.0)), p.stand_z_m - _u(rng, (0.25, 0.45)), _u(rng, (1.5, 3.0)))
    sc.stay(3.0, rng)
    return sc, None


FALL_KINDS: dict[str, EpisodeBuilder] = {
    "fall_forward": _ep_fall_dir(0.0),
    "fall_backward": _ep_fall_dir(np.pi),
    "fall_sideways": _ep_fall_dir(np.pi / 2),
    "fall_from_chair": _ep_fall_from_chair,
    "fall_from_bed": _ep_fall_from_bed,
    "slow_slump": _ep_slow_slump,
}
CONFOUNDER_KINDS: dict[str, EpisodeBuilder] = {
    "walk": _ep_walk,
    "stand": _ep_stand,
    "sit_fast": _ep_sit(True),
    "sit_slow": _ep_sit(False),
    "lie_on_bed": _ep_lie_bed,
    "bend_pick": _ep_bend,
    "kneel": _ep_kneel,
    "sit_floor_slow": _ep_sit_floor,
    "exercise": _ep_exercise,
}
EPISODE_KINDS: dict[str, EpisodeBuilder] = {**FALL_KINDS, **CONFOUNDER_KINDS}


def _visitor(
    rng: np.random.Generator, fps: float, near: tuple[float, float], arrive_s: float, n: int
) -> Track:
    """A second person walking in at ``arrive_s`` and standing ~0.8-1.1 m from ``near``."""
    v = random_person(rng)
    sc = Script(fps, 2.5, 0.3, v.stand_z_m)
    sc.absent(arrive_s)
    ang = float(rng.uniform(0, 2 * np.pi))
    r = _u(rng, (0.8, 1.1))
    spot = (
        float(np.clip(near[0] + r * np.cos(ang), 0.1, 4.9)),
        float(np.clip(near[1] + r * np.sin(ang), 0.1, 4.9)),
    )
    sc.walk_to(spot, v.speed_mps)
    sc.stay(max(1.0, n / fps - sc.t_s), rng, sway_m=0.03)
    return sc.track(n)


def make_episode(
    kind: str,
    noise: str,
    rng: np.random.Generator,
    t0_s: float = 1_764_320_000.0,
    visitor: bool = False,
    person: Person | None = None,
) -> Episode:
    """One labelled episode (~30-45 s) of ``kind`` under noise profile ``noise``."""
    prof = NOISE_PROFILES[noise]
    p = person or random_person(rng)
    sc, impact = EPISODE_KINDS[kind](rng, prof.fps, p)
    n = round(sc.t_s * prof.fps)
    main = sc.track(n)
    tracks = [main]
    if visitor:
        at = (impact if impact is not None else sc.t_s / 2) + float(rng.uniform(-3.0, 4.0))
        ref = n - 1 if impact is None else min(n - 1, round(impact * prof.fps))
        tracks.append(
            _visitor(rng, prof.fps, (float(main.x_m[ref]), float(main.y_m[ref])), max(0.5, at), n)
        )
    rows = render(tracks, prof, rng, t0_s, tid_base=int(rng.integers(1, 50)))
    return Episode(
        kind=kind,
        is_fall=impact is not None,
        impact_s=None if impact is None else t0_s + impact,
        noise=noise,
        rows=rows,
        duration_s=n / prof.fps,
    )


# --- ordinary days ---------------------------------------------------------------------------
def ordinary_activity(
    rng: np.random.Generator,
    duration_s: float,
    noise: str,
    t0_s: float = 1_764_320_000.0,
    log: list[tuple[float, str]] | None = None,
) -> Rows:
    """Hours of ordinary life in the room: walking, chair, bed, bending, kneeling, exercise, sitting
    on the floor slowly, visitors. Deliberately busier than a real day (more transitions per hour),
    so false alarms per resident-day are over- rather than under-estimated."""
    prof = NOISE_PROFILES[noise]
    fps = prof.fps
    p = random_person(rng)
    sc = Script(fps, *_open_spot(rng), p.stand_z_m)
    acts = ["walk", "chair", "bed", "bend", "kneel", "exercise", "floor", "stand", "bathroom"]
    probs = np.array([0.3, 0.2, 0.08, 0.15, 0.05, 0.05, 0.03, 0.1, 0.04])
    while sc.t_s < duration_s:
        a = acts[int(rng.choice(len(acts), p=probs / probs.sum()))]
        if log is not None:
            log.append((t0_s + sc.t_s, a))
        if a == "walk":
            for _ in range(int(rng.integers(1, 4))):
                sc.walk_to(_open_spot(rng), p.speed_mps)
                sc.stay(_u(rng, (0.5, 5.0)), rng)
        elif a == "chair":
            sc.walk_to(CHAIR_XY, p.speed_mps)
            fast = rng.random() < 0.5
            sc.move(
                _u(rng, (0.3, 0.6) if fast else (1.2, 2.5)),
                z=_u(rng, CHAIR_Z_RANGE_M),
                shape="fall" if fast else "smooth",
            )
            sc.stay(_u(rng, (60.0, 900.0)), rng)
            sc.move(_u(rng, (1.0, 2.0)), z=p.stand_z_m)
        elif a == "bed":
            sc.walk_to(BED_EDGE_XY, p.speed_mps)
            sc.move(_u(rng, (0.4, 1.2)), z=_u(rng, CHAIR_Z_RANGE_M), xy=(1.05, sc.y), shape="fall")
            sc.stay(_u(rng, (2.0, 20.0)), rng)
            sc.move(
                _u(rng, (0.5, 1.5)),
                z=_u(rng, BED_Z_RANGE_M),
                xy=(BED_LIE_XY[0], float(rng.uniform(3.5, 4.5))),
                lying=True,
            )
            sc.stay(_u(rng, (300.0, 2400.0)), rng, sway_m=0.01, lying=True)
            sc.move(_u(rng, (1.0, 3.0)), z=_u(rng, CHAIR_Z_RANGE_M), xy=(1.05, sc.y))
            sc.move(_u(rng, (1.0, 2.0)), z=p.stand_z_m, xy=BED_EDGE_XY)
        elif a == "bend":
            sc.move(_u(rng, (0.4, 0.8)), z=_u(rng, BEND_Z_RANGE_M), shape="fall")
            sc.stay(_u(rng, (1.0, 3.0)), rng)
            sc.move(_u(rng, (0.6, 1.2)), z=p.stand_z_m)
        elif a == "kneel":
            sc.move(_u(rng, (0.8, 2.0)), z=_u(rng, KNEEL_Z_RANGE_M))
            sc.stay(_u(rng, (10.0, 120.0)), rng)
            sc.move(_u(rng, (1.5, 3.0)), z=p.stand_z_m)
        elif a == "exercise":
            sc.oscillate(
                _u(rng, (30.0, 300.0)), p.stand_z_m - _u(rng, (0.25, 0.45)), _u(rng, (1.5, 3.0))
            )
        elif a == "floor":
            sc.move(_u(rng, (1.5, 2.5)), z=_u(rng, KNEEL_Z_RANGE_M))
            sc.stay(_u(rng, (1.0, 3.0)), rng)
            sc.move(_u(rng, (2.5, 4.0)), z=_u(rng, SIT_FLOOR_Z_RANGE_M))
            sc.stay(_u(rng, (30.0, 300.0)), rng)
            sc.move(_u(rng, (1.5, 3.0)), z=_u(rng, KNEEL_Z_RANGE_M))
            sc.move(_u(rng, (1.5, 3.0)), z=p.stand_z_m)
        elif a == "bathroom":
            sc.walk_to((4.2, 4.2), p.speed_mps)
            sc.absent(_u(rng, (60.0, 600.0)))  # out of the radar's view
            sc.walk_to(_open_spot(rng), p.speed_mps)
        else:
            sc.stay(_u(rng, (5.0, 60.0)), rng, sway_m=0.04)
    n = round(duration_s * fps)
    tracks = [sc.track(n)]
    if rng.random() < 0.3:  # a visitor for a while
        v = random_person(rng)
        vs = Script(fps, 2.5, 0.3, v.stand_z_m)
        vs.absent(_u(rng, (0.0, duration_s / 2)))
        for _ in range(20):
            vs.walk_to(_open_spot(rng), v.speed_mps)
            vs.stay(_u(rng, (5.0, 60.0)), rng, sway_m=0.04)
        vs.walk_to((2.5, 0.2), v.speed_mps)
        tracks.append(vs.track(n))
    return render(tracks, prof, rng, t0_s, tid_base=int(rng.integers(1, 50)))
