"""The hub's receipts: once a batch is stored, every call-button message in it (new, or a re-send
of one stored before) is confirmed to its button with `{"cmd": "received", ...}`, so a button can
re-send a press that a dying broker acknowledged and lost (docs/device-contract.md, Receipts)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
from sqlalchemy import func, select

from alerts.models import Alert
from care_hub import migrate
from devices.mqtt_client import RawMessage
from tests.ingest.pipeline_support import seeded_pipeline


class _Outlet:
    """The pipeline's acknowledgements and commands, in the order it gave them."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, dict[str, object]]] = []

    def ack(self, messages: list[RawMessage]) -> None:
        self.log += [("ack", m.topic, {}) for m in messages]

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        assert qos == 1
        self.log.append(("publish", topic, orjson.loads(payload)))


def test_stored_presses_and_their_resends_are_confirmed_after_the_ack(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    migrate.upgrade(url)
    now = time.time()
    press = orjson.dumps({"ts": now, "seq": 7, "action": "call"})
    status = orjson.dumps({"ts": now, "seq": 1, "state": "online"})

    async def go() -> tuple[_Outlet, int]:
        out = _Outlet()
        async with seeded_pipeline(url, out) as (pipeline, factory):
            await pipeline.process(
                [
                    RawMessage("care/v1/b1/button", press, 1, 1, now),
                    RawMessage("care/v1/b1/status", status, 1, 2, now),  # not a press
                    RawMessage("care/v1/ghost/button", press, 1, 3, now),  # not provisioned
                ]
            )
            # the button heard no receipt and re-sends the same press
            await pipeline.process([RawMessage("care/v1/b1/button", press, 1, 4, now + 3)])
            async with factory() as session:
                calls = await session.scalar(
                    select(func.count()).select_from(Alert).where(Alert.type == "call")
                )
        return out, int(calls or 0)

    out, calls = asyncio.run(go())
    assert calls == 1  # the re-send is stored once
    receipt = {"cmd": "received", "kind": "button", "seq": 7, "ts": now}
    published = [(topic, body) for what, topic, body in out.log if what == "publish"]
    assert published == [("care/v1/b1/cmd", receipt)] * 2  # none for status, none for "ghost"
    # each receipt comes after its batch was acknowledged to the broker (after the commit)
    first_receipt = next(i for i, e in enumerate(out.log) if e[0] == "publish")
    assert [e[0] for e in out.log[:first_receipt]] == ["ack"] * 3
