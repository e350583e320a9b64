"""devices.radar.frames_batch: the batched radar/frames decoder must agree exactly with ``decode``
(its exact path, without the typed fast path: ``tests.devices.exact``).

The differential tests decode thousands of seeded random messages (valid windows of many shapes,
phantoms, velocity-less devices, nulls, mutated and byte-damaged payloads, wrong topics and
non-frames kinds) both ways and require the same outcome for every message: the same accepted
window with the same arrays (values, dtypes, order), or the same ContractError (reason, field,
text, device id, kind). ``fall_batch`` is checked against ``falls.make_batch``.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import numpy as np
import pytest

import devices.radar.frames_batch as fb
from care_hub.signal_core.falls import make_batch
from devices.contract import MAX_PAYLOAD_BYTES, ContractError, encode
from devices.events import RadarFramesEvent
from devices.radar.frames_batch import FramesColumns, decode_frames_many
from tests.devices.exact import exact_decode
from tests.devices.test_contract import EXAMPLES, _mutate

FRAMES_TOPIC = "care/v1/{}/radar/frames"
ARRAYS = ("frame_index", "tid", "x_m", "y_m", "z_m", "vx_mps", "vy_mps", "vz_mps")


def _number(rng: random.Random, lo: float, hi: float) -> float | int:
    r = rng.random()
    if r < 0.1:
        return rng.randint(int(lo), int(hi))  # ints are numbers too
    if r < 0.13:
        return rng.choice([lo, hi])  # bounds are inclusive
    return round(rng.uniform(lo, hi), rng.choice([2, 3, 6]))


def _target(rng: random.Random, style: str) -> dict[str, Any]:
    wild = rng.random() < 0.08  # a phantom or absurd value: dropped, not rejected
    t: dict[str, Any] = {
        "tid": rng.randrange(2**31) if rng.random() < 0.05 else rng.randrange(4),
        "x": _number(rng, -60, 60) if wild else _number(rng, -5, 5),
        "y": _number(rng, -60, 60) if wild else _number(rng, -5, 5),
        "z": _number(rng, -2, 6) if wild else _number(rng, 0, 2),
    }
    if wild and rng.random() < 0.2:
        t["tid"] = rng.choice([2**31, 2**40, 2**63 - 1])
    if style == "full" or (style == "mixed" and rng.random() < 0.7):
        for key in ("vx", "vy", "vz"):
            r = rng.random()
            if r < 0.05:
                t[key] = None
            elif r < 0.08:
                continue
            else:
                t[key] = _number(rng, -25, 25) if wild else _number(rng, -1, 1)
    if rng.random() < 0.05:
        t["snr"] = 12.5  # extension fields are ignored
    return t


def _window(rng: random.Random, seq: int) -> dict[str, Any]:
    style = rng.choice(["full", "full", "full", "none", "mixed"])
    n_frames = rng.choice([1, 2, 10, 10, 10, 20, rng.randrange(1, 60)])
    busy = rng.random()
    frames = []
    for _ in range(n_frames):
        n = 0 if busy < 0.2 else (1 if busy < 0.8 else rng.randrange(0, 5))
        frames.append({"targets": [_target(rng, style) for _ in range(n)]})
    return {
        "ts": 1764320001.0 + seq + rng.choice([0, 0.25, 0.5]),
        "seq": seq,
        "fps": rng.choice([10, 20, 18.5, 100, 0.5]),
        "frames": frames,
    }


def _message(rng: random.Random, n: int) -> tuple[Any, Any]:
    device = f"radar-{rng.randrange(50):04d}"
    topic: Any = FRAMES_TOPIC.format(device)
    obj: Any = _window(rng, n)
    r = rng.random()
    if r < 0.3:  # mutated: most become rejects with every kind of reason
        for _ in range(rng.randrange(1, 4)):
            obj = _mutate(rng, obj)
    elif r < 0.33:  # another kind's payload, or a non-frames topic
        other = rng.choice(list(EXAMPLES))
        r = rng.random()
        if r < 0.4:  # a valid message of another kind (vitals, status, ...): passed through
            topic, obj = other, copy.deepcopy(EXAMPLES[other])
        elif r < 0.7:
            topic = other
        else:
            obj = copy.deepcopy(EXAMPLES[other])
    elif r < 0.34:
        topic = rng.choice(["care/v1/x/cmd", "care/v1/bad id/radar/frames", "nope", 42])
    raw: Any = json.dumps(obj).encode()  # json: orjson refuses ints beyond 64 bits
    r = rng.random()
    if r < 0.04:  # byte-level damage
        damaged = bytearray(raw)
        for _ in range(rng.randrange(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        raw = bytes(damaged)
    elif r < 0.05:
        raw = rng.choice([bytearray(raw), memoryview(raw), raw.decode("latin-1"), None])
    elif r < 0.055:
        raw = b" " * (MAX_PAYLOAD_BYTES + 1)
    return topic, raw


def _assert_same_event(got: RadarFramesEvent, want: RadarFramesEvent) -> None:
    assert got.env == want.env
    assert type(got.fps) is float and got.fps == want.fps
    assert got.n_frames == want.n_frames
    assert got.dropped_targets == want.dropped_targets
    for name in ARRAYS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype, name
        assert np.array_equal(a, b, equal_nan=True), name


def _assert_equivalent(items: list[tuple[Any, Any]], cols: FramesColumns) -> dict[str, int]:
    """Every message's outcome in ``cols`` is decode's; returns outcome counts."""
    window_of = {int(m): w for w, m in enumerate(cols.message)}
    error_of = dict(cols.errors)
    other_of = dict(cols.others)
    assert len(window_of) + len(error_of) + len(other_of) == len(items)
    assert list(cols.message) == sorted(window_of)  # windows in message order
    tally = {"window": 0, "error": 0, "other": 0, "dropped": 0}
    for i, (topic, raw) in enumerate(items):
        try:
            want = exact_decode(topic, raw)
        except ContractError as exc:
            got = error_of[i]
            assert (got.reason, got.field, str(got), got.device_id, got.kind) == (
                exc.reason,
                exc.field,
                str(exc),
                exc.device_id,
                exc.kind,
            )
            assert got.reason != "decoder_bug"
            tally["error"] += 1
            continue
        if isinstance(want, RadarFramesEvent):
            got_event = cols.event(window_of[i])
            _assert_same_event(got_event, want)
            tally["window"] += 1
            tally["dropped"] += want.dropped_targets
        else:
            assert type(other_of[i]) is type(want) and other_of[i].env == want.env
            tally["other"] += 1
    # Flat columns are consistent with the per-window view.
    assert cols.n_rows == int(cols.row_start[-1])
    assert np.array_equal(
        np.repeat(np.arange(cols.n_windows), np.diff(cols.row_start)), cols.window
    )
    return tally


def test_differential_against_decode_many_seeds() -> None:
    totals = {"window": 0, "error": 0, "other": 0, "dropped": 0}
    reasons: set[str] = set()
    n = 0
    for seed in range(12):
        rng = random.Random(seed)
        items = [_message(rng, n + k) for k in range(rng.choice([1, 7, 300, 700, 1500]))]
        n += len(items)
        cols = decode_frames_many(items)
        for key, value in _assert_equivalent(items, cols).items():
            totals[key] += value
        reasons |= {e.reason for _, e in cols.errors}
    # The generator exercises every path.
    assert totals["window"] > 2000 and totals["error"] > 300 and totals["other"] > 20
    assert totals["dropped"] > 100
    assert {"bad_type", "missing_field", "out_of_range", "bad_length", "not_json"} <= reasons
    assert {"bad_topic", "too_large"} <= reasons


def test_differential_with_small_chunks_and_bisection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunk boundaries and bisection (a bad window among good ones) change nothing."""
    rng = random.Random(99)
    items = [_message(rng, k) for k in range(2000)]
    for chunk in (1, 3, 5, 64):
        monkeypatch.setattr(fb, "CHUNK_WINDOWS", chunk)
        _assert_equivalent(items, decode_frames_many(items))


