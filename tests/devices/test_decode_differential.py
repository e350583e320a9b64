"""The typed fast path (`devices.structs`, msgspec) makes exactly the decoder's old decisions.

`decode` now tries radar/frames, radar/vitals and status payloads as typed structs first. For
thousands of seeded valid and mutated payloads of every topic kind (JSON-level mutations: fields
dropped, retyped, out of range, null, duplicated; byte-level ones: flipped, cut, non-ASCII bytes,
``\\u`` escapes, huge numbers, deep nesting) it must return the same event as the exact decoder
(`tests.devices.exact`: the decoder without the fast path) or raise the same ContractError
(reason, field, text, device id, kind).
"""

from __future__ import annotations

import dataclasses
import json
import random
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices import structs
from devices.contract import ContractError, decode
from tests.devices.exact import exact_decode
from tests.devices.test_contract import EXAMPLES
from tests.property.test_decoders import _mutate as _mutate_drawn
from tests.property.test_decoders import _payload

KINDS = ("status", "radar/frames", "radar/vitals", "button", "kit")
HOT = ("status", "radar/frames", "radar/vitals")


def _outcome(topic: Any, raw: Any) -> tuple[str, Any]:
    try:
        return "event", decode(topic, raw)
    except ContractError as exc:
        return "error", (exc.reason, exc.field, str(exc), exc.device_id, exc.kind)


