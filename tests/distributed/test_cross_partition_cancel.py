"""A resident's cancel at their button cancels a fall pending on their radar when the button and
the radar are in different partitions, consumed by different hub nodes; a cancel of another
resident cancels nothing.

Residents R-1 (button b1, radar r1) and R-2 (radar r2): b1 hashes to one of node b's partitions,
r1 and r2 to the same partition of node a. Both radars replay a simulated fall up to 1.5 s after
impact (suspected, 5 s confirmation pending), R-1 presses cancel, then the rest of both falls
arrives. r1's fall ends cancelled by the button and raises no alert; r2's is confirmed and
raises one (a cancel applied to every radar of the partition would have cancelled it too).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from devices.nats_subjects import partition_of
from tests.distributed.conftest import NatsServer
from tests.distributed.harness import Node, fall_windows, prepare, query
from tests.support.mqtt import close_client, connect_client, publish_and_wait, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# Windows up to this long after impact: the fall is suspected by then, confirmed 5 s after impact.
BEFORE_CONFIRM_S = 1.5


def _ids(partitions: int) -> tuple[str, str, str]:
    """b1 in an odd partition (node b), r1 and r2 both in one even partition (node a)."""
    b1 = next(f"xb-{n}" for n in range(100) if partition_of(f"xb-{n}", partitions) % 2 == 1)
    radars = [f"xr-{n}" for n in range(200)]
    r1 = next(r for r in radars if partition_of(r, partitions) % 2 == 0)
    r2 = next(
        r for r in radars if r != r1 and partition_of(r, partitions) == partition_of(r1, partitions)
    )
    return b1, r1, r2


def _seed(b1: str, r1: str, r2: str) -> dict[str, Any]:
    rooms = [
        {"id": "101", "facility_id": 1, "floor": 1},
        {"id": "102", "facility_id": 1, "floor": 1},
    ]
    residents = [
        {"id": "R-1", "name": "Resident 1", "facility_id": 1, "room": "101"},
        {"id": "R-2", "name": "Resident 2", "facility_id": 1, "room": "102"},
    ]
    devices = [
        {"id": b1, "type": "button", "facility_id": 1, "room": "101", "resident_id": "R-1"},
        {"id": r1, "type": "radar", "facility_id": 1, "room": "101", "resident_id": "R-1"},
        {"id": r2, "type": "radar", "facility_id": 1, "room": "102", "resident_id": "R-2"},
    ]
    return {
        "version": 1,
        "facilities": [{"id": 1, "name": "Test Home"}],
        "rooms": rooms,
        "residents": residents,
        "devices": devices,
        "users": [],
    }


def _fall_events(schema: str) -> list[tuple[str, dict[str, Any]]]:
    rows = query(schema, "SELECT type, data FROM event_log WHERE type LIKE 'fall.%' ORDER BY seq")
    return [(t, d if isinstance(d, dict) else json.loads(d)) for t, d in rows]


def _fall_alerts(schema: str) -> list[tuple[str, str]]:
    return [
        (d, r)
        for d, r in query(schema, "SELECT device_id, resident_id FROM alerts WHERE type = 'fall'")
    ]


def _windows(device_id: str, seed: int) -> tuple[list[bytes], list[bytes]]:
    """A simulated forward fall's windows: before and after impact + BEFORE_CONFIRM_S."""
    before, after, _ = fall_windows(device_id, seed, BEFORE_CONFIRM_S)
    return before, after


def test_a_cancel_reaches_the_residents_radar_on_another_node_and_only_theirs(
    nats_server: NatsServer, pg_schema: str, tmp_path: Path
) -> None:
    b1, r1, r2 = _ids(nats_server.partitions)
    prepare(pg_schema, _seed(b1, r1, r2))
    a = Node("a", schema=pg_schema, nats=nats_server, tmp=tmp_path)
    b = Node("b", schema=pg_schema, nats=nats_server, tmp=tmp_path)
    radars = button = None
    try:
        assert a.ready.wait(60) and b.ready.wait(60), (a.logs(), b.logs())
        assert wait_for(lambda: a.owned == {0, 2} and b.owned == {1, 3}, timeout=30)
        assert partition_of(r1, 4) in a.owned and partition_of(b1, 4) in b.owned
        w1, w2 = _windows(r1, 11), _windows(r2, 13)
        radars = connect_client(nats_server.mqtt_url, "radars")
        for device_id, (before, _) in ((r1, w1), (r2, w2)):
            for payload in before:
                radars.publish(f"care/v1/{device_id}/radar/frames", payload, qos=0)

        def suspected() -> set[str]:
            return {d["device_id"] for t, d in _fall_events(pg_schema) if t == "fall.suspected"}

        assert wait_for(lambda: suspected() == {r1, r2}, timeout=30), (
            _fall_events(pg_schema),
            a.logs(),
        )

        button = connect_client(nats_server.mqtt_url, "button")
        pressed_at = time.time()
        cancel = orjson.dumps({"ts": pressed_at, "seq": 1, "action": "cancel"})
        publish_and_wait(button, f"care/v1/{b1}/button", cancel, qos=1)

        def cancelled() -> dict[str, str]:
            return {
                d["device_id"]: d["reason"]
                for t, d in _fall_events(pg_schema)
                if t == "fall.cancelled"
            }

        assert wait_for(lambda: r1 in cancelled(), timeout=20), (_fall_events(pg_schema), b.logs())
        for device_id, (_, after) in ((r1, w1), (r2, w2)):
            for payload in after:
                radars.publish(f"care/v1/{device_id}/radar/frames", payload, qos=0)
        # r1 and r2 share a partition: r1's windows, published first, are processed before r2's.
        assert wait_for(lambda: bool(_fall_alerts(pg_schema)), timeout=30), _fall_events(pg_schema)
        time.sleep(1.0)
        assert _fall_alerts(pg_schema) == [(r2, "R-2")]
        assert cancelled() == {r1: "button"}
        ((stored_at,),) = query(pg_schema, "SELECT at FROM event_log WHERE type = 'fall.cancelled'")
        print(
            f"CANCEL-FIGURES press -> fall.cancelled stored on the radar's node: {stored_at - pressed_at:.3f} s"
        )
    finally:
        for client in (radars, button):
            if client is not None:
                close_client(client)
        a.stop()
        b.stop()
