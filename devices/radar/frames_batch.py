"""Batched radar/frames decoding: many windows -> one set of flat numpy columns, same rules as ``decode``.

``decode_frames_many(items)`` takes raw ``(topic, payload)`` MQTT messages and returns
``FramesColumns``: one row per kept (window, frame, target) across every accepted radar/frames
window, per-window columns, and for every other message what ``devices.contract.decode`` makes of it:
the ``ContractError`` it raises (``errors``) or, for other topics such as radar/vitals, the event it
returns (``others``). Accept/reject decisions, reasons and numbers are exactly those of calling
``decode`` message by message (tests/devices/test_frames_batch.py checks this differentially):

- each window is decoded straight from bytes into typed structs (``devices.structs``: msgspec
  checks shapes, types and the envelope's limits while it parses); a message it does not accept
  goes to ``decode`` itself, so its error is exactly the one ``decode`` raises;
- the targets of a chunk of windows become one float64 table with C-level ``map``/``chain``
  (``structs.frames_table``), and the contract's range checks (targets outside the room, absurd
  speeds, tids out of range are dropped and counted per window) run vectorised over the chunk.

Chunks (``CHUNK_WINDOWS``) keep the decoded structs of only a few hundred windows alive at a time.

``FramesColumns.fall_batch(window_slots)`` turns the columns straight into the signal core's
``FallBatch`` (the values ``make_batch`` computes from per-window events) with no per-window object.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from devices.contract import (
    _TABLE_HALF_WIDTH,
    _TABLE_MID,
    MAX_PAYLOAD_BYTES,
    ContractError,
    _parse_topic,
    decode,
)
from devices.events import DeviceEvent, Envelope, RadarFramesEvent
from devices.structs import FramesPayload, decode_frames, frames_table

if TYPE_CHECKING:
    from care_hub.signal_core.falls import FallBatch

__all__ = ["CHUNK_WINDOWS", "FramesColumns", "decode_frames_many"]

FloatArr = npt.NDArray[np.float64]
IntArr = npt.NDArray[np.int64]

# Windows gathered and tabled together: big enough that the per-chunk numpy calls are noise (~10
# calls per chunk), small enough that the parsed JSON alive at once stays out of the GC's way.
CHUNK_WINDOWS: Final = 256

_FRAMES_KIND: Final = "radar/frames"


@dataclass(frozen=True, slots=True)
class FramesColumns:
    """Accepted radar/frames windows of a batch as flat columns, plus what became of the rest.

    Windows are in message order; rows are window-major, and within a window in frame then target
    order, exactly the rows (and order) of the window's ``RadarFramesEvent``. All arrays are
    read-only.
    """

    # Per accepted window (W).
    message: IntArr = field(repr=False)  # index of the window's message in the input list
    device_id: list[str] = field(repr=False)
    ts: FloatArr = field(repr=False)
    seq: IntArr = field(repr=False)
    fps: FloatArr = field(repr=False)
    n_frames: IntArr = field(repr=False)
    dropped_targets: IntArr = field(repr=False)
    # (W + 1,): the rows of window w are row_start[w]:row_start[w + 1].
    row_start: IntArr = field(repr=False)
    # Per kept row (N).
    window: IntArr = field(repr=False)  # index into the per-window columns
    frame_index: npt.NDArray[np.int32] = field(repr=False)
    tid: IntArr = field(repr=False)
    x_m: FloatArr = field(repr=False)
    y_m: FloatArr = field(repr=False)
    z_m: FloatArr = field(repr=False)
    vx_mps: FloatArr = field(repr=False)  # NaN where the device gave no velocity
    vy_mps: FloatArr = field(repr=False)
    vz_mps: FloatArr = field(repr=False)
    # Per other message: (index in the input, what decode raised / returned).
    errors: list[tuple[int, ContractError]] = field(default_factory=list)
    others: list[tuple[int, DeviceEvent]] = field(default_factory=list)

    @property
    def n_windows(self) -> int:
        return len(self.device_id)

    @property
    def n_rows(self) -> int:
        return int(self.window.shape[0])

    def event(self, w: int) -> RadarFramesEvent:
        """Window ``w`` as the ``RadarFramesEvent`` ``decode`` returns for it (views, no copy)."""
        a, b = int(self.row_start[w]), int(self.row_start[w + 1])
        env = Envelope(self.device_id[w], _FRAMES_KIND, float(self.ts[w]), int(self.seq[w]))
        return RadarFramesEvent(
            env,
            float(self.fps[w]),
            int(self.n_frames[w]),
            self.frame_index[a:b],
            self.tid[a:b],
            self.x_m[a:b],
            self.y_m[a:b],
            self.z_m[a:b],
            self.vx_mps[a:b],
            self.vy_mps[a:b],
            self.vz_mps[a:b],
            int(self.dropped_targets[w]),
        )

    def slots_for(self, slot_of: Mapping[str, int]) -> IntArr:
        """Per window, ``slot_of[device_id]``, or -1 for devices not in the mapping."""
        return np.fromiter(
            map(slot_of.get, self.device_id, repeat(-1)), dtype=np.int64, count=self.n_windows
        )

    def fall_batch(self, window_slots: npt.ArrayLike) -> FallBatch:
        """The signal core's ``FallBatch`` for the windows whose slot is >= 0 (-1: leave out).

        Same values as ``falls.make_batch`` over ``(slot, event)`` pairs of those windows in this
        order: ``t_s = ts + frame_index / fps``, ``covered_until_s = ts + n_frames / fps``,
        ``vz_mps`` (NaN where a target has none; None if no row has one).
        """
        from care_hub.signal_core.falls import FallBatch

        slots = np.asarray(window_slots, dtype=np.int64)
        if slots.shape != (self.n_windows,):
            raise ValueError(f"expected {self.n_windows} window slots, got shape {slots.shape}")
        keep_window = slots >= 0
        row_slot = slots[self.window]
        w = self.window
        frame_index, x_m, y_m, z_m, tid = self.frame_index, self.x_m, self.y_m, self.z_m, self.tid
        vz_mps = self.vz_mps
        if not keep_window.all():
            keep = row_slot >= 0
            row_slot, w, frame_index = row_slot[keep], w[keep], frame_index[keep]
            x_m, y_m, z_m, tid = x_m[keep], y_m[keep], z_m[keep], tid[keep]
            vz_mps = vz_mps[keep]
        t_s = self.ts[w] + frame_index.astype(np.float64) / self.fps[w]
        ts, n_frames, fps = self.ts[keep_window], self.n_frames[keep_window], self.fps[keep_window]
        return FallBatch(
            slot=row_slot,
            t_s=t_s,
            x_m=x_m,
            y_m=y_m,
            z_m=z_m,
            tid=tid,
            covered_slot=slots[keep_window],
            covered_until_s=ts + n_frames / fps,
            # trackers' vertical velocities (issue 13: the fall judge's impact features); None
            # when no window gives any, as make_batch
            vz_mps=vz_mps if np.isfinite(vz_mps).any() else None,
        )


class _Slow(Exception):
    """Internal: this chunk (or window) needs a closer look."""


# A window the typed decoder accepted: (message index, topic, payload, device id, ts, seq, fps,
# unused, the decoded payload).
_Window = tuple[int, str, bytes, str, float, int, float, list[Any], FramesPayload]


def decode_frames_many(items: list[tuple[str, bytes]]) -> FramesColumns:
    """Decode many MQTT messages, radar/frames windows in bulk; see the module docstring.

    Never raises for bad input: every message ends up as an accepted window, in ``errors`` or in
    ``others``, exactly as ``decode`` would have it.
    """
    # The parsed JSON makes ~30 container objects per window, every one freed by reference
    # counting (orjson builds no cycles, nor does this module): the cyclic GC would only rescan
    # them, which costs ~4 us per window (~20%). Paused for the call; its previous state restored.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _decode_frames_many(items)
    finally:
        if gc_was_enabled:
            gc.enable()


def _decode_frames_many(items: list[tuple[str, bytes]]) -> FramesColumns:
    decode_typed = decode_frames
    parse_topic = _parse_topic
    errors: list[tuple[int, ContractError]] = []
    others: list[tuple[int, DeviceEvent]] = []
    extra: list[tuple[int, RadarFramesEvent]] = []  # frames windows only decode() accepted
    pieces: list[_Piece] = []
    chunk_size = CHUNK_WINDOWS
    for start in range(0, len(items), chunk_size):
        windows: list[_Window] = []
        for i, (topic, payload) in enumerate(items[start : start + chunk_size], start):
            try:
                if type(payload) is not bytes or len(payload) > MAX_PAYLOAD_BYTES:
                    raise _Slow
                device_id, kind = parse_topic(topic)  # lru-cached; raises for bad topics
                if kind != _FRAMES_KIND:
                    raise _Slow
                # typed straight from bytes, contract limits checked while parsing (or None)
                window = decode_typed(payload)
                if window is None:
                    raise _Slow
            except Exception:
                _one_by_decode(i, topic, payload, errors, others, extra)
                continue
            windows.append(
                (i, topic, payload, device_id, window.ts, window.seq, window.fps, [], window)
            )
        if windows:
            n_frames, counts, table = frames_table([w[8] for w in windows])
            pieces.append(_table(windows, n_frames, counts, table))
        # Drop this chunk's parsed JSON before parsing the next (see the module docstring).
        del windows
    for i, ev in extra:
        pieces.append(_piece_of_event(i, ev))
    errors.sort(key=_first)
    others.sort(key=_first)
    return _assemble(pieces, bool(extra), errors, others)


def _first(pair: tuple[int, Any]) -> int:
    return int(pair[0])


def _one_by_decode(
    i: int,
    topic: Any,
    payload: Any,
    errors: list[tuple[int, ContractError]],
    others: list[tuple[int, DeviceEvent]],
    extra: list[tuple[int, RadarFramesEvent]],
) -> None:
    try:
        event = decode(topic, payload)
    except ContractError as exc:
        errors.append((i, exc))
        return
    if isinstance(event, RadarFramesEvent):
        extra.append((i, event))
    else:
        others.append((i, event))


# A chunk's columns: per window (message, device ids, ts, seq, fps, n_frames, dropped), per row
# (window within the piece, frame index, (7, n) table of tid, x, y, z, vx, vy, vz).
_Piece = tuple[
    IntArr, list[str], FloatArr, IntArr, FloatArr, IntArr, IntArr, IntArr, IntArr, FloatArr
]


def _table(
    good: list[_Window], n_frames: list[int], counts: list[int], table: npt.NDArray[np.float64]
) -> _Piece:
    n_windows = len(good)
    message, _, _, device_ids, ts, seq, fps, _, _ = zip(*good, strict=True)
    nf = np.array(n_frames, dtype=np.int64)
    if table.shape[1]:
        cnt = np.array(counts, dtype=np.int64)
        frame_window = np.repeat(np.arange(n_windows, dtype=np.int64), nf)
        frame_local = np.arange(cnt.size, dtype=np.int64) - np.repeat(np.cumsum(nf) - nf, nf)
        row_window = np.repeat(frame_window, cnt)
        row_frame = np.repeat(frame_local, cnt)
        # decode's range checks, on the same float64 values.
        inside = np.abs(table - _TABLE_MID) <= _TABLE_HALF_WIDTH  # NaN and inf are not inside
        inside[4:] |= np.isnan(table[4:])  # a missing velocity is fine; NaN positions are dropped
        ok = inside.all(axis=0)
        if ok.all():
            dropped = np.zeros(n_windows, dtype=np.int64)
        else:
            dropped = np.bincount(row_window[~ok], minlength=n_windows).astype(np.int64)
            table, row_window, row_frame = table[:, ok], row_window[ok], row_frame[ok]
    else:
        dropped = np.zeros(n_windows, dtype=np.int64)
        row_window = row_frame = np.empty(0, dtype=np.int64)
    return (
        np.array(message, dtype=np.int64),
        list(device_ids),
        np.array(ts, dtype=np.float64),
        np.array(seq, dtype=np.int64),
        np.array(fps, dtype=np.float64),
        nf,
        dropped,
        row_window,
        row_frame,
        table,
    )


def _piece_of_event(i: int, ev: RadarFramesEvent) -> _Piece:
    n = ev.tid.shape[0]
    table = np.stack(
        [ev.tid.astype(np.float64), ev.x_m, ev.y_m, ev.z_m, ev.vx_mps, ev.vy_mps, ev.vz_mps]
    )
    return (
        np.array([i], dtype=np.int64),
        [ev.env.device_id],
        np.array([ev.env.ts]),
        np.array([ev.env.seq], dtype=np.int64),
        np.array([ev.fps]),
        np.array([ev.n_frames], dtype=np.int64),
        np.array([ev.dropped_targets], dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        ev.frame_index.astype(np.int64),
        table,
    )


def _assemble(
    pieces: list[_Piece],
    reorder: bool,
    errors: list[tuple[int, ContractError]],
    others: list[tuple[int, DeviceEvent]],
) -> FramesColumns:
    if not pieces:
        i, f = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        pieces = [(i, [], f, i, f, i, i, i, i, np.empty((7, 0), dtype=np.float64))]
    offsets = np.cumsum([0] + [p[0].shape[0] for p in pieces[:-1]])
    message = np.concatenate([p[0] for p in pieces])
    device_id = list(chain.from_iterable(p[1] for p in pieces))
    ts, seq, fps, n_frames, dropped = (np.concatenate([p[k] for p in pieces]) for k in range(2, 7))
    window = np.concatenate([p[7] + off for p, off in zip(pieces, offsets, strict=True)])
    frame_index = np.concatenate([p[8] for p in pieces]).astype(np.int32)
    table = np.concatenate([p[9] for p in pieces], axis=1) if len(pieces) > 1 else pieces[0][9]
    if reorder:  # windows only decode() accepted were appended last: back to message order
        order = np.argsort(message, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        message, ts, seq, fps = message[order], ts[order], seq[order], fps[order]
        n_frames, dropped = n_frames[order], dropped[order]
        device_id = [device_id[k] for k in order.tolist()]
        window = rank[window]
        row_order = np.argsort(window, kind="stable")
        window, frame_index, table = window[row_order], frame_index[row_order], table[:, row_order]
    table = np.ascontiguousarray(table)
    tid = table[0].astype(np.int64)
    row_start = np.zeros(message.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(window, minlength=message.shape[0]), out=row_start[1:])
    arrays = (message, ts, seq, fps, n_frames, dropped, row_start, window, frame_index, tid, table)
    for a in arrays:
        a.flags.writeable = False
    _, x_m, y_m, z_m, vx_mps, vy_mps, vz_mps = table
    return FramesColumns(
        message=message,
        device_id=device_id,
        ts=ts,
        seq=seq,
        fps=fps,
        n_frames=n_frames,
        dropped_targets=dropped,
        row_start=row_start,
        window=window,
        frame_index=frame_index,
        tid=tid,
        x_m=x_m,
        y_m=y_m,
        z_m=z_m,
        vx_mps=vx_mps,
        vy_mps=vy_mps,
        vz_mps=vz_mps,
        errors=errors,
        others=others,
    )
