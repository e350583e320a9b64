"""Seq dedupe: counter restarts by ts and by boot, redeliveries and replays, marks with the commit.

Issue 11: a button that restarted its counter at 0 lost its next presses (fault 2), and a mark set
before a failed commit made the broker's redelivery look like a duplicate (fault 3).
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import orjson
import pytest

from care_hub import migrate
from care_hub.kernel.db import make_engine, make_session_factory
from devices.contract import ContractError, decode
from devices.dedupe import RESTART_GAP, Mark, SeqTracker, judge
from tests.conftest import PG_URL

DEV, KIND = "btn-1", "button"
T0 = 1_764_320_000.0


def press(seqs: SeqTracker, seq: int, ts: float, boot: int | None = None) -> bool:
    """One button message through the tracker, committed at once if new."""
    new = seqs.accept(DEV, KIND, seq, ts=ts, boot=boot)
    seqs.confirm()
    return new


def test_redelivery_is_a_duplicate() -> None:
    seqs = SeqTracker()
    assert press(seqs, 5, T0)
    assert not press(seqs, 5, T0)  # QoS 1 redelivery: the same bytes, so the same ts
    assert press(seqs, 6, T0 + 1)
    assert not press(seqs, 5, T0)  # an older one redelivered late


def test_restart_by_ts_takes_the_next_presses() -> None:
    """The reported fault: after a reboot seq starts at 0 again; 10 of 10 calls were dropped."""
    seqs = SeqTracker()
    for seq in range(40, 51):
        assert press(seqs, seq, T0 + seq)
    after_reboot = T0 + 600
    assert all(press(seqs, seq, after_reboot + seq) for seq in range(10))
    assert not press(seqs, 3, after_reboot + 3)  # redelivery within the new run


def test_restart_at_the_same_seq_with_a_later_ts() -> None:
    seqs = SeqTracker()
    assert press(seqs, 0, T0)
    assert press(seqs, 0, T0 + 30)  # rebooted before its second message


def test_replay_of_an_old_message_is_a_duplicate() -> None:
    """An old message replayed (lower seq, old ts) stays a duplicate, however far back: the old
    rule took anything more than RESTART_GAP below the last seq as a restart."""
    seqs = SeqTracker()
    assert press(seqs, 7, T0)
    for seq in range(8, 3 * RESTART_GAP, 97):
        assert press(seqs, seq, T0 + seq)
    assert press(seqs, 3 * RESTART_GAP, T0 + 3 * RESTART_GAP)
    assert not press(seqs, 7, T0)


def test_replay_from_before_a_restart_is_a_duplicate() -> None:
    seqs = SeqTracker()
    assert press(seqs, 5, T0)
    assert press(seqs, 0, T0 + 600)  # restart
    assert press(seqs, 9, T0 + 609)
    assert not press(seqs, 5, T0)  # a pre-restart message: seq not above, ts older
    assert not press(seqs, 0, T0 + 600)  # redelivery of the restart's first message


def test_without_boot_a_pre_restart_seq_above_the_new_counter_is_new() -> None:
    """The documented limit of the ts rule: a higher seq is new whatever its ts (so a clock that
    steps back loses no call), hence a replayed pre-restart message above the new counter gets in.
    `boot` closes it (test_lower_boot_is_stale_whatever_its_seq_and_ts)."""
    seqs = SeqTracker()
    assert press(seqs, 500, T0)
    assert press(seqs, 0, T0 + 600)
    assert press(seqs, 499, T0 - 1)


def test_restart_by_boot() -> None:
    """A device that sends `boot` is followed across a restart even when its clock went back."""
    seqs = SeqTracker()
    assert press(seqs, 500, T0, boot=3)
    assert press(seqs, 0, T0 - 3600, boot=4)  # rebooted with an unsynchronised clock
    assert press(seqs, 1, T0 - 3599, boot=4)
    assert not press(seqs, 1, T0 - 3599, boot=4)  # redelivery


def test_lower_boot_is_stale_whatever_its_seq_and_ts() -> None:
    seqs = SeqTracker()
    assert press(seqs, 500, T0, boot=3)
    assert press(seqs, 0, T0 + 60, boot=4)
    assert not press(seqs, 501, T0 + 1, boot=3)  # replay of the earlier run, seq above the new one
    assert not press(seqs, 0, T0 + 9999, boot=3)
    assert press(seqs, 1, T0 + 61, boot=4)


def test_same_boot_compares_seq_alone() -> None:
    seqs = SeqTracker()
    assert press(seqs, 10, T0, boot=1)
    assert not press(seqs, 9, T0 + 100, boot=1)  # same run: not a restart, whatever the clock
    assert press(seqs, 11, T0 - 100, boot=1)  # clock stepped back: still new


def test_old_payloads_without_boot_still_dedupe() -> None:
    seqs = SeqTracker()
    assert seqs.accept(DEV, KIND, 1)  # callers that give neither ts nor boot
    assert not seqs.accept(DEV, KIND, 1)
    assert seqs.accept(DEV, KIND, 2)


def test_judge_without_ts_keeps_the_gap_rule() -> None:
    """Marks stored before migration 0003 have no ts: the old rule decides until one is stored."""
    mark = Mark(seq=5000, ts=None, boot=None)
    assert judge(mark, 4990, T0, None) == "duplicate"
    assert judge(mark, 10, T0, None) == "restart"
    assert judge(mark, 5001, T0, None) == "new"


def test_duplicates_within_one_batch_are_seen_before_the_commit() -> None:
    seqs = SeqTracker()
    assert seqs.accept(DEV, KIND, 1, ts=T0)
    assert not seqs.accept(DEV, KIND, 1, ts=T0)
    assert seqs.pending == 1


def test_discard_after_a_failed_commit_lets_the_redelivery_through() -> None:
    seqs = SeqTracker()
    assert press(seqs, 1, T0)
    assert seqs.accept(DEV, KIND, 2, ts=T0 + 1)  # the batch's commit then fails
    seqs.discard()
    assert seqs.pending == 0
    assert seqs.accept(DEV, KIND, 2, ts=T0 + 1)  # the broker's redelivery is new
    seqs.confirm()
    assert not seqs.accept(DEV, KIND, 2, ts=T0 + 1)  # once committed, it is a duplicate


def test_discard_restores_the_confirmed_restart_state() -> None:
    seqs = SeqTracker()
    assert press(seqs, 50, T0)
    assert seqs.accept(DEV, KIND, 0, ts=T0 + 60)  # a restart, in a batch that fails
    seqs.discard()
    assert not seqs.accept(DEV, KIND, 50, ts=T0)  # back to the confirmed mark
    assert seqs.accept(DEV, KIND, 0, ts=T0 + 60)


def test_unpersisted_marks_hold_at_once() -> None:
    """QoS 0 radar streams are never redelivered and the radar worker has no transaction."""
    seqs = SeqTracker()
    assert seqs.accept("r1", "radar/frames", 1, persist=False, ts=T0)
    seqs.discard()
    assert not seqs.accept("r1", "radar/frames", 1, persist=False, ts=T0)
    assert seqs.pending == 0


def test_accept_stream_decides_and_marks_as_accept_one_at_a_time() -> None:
    """The radar worker's batched dedupe against ``accept`` per message: in-order windows,
    redeliveries, counter restarts (by ts and by the gap rule), replays, marks with a boot
    (from a vitals window) and devices never seen, over several batches."""
    rng = random.Random(5)
    one, many = SeqTracker(), SeqTracker()
    for tracker in (one, many):  # marks stored before migration 0003 (no ts), and with a boot
        tracker.accept("r0", "radar/frames", 5000, persist=False)
        tracker.accept("r1", "radar/frames", 40, persist=False, ts=T0, boot=2)
    seq = dict.fromkeys(("r0", "r1", "r2", "r3"), 0)
    verdicts = 0
    for _ in range(60):
        ids, seqs_, ts = [], [], []
        for _ in range(rng.randint(0, 40)):
            d = rng.choice(sorted(seq))
            r = rng.random()
            if r < 0.7:
                seq[d] += 1
            elif r < 0.8:
                seq[d] = 0  # restart
            elif r < 0.9:
                seq[d] = max(0, seq[d] - rng.randint(1, 3))  # redelivery or replay
            ids.append(d)
            seqs_.append(seq[d])
            ts.append(T0 + rng.choice((-1.0, 1.0)) * rng.random() * 100)
        expected = [
            one.accept(d, "radar/frames", q, persist=False, ts=t)
            for d, q, t in zip(ids, seqs_, ts, strict=True)
        ]
        assert many.accept_stream(ids, "radar/frames", seqs_, ts) == expected
        assert many._confirmed == one._confirmed and not many.pending
        verdicts += len(set(expected))
    assert verdicts > 60  # both verdicts occurred in most batches: the cases above were reached


def test_decoder_reads_boot() -> None:
    ev = decode(
        "care/v1/b1/button", orjson.dumps({"ts": T0, "seq": 0, "boot": 7, "action": "call"})
    )
    assert ev.env.boot == 7
    old = decode("care/v1/b1/button", orjson.dumps({"ts": T0, "seq": 0, "action": "call"}))
    assert old.env.boot is None
    for boot, reason in (
        ("7", "bad_type"),
        (True, "bad_type"),
        (-1, "out_of_range"),
        (2**63, "out_of_range"),
    ):
        with pytest.raises(ContractError) as error:
            decode(
                "care/v1/b1/button",
                orjson.dumps({"ts": T0, "seq": 0, "boot": boot, "action": "call"}),
            )
        assert error.value.reason == reason and error.value.field == "boot"


# --- Persisted across hub restarts -----------------------------------------------------------------


async def _persisted(url: str, schema: str | None) -> None:
    engine = make_engine(url, schema=schema)
    factory = make_session_factory(engine)
    try:
        seqs = SeqTracker()
        async with factory() as session:
            assert seqs.accept(DEV, KIND, 500, ts=T0, boot=3)
            assert seqs.accept("kit-1", "kit", 9, ts=T0)
            await seqs.flush(session)
            await session.commit()
        seqs.confirm()
        # A batch whose commit fails writes nothing and is forgotten.
        async with factory() as session:
            assert seqs.accept(DEV, KIND, 501, ts=T0 + 1, boot=3)
            await seqs.flush(session)
            await session.rollback()
        seqs.discard()

        later = SeqTracker()  # a new hub process
        async with factory() as session:
            await later.load(session)
        assert not later.accept(DEV, KIND, 500, ts=T0, boot=3)  # redelivery after a hub restart
        assert later.accept(DEV, KIND, 501, ts=T0 + 1, boot=3)  # the uncommitted one is new
        assert not later.accept(DEV, KIND, 502, ts=T0 + 2, boot=2)  # stale boot
        assert later.accept(DEV, KIND, 0, ts=T0 - 50, boot=4)  # restart by boot
        assert not later.accept("kit-1", "kit", 9, ts=T0)
        assert later.accept("kit-1", "kit", 0, ts=T0 + 3600)  # restart by ts
        async with factory() as session:
            await later.flush(session)
            await session.commit()
        later.confirm()

        third = SeqTracker()
        async with factory() as session:
            await third.load(session)
        assert not third.accept(DEV, KIND, 0, ts=T0 - 50, boot=4)
        assert not third.accept("kit-1", "kit", 0, ts=T0 + 3600)  # redelivery after the restart
        assert not third.accept("kit-1", "kit", 0, ts=T0 - 100)  # replay of an earlier run's 0
        assert third.accept("kit-1", "kit", 1, ts=T0 + 3601)
    finally:
        await engine.dispose()


def test_marks_persist_across_a_new_tracker_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'seqs.db'}"
    migrate.upgrade(url)
    asyncio.run(_persisted(url, None))


@pytest.mark.postgres
def test_marks_persist_across_a_new_tracker_on_postgres(pg_schema: str) -> None:
    migrate.upgrade(PG_URL, schema=pg_schema)
    asyncio.run(_persisted(PG_URL, pg_schema))
