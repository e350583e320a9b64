"""Labelled radar recordings on disk: the format, reading it back through the device contract.

A recording set is a folder:

- ``labels.csv`` with a header row and the columns ``recording,kind,fall,impact_ts`` (more columns
  are allowed and ignored): ``recording`` names ``<recording>.jsonl`` in the same folder; ``kind``
  is free text (``fall_forward``, ``sit_floor_slow``, ``ordinary_day`` ...); ``fall`` is 1 or 0;
  ``impact_ts`` is the device time (same clock as the payloads' ``ts``) the body reached the floor,
  empty if unknown or not a fall.
- ``<recording>.jsonl``: one MQTT message per line, exactly as a device published it:
  ``{"topic": "care/v1/<device>/radar/frames", "payload": {...}}`` (PROTOCOL.md). Lines of other
  topics are skipped; lines that break the contract are reported with their line number and the
  rest is kept (a recording from a real module is messy by nature).
- optionally ``<recording>.zones.json``: the radar's zone map as provisioned (``bed``/``sofa``/
  ``chair`` zones protect a person lying or sitting low there).

``care-hub record`` writes such lines from a live broker; ``bench/replay.py`` evaluates the fall
detector on a set; ``python -m bench.replay --export DIR`` writes simulated episodes in this format.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from devices.contract import TOPIC_PREFIX, ContractError, decode_object, topic_for
from devices.events import RadarFramesEvent

LABELS_FILE = "labels.csv"
LABEL_COLUMNS = ("recording", "kind", "fall", "impact_ts")


class RecordingError(ValueError):
    """A recording set that cannot be evaluated at all (missing labels, unknown recording...)."""


@dataclass(frozen=True, slots=True)
class Label:
    recording: str
    kind: str
    fall: bool
    impact_ts: float | None


@dataclass(slots=True)
class Recording:
    """One recording's radar windows in device-time order, and what could not be read."""

    label: Label
    windows: list[RadarFramesEvent]
    zone_map: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # "line 7: not_json: ..."
    skipped: int = 0  # lines of other topics

    @property
    def duration_s(self) -> float:
        if not self.windows:
            return 0.0
        last = self.windows[-1]
        return last.env.ts + last.n_frames / last.fps - self.windows[0].env.ts


def message_line(topic: str, payload: dict[str, Any]) -> bytes:
    """One recording line (newline-terminated) for a message as published."""
    return orjson.dumps({"topic": topic, "payload": payload}) + b"\n"


def write_labels(folder: Path, labels: Iterable[Label]) -> None:
    with (folder / LABELS_FILE).open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(LABEL_COLUMNS)
        for lb in labels:
            impact = "" if lb.impact_ts is None else f"{lb.impact_ts:.3f}"
            w.writerow([lb.recording, lb.kind, int(lb.fall), impact])


def read_labels(folder: Path) -> list[Label]:
    path = folder / LABELS_FILE
    if not path.is_file():
        raise RecordingError(f"{path}: not found (a recording set needs {LABELS_FILE})")
    out: list[Label] = []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in LABEL_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise RecordingError(f"{path}: missing column(s) {', '.join(missing)}")
        for n, row in enumerate(reader, start=2):
            name = (row["recording"] or "").strip()
            if not name or "/" in name or name.startswith("."):
                raise RecordingError(f"{path} line {n}: bad recording name {name!r}")
            if not (folder / f"{name}.jsonl").is_file():
                raise RecordingError(f"{path} line {n}: {name}.jsonl not found")
            fall = (row["fall"] or "").strip()
            if fall not in ("0", "1"):
                raise RecordingError(f"{path} line {n}: fall must be 0 or 1, not {fall!r}")
            impact_s = (row["impact_ts"] or "").strip()
            try:
                impact = float(impact_s) if impact_s else None
            except ValueError:
                raise RecordingError(
                    f"{path} line {n}: impact_ts {impact_s!r} is not a number"
                ) from None
            out.append(Label(name, (row["kind"] or "").strip(), fall == "1", impact))
    return out


