"""Silence judged only for the devices this hub node consumes (NATS partitions).

With several nodes each consuming some device partitions, a node hears nothing from the others'
devices; judging them silent would raise false device_offline alerts. Their timers are kept
fresh instead, so a partition taken over later starts from "heard just now".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from devices.supervision import Liveness


def _everyone(_slot: int) -> bool:
    return True


@dataclass
class PartitionedLiveness(Liveness):
    owns: Callable[[int], bool] = field(default=_everyone)

    @classmethod
    def wrap(cls, liveness: Liveness, owns: Callable[[int], bool]) -> PartitionedLiveness:
        return cls(
            liveness.last_seen_s, liveness.timeout_s, liveness.online, liveness.known, owns=owns
        )

    def sweep(self, now_s: float) -> npt.NDArray[np.intp]:
        silent = self.known & self.online & (now_s - self.last_seen_s > self.timeout_s)
        slots = np.flatnonzero(silent)
        if not len(slots):
            return slots
        mine = np.fromiter((self.owns(int(s)) for s in slots), bool, len(slots))
        self.last_seen_s[slots[~mine]] = now_s  # another node's device: not ours to judge
        slots = slots[mine]
        self.online[slots] = False
        return slots
