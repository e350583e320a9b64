"""Typed, normalised device events: what the decoder hands to the signal core and the alert engine.

Every event is a frozen, slotted dataclass of plain values and numpy arrays, no ORM, no I/O.
Times are device-clock UNIX seconds (float); units are in the field names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

TopicKind = Literal["status", "radar/frames", "radar/vitals", "button", "kit"]
TOPIC_KINDS: tuple[TopicKind, ...] = ("status", "radar/frames", "radar/vitals", "button", "kit")

# Which device type may publish on which topic kind (a button publishing radar frames is spoofing).
KINDS_BY_DEVICE_TYPE: dict[str, frozenset[str]] = {
    "radar": frozenset({"status", "radar/frames", "radar/vitals"}),
    "button": frozenset({"status", "button"}),
    "kit": frozenset({"status", "kit"}),
}

ButtonAction = Literal["call", "cancel", "presence"]
KitKind = Literal["blood_pressure", "glucose", "spo2", "temperature", "pulse"]


@dataclass(frozen=True, slots=True)
class Envelope:
    """Fields every payload carries, plus where it came from."""

    device_id: str
    kind: TopicKind
    ts: float
    seq: int
    # Optional v1 extension: the device's boot counter, raised by one at every start. A higher one
    # than last seen means the seq counter restarted; None when the device does not send it.
    boot: int | None = None


@dataclass(frozen=True, slots=True)
class StatusEvent:
    env: Envelope
    state: Literal["online", "offline"]
    battery: float | None = None  # 0..1
    fw: str | None = None
    rssi: float | None = None  # dBm


@dataclass(frozen=True, slots=True)
class ButtonEvent:
    env: Envelope
    action: ButtonAction


@dataclass(frozen=True, slots=True)
class KitEvent:
    env: Envelope
    resident: str
    kit_kind: KitKind
    # Normalised numeric values, units as in PROTOCOL.md (mmHg, mmol_l, percent, celsius, bpm).
    values: dict[str, float]
    context: str | None = None  # glucose context: fasting | postprandial | random


@dataclass(frozen=True, slots=True)
class RadarFramesEvent:
    """One window of tracker frames, flattened to one row per (frame, target).

    Frame i of the window was taken at ``env.ts + i / fps``. Frames without targets have no rows,
    so ``n_frames`` is kept to know the window's length (an empty room is information too).
    """

    env: Envelope
    fps: float
    n_frames: int
    frame_index: npt.NDArray[np.int32] = field(repr=False)  # (n,) which frame of the window
    tid: npt.NDArray[np.int64] = field(repr=False)  # (n,)
    x_m: npt.NDArray[np.float64] = field(repr=False)  # (n,)
    y_m: npt.NDArray[np.float64] = field(repr=False)
    z_m: npt.NDArray[np.float64] = field(repr=False)
    vx_mps: npt.NDArray[np.float64] = field(repr=False)
    vy_mps: npt.NDArray[np.float64] = field(repr=False)
    vz_mps: npt.NDArray[np.float64] = field(repr=False)  # NaN where the device gave no velocity
    # Well-formed targets with impossible values (outside the room, absurd speed) that the decoder
    # dropped from this window; the rows above are the targets it kept.
    dropped_targets: int = 0


@dataclass(frozen=True, slots=True)
class RadarVitalsEvent:
    env: Envelope
    tid: int
    fs_hz: float
    displacement_mm: npt.NDArray[np.float64] = field(repr=False)


DeviceEvent = StatusEvent | ButtonEvent | KitEvent | RadarFramesEvent | RadarVitalsEvent