def read_recording(folder: Path, label: Label) -> Recording:
    """Decode a recording's radar/frames lines through the device contract (as the hub would)."""
    rec = Recording(label, [])
    zones = folder / f"{label.recording}.zones.json"
    if zones.is_file():
        try:
            zone_map = json.loads(zones.read_text())
        except ValueError as exc:
            rec.errors.append(f"{zones.name}: not JSON ({exc})")
        else:
            if isinstance(zone_map, dict):
                rec.zone_map = zone_map
            else:
                rec.errors.append(f"{zones.name}: a zone map is a JSON object")
    with (folder / f"{label.recording}.jsonl").open("rb") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                rec.errors.append(f"line {n}: not_json: {str(exc)[:120]}")
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("topic"), str):
                rec.errors.append(f"line {n}: not a {{topic, payload}} object")
                continue
            if not obj["topic"].endswith("/radar/frames"):
                rec.skipped += 1
                continue
            try:
                ev = decode_object(obj["topic"], obj.get("payload"))
            except ContractError as exc:
                rec.errors.append(f"line {n}: {exc.reason}: {exc.detail[:120]}")
                continue
            assert isinstance(ev, RadarFramesEvent)
            rec.windows.append(ev)
    rec.windows.sort(key=lambda e: e.env.ts)
    return rec


def record(
    mqtt_url: str,
    out: Path,
    *,
    device_ids: Sequence[str] = (),
    duration_s: float = 0.0,
    max_messages: int = 0,
    progress: Callable[[int], None] | None = None,
    on_ready: Callable[[], None] | None = None,
    client_id: str = "care-hub-recorder",
) -> int:
    """Append radar/frames messages from a live broker to ``out`` as recording lines.

    Subscribes to every radar's frames (or only ``device_ids``') at QoS 0 as an observer (a
    recorder must never take messages away from the hub: no shared subscription, clean session).
    A payload that is not JSON is kept as ``payload_text`` so the replay reports it. Stops after
    ``duration_s`` (0 = until interrupted) or ``max_messages``; returns the number written.
    ``on_ready`` is called once the broker has confirmed the subscription.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from devices.mqtt_client import parse_mqtt_url

    host, port, user, password = parse_mqtt_url(mqtt_url)
    topics = (
        [topic_for(d, "radar/frames") for d in device_ids]
        if device_ids
        else [f"{TOPIC_PREFIX}+/radar/frames"]
    )
    lock = threading.Lock()
    done = threading.Event()
    subscribed = threading.Event()
    count = 0

    def on_connect(client: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        client.subscribe([(t, 0) for t in topics])

    def on_subscribe(*_: object) -> None:
        subscribed.set()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal count
        try:
            line = message_line(msg.topic, orjson.loads(msg.payload))
        except orjson.JSONDecodeError:
            text = bytes(msg.payload)[:65536].decode("utf-8", "replace")
            line = orjson.dumps({"topic": msg.topic, "payload_text": text}) + b"\n"
        with lock:
            if done.is_set():
                return
            fh.write(line)
            count += 1
            if max_messages and count >= max_messages:
                done.set()

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
    if user:
        client.username_pw_set(user, password)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host, port)  # before the file is touched: a wrong URL leaves nothing behind
    with out.open("ab") as fh:
        client.loop_start()
        try:
            if not subscribed.wait(10):
                raise ConnectionError(f"no subscription confirmed by {host}:{port} within 10 s")
            if on_ready is not None:
                on_ready()
            deadline = time.monotonic() + duration_s if duration_s else float("inf")
            last = time.monotonic()
            while not done.is_set() and time.monotonic() < deadline:
                done.wait(min(0.5, max(0.0, deadline - time.monotonic())))
                with lock:
                    fh.flush()  # a recording cut short by a crash keeps all but the last 0.5 s
                if progress is not None and time.monotonic() - last >= 5:
                    last = time.monotonic()
                    with lock:
                        progress(count)
        finally:
            with lock:
                done.set()
            client.loop_stop()
            client.disconnect()
    return count
