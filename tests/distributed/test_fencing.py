"""Fencing: a hub node stalled longer than its lease TTL while it holds a batch, but alive, does
not store that batch alongside the partition's new owner.

Node a is stopped (SIGSTOP to itself: every thread, lease renewal too) in the middle of the
transaction that stores one of its buttons' presses, right before the seq marks and the fence
check. Its leases lapse, node b takes all four partitions and redelivers what a held. When a
resumes, its transaction finds b's tokens and rolls back; a restarts its ingest and takes its
share again. Every press is stored exactly once, in order per device (the exact counts prove
the order: see test_partitioned_ingest). Without the fence a's late commit doubles the presses
it held (b stored them too: its seq marks were loaded before a's commit).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devices.nats_fence import fence_id
from devices.nats_subjects import partition_of
from tests.distributed.conftest import NatsServer
from tests.distributed.harness import Node, prepare, query, stored_calls
from tests.support.mqtt import wait_for
from tests.support.presses import PressPublisher, button_id, buttons_seed

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BUTTONS = 16
ROUNDS = 10
STOP_ROUND = 3  # a stalls on the press of this round of one of its buttons


def test_a_node_stalled_past_its_lease_with_a_batch_in_hand_stores_nothing_twice(
    nats_server: NatsServer, pg_schema: str, tmp_path: Path
) -> None:
    prepare(pg_schema, buttons_seed(BUTTONS))
    devices = [button_id(n) for n in range(1, BUTTONS + 1)]
    # With two nodes, node "a" (first in id order) takes the even partitions.
    victim = next(d for d in devices if partition_of(d, nats_server.partitions) % 2 == 0)
    a = Node(
        "a",
        schema=pg_schema,
        nats=nats_server,
        tmp=tmp_path,
        extra=("--stop-at", f"{victim}:{STOP_ROUND}"),
    )
    b = Node("b", schema=pg_schema, nats=nats_server, tmp=tmp_path)
    publisher: PressPublisher | None = None
    try:
        assert a.ready.wait(60) and b.ready.wait(60), (a.logs(), b.logs())
        assert wait_for(lambda: a.owned == {0, 2} and b.owned == {1, 3}, timeout=30), (
            a.owned,
            b.owned,
        )
        publisher = PressPublisher(nats_server.mqtt_url, "press-publisher")
        resumed_at_round = -1
        for r in range(1, ROUNDS + 1):
            for device_id in devices:
                publisher.press(device_id)
            time.sleep(0.1)
            if r == STOP_ROUND:
                assert a.stopped.wait(20), a.logs()
                stopped_at = time.monotonic()
            if r == STOP_ROUND + 3:
                # a has been stopped for a while: b must own everything (TTL 2 s)
                assert wait_for(
                    lambda: b.owned == set(range(nats_server.partitions)), timeout=20
                ), b.owned
                a.resume()
                resumed_at = time.monotonic()
                resumed_at_round = r
        assert resumed_at_round > 0
        assert publisher.wait_all_acked(30)
        expected = publisher.expected()

        def all_stored() -> bool:
            return sum(stored_calls(pg_schema)[0].values()) >= sum(expected.values())

        assert wait_for(all_stored, timeout=90, interval=0.5), stored_calls(pg_schema)[0]
        stored_all_at = time.monotonic()
        # a restarted its ingest and takes its share again
        assert wait_for(lambda: a.owned == {0, 2} and b.owned == {1, 3}, timeout=30), (
            a.owned,
            b.owned,
            a.logs()[-3000:],
        )
        shared_again_at = time.monotonic()
        time.sleep(2.0)  # anything doubled would land by now
        counts, audit, marks = stored_calls(pg_schema)
        print(
            f"FENCING-FIGURES pressed={sum(expected.values())} stored={sum(counts.values())}"
            f" ({a.stopped_line}) stopped {resumed_at - stopped_at:.1f} s;"
            f" all stored {stored_all_at - resumed_at:.1f} s after the resume;"
            f" shared again {shared_again_at - resumed_at:.1f} s after it"
        )
        assert a.stopped_line.startswith(f"STOPPED {victim} ")
        assert counts == expected
        assert audit == expected
        assert marks == {d: ROUNDS for d in devices}
        assert "fenced: restarting its ingest" in a.logs()
        assert a.process.poll() is None  # alive: only its ingest restarted
        # One fencing token per partition, kept as the seq mark of its pseudo-device.
        tokens = dict(
            query(pg_schema, "SELECT device_id, last_seq FROM device_seqs WHERE kind = 'fence'")
        )
        assert set(tokens) == {fence_id(k) for k in range(nats_server.partitions)}
    finally:
        if publisher is not None:
            publisher.close()
        a.stop()
        b.stop()
