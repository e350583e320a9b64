"""Labelled recordings: the on-disk format, replaying it through the fall detector, recording it."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from pathlib import Path

import numpy as np
import orjson
import pytest

from bench.falls import evaluate_episodes, make_episodes
from bench.replay import evaluate, export_simulated, main, replay
from care_hub.signal_core.falls import FallParams
from devices.contract import topic_for
from devices.recording import (
    Label,
    RecordingError,
    message_line,
    read_labels,
    read_recording,
    record,
    write_labels,
)
from simulators.radar_motion import make_episode, to_events, to_payload
from tests.conftest import SHARED_MQTT_URL, require_service
from tests.support.mqtt import close_client, connect_client, publish_and_wait


def test_exported_simulated_episodes_replay_like_the_bench(tmp_path: Path) -> None:
    # One episode of each type per noise profile, written as devices publish them (mm rounding),
    # decoded through the contract and replayed one recording at a time: the same judgements as
    # bench.falls running the episodes' rows directly, give or take one borderline episode.
    n = export_simulated(tmp_path, 45, seed=7)
    assert n == 45
    outcomes = evaluate(tmp_path, FallParams())
    direct = evaluate_episodes(make_episodes(45, 7), FallParams())["rows"]
    assert isinstance(direct, list)
    agree = sum(o.alarmed == r[3] for o, r in zip(outcomes, direct, strict=True))
    assert agree >= 44
    clean = [o for o in outcomes if o.label.kind.startswith("clean/")]
    assert len(clean) == 15
    assert all(o.alarmed == o.label.fall for o in clean)
    assert all(o.latency_s is not None and 0 < o.latency_s < 7 for o in clean if o.label.fall)
    assert not any(o.errors for o in outcomes)


def _write_fall(folder: Path, device: str, extra: list[bytes] | None = None) -> float:
    rng = np.random.default_rng(3)
    ep = make_episode("fall_forward", "clean", rng)
    assert ep.impact_s is not None
    lines = [
        message_line(topic_for(device, "radar/frames"), to_payload(ev))
        for ev in to_events(ep.rows, device)
    ]
    for i, line in enumerate(extra or []):
        lines.insert(2 + 3 * i, line)
    (folder / "fall.jsonl").write_bytes(b"".join(lines))
    write_labels(folder, [Label("fall", "fall_forward", True, ep.impact_s)])
    return ep.impact_s


def test_a_recording_of_a_radar_that_reads_high_replays_with_its_calibration(
    tmp_path: Path,
) -> None:
    # The same fall recorded by a radar whose heights read 0.3 m high: missed as recorded,
    # caught at the same moment as the true recording once its calibration is given.
    impact = _write_fall(tmp_path, "r-1")
    [label] = read_labels(tmp_path)
    true = replay(read_recording(tmp_path, label), FallParams())
    high = tmp_path / "high"
    high.mkdir()
    lines = []
    for raw in (tmp_path / "fall.jsonl").read_bytes().splitlines():
        obj = orjson.loads(raw)
        for frame in obj["payload"]["frames"]:
            for target in frame["targets"]:
                target["z"] = round(target["z"] + 0.3, 3)
        lines.append(message_line(obj["topic"], obj["payload"]))
    (high / "fall.jsonl").write_bytes(b"".join(lines))
    write_labels(high, [label])
    assert true.alarmed and true.latency_s is not None and impact is not None
    assert not replay(read_recording(high, label), FallParams()).alarmed
    calibrated = evaluate(high, FallParams(), height_offset_m=0.3)[0]
    assert calibrated.alarmed and calibrated.latency_s == pytest.approx(true.latency_s, abs=0.05)
    assert main([str(high), "--height-offset", "0.3"]) == 0


def test_bad_lines_are_reported_by_line_and_the_rest_still_counts(tmp_path: Path) -> None:
    bad = [
        b"{not json\n",
        message_line(topic_for("r-1", "radar/frames"), {"ts": 1.0, "seq": 1}),  # no fps/frames
        message_line(topic_for("r-1", "status"), {"ts": 1.0, "seq": 1, "state": "online"}),
        b'["a", "list"]\n',
        message_line(
            topic_for("someone-else", "radar/frames"),
            {"ts": 1.0, "seq": 1, "fps": 10, "frames": [{"targets": []}]},
        ),
    ]
    _write_fall(tmp_path, "r-1", bad)
    [label] = read_labels(tmp_path)
    rec = read_recording(tmp_path, label)
    assert rec.skipped == 1  # the status line
    assert any(e.startswith("line 3: not_json") for e in rec.errors)
    assert any(e.startswith("line 6: ") and "not_json" not in e for e in rec.errors)
    assert any(e.startswith("line 12: not a {topic, payload}") for e in rec.errors)
    outcome = replay(rec, FallParams())
    assert outcome.alarmed and outcome.latency_s is not None
    assert any("device someone-else" in e for e in outcome.errors)
    assert len(outcome.errors) == 4


def test_zone_map_protects_a_person_lying_on_a_floor_bed(tmp_path: Path) -> None:
    # A low "floor bed" (lying centroid 0.3-0.47 m): lying down on it reads like reaching the floor
    rng = np.random.default_rng(0)
    ep = make_episode("lie_on_bed", "clean", rng)
    rows = dataclasses.replace(ep.rows, z_m=ep.rows.z_m - 0.25)
    device = "r-bed"
    (tmp_path / "bed.jsonl").write_bytes(
        b"".join(
            message_line(topic_for(device, "radar/frames"), to_payload(ev))
            for ev in to_events(rows, device)
        )
    )
    write_labels(tmp_path, [Label("bed", "lie_on_bed", False, None)])
    # without a zone map lying down on it is indistinguishable from a fall
    assert replay(read_recording(tmp_path, read_labels(tmp_path)[0]), FallParams()).alarmed
    (tmp_path / "bed.zones.json").write_text('{"bed": {"rect": [0.2, 3.0, 1.2, 5.0]}}')
    assert not replay(read_recording(tmp_path, read_labels(tmp_path)[0]), FallParams()).alarmed


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (None, "labels.csv: not found"),
        ("recording,kind,fall\nfall,x,1\n", "missing column(s) impact_ts"),
        ("recording,kind,fall,impact_ts\nnope,x,1,\n", "line 2: nope.jsonl not found"),
        ("recording,kind,fall,impact_ts\nfall,x,yes,\n", "fall must be 0 or 1"),
        ("recording,kind,fall,impact_ts\nfall,x,1,soon\n", "impact_ts 'soon' is not a number"),
        ("recording,kind,fall,impact_ts\n../fall,x,1,\n", "bad recording name"),
    ],
)
def test_bad_label_files_get_a_clear_error(
    tmp_path: Path, labels: str | None, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_fall(tmp_path, "r-1")
    (tmp_path / "labels.csv").unlink()
    if labels is not None:
        (tmp_path / "labels.csv").write_text(labels)
    with pytest.raises(RecordingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_labels(tmp_path)
    assert main([str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_record_writes_what_a_radar_publishes_and_replays(tmp_path: Path) -> None:
    # Real Mosquitto: a recorder subscribed to one radar writes its windows (and keeps a payload
    # that is not JSON, for the replay to report), ignoring other radars.
    require_service("Mosquitto", "127.0.0.1", 1883)
    device = f"rec-{uuid.uuid4().hex[:8]}"
    other = f"rec-other-{uuid.uuid4().hex[:8]}"
    rng = np.random.default_rng(11)
    ep = make_episode("fall_forward", "clean", rng)
    windows = to_events(ep.rows, device)
    out = tmp_path / "live.jsonl"
    ready = threading.Event()
    result: list[int] = []
    t = threading.Thread(
        target=lambda: result.append(
            record(
                SHARED_MQTT_URL,
                out,
                device_ids=[device],
                max_messages=len(windows) + 1,
                duration_s=60,
                on_ready=ready.set,
                client_id=f"rec-{device}",
            )
        )
    )
    t.start()
    assert ready.wait(10)
    pub = connect_client(SHARED_MQTT_URL, f"pub-{device}")
    try:
        topic = topic_for(device, "radar/frames")
        publish_and_wait(
            pub, topic_for(other, "radar/frames"), orjson.dumps(to_payload(windows[0]))
        )
        publish_and_wait(pub, topic, b"\xff not json")
        for ev in windows:
            publish_and_wait(pub, topic, orjson.dumps(to_payload(ev)))
    finally:
        close_client(pub)
    t.join(30)
    assert not t.is_alive()
    lines = out.read_bytes().splitlines()
    assert result and result[0] == len(lines)
    assert all(orjson.loads(line)["topic"] == topic for line in lines)
    assert sum(b"payload_text" in line for line in lines) == 1
    write_labels(tmp_path, [Label("live", "fall_forward", True, ep.impact_s)])
    outcome = replay(read_recording(tmp_path, read_labels(tmp_path)[0]), FallParams())
    assert outcome.alarmed
    assert len(outcome.errors) == 1  # the payload that was not JSON


def test_record_without_a_device_list_takes_every_radar(tmp_path: Path) -> None:
    require_service("Mosquitto", "127.0.0.1", 1883)
    device = f"rec-any-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "any.jsonl"
    ready = threading.Event()
    t = threading.Thread(
        target=record,
        args=(SHARED_MQTT_URL, out),
        kwargs={"max_messages": 1, "duration_s": 30, "on_ready": ready.set, "client_id": device},
    )
    t.start()
    assert ready.wait(10)
    pub = connect_client(SHARED_MQTT_URL, f"pub-{device}")
    try:
        ev = to_events(make_episode("stand", "clean", np.random.default_rng(1)).rows, device)[0]
        publish_and_wait(pub, topic_for(device, "radar/frames"), orjson.dumps(to_payload(ev)))
    finally:
        close_client(pub)
    t.join(30)
    assert not t.is_alive()
    [line] = out.read_bytes().splitlines()
    assert orjson.loads(line)["topic"].endswith("/radar/frames")


def test_record_from_a_broker_that_is_not_there_fails_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "none.jsonl"
    with pytest.raises(ConnectionRefusedError):
        record("mqtt://127.0.0.1:1", out, duration_s=1)
    assert not out.exists()
