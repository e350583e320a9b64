"""Dead-letter step: every rejected message becomes a row (and a metric), the log stays readable."""

from __future__ import annotations

import logging
import time
from collections import Counter

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from care_hub.ingest.decode import Rejection
from care_hub.ingest.metrics import IngestMetrics
from devices.contract import excerpt
from devices.models import DeadLetter, Device
from devices.registry import DeviceRegistry

log = logging.getLogger(__name__)

# Log at most this many rejections per reason per minute: a flood must not flood the log too.
REJECT_LOG_PER_MIN = 20


class DeadLetters:
    def __init__(self, registry: DeviceRegistry, metrics: IngestMetrics) -> None:
        self.registry = registry
        self.metrics = metrics
        self._logged: Counter[str] = Counter()
        self._log_window = 0.0

    async def write(
        self, session: AsyncSession, rejects: list[Rejection], *, counted: bool = False
    ) -> None:
        """Add the rows to the batch's transaction; `counted` rejections were counted elsewhere
        (by the radar worker)."""
        if not rejects:
            return
        now = time.monotonic()
        if now - self._log_window > 60:
            self._logged.clear()
            self._log_window = now
        per_device: Counter[str] = Counter()
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
        session.add_all(
            [
                DeadLetter(
                    device_id=r.device_id,
                    topic=r.topic[:300],
                    reason=r.reason,
                    detail=r.detail[:1000],
                    excerpt=excerpt(r.payload),
                )
                for r in rejects
            ]
        )
        for device_id, n in per_device.items():
            await session.execute(
                update(Device)
                .where(Device.id == device_id)
                .values(rejected_count=Device.rejected_count + n)
            )
