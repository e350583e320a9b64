"""Counters of the ingest loop, served by `/api/metrics`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class IngestMetrics:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    skewed: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    batch_failures: int = 0  # batches retried one message at a time
    dead_letters_dropped: int = 0  # rejections counted but not stored (rate limits)
    last_batch_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "skewed": self.skewed,
            "rejected": dict(self.rejected),
            "rejected_total": sum(self.rejected.values()),
            "batches": self.batches,
            "batch_failures": self.batch_failures,
            "dead_letters_dropped": self.dead_letters_dropped,
            "last_batch_s": self.last_batch_s,
        }
