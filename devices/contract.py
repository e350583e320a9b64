"""The device contract of PROTOCOL.md v1: topics, limits, and a pure decoder from MQTT messages to typed events.

No I/O, no logging: ``decode`` turns ``(topic, payload)`` into a ``DeviceEvent`` or raises ``ContractError``
(and nothing else) whose ``reason`` is a short stable code the ingest layer dead-letters under.
The rules, limits and their reasons are written out in docs/device-contract.md.
"""

from __future__ import annotations

import contextlib
import math
import re
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any, Final, Literal, NoReturn, get_args

import numpy as np
import numpy.typing as npt
import orjson

from care_hub.kernel.limits import (
    DIASTOLIC_MAX_MMHG,
    DIASTOLIC_MIN_MMHG,
    GLUCOSE_MAX_MMOL_L,
    GLUCOSE_MIN_MMOL_L,
    MAX_ABS_DISPLACEMENT_MM,
    MAX_ABS_SPEED_MPS,
    MAX_ABS_XY_M,
    MAX_BOOT,
    MAX_DEVICE_ID_CHARS,
    MAX_FPS,
    MAX_FRAMES_PER_WINDOW,
    MAX_FW_CHARS,
    MAX_PAYLOAD_BYTES,
    MAX_RESIDENT_CHARS,
    MAX_RSSI_DBM,
    MAX_SEQ,
    MAX_TARGETS_PER_FRAME,
    MAX_TID,
    MAX_TS_S,
    MAX_VITALS_FS_HZ,
    MAX_VITALS_SAMPLES,
    MAX_Z_M,
    MIN_RSSI_DBM,
    MIN_VITALS_FS_HZ,
    MIN_Z_M,
    PULSE_MAX_BPM,
    PULSE_MIN_BPM,
    SPO2_MAX_PERCENT,
    SPO2_MIN_PERCENT,
    SYSTOLIC_MAX_MMHG,
    SYSTOLIC_MIN_MMHG,
    TEMP_MAX_C,
    TEMP_MIN_C,
)
from devices import structs
from devices.events import (
    TOPIC_KINDS,
    ButtonEvent,
    DeviceEvent,
    Envelope,
    KitEvent,
    RadarFramesEvent,
    RadarVitalsEvent,
    StatusEvent,
    TopicKind,
)

__all__ = [
    "CMD_TOPIC_SUFFIX",
    "DEVICE_ID_PATTERN",
    "MAX_PAYLOAD_BYTES",
    "REASONS",
    "SUBSCRIPTION_FILTERS",
    "TOPIC_PREFIX",
    "ContractError",
    "Reason",
    "cmd_topic",
    "decode",
    "decode_object",
    "encode",
    "excerpt",
    "is_valid_device_id",
    "parse_topic",
    "topic_for",
]

# --- Topics ----------------------------------------------------------------------------------------

TOPIC_PREFIX: Final = "care/v1/"
CMD_TOPIC_SUFFIX: Final = "cmd"  # hub -> device; never decoded as device data
DEVICE_ID_PATTERN: Final = rf"[A-Za-z0-9_-]{{1,{MAX_DEVICE_ID_CHARS}}}"
_DEVICE_ID_RE: Final = re.compile(DEVICE_ID_PATTERN)

# (filter, QoS to subscribe with). Frames and vitals are subscribed at QoS 0 even when a radar
# publishes them at QoS 1: the broker then delivers them at 0, because paho at QoS 1 manages only
# ~4.3k msg/s on our 2-core box (FIELD-NOTES) and a lost 1 s radar window is replaced by the next.
# Status, button and kit carry calls and measurements that must not be lost: QoS 1.
SUBSCRIPTION_FILTERS: Final[tuple[tuple[str, int], ...]] = (
    (f"{TOPIC_PREFIX}+/status", 1),
    (f"{TOPIC_PREFIX}+/radar/frames", 0),
    (f"{TOPIC_PREFIX}+/radar/vitals", 0),
    (f"{TOPIC_PREFIX}+/button", 1),
    (f"{TOPIC_PREFIX}+/kit", 1),
)

