"""The hot topics (radar/frames, radar/vitals, status) decoded straight from bytes into typed structs.

msgspec validates while it parses: each ``Struct`` below mirrors one payload of PROTOCOL.md v1 with
the contract's limits (care_hub/kernel/limits.py) as constraints, so a valid radar window becomes
typed values without an intermediate dict per target. It is a fast path, never a judge: anything
it does not accept, and anything it could judge differently from ``devices.contract``'s exact
decoder, returns None and the exact decoder decides and gives the reason: bytes outside ASCII and
``\\u`` escapes (orjson refuses invalid UTF-8 and lone surrogates), and fields the contract does
not name (msgspec would skip them unparsed, orjson refuses e.g. a number beyond a double there),
so a device's extension fields cost it the exact path's speed, never a different decision.
tests/devices/test_decode_differential.py checks on thousands of valid and mutated payloads that
whatever this path accepts, the exact decoder accepts with the same event.
"""

from __future__ import annotations

import math
from itertools import chain
from operator import attrgetter
from typing import Annotated, Final, Literal

import msgspec
import numpy as np
import numpy.typing as npt
from msgspec import Meta, Struct

from care_hub.kernel.limits import (
    MAX_ABS_DISPLACEMENT_MM,
    MAX_BOOT,
    MAX_FPS,
    MAX_FRAMES_PER_WINDOW,
    MAX_FW_CHARS,
    MAX_RSSI_DBM,
    MAX_SEQ,
    MAX_TARGETS_PER_FRAME,
    MAX_TID,
    MAX_TS_S,
    MAX_VITALS_FS_HZ,
    MAX_VITALS_SAMPLES,
    MIN_RSSI_DBM,
    MIN_VITALS_FS_HZ,
)

__all__ = [
    "FramesPayload",
    "StatusPayload",
    "VitalsPayload",
    "decode_frames",
    "decode_status",
    "decode_vitals",
    "frames_table",
]

# The envelope of every payload (devices.contract._decode): ts in (0, MAX_TS_S], seq and the
# optional boot counter in [0, 2**63 - 1]; msgspec's float takes JSON integers, never booleans.
Ts = Annotated[float, Meta(gt=0.0, le=MAX_TS_S)]
Seq = Annotated[int, Meta(ge=0, le=MAX_SEQ)]
Boot = Annotated[int, Meta(ge=0, le=MAX_BOOT)]


# gc=False: these structs hold only numbers, strings and lists of each other, never a cycle, so
# the cyclic GC need not track the ~12 objects a radar window makes. forbid_unknown_fields: see
# the module docstring.
class Target(Struct, gc=False, forbid_unknown_fields=True):
    # Range checks on positions, speeds and tid drop a target rather than reject its window, so
    # they are done over the whole table (contract._TABLE_MID/_TABLE_HALF_WIDTH), not here.
    # Within int64, so the table's float conversion cannot overflow; beyond it the exact path
    # decides (a tid outside 0..MAX_TID only drops the target).
    tid: Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]
    x: float
    y: float
    z: float
    vx: float | None = None  # optional; null or absent -> NaN
    vy: float | None = None
    vz: float | None = None


class Frame(Struct, gc=False, forbid_unknown_fields=True):
    targets: Annotated[list[Target], Meta(max_length=MAX_TARGETS_PER_FRAME)]


class FramesPayload(Struct, gc=False, forbid_unknown_fields=True):
    ts: Ts
    seq: Seq
    fps: Annotated[float, Meta(gt=0.0, le=MAX_FPS)]
    frames: Annotated[list[Frame], Meta(min_length=1, max_length=MAX_FRAMES_PER_WINDOW)]
    boot: Boot | None = None


class VitalsPayload(Struct, gc=False, forbid_unknown_fields=True):
    ts: Ts
    seq: Seq
    tid: Annotated[int, Meta(ge=0, le=MAX_TID)]
    fs: Annotated[float, Meta(ge=MIN_VITALS_FS_HZ, le=MAX_VITALS_FS_HZ)]
    displacement_mm: Annotated[
        list[Annotated[float, Meta(ge=-MAX_ABS_DISPLACEMENT_MM, le=MAX_ABS_DISPLACEMENT_MM)]],
        Meta(min_length=1, max_length=MAX_VITALS_SAMPLES),
    ]
    boot: Boot | None = None


class StatusPayload(Struct, gc=False, forbid_unknown_fields=True):
    ts: Ts
    seq: Seq
    state: Literal["online", "offline"]
    battery: Annotated[float, Meta(ge=0.0, le=1.0)] | None = None
    # length only: printable and not blank is checked in Python (decode_status)
    fw: Annotated[str, Meta(min_length=1, max_length=MAX_FW_CHARS)] | None = None
    rssi: Annotated[float, Meta(ge=MIN_RSSI_DBM, le=MAX_RSSI_DBM)] | None = None
    boot: Boot | None = None


_FRAMES: Final = msgspec.json.Decoder(FramesPayload)
_VITALS: Final = msgspec.json.Decoder(VitalsPayload)
_STATUS: Final = msgspec.json.Decoder(StatusPayload)


def _plain(payload: bytes) -> bool:
    """Bytes msgspec judges exactly as orjson does: ASCII (so valid UTF-8 everywhere, also in the
    fields msgspec skips) without ``\\u`` escapes (lone surrogates: orjson refuses them)."""
    return payload.isascii() and b"\\u" not in payload


def decode_frames(payload: bytes) -> FramesPayload | None:
    """A radar/frames payload whose shape, types and envelope the contract accepts, else None."""
    if not _plain(payload):
        return None
    try:
        return _FRAMES.decode(payload)
    except Exception:  # msgspec errors, RecursionError on deep nesting: the exact path decides
        return None


def decode_vitals(payload: bytes) -> VitalsPayload | None:
    if not _plain(payload):
        return None
    try:
        return _VITALS.decode(payload)
    except Exception:
        return None


def decode_status(payload: bytes) -> StatusPayload | None:
    if not _plain(payload):
        return None
    try:
        status = _STATUS.decode(payload)
    except Exception:
        return None
    fw = status.fw
    if fw is not None and (not fw.isprintable() or fw.isspace()):
        return None
    return status


_GET_FRAMES: Final = attrgetter("frames")
_GET_TARGETS: Final = attrgetter("targets")
_TARGET_ROW: Final = attrgetter("tid", "x", "y", "z", "vx", "vy", "vz")


def frames_table(
    windows: list[FramesPayload],
) -> tuple[list[int], list[int], npt.NDArray[np.float64]]:
    """Frames per window, targets per frame, and the (7, n) float64 table (tid, x, y, z, vx, vy,
    vz; a missing velocity is NaN) of every target of ``windows``, in window, frame, target order.

    Range checks are the caller's (contract: an impossible target is dropped, not rejected).
    """
    frames_lists = list(map(_GET_FRAMES, windows))
    n_frames = list(map(len, frames_lists))
    per_frame = list(map(_GET_TARGETS, chain.from_iterable(frames_lists)))
    counts = list(map(len, per_frame))
    targets = list(chain.from_iterable(per_frame))
    n = 7 * len(targets)
    try:
        values = np.fromiter(chain.from_iterable(map(_TARGET_ROW, targets)), np.float64, n)
    except TypeError:  # a null or absent velocity somewhere
        values = np.fromiter(
            (math.nan if v is None else v for v in chain.from_iterable(map(_TARGET_ROW, targets))),
            np.float64,
            n,
        )
    # tid is exact in float64 below 2**53; larger tids are out of range and dropped by the caller.
    return n_frames, counts, values.reshape(-1, 7).T
