"""Counters of the ingest loop, served by `/api/metrics` (JSON) and `/metrics` (Prometheus)."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Upper bounds (seconds) of the batch-duration histogram. A batch of 5,000 messages takes well
# under a second (docs/performance.md); the top buckets catch a slow database.
BATCH_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


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
    # Batch durations: counts per bucket of BATCH_BUCKETS_S (not cumulative; the last is +Inf).
    batch_bucket_counts: list[int] = field(default_factory=lambda: [0] * (len(BATCH_BUCKETS_S) + 1))
    batch_seconds_sum: float = 0.0
    _last_batch_s: float = 0.0

    @property
    def last_batch_s(self) -> float:
        return self._last_batch_s

    @last_batch_s.setter
    def last_batch_s(self, seconds: float) -> None:
        """The pipeline sets this once per stored batch: each setting is one observation."""
        self._last_batch_s = seconds
        self.batch_seconds_sum += seconds
        self.batch_bucket_counts[bisect.bisect_left(BATCH_BUCKETS_S, seconds)] += 1

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