def test_windows_only_decode_accepts_keep_message_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the typed path ever hands a valid window to decode, it still lands in order and intact."""
    real = fb.decode_frames

    def picky(payload: bytes) -> Any:
        window = real(payload)
        return None if window is not None and window.seq % 3 == 0 else window  # "looks off"

    monkeypatch.setattr(fb, "decode_frames", picky)
    rng = random.Random(5)
    items = [(FRAMES_TOPIC.format(f"r{k % 7}"), encode(_window(rng, k))) for k in range(400)]
    cols = decode_frames_many(items)
    assert cols.n_windows == 400 and not cols.errors
    _assert_equivalent(items, cols)


def test_fast_and_exact_paths_both_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generator reaches the exact path (nulls, bools, odd windows) as well as the typed one."""
    calls = {"typed": 0, "exact": 0}
    real = fb.decode_frames

    def counted(payload: bytes) -> Any:
        window = real(payload)
        calls["typed" if window is not None else "exact"] += 1
        return window

    monkeypatch.setattr(fb, "decode_frames", counted)
    rng = random.Random(8)
    items = [_message(rng, k) for k in range(1000)]
    _assert_equivalent(items, decode_frames_many(items))
    assert calls["typed"] > 100 and calls["exact"] > 100, calls


def test_phantoms_dropped_and_counted_per_window() -> None:
    good = {"tid": 1, "x": 1.0, "y": 2.0, "z": 1.0, "vx": 0.1, "vy": 0.0, "vz": 0.0}
    bad = [good | {"x": 51.0}, good | {"z": -1.5}, good | {"vx": 20.5}, good | {"tid": 2**31}]
    items = [
        (
            FRAMES_TOPIC.format("a"),
            encode(
                {
                    "ts": 10.0,
                    "seq": 1,
                    "fps": 10,
                    "frames": [{"targets": [good, bad[0]]}, {"targets": [bad[1], good]}],
                }
            ),
        ),
        (
            FRAMES_TOPIC.format("b"),
            encode({"ts": 20.0, "seq": 2, "fps": 10, "frames": [{"targets": bad[2:]}]}),
        ),
    ]
    cols = decode_frames_many(items)
    assert list(cols.dropped_targets) == [2, 2]
    assert list(cols.window) == [0, 0] and list(cols.frame_index) == [0, 1]
    _assert_equivalent(items, cols)


