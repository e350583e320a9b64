"""A node judges silence only for devices of the partitions it owns (no server needed)."""

from __future__ import annotations

from devices.nats_liveness import PartitionedLiveness
from devices.supervision import Liveness


def test_silence_is_judged_only_in_owned_partitions_and_a_taken_partition_starts_fresh() -> None:
    owned = {0}
    partition = {0: 0, 1: 0, 2: 1, 3: 1}
    live = PartitionedLiveness.wrap(
        Liveness.empty(2),
        partition_of_slot=lambda slot: partition[slot],
        owned=lambda: frozenset(owned),
    )
    for slot in partition:
        live.register(slot, "radar", 1000.0)
    assert sorted(live.sweep(1000.0 + 10).tolist()) == [0, 1]  # radars: 3 s; 2 and 3 not ours
    assert not live.known[2] and not live.known[3]  # nor their last-seen times, for the flush
    owned.add(1)
    assert live.sweep(1000.0 + 11).tolist() == []  # taken over: heard "now"
    assert sorted(live.sweep(1000.0 + 15).tolist()) == [2, 3]