_KIND_BY_SUFFIX: Final[dict[str, TopicKind]] = {k: k for k in TOPIC_KINDS}

# --- Limits ----------------------------------------------------------------------------------------

# Every limit, with why, is in care_hub/kernel/limits.py: the one source the database columns that
# store contract fields take their lengths from (tests/devices/test_limits.py walks both).

# --- Errors ----------------------------------------------------------------------------------------

Reason = Literal[
    "too_large",  # payload above MAX_PAYLOAD_BYTES
    "bad_topic",  # topic not care/v1/{device_id}/{kind}, bad device id, unknown kind
    "not_device_topic",  # care/v1/{id}/cmd: the hub's own commands, not device data
    "not_json",  # not UTF-8 JSON (includes NaN/Infinity literals, > 1024 levels of nesting)
    "not_object",  # top level is not a JSON object
    "missing_field",  # a required field is absent (or null)
    "bad_type",  # a field has the wrong JSON type (booleans are never numbers)
    "not_finite",  # NaN or infinity (orjson rejects them at parse; kept for decode_object)
    "out_of_range",  # a number outside its allowed range
    "bad_length",  # a list or string shorter or longer than allowed
    "bad_value",  # a string with control characters or only whitespace
    "unknown_state",  # status.state not online|offline
    "unknown_action",  # button.action not call|cancel|presence
    "unknown_kit_kind",  # kit.kind not one of the five kinds
    "unknown_context",  # glucose context not fasting|postprandial|random
    "inconsistent",  # values contradict each other (systolic <= diastolic)
    "decoder_bug",  # an unexpected exception inside the decoder: a bug here, never expected
]
REASONS: Final[tuple[str, ...]] = get_args(Reason)


class ContractError(ValueError):
    """A message that breaks the device contract.

    ``reason`` is a stable machine code (see ``Reason``); ``field`` the dotted path of the offending
    field within the payload, if any; ``str(err)`` reads like ``"kit.values.percent: 104 above 100"``.
    ``device_id`` and ``kind`` are filled in when the topic could be parsed, for dead-letter records.
    """

    def __init__(
        self,
        reason: Reason,
        detail: str,
        *,
        field: str | None = None,
        device_id: str | None = None,
        kind: TopicKind | None = None,
    ) -> None:
        super().__init__(reason, detail)
        self.reason: Reason = reason
        self.detail = detail
        self.field = field
        self.device_id = device_id
        self.kind = kind

    def __str__(self) -> str:
        where = ".".join(part for part in (self.kind, self.field) if part)
        return f"{where}: {self.detail}" if where else self.detail


def _fail(reason: Reason, field: str | None, detail: str) -> NoReturn:
    raise ContractError(reason, detail, field=field)


_JSON_TYPE: Final[dict[type, str]] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def _json_type(value: object) -> str:
    return _JSON_TYPE.get(type(value), type(value).__name__)


