"""Silence judged, and last-seen times written, only for the devices this hub node consumes.

With several nodes each consuming some device partitions (NATS JetStream), a node hears nothing
from the others' devices: judging them silent would raise false device_offline alerts, and
writing their last-seen times would overwrite the owner's (and contend for the same rows every
flush). So a device counts as `known` (watched) here only while its partition is owned; a
partition taken over starts its devices' silence timers afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from devices.supervision import Liveness


def _no_partition(_slot: int) -> int:
    return -1


def _nothing() -> frozenset[int]:
    return frozenset()


@dataclass
class PartitionedLiveness(Liveness):
    partition_of_slot: Callable[[int], int] = field(default=_no_partition)
    owned: Callable[[], frozenset[int]] = field(default=_nothing)
    registered: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    partition: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    _scoped_to: frozenset[int] | None = None

    @classmethod
    def wrap(
        cls,
        liveness: Liveness,
        *,
        partition_of_slot: Callable[[int], int],
        owned: Callable[[], frozenset[int]],
    ) -> PartitionedLiveness:
        registered = liveness.known.copy()
        partition = np.full(len(registered), -1, np.int32)
        for slot in np.flatnonzero(registered):
            partition[slot] = partition_of_slot(int(slot))
        out = cls(
            liveness.last_seen_s,
            liveness.timeout_s,
            liveness.online,
            np.zeros(len(registered), bool),
            partition_of_slot=partition_of_slot,
            owned=owned,
            registered=registered,
            partition=partition,
        )
        return out

    def ensure(self, slot: int) -> None:
        super().ensure(slot)
        grow = len(self.last_seen_s) - len(self.registered)
        if grow > 0:
            self.registered = np.concatenate([self.registered, np.zeros(grow, bool)])
            self.partition = np.concatenate([self.partition, np.full(grow, -1, np.int32)])

    def register(self, slot: int, device_type: str, now_s: float) -> None:
        super().register(slot, device_type, now_s)
        self.registered[slot] = True
        self.partition[slot] = self.partition_of_slot(slot)
        self._scoped_to = None  # rescope at the next sweep

    def scope(self, now_s: float) -> None:
        """`known` = registered devices of owned partitions; newly owned ones heard "now"."""
        owned = self.owned()
        if owned == self._scoped_to:
            return
        mine = self.registered & np.isin(self.partition, np.fromiter(owned, np.int32, len(owned)))
        new = mine & ~self.known
        self.last_seen_s[new] = now_s
        self.online[new] = True
        self.known = mine
        self._scoped_to = owned

    def sweep(self, now_s: float) -> npt.NDArray[np.intp]:
        self.scope(now_s)
        return super().sweep(now_s)
