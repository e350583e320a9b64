"""A fall pending on a node that dies is still confirmed by the node that takes its partition over.

Node a consumes the radar's partition. A simulated fall's windows up to 1.5 s after the impact
reach it: it suspects the fall and stores that (and acknowledges the windows). Node a is then
SIGKILLed, node b takes the partition over, and the rest of the fall (the person lying still)
arrives at b. b's detectors have never seen the descent; the warm-up (`NatsSource` replays the
partition's radar frames stored in the 30 s before the ack floor into b's detectors) gives it to
them, so b confirms the fall and the alert is raised. With the warm-up off, b sees only a person
lying on the floor and raises nothing within the confirmation time: that is the gap it closes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from devices.nats_subjects import partition_of
from tests.distributed.conftest import NatsServer
from tests.distributed.harness import Node, fall_windows, prepare, query
from tests.support.mqtt import close_client, connect_client, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BEFORE_KILL_S = 1.5  # windows up to this long after impact reach node a (confirmation: 5 s)


def _seed(radar: str) -> dict[str, Any]:
    return {
        "version": 1,
        "facilities": [{"id": 1, "name": "Test Home"}],
        "rooms": [{"id": "101", "facility_id": 1, "floor": 1}],
        "residents": [{"id": "R-1", "name": "Resident 1", "facility_id": 1, "room": "101"}],
        "devices": [
            {"id": radar, "type": "radar", "facility_id": 1, "room": "101", "resident_id": "R-1"}
        ],
        "users": [],
    }


def _fall_events(schema: str) -> list[tuple[str, dict[str, Any]]]:
    rows = query(schema, "SELECT type, data FROM event_log WHERE type LIKE 'fall.%' ORDER BY seq")
    return [(t, d if isinstance(d, dict) else json.loads(d)) for t, d in rows]


@pytest.mark.parametrize("warmup_s", [30.0, 0.0], ids=["warm-up", "no-warm-up"])
def test_a_fall_pending_on_a_killed_node_is_confirmed_by_the_next_owner(
    nats_server: NatsServer, pg_schema: str, tmp_path: Path, warmup_s: float
) -> None:
    # a radar in an even partition: node a's while both run (a: 0 and 2, b: 1 and 3)
    radar = next(f"wr-{n}" for n in range(200) if partition_of(f"wr-{n}", 4) % 2 == 0)
    prepare(pg_schema, _seed(radar))
    extra = ("--warmup-s", str(warmup_s))
    a = Node("a", schema=pg_schema, nats=nats_server, tmp=tmp_path, extra=extra)
    b = Node("b", schema=pg_schema, nats=nats_server, tmp=tmp_path, extra=extra)
    client = None
    try:
        assert a.ready.wait(60) and b.ready.wait(60), (a.logs(), b.logs())
        assert wait_for(lambda: a.owned == {0, 2} and b.owned == {1, 3}, timeout=30)
        before, after, impact = fall_windows(radar, 11, BEFORE_KILL_S)
        assert len(after) >= 8  # the rest reaches past the 5 s confirmation
        client = connect_client(nats_server.mqtt_url, "radar")
        for payload in before:
            client.publish(f"care/v1/{radar}/radar/frames", payload, qos=0)

        def kinds() -> list[str]:
            return [t for t, _ in _fall_events(pg_schema)]

        assert wait_for(lambda: "fall.suspected" in kinds(), timeout=30), (kinds(), a.logs())
        time.sleep(0.5)  # its acknowledgement reaches the server
        a.kill()
        assert wait_for(lambda: b.owned == {0, 1, 2, 3}, timeout=30), (b.owned, b.logs())
        for payload in after:
            client.publish(f"care/v1/{radar}/radar/frames", payload, qos=0)

        def alerted() -> bool:
            return bool(query(pg_schema, "SELECT 1 FROM alerts WHERE type = 'fall'"))

        if warmup_s > 0:
            assert wait_for(alerted, timeout=30), (kinds(), b.logs())
            ((device, resident, detail),) = query(
                pg_schema, "SELECT device_id, resident_id, detail FROM alerts WHERE type = 'fall'"
            )
            detail = detail if isinstance(detail, dict) else json.loads(detail)
            assert (device, resident, detail["kind"]) == (radar, "R-1", "confirmed")
            assert abs(detail["impact_ts"] - impact) < 2.0, (detail, impact)
            assert wait_for(lambda: b.warmed >= len(before) - 2, timeout=10), b.warmed
        else:
            # every window is in: nothing confirmed (floor_dwell comes only after 60 s)
            assert wait_for(lambda: b.owned == {0, 1, 2, 3} and b.warmed == 0, timeout=10)
            time.sleep(8.0)
            assert not alerted(), _fall_events(pg_schema)
    finally:
        if client is not None:
            close_client(client)
        a.stop()
        b.stop()
