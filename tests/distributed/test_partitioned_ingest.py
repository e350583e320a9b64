"""Two hub nodes on NATS JetStream sharing one PostgreSQL schema: each ingests its device
partitions; one is SIGKILLed mid-stream; the other takes its partitions over. Every call press is
stored exactly once, in order per device.

Order is proved by the exact counts: a device's presses carry rising seq and ts, so a press
delivered after a later one of the same device is judged a duplicate (devices.dedupe rule 3) and
dropped: any reordering would show as a press lost.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.distributed.conftest import NatsServer
from tests.distributed.harness import Node, prepare, stored_calls
from tests.support.mqtt import wait_for
from tests.support.presses import PressPublisher, button_id, buttons_seed

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BUTTONS = 24
ROUNDS = 12  # presses per button


def test_killing_a_hub_node_moves_its_partitions_and_loses_no_press_doubles_none(
    nats_server: NatsServer, pg_schema: str, tmp_path: Path
) -> None:
    prepare(pg_schema, buttons_seed(BUTTONS))
    a = Node("a", schema=pg_schema, nats=nats_server, tmp=tmp_path)
    b = Node("b", schema=pg_schema, nats=nats_server, tmp=tmp_path)
    publisher: PressPublisher | None = None
    try:
        assert a.ready.wait(60) and b.ready.wait(60), (a.log.read_text(), b.log.read_text())
        assert wait_for(lambda: len(a.owned) == 2 and len(b.owned) == 2, timeout=30), (
            a.owned,
            b.owned,
        )
        a_had = set(a.owned)
        publisher = PressPublisher(nats_server.mqtt_url, "press-publisher")
        devices = [button_id(n) for n in range(1, BUTTONS + 1)]
        kill_at = ROUNDS // 3
        killed_after_stored = 0
        for r in range(ROUNDS):
            if r == kill_at:
                assert wait_for(lambda: sum(stored_calls(pg_schema)[0].values()) > 0, timeout=20)
                killed_after_stored = sum(stored_calls(pg_schema)[0].values())
                a.kill()
            for device_id in devices:
                publisher.press(device_id)
            time.sleep(0.1)
        assert publisher.wait_all_acked(30)
        expected = publisher.expected()
        assert wait_for(lambda: b.owned == set(range(nats_server.partitions)), timeout=30)

        def all_stored() -> bool:
            return sum(stored_calls(pg_schema)[0].values()) >= sum(expected.values())

        assert wait_for(all_stored, timeout=90, interval=0.5), stored_calls(pg_schema)[0]
        time.sleep(2.0)  # anything doubled would land by now
        counts, audit, marks = stored_calls(pg_schema)
        print(
            f"DISTRIBUTED-FIGURES pressed={sum(expected.values())} stored={sum(counts.values())}"
            f" stored_before_kill={killed_after_stored} a_had={sorted(a_had)}"
        )
        assert counts == expected
        assert audit == expected
        assert marks == {d: ROUNDS for d in devices}
    finally:
        if publisher is not None:
            publisher.close()
        a.stop()
        b.stop()
