"""Duplicate suppression by (device, topic kind, seq), persisted so it holds across hub restarts.

PROTOCOL: seq rises by one per message per device and topic, and a repeated seq is a QoS 1
redelivery. Devices restart their counter at 0 after a reboot or a battery change, so "seq at or
below the last one" alone would drop every message after a restart (issue 11, fault 2). Which
message is new is decided by `judge`, from what was last accepted (`Mark`):

1. Both the message and the mark carry the device's boot counter (`boot`, optional v1 extension):
   a higher boot is a restart (new); a lower one is a message from an earlier run, a stale
   redelivery or a replay (duplicate); the same boot compares seq alone.
2. Otherwise a higher seq is new, whatever its ts (a device clock stepping back loses nothing).
3. A lower-or-equal seq with a later ts than any of the current run is a restart (new); with an
   earlier or equal ts it is a redelivery (a redelivery is the same bytes, so the same ts) or a
   replay of an old message (duplicate).
4. With no ts to compare (a mark stored before migration 0003, or a caller that gives none): the
   old rule, a seq more than RESTART_GAP below the last is a restart.
5. A lower seq that is not a restart is checked against the window (`Mark.seen`): a seq among the
   SEQ_WINDOW just below the last that was never accepted is a late message ("late", new); one
   that was, or one further down, is a duplicate. QoS 1 delivers one client's messages in order
   only while the connection lasts: a client that reconnects sends what it queued offline and what
   is published during the reconnect in either order (paho 2.2 sends a publish made before the
   CONNACK ahead of the messages it held), so a press can arrive after a later press of the same
   button. A high-water mark alone dropped it as a redelivery (the broker-kill fault test lost 3
   presses of one button that way in CI). Only QoS 1 kinds (persisted marks) take late messages:
   the radar streams are QoS 0, never redelivered, and a window older than the last is not fed to
   the signal core out of order.

Without `boot`, two cases cannot be told from the data and are documented in
docs/device-contract.md: a restart whose clock reads earlier than before the restart (taken as a
redelivery), and a replayed pre-restart message whose seq is above the new counter (taken as new).
Devices that can, should send `boot`.

Marks follow the batch's transaction (fault 3): `accept` records a tentative mark, `flush` writes
the tentative marks in the batch's transaction, and the caller then calls `confirm` after the
commit succeeded or `discard` after it failed, so a broker redelivery of a batch the database
refused is not taken for a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Literal, NamedTuple, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from devices.models import DeviceSeq

# Only when there is no ts to compare (rule 4): a seq this far below the last one is a restart.
# 1000 messages is ~17 h of status heartbeats, far more than a broker keeps for redelivery.
RESTART_GAP = 1000

# How many seqs below the last one are remembered one by one (rule 5): 63 bits fit the signed
# BIGINT of device_seqs.seen. A button's presses are seconds apart, so 63 covers any reconnect; a
# radar's 1 s windows, a minute of reordering.
SEQ_WINDOW = 63
ALL_SEEN = (1 << SEQ_WINDOW) - 1

_new_tuple = tuple.__new__

Verdict = Literal["new", "late", "restart", "duplicate"]
Key = tuple[str, str]  # (device_id, topic kind)


@cache
def _upsert(dialect: str) -> Insert:
    """One upsert of a mark per dialect, built once and executed with a row of parameters per
    mark (executemany): SQLAlchemy compiles it once and caches it. The multi-VALUES statement
    built afresh per batch was compiled every batch (~14% of the hub's samples at 10,000
    residents, py-spy; docs/performance.md, issue 18)."""
    table = cast(Table, DeviceSeq.__table__)
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.device_id, table.c.kind],
        set_={
            "last_seq": stmt.excluded.last_seq,
            "last_ts": stmt.excluded.last_ts,
            "boot": stmt.excluded.boot,
            "seen": stmt.excluded.seen,
            "since": stmt.excluded.since,
        },
    )


class Mark(NamedTuple):
    """What was last accepted on one device's topic (a tuple: the radar worker makes one per
    window, ~10,000 a second, and a tuple is made in a third of a frozen dataclass's time)."""

    seq: int
    ts: float | None  # highest device ts of the current counter run
    boot: int | None  # the device's boot counter, if it sends one
    # Bit i set: seq - 1 - i was accepted (or is not to be taken late: before a restart, or marks
    # persisted before migration 0010).
    seen: int = ALL_SEEN
    # Device ts of the message that began the current counter run (a restart), if one did: without
    # `boot`, a lower seq with an earlier ts belongs to the run before and is never late.
    since: float | None = None


def _late(mark: Mark, seq: int, ts: float | None, same_boot: bool) -> Verdict:
    """A seq at or below the mark's, not a restart: late if within the window, never seen, and
    (without a common boot) not older than the current run."""
    if not same_boot and mark.since is not None and (ts is None or ts < mark.since):
        return "duplicate"
    behind = mark.seq - seq
    if 0 < behind <= SEQ_WINDOW and not (mark.seen >> (behind - 1)) & 1:
        return "late"
    return "duplicate"


def judge(mark: Mark | None, seq: int, ts: float | None, boot: int | None) -> Verdict:
    """Is a message with (seq, ts, boot) new, late, a counter restart, or a duplicate of what
    `mark` saw?"""
    if mark is None:
        return "new"
    if boot is not None and mark.boot is not None:
        if boot != mark.boot:
            return "restart" if boot > mark.boot else "duplicate"
        return "new" if seq > mark.seq else _late(mark, seq, ts, True)
    if seq > mark.seq:
        return "new"
    if ts is not None and mark.ts is not None:
        return "restart" if ts > mark.ts else _late(mark, seq, ts, False)
    return "restart" if seq <= mark.seq - RESTART_GAP else _late(mark, seq, ts, False)