def test_empty_batch_and_all_rejected() -> None:
    cols = decode_frames_many([])
    assert cols.n_windows == 0 and cols.n_rows == 0 and cols.errors == []
    cols = decode_frames_many([(FRAMES_TOPIC.format("a"), b"{"), ("x", b"{}")])
    assert cols.n_windows == 0 and [e.reason for _, e in cols.errors] == ["not_json", "bad_topic"]
    assert cols.fall_batch(np.zeros(0, dtype=np.int64)).n_rows == 0


def test_columns_are_read_only() -> None:
    rng = random.Random(1)
    cols = decode_frames_many([(FRAMES_TOPIC.format("a"), encode(_window(rng, 1)))])
    for name in ("message", "ts", "seq", "fps", "n_frames", "window", *ARRAYS):
        with pytest.raises(ValueError):
            getattr(cols, name)[:1] = 0


def test_fall_batch_equals_make_batch() -> None:
    rng = random.Random(3)
    items = [_message(rng, k) for k in range(1500)]
    cols = decode_frames_many(items)
    slot_of = {f"radar-{k:04d}": k * 2 for k in range(50) if k % 5}  # some devices unknown
    slots = cols.slots_for(slot_of)
    assert (slots == -1).any() and (slots >= 0).any()
    got = cols.fall_batch(slots)
    pairs = [
        (slot_of[cols.device_id[w]], cols.event(w))
        for w in range(cols.n_windows)
        if cols.device_id[w] in slot_of
    ]
    want = make_batch(pairs)
    for name in ("slot", "t_s", "x_m", "y_m", "z_m", "tid", "covered_slot", "covered_until_s"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype, name
        assert np.array_equal(a, b), name
    # velocities, where trackers give them (NaN elsewhere), or None for both
    if want.vz_mps is None:
        assert got.vz_mps is None
    else:
        assert got.vz_mps is not None
        assert np.array_equal(got.vz_mps, want.vz_mps, equal_nan=True)
    everything = cols.fall_batch(np.arange(cols.n_windows))
    assert everything.n_rows == cols.n_rows
    with pytest.raises(ValueError):
        cols.fall_batch(np.zeros(cols.n_windows + 1, dtype=np.int64))
