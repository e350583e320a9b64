"""Dead-letter step: every rejected message becomes a metric and, within limits, a row.

One device sending garbage must not flood the database or delay the calls beside it, so rows are
rate-limited per device (and in total, for floods under many made-up ids); what was dropped is
counted in a `rate_limited` summary row per device and minute, in the metrics and in the device's
`rejected_count`. Rows older than the retention period are deleted.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from care_hub.ingest.decode import Rejection
from care_hub.ingest.metrics import IngestMetrics
from care_hub.kernel.db import now_s
from devices.contract import excerpt
from devices.models import DeadLetter, Device
from devices.registry import DeviceRegistry

log = logging.getLogger(__name__)

# Log at most this many rejections per reason per minute: a flood must not flood the log too.
REJECT_LOG_PER_MIN = 20
# Rows per device: a burst of 20, then 10 a minute. A misconfigured device shows its problem in
# its first rows; thousands more of the same say nothing new (they are counted instead).
DEVICE_BURST = 20
DEVICE_ROWS_PER_S = 10 / 60
# Rows in total, whatever the device id (spoofed or unknown ids each get a fresh bucket).
TOTAL_BURST = 500
TOTAL_ROWS_PER_S = 50.0
# Summaries of what was dropped: at most one row per device per this many seconds.
SUMMARY_EVERY_S = 60.0
# Retention: rows older than this are deleted (checked at most once an hour).
RETENTION_S = 30 * 86_400.0
PRUNE_EVERY_S = 3600.0


@dataclass
class _Bucket:
    tokens: float
    at: float

    def take(self, now: float, rate: float, burst: float) -> bool:
        self.tokens = min(burst, self.tokens + (now - self.at) * rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class DeadLetters:
    def __init__(
        self,
        registry: DeviceRegistry,
        metrics: IngestMetrics,
        *,
        retention_s: float = RETENTION_S,
    ) -> None:
        self.registry = registry
        self.metrics = metrics
        self.retention_s = retention_s
        self._logged: Counter[str] = Counter()
        self._log_window = 0.0
        self._buckets: dict[str, _Bucket] = {}
        self._total = _Bucket(TOTAL_BURST, time.monotonic())
        # device key -> (reason -> dropped count), and when its last summary was written
        self._dropped: dict[str, Counter[str]] = {}
        self._summarised: dict[str, float] = {}
        self._pruned = 0.0

    async def write(
        self, session: AsyncSession, rejects: list[Rejection], *, counted: bool = False
    ) -> None:
        """Add rows to the batch's transaction; `counted` rejections were counted elsewhere
        (by the radar worker)."""
        now = time.monotonic()
        if rejects:
            await self._write(session, rejects, counted, now)
        if self._dropped:
            self._summaries(session, now)
        if now - self._pruned >= PRUNE_EVERY_S:
            self._pruned = now
            await session.execute(
                delete(DeadLetter).where(DeadLetter.at < now_s() - self.retention_s)
            )

    async def _write(
        self, session: AsyncSession, rejects: list[Rejection], counted: bool, now: float
    ) -> None:
        if now - self._log_window > 60:
            self._logged.clear()
            self._log_window = now
        per_device: Counter[str] = Counter()
        rows: list[DeadLetter] = []
        for r in rejects:
            if not counted:
                self.metrics.rejected[r.reason] += 1
            self._logged[r.reason] += 1
            if self._logged[r.reason] <= REJECT_LOG_PER_MIN:
                log.warning(
                    "rejected %s from %s: %s (%s)", r.topic, r.device_id, r.reason, r.detail
                )
            if r.device_id and self.registry.get(r.device_id) is not None:
                per_device[r.device_id] += 1
            key = r.device_id or "?"
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(DEVICE_BURST, now)
            if bucket.take(now, DEVICE_ROWS_PER_S, DEVICE_BURST) and self._total.take(
                now, TOTAL_ROWS_PER_S, TOTAL_BURST
            ):
                rows.append(_row(r))
            else:
                self._dropped.setdefault(key, Counter())[r.reason] += 1
                self.metrics.dead_letters_dropped += 1
        session.add_all(rows)
        for device_id, n in per_device.items():
            await session.execute(
                update(Device)
                .where(Device.id == device_id)
                .values(rejected_count=Device.rejected_count + n)
            )
        if len(self._buckets) > 50_000:  # made-up ids: forget full buckets, they are the default
            self._buckets = {k: b for k, b in self._buckets.items() if b.tokens < DEVICE_BURST - 1}

    def _summaries(self, session: AsyncSession, now: float) -> None:
        for key in list(self._dropped):
            if now - self._summarised.get(key, 0.0) < SUMMARY_EVERY_S:
                continue
            reasons = self._dropped.pop(key)
            self._summarised[key] = now
            total = sum(reasons.values())
            detail = ", ".join(f"{reason}: {n}" for reason, n in reasons.most_common())
            session.add(
                DeadLetter(
                    device_id=None if key == "?" else key,
                    topic=f"care/v1/{key}/*"[:300],
                    reason="rate_limited",
                    detail=f"{total} more rejections not stored ({detail})"[:1000],
                    excerpt="",
                )
            )
        if len(self._summarised) > 50_000:
            self._summarised = {
                k: t for k, t in self._summarised.items() if now - t < SUMMARY_EVERY_S
            }


def _row(r: Rejection) -> DeadLetter:
    return DeadLetter(
        device_id=r.device_id,
        topic=r.topic[:300],
        reason=r.reason,
        detail=r.detail[:1000],
        excerpt=excerpt(r.payload),
    )
