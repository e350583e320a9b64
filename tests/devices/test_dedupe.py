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
from devices.dedupe import ALL_SEEN, RESTART_GAP, SEQ_WINDOW, Mark, SeqTracker, judge
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
    assert press(seqs, 9, T0 - 1, boot=1)
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


# --- Late messages: a press that arrives after a later press of the same button -----------------


def test_a_late_press_is_taken_once() -> None:
    """A reconnecting client can send a press published during the reconnect ahead of the ones it
    held (paho 2.2): seq 5 before 2-4. The high-water mark alone dropped 2-4 as redeliveries."""
    seqs = SeqTracker()
    assert press(seqs, 1, T0 + 1)
    assert press(seqs, 5, T0 + 5)
    assert [press(seqs, q, T0 + q) for q in (3, 2, 4)] == [True, True, True]
    assert not any(press(seqs, q, T0 + q) for q in (1, 2, 3, 4, 5))  # redeliveries of all five
    assert press(seqs, 6, T0 + 6)


def test_the_window_reaches_seq_window_below_the_last() -> None:
    seqs = SeqTracker()
    assert press(seqs, 0, T0)
    top = SEQ_WINDOW + 10
    assert press(seqs, top, T0 + top)
    assert press(seqs, top - SEQ_WINDOW, T0 + 1)  # the oldest the window remembers
    assert not press(seqs, top - SEQ_WINDOW - 1, T0 + 1)  # below it: taken for a replay
    assert judge(Mark(top, T0 + top, None, ALL_SEEN), top - 1, T0, None) == "duplicate"


def test_a_jump_past_the_window_forgets_nothing_it_should_keep() -> None:
    seqs = SeqTracker()
    assert press(seqs, 1, T0)
    assert press(seqs, 10_000, T0 + 10)  # a huge gap (lost messages): no huge integers either
    assert press(seqs, 9_999, T0 + 9)
    assert not press(seqs, 9_999, T0 + 9)
    assert not press(seqs, 1, T0)


def test_before_a_restart_is_never_late_without_boot() -> None:
    seqs = SeqTracker()
    assert press(seqs, 20, T0)
    assert press(seqs, 0, T0 + 600)  # restart by ts
    assert press(seqs, 9, T0 + 609)  # 1-8 of the new run still to come
    assert not press(seqs, 5, T0 - 15)  # the old run's 5: ts before the restart
    assert press(seqs, 5, T0 + 605)  # the new run's 5, late
    assert not press(seqs, 5, T0 + 605)


def test_with_boot_a_late_press_of_the_same_run_is_taken() -> None:
    seqs = SeqTracker()
    assert press(seqs, 3, T0, boot=2)
    assert press(seqs, 0, T0 - 3600, boot=3)  # restart by boot, clock behind
    assert press(seqs, 4, T0 - 3596, boot=3)
    assert press(seqs, 2, T0 - 3598, boot=3)  # late, same boot
    assert not press(seqs, 2, T0 - 3598, boot=3)
    assert not press(seqs, 1, T0, boot=2)  # the old run's: stale boot


def test_streams_never_take_late_windows() -> None:
    """Radar windows are QoS 0 over one connection: an older window is not fed to the signal core."""
    seqs = SeqTracker()
    assert seqs.accept("r1", "radar/frames", 1, persist=False, ts=T0)
    assert seqs.accept("r1", "radar/frames", 3, persist=False, ts=T0 + 2)
    assert not seqs.accept("r1", "radar/frames", 2, persist=False, ts=T0 + 1)
    assert seqs.accept_stream(["r1", "r1"], "radar/frames", [2, 4], [T0 + 1, T0 + 3]) == [
        False,
        True,
    ]


def test_reordered_and_redelivered_presses_are_each_taken_exactly_once() -> None:
    """Random local reorderings (within 40 places) and redeliveries of 2,000 presses, in batches
    committed or rolled back: every seq is taken once, whatever the order."""
    rng = random.Random(11)
    for boot in (None, 1):
        seqs = SeqTracker()
        order = sorted(range(2000), key=lambda q: q + rng.uniform(0, 40))
        stream = []
        for q in order:
            stream.append(q)
            if rng.random() < 0.2:  # a redelivery, now or a little later
                stream.insert(len(stream) - rng.randint(0, min(5, len(stream) - 1)), q)
        taken: list[int] = []
        i = 0
        while i < len(stream):
            batch = stream[i : i + rng.randint(1, 30)]
            fresh = [q for q in batch if seqs.accept(DEV, KIND, q, ts=T0 + q, boot=boot)]
            if rng.random() < 0.1:
                seqs.discard()  # the commit failed: the broker redelivers the batch
                continue
            seqs.confirm()
            taken += fresh
            i += len(batch)
        assert sorted(taken) == list(range(2000)), boot


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

        # The window persists too: 7 of kit-2 arrives late after a hub restart.
        async with factory() as session:
            assert later.accept("kit-2", "kit", 6, ts=T0 + 6)
            assert later.accept("kit-2", "kit", 8, ts=T0 + 8)
            await later.flush(session)
            await session.commit()
        later.confirm()

        third = SeqTracker()
        async with factory() as session:
            await third.load(session)
        assert third.accept("kit-2", "kit", 7, ts=T0 + 7)
        assert not third.accept("kit-2", "kit", 6, ts=T0 + 6)
        assert not third.accept(DEV, KIND, 0, ts=T0 - 50, boot=4)
        assert not third.accept("kit-1", "kit", 0, ts=T0 + 3600)  # redelivery after the restart
        assert not third.accept("kit-1", "kit", 0, ts=T0 - 100)  # replay of an earlier run's 0
        assert third.accept("kit-1", "kit", 1, ts=T0 + 3601)
        assert third.accept("kit-1", "kit", 3, ts=T0 + 3603)
        assert not third.accept("kit-1", "kit", 2, ts=T0 - 1)  # the run before the restart
        assert third.accept("kit-1", "kit", 2, ts=T0 + 3602)  # late in this run
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
