"""Duplicate suppression by (device, topic kind, seq), persisted so it holds across hub restarts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from devices.models import DeviceSeq

# seq at or below the last one seen is a redelivery, unless it is this far below: then the device
# restarted and counts from 0 again (PROTOCOL: seq increases by one per message), and we follow it.
RESTART_GAP = 1000


class SeqTracker:
    def __init__(self) -> None:
        self._last: dict[tuple[str, str], int] = {}
        self._dirty: set[tuple[str, str]] = set()

    async def load(self, session: AsyncSession) -> None:
        for row in (await session.scalars(select(DeviceSeq))).all():
            self._last[(row.device_id, row.kind)] = row.last_seq

    def accept(self, device_id: str, kind: str, seq: int, *, persist: bool = True) -> bool:
        """True for a new message (and remember it); False for a duplicate.

        Only QoS 1 messages can be redelivered after a restart, so only their marks need persisting;
        skipping the QoS 0 radar stream keeps the per-batch write small.
        """
        key = (device_id, kind)
        last = self._last.get(key)
        if last is not None and last - RESTART_GAP < seq <= last:
            return False
        self._last[key] = seq
        if persist:
            self._dirty.add(key)
        return True

    async def flush(self, session: AsyncSession) -> None:
        """Write the marks changed since the last flush (in the batch's transaction)."""
        if not self._dirty:
            return
        rows = [{"device_id": d, "kind": k, "last_seq": self._last[(d, k)]} for d, k in self._dirty]
        self._dirty = set()
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(DeviceSeq).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=["device_id", "kind"], set_={"last_seq": stmt.excluded.last_seq}
        )
        await session.execute(stmt)