def _exact_outcome(topic: Any, raw: Any) -> tuple[str, Any]:
    try:
        return "event", exact_decode(topic, raw)
    except ContractError as exc:
        return "error", (exc.reason, exc.field, str(exc), exc.device_id, exc.kind)


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            type(a) is type(b)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.flags.writeable == b.flags.writeable
            and bool(np.array_equal(a, b, equal_nan=True))
        )
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and all(
            _same_value(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    return type(a) is type(b) and a == b


def _assert_same(topic: Any, raw: Any) -> str:
    got, want = _outcome(topic, raw), _exact_outcome(topic, raw)
    assert got[0] == want[0], (raw, got, want)
    if got[0] == "error":
        assert got[1] == want[1], (raw, got, want)
        assert got[1][0] != "decoder_bug", (raw, got)
        return f"error:{got[1][0]}"
    assert _same_value(got[1], want[1]), (raw, got[1], want[1])
    return "event"


# --- seeded generators ------------------------------------------------------------------------


def _num(rng: random.Random, lo: float, hi: float) -> Any:
    r = rng.random()
    if r < 0.1:
        return rng.randint(int(lo), int(hi))
    if r < 0.15:
        return rng.choice([lo, hi])
    return round(rng.uniform(lo, hi), rng.choice([1, 3, 6]))


def _valid(rng: random.Random, kind: str, seq: int) -> dict[str, Any]:
    env: dict[str, Any] = {"ts": 1764320000.0 + seq + rng.choice([0, 0.5]), "seq": seq}
    if rng.random() < 0.1:
        env["boot"] = rng.randrange(5)
    if kind == "radar/frames":
        frames = []
        for _ in range(rng.choice([1, 10, 10, 20, rng.randrange(1, 40)])):
            targets = []
            for _ in range(rng.choice([0, 1, 1, 1, 2, 5])):
                t: dict[str, Any] = {
                    "tid": rng.randrange(4),
                    "x": _num(rng, -5, 5),
                    "y": _num(rng, -5, 5),
                    "z": _num(rng, 0, 2),
                }
                if rng.random() < 0.05:
                    t["x"] = _num(rng, -60, 60)  # a phantom: dropped, not rejected
                for key in ("vx", "vy", "vz"):
                    r = rng.random()
                    if r < 0.85:
                        t[key] = _num(rng, -1, 1)
                    elif r < 0.9:
                        t[key] = None
                targets.append(t)
            frames.append({"targets": targets})
        return env | {"fps": rng.choice([10, 20, 18.5, 100]), "frames": frames}
    if kind == "radar/vitals":
        n = rng.choice([1, 100, 100, 400])
        samples = [_num(rng, -20, 20) for _ in range(n)]
        return env | {
            "tid": rng.randrange(5),
            "fs": rng.choice([20, 20.0, 1, 1000]),
            "displacement_mm": samples,
        }
    if kind == "status":
        out = env | {"state": rng.choice(["online", "offline"])}
        if rng.random() < 0.7:
            out["battery"] = _num(rng, 0, 1)
        if rng.random() < 0.5:
            out["fw"] = rng.choice(["1.4.2", "v2.0.1-rc3+g1a2b3c4-dirty", "x" * 64, "   "])
        if rng.random() < 0.5:
            out["rssi"] = _num(rng, -150, 30)
        return out
    example = json.loads(json.dumps(EXAMPLES[f"care/v1/dev-1/{kind}"]))
    return {**example, **env}


_ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, -0.0, 2**63, 2**64, 10**30, -(10**30), 1e308, 4102444800.0,
    4102444800.5, 1.0, 1, "1", "", "online", [], [1], {}, {"targets": []}, 0.5, 100.0, 100.5,
    50.0, 50.000001, -1.0, 5.0, 20.0, 20.01, 2**31 - 1, 2**31, 1000, 1001, 4096,
]  # fmt: skip


def _mutate_obj(rng: random.Random, obj: Any) -> Any:
    """Change one thing somewhere in the payload: drop, retype, null, bound, or odd value."""
    if isinstance(obj, dict) and obj:
        key = rng.choice(sorted(obj))
        out = dict(obj)
        r = rng.random()
        if r < 0.15:
            del out[key]
        elif r < 0.5 and isinstance(obj[key], dict | list) and obj[key]:
            out[key] = _mutate_obj(rng, obj[key])
        else:
            out[key] = rng.choice(_ODD_VALUES)
        return out
    if isinstance(obj, list) and obj:
        out_list = list(obj)
        i = rng.randrange(len(out_list))
        r = rng.random()
        if r < 0.15:
            del out_list[i]
        elif r < 0.25:
            out_list.extend(out_list * rng.choice([1, 60]))  # too long, sometimes
        elif isinstance(out_list[i], dict | list):
            out_list[i] = _mutate_obj(rng, out_list[i])
        else:
            out_list[i] = rng.choice(_ODD_VALUES)
        return out_list
    return rng.choice(_ODD_VALUES)


def _mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    r = rng.random()
    if r < 0.15:  # flip bytes
        b = bytearray(raw)
        for _ in range(rng.randrange(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if r < 0.25:  # cut
        return raw[: rng.randrange(len(raw))]
    if r < 0.4:  # non-ASCII: a valid UTF-8 extension field, invalid UTF-8, or in a value
        return rng.choice(
            [
                raw[:-1] + ',"note":"caf\xc3\xa9"}'.encode("latin-1"),
                raw[:-1] + b',"note":"\xff\xfe"}',
                raw[:-1] + b',"n\xe9":1}',
                raw.replace(b'"online"', '"onlin\xc3\xa9"'.encode("latin-1")),
            ]
        )
    if r < 0.55:  # \u escapes: lone surrogates (orjson refuses), escaped keys and values
        return rng.choice(
            [
                raw[:-1] + b',"note":"\\ud800"}',
                raw[:-1] + b',"note":"\\udc00x"}',
                raw[:-1] + b',"note":"\\u00e9"}',
                raw.replace(b'"ts"', b'"t\\u0073"', 1),
                raw.replace(b'"online"', b'"\\u006fnline"'),
            ]
        )
    if r < 0.7:  # duplicate keys: the last one counts
        key = rng.choice([b"ts", b"seq", b"fps", b"state", b"tid", b"fs", b"frames"])
        value = rng.choice([b"1", b'"x"', b"null", b"true", b"[]", b"1e400", b"-1"])
        return rng.choice(
            [
                raw[:-1] + b',"' + key + b'":' + value + b"}",
                b'{"' + key + b'":' + value + b"," + raw[1:],
            ]
        )
    if r < 0.8:  # numbers JSON allows but doubles do not hold, NaN literals, deep nesting
        extra = rng.choice(
            [b"1e400", b"-1e400", b"NaN", b"Infinity", b"1" * 400, b"[" * 1100 + b"]" * 1100]
        )
        return raw[:-1] + b',"x":' + extra + b"}"
    if r < 0.9:  # whitespace, BOM, trailing garbage, another document
        return rng.choice([b" \n" + raw + b"\t ", b"\xef\xbb\xbf" + raw, raw + b"x", raw + raw])
    return rng.choice([b"", b"null", b"[]", b'"x"', b"{}", b"1", b"{" * 3])  # not objects


def _messages(seed: int, n: int) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        kind = rng.choice(HOT + HOT + ("button", "kit"))
        obj: Any = _valid(rng, kind, k)
        if rng.random() < 0.35:
            for _ in range(rng.randrange(1, 3)):
                obj = _mutate_obj(rng, obj)
        raw = json.dumps(obj, separators=rng.choice([(",", ":"), (", ", ": ")])).encode()
        if rng.random() < 0.25:
            raw = _mutate_bytes(rng, raw)
        device = rng.choice(["radar-1", "btn-7", "dev_X-9"])
        out.append((f"care/v1/{device}/{kind}", raw))
    return out


def test_seeded_valid_and_mutated_payloads_of_every_kind() -> None:
    tally: dict[str, int] = {}
    for seed in range(6):
        for topic, raw in _messages(seed, 1000):
            key = f"{topic.split('/', 3)[3]} {_assert_same(topic, raw)}"
            tally[key] = tally.get(key, 0) + 1
    # The generator reaches acceptance and rejection of every hot kind, with many reasons.
    for kind in HOT:
        assert tally.get(f"{kind} event", 0) > 500, tally
        assert sum(v for k, v in tally.items() if k.startswith(f"{kind} error")) > 200, tally
    reasons = {k.split(":")[1] for k in tally if ":" in k}
    assert {"not_json", "missing_field", "bad_type", "out_of_range", "bad_length"} <= reasons
    assert {"unknown_state", "bad_value", "not_object"} <= reasons


def test_the_typed_path_takes_the_usual_traffic() -> None:
    """Valid ASCII payloads of the hot kinds are decoded as structs (else it would save nothing)."""
    rng = random.Random(3)
    for kind, typed in (
        ("radar/frames", structs.decode_frames),
        ("radar/vitals", structs.decode_vitals),
        ("status", structs.decode_status),
    ):
        for k in range(50):
            raw = json.dumps(_valid(rng, kind, k)).encode()
            if kind == "status" and b'"   "' in raw:
                continue  # a blank fw: rejected (bad_value)
            assert typed(raw) is not None, raw


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_generated_payloads_from_the_property_generators(kind: str, data: st.DataObject) -> None:
    payload = data.draw(_payload(kind))
    if data.draw(st.booleans()):
        payload = _mutate_drawn(payload, data)
    _assert_same(f"care/v1/dev-1/{kind}", json.dumps(payload).encode())


@SETTINGS
@given(kind=st.sampled_from(HOT), raw=st.binary(max_size=200))
def test_random_bytes(kind: str, raw: bytes) -> None:
    _assert_same(f"care/v1/dev-1/{kind}", raw)
