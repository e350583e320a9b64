"""Fencing for ingest on NATS: a node that lost a partition's lease (stalled past its TTL, cut off
from NATS, but alive) never commits alongside the partition's new owner.

The fencing token is the KV revision of the partition's lease when it was acquired: each `create`
of the key gets a higher revision than any before it (revisions are the bucket stream's
sequence). It is paired with the bucket's creation time (`Token`: epoch, revision), so a bucket
made afresh (a new JetStream store), whose revisions start again at 1, still outranks the old one. A node that acquires partition k writes its token to PostgreSQL (`claim`) before it
reloads seq marks and consumes; every ingest transaction, right before its seq marks are written
(`FencedSeqTracker.flush`), reads the tokens of the partitions it may hold messages of `FOR SHARE`
and goes on only if they are still its own.

Row locks order the two in PostgreSQL: a claim's UPDATE waits for a transaction holding the row
FOR SHARE (so the new owner's seq marks, reloaded after its claim, include that commit and absorb
its redelivery), and a transaction that reads the row after a claim sees the newer token. A fenced
transaction calls `on_fenced` and then waits to be cancelled: the caller restarts its ingest (as
a node restart would: no state of a lost partition stays behind), the transaction rolls back,
nothing of the batch is acknowledged, and the partitions' owners redeliver it from their ack
floors. Waiting instead of raising keeps the pipeline's failure path (store one by one, dead
letters) out of it: a fenced batch must be neither stored nor dead-lettered.

The tokens are kept as seq marks of one pseudo-device per partition (`device_seqs` row
`~nats-p<k>`, kind `fence`, `last_ts` the epoch, `last_seq` the revision; `~` is not allowed in
a device id), so they need no schema change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, cast

from sqlalchemy import Select, Table, and_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from devices.dedupe import SeqTracker
from devices.models import DeviceSeq

log = logging.getLogger(__name__)

FENCE_KIND = "fence"

# (bucket creation time in epoch seconds, lease revision): compared in that order.
Token = tuple[float, int]


def fence_id(k: int) -> str:
    return f"~nats-p{k}"


def _table() -> Table:
    return cast(Table, DeviceSeq.__table__)


async def claim(session: AsyncSession, tokens: Mapping[int, Token]) -> dict[int, Token]:
    """Raise each partition's stored token to ours (never lower it); the caller commits.
    Returns the tokens stored now: one above ours means a newer owner already claimed it."""
    table = _table()
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    for k, (epoch, revision) in tokens.items():
        stmt = insert(table).values(
            device_id=fence_id(k), kind=FENCE_KIND, last_seq=revision, last_ts=epoch, boot=None
        )
        new_epoch, new_revision = stmt.excluded.last_ts, stmt.excluded.last_seq
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.device_id, table.c.kind],
            set_={"last_seq": new_revision, "last_ts": new_epoch},
            where=or_(
                table.c.last_ts.is_(None),
                table.c.last_ts < new_epoch,
                and_(table.c.last_ts == new_epoch, table.c.last_seq < new_revision),
            ),
        )
        await session.execute(stmt)
    return await stored_tokens(session, tokens, lock=False)


@cache
def _tokens_query(lock: bool) -> Select[Any]:
    """Built once (every ingest transaction runs it; SQLAlchemy then reuses its compiled form)."""
    table = _table()
    query = select(table.c.device_id, table.c.last_ts, table.c.last_seq).where(
        table.c.kind == FENCE_KIND, table.c.device_id.in_(bindparam("ids", expanding=True))
    )
    return query.with_for_update(read=True) if lock else query


async def stored_tokens(
    session: AsyncSession, tokens: Mapping[int, Token], *, lock: bool = True
) -> dict[int, Token]:
    """The stored tokens of these partitions, read FOR SHARE (held to the end of the transaction:
    a claim waits for it)."""
    ids = {fence_id(k): k for k in tokens}
    conn = await session.connection()  # Core: the ORM's per-statement work is not needed here
    rows = (await conn.execute(_tokens_query(lock), {"ids": list(ids)})).all()
    return {ids[row[0]]: (float(row[1] or 0.0), int(row[2])) for row in rows}


def lost(tokens: Mapping[int, Token], stored: Mapping[int, Token]) -> frozenset[int]:
    """Partitions whose stored token is not ours (a newer owner claimed it, or the row is gone)."""
    return frozenset(k for k, token in tokens.items() if stored.get(k) != token)


class FencedSeqTracker(SeqTracker):
    """Seq marks written only while the node's fencing tokens are current (see the module doc).

    `tokens()` gives the partitions whose messages the node may hold, with its token for each;
    `on_fenced(lost)` is called once a transaction finds a token taken, and must cancel the
    task that runs the transaction (the flush waits for that)."""

    def __init__(
        self,
        tokens: Callable[[], Mapping[int, Token]],
        on_fenced: Callable[[frozenset[int]], None],
    ) -> None:
        super().__init__()
        self.tokens = tokens
        self.on_fenced = on_fenced
        self.fenced: frozenset[int] = frozenset()

    async def check(self, session: AsyncSession) -> None:
        """Go on only while every token is still ours; else call `on_fenced` and wait to be
        cancelled. Every ingest transaction runs it: through `flush` where it writes marks, on
        its own where it writes none (a detection stored alone, a refused message's dead
        letter)."""
        tokens = self.tokens()
        if tokens:
            taken = lost(tokens, await stored_tokens(session, tokens))
            if taken:
                self.fenced = taken
                log.error(
                    "partitions %s were claimed by a newer owner: this transaction is dropped",
                    sorted(taken),
                )
                self.on_fenced(taken)
                await asyncio.Event().wait()  # until the caller cancels the ingest task

    async def flush(self, session: AsyncSession) -> None:
        await self.check(session)
        await super().flush(session)

    def tentative_seq(self, device_id: str, kind: str) -> int | None:
        """The seq this batch would mark for (device, kind), if any (tests stall on it)."""
        mark = self._tentative.get((device_id, kind))
        return None if mark is None else mark.seq