def _shifted(seen: int, ahead: int) -> int:
    """The window after the last seq moves `ahead` (> 0) seqs up, the old last seq now seen."""
    if ahead > SEQ_WINDOW:
        return 0
    return ((seen << ahead) | (1 << (ahead - 1))) & ALL_SEEN


def advance(
    mark: Mark | None, seq: int, ts: float | None, boot: int | None, verdict: Verdict
) -> Mark:
    """The mark after accepting a message judged `verdict` (not "duplicate")."""
    if mark is None:  # nothing accepted before: an earlier seq arriving later is late, not old
        return Mark(seq, ts, boot, 0)
    if verdict == "restart":  # what is below the new run's first seq is the old run's
        return Mark(seq, ts, boot if boot is not None else mark.boot, ALL_SEEN, ts)
    highest_ts = ts if mark.ts is None else mark.ts if ts is None else max(mark.ts, ts)
    if verdict == "late":
        seen = mark.seen | (1 << (mark.seq - seq - 1))
        return Mark(mark.seq, highest_ts, mark.boot, seen, mark.since)
    return Mark(
        seq,
        highest_ts,
        boot if boot is not None else mark.boot,
        _shifted(mark.seen, seq - mark.seq),
        mark.since,
    )


class SeqTracker:
    """Seq marks per (device, topic kind): confirmed ones (committed, or never persisted) and the
    tentative ones of the batch being stored.

    Use per batch: `accept` each message; `await flush(session)` inside the batch's transaction;
    after the commit `confirm()`, or `discard()` if it failed.
    """

    def __init__(self) -> None:
        self._confirmed: dict[Key, Mark] = {}
        self._tentative: dict[Key, Mark] = {}

    async def load(self, session: AsyncSession) -> None:
        """Read the persisted marks (at start-up, before the first batch)."""
        for row in (await session.scalars(select(DeviceSeq))).all():
            seen = ALL_SEEN if row.seen is None else row.seen
            self._confirmed[(row.device_id, row.kind)] = Mark(
                row.last_seq, row.last_ts, row.boot, seen, row.since
            )

    def accept(
        self,
        device_id: str,
        kind: str,
        seq: int,
        *,
        persist: bool = True,
        ts: float | None = None,
        boot: int | None = None,
    ) -> bool:
        """True for a new message (and mark it); False for a duplicate.

        A persisted mark is tentative until `confirm()`; duplicates within the batch are still
        recognised. Only QoS 1 messages can be redelivered, so only their marks need persisting and
        waiting for the commit: a `persist=False` mark (QoS 0 radar streams) is final at once, which
        also suits the radar worker process, which has no transaction.
        """
        key = (device_id, kind)
        mark = self._tentative.get(key) or self._confirmed.get(key)
        verdict = judge(mark, seq, ts, boot)
        if verdict == "duplicate" or (verdict == "late" and not persist):
            return False  # a stream (QoS 0, one connection) is never reordered: late is old
        (self._tentative if persist else self._confirmed)[key] = advance(
            mark, seq, ts, boot, verdict
        )
        return True

    async def check(self, session: AsyncSession) -> None:
        """Before a transaction that writes no marks commits (dead letters, a detection stored
        alone): may this node still write? Always here; fenced trackers check their tokens."""

    async def flush(self, session: AsyncSession) -> None:
        """Write the tentative marks in the batch's transaction (the caller commits). Only marks
        accepted in this batch are tentative, so only those are written."""
        if not self._tentative:
            return
        rows: list[dict[str, Any]] = [
            {
                "device_id": d,
                "kind": k,
                "last_seq": m.seq,
                "last_ts": m.ts,
                "boot": m.boot,
                "seen": m.seen,
                "since": m.since,
            }
            for (d, k), m in self._tentative.items()
        ]
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        await (await session.connection()).execute(_upsert(dialect), rows)

    def confirm(self) -> None:
        """The batch committed: its tentative marks become the confirmed ones."""
        self._confirmed.update(self._tentative)
        self._tentative.clear()

    def discard(self) -> None:
        """The batch did not commit: forget its tentative marks, so a redelivery is taken as new."""
        self._tentative.clear()

    def accept_stream(
        self, device_ids: Sequence[str], kind: str, seqs: Sequence[int], ts: Sequence[float]
    ) -> list[bool]:
        """``accept(d, kind, q, persist=False, ts=t)`` for each message in order, as a list: the
        same verdicts and marks. The usual case (the next seq, no boot) is decided inline; the
        rest goes through ``accept``. For the radar worker's frames windows (~10,000 a second)."""
        confirmed, tentative = self._confirmed, self._tentative
        new_mark = _new_tuple
        out: list[bool] = []
        append = out.append
        for d, q, t in zip(device_ids, seqs, ts, strict=True):
            key = (d, kind)
            mark = tentative.get(key) or confirmed.get(key)
            if mark is not None and q == mark.seq + 1:  # judge: "new" (rule 2); advance, boot None
                last = mark.ts
                confirmed[key] = new_mark(
                    Mark,
                    (
                        q,
                        t if last is None or t > last else last,
                        mark.boot,
                        ((mark.seen << 1) | 1) & ALL_SEEN,
                        mark.since,
                    ),
                )
                append(True)
            else:
                append(self.accept(d, kind, q, persist=False, ts=t))
        return out

    @property
    def pending(self) -> int:
        """How many tentative marks wait for `confirm()` or `discard()`."""
        return len(self._tentative)
