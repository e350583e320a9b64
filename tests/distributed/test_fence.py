"""Fencing tokens in PostgreSQL (devices.nats_fence), without NATS: a claim never lowers a token,
a fresh lease bucket outranks an old one, a claim waits for a transaction that checked the old
token (and then sees its commit), and a transaction after the claim is fenced before it writes
its seq marks."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from care_hub import migrate
from care_hub.kernel.db import make_engine, make_session_factory
from devices.models import DeadLetter, DeviceSeq
from devices.nats_fence import FencedSeqTracker, Token, claim, lost, stored_tokens
from tests.conftest import PG_URL

pytestmark = [pytest.mark.postgres]

OLD: Token = (1000.0, 7)
NEW: Token = (1000.0, 9)


def test_claims_only_raise_tokens_and_a_fresh_bucket_outranks_the_old(pg_schema: str) -> None:
    migrate.upgrade(PG_URL, schema=pg_schema)

    async def go() -> None:
        engine = make_engine(PG_URL, schema=pg_schema)
        factory = make_session_factory(engine)
        try:
            async with factory() as s:
                assert await claim(s, {3: NEW}) == {3: NEW}
                await s.commit()
            async with factory() as s:  # a late claim of an older lease changes nothing
                assert await claim(s, {3: OLD}) == {3: NEW}
                await s.commit()
                assert lost({3: OLD}, await stored_tokens(s, {3: OLD})) == {3}
            async with factory() as s:  # a bucket made afresh: revisions restart, epoch is later
                assert await claim(s, {3: (2000.0, 1)}) == {3: (2000.0, 1)}
                await s.commit()
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_a_claim_waits_for_a_checked_transaction_and_fences_the_next(pg_schema: str) -> None:
    migrate.upgrade(PG_URL, schema=pg_schema)

    async def go() -> None:
        engine = make_engine(PG_URL, schema=pg_schema)
        factory = make_session_factory(engine)
        fenced: list[frozenset[int]] = []
        held = {0: OLD}
        old = FencedSeqTracker(tokens=lambda: held, on_fenced=fenced.append)
        try:
            async with factory() as s:
                await claim(s, held)
                await s.commit()
            # The old owner's transaction: its check passes and holds the row FOR SHARE...
            old.accept("btn-1", "button", 5)
            async with factory() as s1:
                await old.flush(s1)
                # ...so the new owner's claim waits for it.
                async with factory() as s2:
                    claiming = asyncio.create_task(claim(s2, {0: NEW}))
                    await asyncio.sleep(0.5)
                    assert not claiming.done()
                    await s1.commit()
                    assert await asyncio.wait_for(claiming, 10) == {0: NEW}
                    await s2.commit()
            old.confirm()
            async with factory() as s:  # what the new owner reloads after its claim
                marks = {
                    (r.device_id, r.kind): r.last_seq for r in await s.scalars(select(DeviceSeq))
                }
            assert marks[("btn-1", "button")] == 5
            # The old owner's next transaction is fenced before it writes anything.
            old.accept("btn-1", "button", 6)
            async with factory() as s:
                flushing = asyncio.create_task(old.flush(s))
                await asyncio.sleep(0.5)
                assert fenced == [frozenset({0})] and not flushing.done()
                flushing.cancel()  # what the node's restart does
                with pytest.raises(asyncio.CancelledError):
                    await flushing
            async with factory() as s:
                marks = {
                    (r.device_id, r.kind): r.last_seq for r in await s.scalars(select(DeviceSeq))
                }
            assert marks[("btn-1", "button")] == 5
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_a_transaction_that_writes_no_marks_is_fenced_too(pg_schema: str) -> None:
    """A refused message's dead letter or a detection stored alone writes no seq marks; the
    pipeline checks the fence before committing them (`SeqTracker.check`): a node whose
    partition was claimed meanwhile is stopped there and its dead letter never lands."""
    migrate.upgrade(PG_URL, schema=pg_schema)

    async def go() -> None:
        engine = make_engine(PG_URL, schema=pg_schema)
        factory = make_session_factory(engine)
        fenced: list[frozenset[int]] = []
        old = FencedSeqTracker(tokens=lambda: {0: OLD}, on_fenced=fenced.append)
        try:
            async with factory() as s:
                await claim(s, {0: OLD})
                await s.commit()
            async with factory() as s:  # still ours: passes at once
                await asyncio.wait_for(old.check(s), 5)
            assert fenced == []
            async with factory() as s:
                await claim(s, {0: NEW})
                await s.commit()
            async with factory() as s:
                s.add(DeadLetter(topic="care/v1/btn-1/button", device_id="btn-1", reason="x"))
                await s.flush()
                checking = asyncio.create_task(old.check(s))
                await asyncio.sleep(0.5)
                assert fenced == [frozenset({0})] and not checking.done()
                checking.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await checking
            async with factory() as s:
                assert (await s.scalars(select(DeadLetter))).all() == []
        finally:
            await engine.dispose()

    asyncio.run(go())