def _show(value: object) -> str:
    """A short repr for error messages: never echoes more than 40 characters of device input."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _read_only(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.flags.writeable = False
    return array


# --- Field readers (slow paths only raise) ---------------------------------------------------------

_NUMBER_TYPES: Final = frozenset({int, float})
_NUMBER_OR_NULL_TYPES: Final = frozenset({int, float, type(None)})


def _check_number(value: object, field: str, lo: float, hi: float, lo_open: bool = False) -> float:
    """``value`` as a float within [lo, hi] (or (lo, hi] if ``lo_open``); booleans are not numbers."""
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            _fail("not_finite", field, f"{_show(value)} is not finite")
    elif kind is not int:
        _fail("bad_type", field, f"expected a number, got {_json_type(value)}")
    # Compared before float(): a huge int compares exactly and is never converted (OverflowError).
    if value < lo or (lo_open and value == lo):  # type: ignore[operator]
        _fail("out_of_range", field, f"{_show(value)} {'not above' if lo_open else 'below'} {lo:g}")
    if value > hi:  # type: ignore[operator]
        _fail("out_of_range", field, f"{_show(value)} above {hi:g}")
    return float(value)  # type: ignore[arg-type]


def _check_int(value: object, field: str, lo: int, hi: int) -> int:
    if type(value) is not int:
        _fail("bad_type", field, f"expected an integer, got {_json_type(value)}")
    if value < lo:
        _fail("out_of_range", field, f"{_show(value)} below {lo}")
    if value > hi:
        _fail("out_of_range", field, f"{_show(value)} above {hi}")
    return value


def _required(obj: dict[str, Any], key: str, field: str) -> Any:
    value = obj.get(key)
    if value is None:
        _fail("missing_field", field, "required")
    return value


def _check_string(value: object, field: str, max_chars: int) -> str:
    if type(value) is not str:
        _fail("bad_type", field, f"expected a string, got {_json_type(value)}")
    if not 1 <= len(value) <= max_chars:
        _fail("bad_length", field, f"length {len(value)} not in 1..{max_chars}")
    if not value.isprintable() or value.isspace():
        _fail("bad_value", field, f"{_show(value)} has control characters or is blank")
    return value


def _check_choice(value: object, field: str, choices: frozenset[str], reason: Reason) -> str:
    if type(value) is not str:
        _fail("bad_type", field, f"expected a string, got {_json_type(value)}")
    if value not in choices:
        _fail(reason, field, f"{_show(value)} not one of {'|'.join(sorted(choices))}")
    return value


def _check_list(value: object, field: str, max_len: int) -> list[Any]:
    if type(value) is not list:
        _fail("bad_type", field, f"expected an array, got {_json_type(value)}")
    if not 1 <= len(value) <= max_len:
        _fail("bad_length", field, f"length {len(value)} not in 1..{max_len}")
    return value


# --- Topics ----------------------------------------------------------------------------------------


def is_valid_device_id(device_id: object) -> bool:
    return type(device_id) is str and _DEVICE_ID_RE.fullmatch(device_id) is not None


def topic_for(device_id: str, kind: TopicKind) -> str:
    """The topic a device publishes ``kind`` on, e.g. ``care/v1/radar-7/radar/frames``."""
    if not is_valid_device_id(device_id):
        raise ContractError("bad_topic", f"bad device id {_show(device_id)}")
    if kind not in _KIND_BY_SUFFIX:
        raise ContractError("bad_topic", f"unknown topic kind {_show(kind)}")
    return f"{TOPIC_PREFIX}{device_id}/{kind}"


def cmd_topic(device_id: str) -> str:
    """The hub -> device command topic (PROTOCOL section 2)."""
    if not is_valid_device_id(device_id):
        raise ContractError("bad_topic", f"bad device id {_show(device_id)}")
    return f"{TOPIC_PREFIX}{device_id}/{CMD_TOPIC_SUFFIX}"


def parse_topic(topic: str) -> tuple[str, TopicKind]:
    """``care/v1/{device_id}/{kind}`` -> ``(device_id, kind)``; raises ContractError.

    ``bad_topic`` for anything that is not a device -> hub topic, ``not_device_topic`` for the hub's
    own ``cmd`` topic (seen if someone subscribes to ``care/v1/#``): ingest may ignore those quietly.
    """
    if type(topic) is not str:
        raise ContractError("bad_topic", f"expected a string topic, got {type(topic).__name__}")
    return _parse_topic(topic)


# 10,000 residents x ~3 topics each fit; a hit skips the regex. Errors are never cached.
@lru_cache(maxsize=1 << 16)
def _parse_topic(topic: str) -> tuple[str, TopicKind]:
    if not topic.startswith(TOPIC_PREFIX):
        raise ContractError("bad_topic", f"{_show(topic)} not under {TOPIC_PREFIX}")
    device_id, sep, suffix = topic[len(TOPIC_PREFIX) :].partition("/")
    if not sep or _DEVICE_ID_RE.fullmatch(device_id) is None:
        raise ContractError("bad_topic", f"{_show(topic)}: bad device id")
    kind = _KIND_BY_SUFFIX.get(suffix)
    if kind is None:
        if suffix == CMD_TOPIC_SUFFIX:
            raise ContractError("not_device_topic", f"{_show(topic)} is a hub -> device topic")
        raise ContractError("bad_topic", f"{_show(topic)}: unknown topic kind")
    return device_id, kind


# --- Per-kind decoders -----------------------------------------------------------------------------

_STATES: Final = frozenset({"online", "offline"})
_ACTIONS: Final = frozenset({"call", "cancel", "presence"})
_GLUCOSE_CONTEXTS: Final = frozenset({"fasting", "postprandial", "random"})


def _status(env: Envelope, obj: dict[str, Any]) -> StatusEvent:
    state = _check_choice(_required(obj, "state", "state"), "state", _STATES, "unknown_state")
    battery = obj.get("battery")
    if battery is not None:
        battery = _check_number(battery, "battery", 0.0, 1.0)
    fw = obj.get("fw")
    if fw is not None:
        fw = _check_string(fw, "fw", MAX_FW_CHARS)
    rssi = obj.get("rssi")
    if rssi is not None:
        rssi = _check_number(rssi, "rssi", MIN_RSSI_DBM, MAX_RSSI_DBM)
    return StatusEvent(env, state, battery, fw, rssi)  # type: ignore[arg-type]


def _button(env: Envelope, obj: dict[str, Any]) -> ButtonEvent:
    action = _check_choice(_required(obj, "action", "action"), "action", _ACTIONS, "unknown_action")
    return ButtonEvent(env, action)  # type: ignore[arg-type]


# kind -> ((key, lo, hi, required), ...), units as in PROTOCOL.md.
_KIT_VALUES: Final[dict[str, tuple[tuple[str, float, float, bool], ...]]] = {
    "blood_pressure": (
        ("systolic", SYSTOLIC_MIN_MMHG, SYSTOLIC_MAX_MMHG, True),
        ("diastolic", DIASTOLIC_MIN_MMHG, DIASTOLIC_MAX_MMHG, True),
        ("pulse", PULSE_MIN_BPM, PULSE_MAX_BPM, False),
    ),
    "glucose": (("mmol_l", GLUCOSE_MIN_MMOL_L, GLUCOSE_MAX_MMOL_L, True),),
    "spo2": (
        ("percent", SPO2_MIN_PERCENT, SPO2_MAX_PERCENT, True),
        ("pulse", PULSE_MIN_BPM, PULSE_MAX_BPM, False),
    ),
    "temperature": (("celsius", TEMP_MIN_C, TEMP_MAX_C, True),),
    "pulse": (("bpm", PULSE_MIN_BPM, PULSE_MAX_BPM, True),),
}
_KIT_KINDS: Final = frozenset(_KIT_VALUES)


def _kit(env: Envelope, obj: dict[str, Any]) -> KitEvent:
    resident = _check_string(_required(obj, "resident", "resident"), "resident", MAX_RESIDENT_CHARS)
    kit_kind = _check_choice(_required(obj, "kind", "kind"), "kind", _KIT_KINDS, "unknown_kit_kind")
    raw = _required(obj, "values", "values")
    if type(raw) is not dict:
        _fail("bad_type", "values", f"expected an object, got {_json_type(raw)}")
    values: dict[str, float] = {}
    for key, lo, hi, required in _KIT_VALUES[kit_kind]:
        value = raw.get(key)
        if value is None:
            if required:
                _fail("missing_field", f"values.{key}", "required")
            continue
        values[key] = _check_number(value, f"values.{key}", lo, hi)
    if kit_kind == "blood_pressure" and values["systolic"] <= values["diastolic"]:
        _fail(
            "inconsistent",
            "values.systolic",
            f"{values['systolic']:g} not above diastolic {values['diastolic']:g}",
        )
    context = None
    if kit_kind == "glucose":
        context = raw.get("context")
        if context is not None:
            context = _check_choice(context, "values.context", _GLUCOSE_CONTEXTS, "unknown_context")
    return KitEvent(env, resident, kit_kind, values, context)  # type: ignore[arg-type]


def _vitals(env: Envelope, obj: dict[str, Any]) -> RadarVitalsEvent:
    tid = _check_int(_required(obj, "tid", "tid"), "tid", 0, MAX_TID)
    fs_hz = _check_number(_required(obj, "fs", "fs"), "fs", MIN_VITALS_FS_HZ, MAX_VITALS_FS_HZ)
    samples = _check_list(
        _required(obj, "displacement_mm", "displacement_mm"), "displacement_mm", MAX_VITALS_SAMPLES
    )
    if not _NUMBER_TYPES.issuperset(map(type, samples)):  # one C-level pass; bools fail it
        for i, sample in enumerate(samples):
            if type(sample) not in _NUMBER_TYPES:
                _fail(
                    "bad_type",
                    f"displacement_mm[{i}]",
                    f"expected a number, got {_json_type(sample)}",
                )
    # Ints up to 2**64 come from orjson as int, larger as float: all convert to float64.
    displacement_mm = np.array(samples, dtype=np.float64)
    displacement_mm.flags.writeable = False  # events are frozen; so are their arrays
    magnitude = np.abs(displacement_mm)
    if not magnitude.max() <= MAX_ABS_DISPLACEMENT_MM:  # also catches NaN
        i = int(np.argmax(~(magnitude <= MAX_ABS_DISPLACEMENT_MM)))
        value = samples[i]
        if type(value) is float and not math.isfinite(value):
            _fail("not_finite", f"displacement_mm[{i}]", f"{_show(value)} is not finite")
        _fail(
            "out_of_range",
            f"displacement_mm[{i}]",
            f"{_show(value)} beyond +-{MAX_ABS_DISPLACEMENT_MM:g} mm",
        )
    return RadarVitalsEvent(env, tid, fs_hz, displacement_mm)


def _frames(env: Envelope, obj: dict[str, Any]) -> RadarFramesEvent:
    """The hot path (~80% of traffic): C-level map/chain over the targets and one numpy table; no
    per-target Python code unless something is wrong.

    Shape or type errors (frame not an object, ``targets`` not a list, a target missing ``tid``/``x``/
    ``y``/``z`` or with a non-number in them) reject the message: they are a firmware bug, and dropping
    every target quietly would make an occupied room look empty. A well-formed target with impossible
    values (outside the room, absurd speed, tid out of range) is dropped and counted in
    ``dropped_targets``; the other targets of the window are kept (phantoms are normal, FIELD-NOTES).
    """
    fps = _check_number(_required(obj, "fps", "fps"), "fps", 0.0, MAX_FPS, lo_open=True)
    frames = _check_list(_required(obj, "frames", "frames"), "frames", MAX_FRAMES_PER_WINDOW)
    n_frames = len(frames)
    try:
        per_frame = list(map(_GET_TARGETS, frames))  # TypeError/KeyError: frame not an object
        if set(map(type, per_frame)) != _LIST_ONLY:
            raise TypeError
        counts = list(map(len, per_frame))
        most = max(counts)
        if most > MAX_TARGETS_PER_FRAME:
            raise TypeError
        targets = list(chain.from_iterable(per_frame))
        if not targets:
            return _empty_frames_event(env, fps, n_frames)
        try:
            rows = list(map(_TARGET_ROW, targets))  # TypeError/KeyError if malformed
        except KeyError:
            rows = _rows_with_missing_velocities(targets)
    except (KeyError, TypeError):
        _explain_frames(frames)
    # One C-level pass over all values for their types (null is allowed only as a velocity).
    types = set(map(type, chain.from_iterable(rows)))
    if (
        not _NUMBER_OR_NULL_TYPES.issuperset(types)
        or set(map(type, map(_GET_TID, targets))) != _INT_ONLY
        or (_NONE_TYPE in types and _has_null_position(rows))
    ):
        _explain_frames(frames)
    # (7, n): tid, x, y, z, vx, vy, vz; null velocity -> NaN ("not given"). The event's columns are
    # strided views of this one block (no copy: ~0.6 us a window). tid is exact in float64: MAX_TID
    # < 2**53, and larger tids are dropped below.
    return _frames_event(env, fps, n_frames, counts, np.array(rows, dtype=np.float64).T)


def _frames_event(
    env: Envelope, fps: float, n_frames: int, counts: list[int], table: npt.NDArray[np.float64]
) -> RadarFramesEvent:
    """The event of one window from its (7, n) table and targets per frame: impossible targets
    dropped and counted (shared by the exact decoder and the typed fast path)."""
    if table.shape[1] == 0:
        return _empty_frames_event(env, fps, n_frames)
    if table.shape[1] == n_frames and max(counts) == 1:  # one person tracked all window long
        index = _FRAME_NUMBERS[:n_frames]
    else:
        index = np.repeat(_FRAME_NUMBERS[:n_frames], counts)
    dropped = 0
    inside = np.abs(table - _TABLE_MID) <= _TABLE_HALF_WIDTH  # NaN and inf are not inside
    if not inside.all():
        inside[4:] |= np.isnan(table[4:])  # a missing velocity is fine; NaN positions are dropped
        ok = inside.all(axis=0)
        dropped = int(ok.size - np.count_nonzero(ok))
        if dropped:
            table, index = table[:, ok], index[ok]
    # Events are frozen; so are their arrays (index may be a view of the shared _FRAME_NUMBERS).
    table.flags.writeable = False
    index.flags.writeable = False
    tid = table[0].astype(np.int64)
    tid.flags.writeable = False
    _, x_m, y_m, z_m, vx_mps, vy_mps, vz_mps = table
    return RadarFramesEvent(
        env, fps, n_frames, index, tid, x_m, y_m, z_m, vx_mps, vy_mps, vz_mps, dropped
    )


_GET_TARGETS = itemgetter("targets")
_GET_TID = itemgetter("tid")
_TARGET_POSITION = itemgetter("tid", "x", "y", "z")
_TARGET_ROW = itemgetter("tid", "x", "y", "z", "vx", "vy", "vz")
_VELOCITY_KEYS: Final = ("vx", "vy", "vz")
_NO_VELOCITY: Final = (math.nan, math.nan, math.nan)
_LIST_ONLY: Final = {list}
_INT_ONLY: Final = {int}
_NONE_TYPE: Final = type(None)
# Frame numbers 0..MAX-1; slices of it are handed out as frame_index, so it is read-only.
_FRAME_NUMBERS: Final = _read_only(np.arange(MAX_FRAMES_PER_WINDOW, dtype=np.int32))
# Bounds of the rows of the (7, n) table (tid, x, y, z, vx, vy, vz) as centre and half width, so that
# one |table - mid| <= half test checks both sides.
_TABLE_LO: Final = np.array([0, -MAX_ABS_XY_M, -MAX_ABS_XY_M, MIN_Z_M] + [-MAX_ABS_SPEED_MPS] * 3)
_TABLE_HI: Final = np.array(
    [MAX_TID, MAX_ABS_XY_M, MAX_ABS_XY_M, MAX_Z_M] + [MAX_ABS_SPEED_MPS] * 3
)
_TABLE_MID: Final = ((_TABLE_LO + _TABLE_HI) / 2)[:, None]
_TABLE_HALF_WIDTH: Final = ((_TABLE_HI - _TABLE_LO) / 2)[:, None]


def _rows_with_missing_velocities(targets: list[Any]) -> list[tuple[Any, ...]]:
    """Rows for windows where some target lacks a velocity (velocities are optional).

    A device that never sends velocities (the LD6002B gives none) stays on a C-level path.
    Raises KeyError or TypeError for malformed targets, like the fast path.
    """
    if set().union(*targets).isdisjoint(_VELOCITY_KEYS):
        return [position + _NO_VELOCITY for position in map(_TARGET_POSITION, targets)]
    return [
        (*_TARGET_POSITION(t), t.get("vx"), t.get("vy"), t.get("vz"))  # None -> NaN later
        for t in targets
    ]


def _has_null_position(rows: list[tuple[Any, ...]]) -> bool:
    return any(row[1] is None or row[2] is None or row[3] is None for row in rows)


def _empty_frames_event(env: Envelope, fps: float, n_frames: int) -> RadarFramesEvent:
    """A window in which nobody is tracked: no rows, but its length still counts."""
    f = _NO_FLOATS
    return RadarFramesEvent(env, fps, n_frames, _NO_INT32, _NO_INT64, f, f, f, f, f, f)


# Shared by every empty window; read-only, like every array this module hands out.
_NO_FLOATS: Final = _read_only(np.empty(0, dtype=np.float64))
_NO_INT32: Final = _read_only(np.empty(0, dtype=np.int32))
_NO_INT64: Final = _read_only(np.empty(0, dtype=np.int64))


def _explain_frames(frames: list[Any]) -> NoReturn:
    """Slow path: find the first shape or type error in ``frames`` and raise it precisely."""
    for i, frame in enumerate(frames):
        where = f"frames[{i}]"
        if type(frame) is not dict:
            _fail("bad_type", where, f"expected an object, got {_json_type(frame)}")
        targets = frame.get("targets")
        if targets is None:
            _fail("missing_field", f"{where}.targets", "required")
        if type(targets) is not list:
            _fail("bad_type", f"{where}.targets", f"expected an array, got {_json_type(targets)}")
        if len(targets) > MAX_TARGETS_PER_FRAME:
            _fail(
                "bad_length",
                f"{where}.targets",
                f"length {len(targets)} above {MAX_TARGETS_PER_FRAME}",
            )
        for j, target in enumerate(targets):
            at = f"{where}.targets[{j}]"
            if type(target) is not dict:
                _fail("bad_type", at, f"expected an object, got {_json_type(target)}")
            for key in ("tid", "x", "y", "z"):
                value = target.get(key)
                if value is None:
                    _fail("missing_field", f"{at}.{key}", "required")
                if key == "tid" and type(value) is not int:
                    _fail("bad_type", f"{at}.tid", f"expected an integer, got {_json_type(value)}")
                if type(value) not in _NUMBER_TYPES:
                    _fail("bad_type", f"{at}.{key}", f"expected a number, got {_json_type(value)}")
            for key in ("vx", "vy", "vz"):
                value = target.get(key)
                if value is not None and type(value) not in _NUMBER_TYPES:
                    _fail("bad_type", f"{at}.{key}", f"expected a number, got {_json_type(value)}")
    raise AssertionError("frames passed the slow check but failed the fast one")


_DECODERS: Final[dict[str, Any]] = {
    "status": _status,
    "radar/frames": _frames,
    "radar/vitals": _vitals,
    "button": _button,
    "kit": _kit,
}

# --- Entry points ----------------------------------------------------------------------------------


def _decode(device_id: str, kind: TopicKind, obj: object) -> DeviceEvent:
    try:
        if type(obj) is not dict:
            _fail("not_object", None, f"payload is a JSON {_json_type(obj)}, expected an object")
        ts = _check_number(_required(obj, "ts", "ts"), "ts", 0.0, MAX_TS_S, lo_open=True)
        seq = _check_int(_required(obj, "seq", "seq"), "seq", 0, MAX_SEQ)
        boot = obj.get("boot")  # optional v1 extension: the device's boot counter
        if boot is not None:
            boot = _check_int(boot, "boot", 0, MAX_BOOT)
        event: DeviceEvent = _DECODERS[kind](Envelope(device_id, kind, ts, seq, boot), obj)
        return event
    except ContractError as exc:
        exc.device_id, exc.kind = device_id, kind
        raise
    except Exception as exc:  # the contract is "only ContractError"; a bug must not kill ingest
        raise ContractError(
            "decoder_bug", f"{type(exc).__name__}: {exc}"[:200], device_id=device_id, kind=kind
        ) from exc


_TYPED: Final = frozenset({"radar/frames", "radar/vitals", "status"})


def _decode_typed(device_id: str, kind: TopicKind, payload: bytes) -> DeviceEvent | None:
    """The hot topics straight from bytes (``devices.structs``), or None: then the exact path
    below decides (and gives the reason). Never raises."""
    try:
        if kind == "radar/frames":
            frames = structs.decode_frames(payload)
            if frames is None:
                return None
            n_frames, counts, table = structs.frames_table([frames])
            env = Envelope(device_id, kind, frames.ts, frames.seq, frames.boot)
            return _frames_event(env, frames.fps, n_frames[0], counts, table)
        if kind == "radar/vitals":
            vitals = structs.decode_vitals(payload)
            if vitals is None:
                return None
            displacement_mm = np.array(vitals.displacement_mm, dtype=np.float64)
            displacement_mm.flags.writeable = False
            env = Envelope(device_id, kind, vitals.ts, vitals.seq, vitals.boot)
            return RadarVitalsEvent(env, vitals.tid, vitals.fs, displacement_mm)
        status = structs.decode_status(payload)
        if status is None:
            return None
        env = Envelope(device_id, kind, status.ts, status.seq, status.boot)
        return StatusEvent(env, status.state, status.battery, status.fw, status.rssi)
    except Exception:  # the exact path decides, and would report a bug as decoder_bug
        return None


def decode(topic: str, payload: bytes) -> DeviceEvent:
    """Decode one MQTT message into a typed event; raise ContractError (only) if it breaks the contract.

    Order: payload size (before any parsing), topic, JSON, then the common and per-kind fields.
    Unknown extra fields are ignored (PROTOCOL: extensions are optional fields); ``null`` counts as
    absent.
    """
    if type(payload) is not bytes:
        if not isinstance(payload, bytearray | memoryview):
            raise ContractError("bad_type", f"payload is {type(payload).__name__}, expected bytes")
        payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD_BYTES:
        error = ContractError("too_large", f"{len(payload)} bytes above {MAX_PAYLOAD_BYTES}")
        with contextlib.suppress(ContractError):
            error.device_id, error.kind = parse_topic(topic)
        raise error
    device_id, kind = parse_topic(topic)
    if kind in _TYPED:
        event = _decode_typed(device_id, kind, payload)
        if event is not None:
            return event
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ContractError("not_json", str(exc)[:200], device_id=device_id, kind=kind) from None
    return _decode(device_id, kind, obj)


def decode_object(topic: str, obj: object) -> DeviceEvent:
    """``decode`` for an already-parsed payload (replays, simulators, tests); no size check."""
    device_id, kind = parse_topic(topic)
    return _decode(device_id, kind, obj)


def encode(payload: dict[str, Any]) -> bytes:
    """Serialise a payload as devices do (orjson; numpy arrays and scalars allowed), for simulators."""
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


def excerpt(payload: bytes | bytearray | memoryview | str, limit: int = 256) -> str:
    """A safe, printable excerpt of the first ``limit`` bytes of a payload, for dead-letter records.

    Invalid UTF-8 becomes ``\\xNN``; control, format and other non-printable characters (newlines,
    ANSI escapes, bidi overrides) are escaped; the total size is noted when the payload was cut.
    """
    raw = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else bytes(payload)
    limit = max(0, limit)
    text = raw[:limit].decode("utf-8", "backslashreplace")
    if not text.isprintable():
        text = "".join(
            c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
        )
    if len(raw) > limit:
        text += f"...[{len(raw)} bytes]"
    return text
