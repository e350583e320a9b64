"""Two hub nodes on NATS JetStream sharing one PostgreSQL schema: each ingests its device
partitions; one is SIGKILLed mid-stream; the other takes its partitions over. Every call press is
stored exactly once, in order per device.

Order is proved by the exact counts: a device's presses carry rising seq and ts, so a press
delivered after a later one of the same device is judged a duplicate (devices.dedupe rule 3) and
dropped: any reordering would show as a press lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from care_hub import migrate
from care_hub.kernel.db import make_engine, make_session_factory
from care_hub.seed import load_seed
from tests.conftest import PG_URL
from tests.distributed.conftest import NatsServer
from tests.support.mqtt import wait_for
from tests.support.presses import PressPublisher, button_id, buttons_seed

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BUTTONS = 24
ROUNDS = 12  # presses per button


class Node:
    """`python -m tests.distributed.node` in a subprocess; its STATS lines say what it owns."""

    def __init__(self, node_id: str, *, schema: str, nats: NatsServer, tmp: Path) -> None:
        self.node_id = node_id
        self.ready = threading.Event()
        self.owned: set[int] = set()
        self.log = tmp / f"node-{node_id}.log"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.distributed.node",
                "--schema",
                schema,
                "--nats",
                nats.url,
                "--partitions",
                str(nats.partitions),
                "--node-id",
                node_id,
                "--database",
                PG_URL,
                "--lease-ttl",
                "2",
                "--report-s",
                "0.25",
                "--data-dir",
                str(tmp / f"var-{node_id}"),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=open(self.log, "wb"),  # noqa: SIM115 (closed with the process)
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode().strip()
            if line.startswith("READY"):
                self.ready.set()
            elif line.startswith("STATS"):
                owned = line.rsplit("owned=", 1)[1]
                self.owned = {int(k) for k in owned.split(",") if k}

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _prepare(schema: str, seed: dict[str, Any]) -> None:
    migrate.upgrade(PG_URL, schema=schema)

    async def go() -> None:
        engine = make_engine(PG_URL, schema=schema)
        async with make_session_factory(engine)() as session:
            await load_seed(session=session, seed=seed)
            await session.commit()
        await engine.dispose()

    asyncio.run(go())


def _stored(schema: str) -> tuple[Counter[str], Counter[str], dict[str, int]]:
    """Per device: the call alerts' count, their raised/updated audit rows, the stored seq mark."""

    async def go() -> tuple[Counter[str], Counter[str], dict[str, int]]:
        engine = make_engine(PG_URL, schema=schema)
        try:
            async with engine.connect() as conn:
                counts: Counter[str] = Counter()
                for device_id, count in await conn.execute(
                    text("SELECT device_id, count FROM alerts WHERE type = 'call'")
                ):
                    counts[device_id] += count
                audit: Counter[str] = Counter()
                for (device_id,) in await conn.execute(
                    text(
                        "SELECT a.device_id FROM alert_events e JOIN alerts a ON a.id = e.alert_id"
                        " WHERE a.type = 'call' AND e.action IN ('raised', 'updated')"
                    )
                ):
                    audit[device_id] += 1
                marks = {
                    d: s
                    for d, s in await conn.execute(
                        text("SELECT device_id, last_seq FROM device_seqs WHERE kind = 'button'")
                    )
                }
                return counts, audit, marks
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_killing_a_hub_node_moves_its_partitions_and_loses_no_press_doubles_none(
    nats_server: NatsServer, pg_schema: str, tmp_path: Path
) -> None:
    _prepare(pg_schema, buttons_seed(BUTTONS))
    a = Node("a", schema=pg_schema, nats=nats_server, tmp=tmp_path)
    b = Node("b", schema=pg_schema, nats=nats_server, tmp=tmp_path)
    publisher: PressPublisher | None = None
    try:
        assert a.ready.wait(60) and b.ready.wait(60), (a.log.read_text(), b.log.read_text())
        assert wait_for(lambda: len(a.owned) == 2 and len(b.owned) == 2, timeout=30), (
            a.owned,
            b.owned,
        )
        a_had = set(a.owned)
        publisher = PressPublisher(nats_server.mqtt_url, "press-publisher")
        devices = [button_id(n) for n in range(1, BUTTONS + 1)]
        kill_at = ROUNDS // 3
        killed_after_stored = 0
        for r in range(ROUNDS):
            if r == kill_at:
                assert wait_for(lambda: sum(_stored(pg_schema)[0].values()) > 0, timeout=20)
                killed_after_stored = sum(_stored(pg_schema)[0].values())
                a.kill()
            for device_id in devices:
                publisher.press(device_id)
            time.sleep(0.1)
        assert publisher.wait_all_acked(30)
        expected = publisher.expected()
        assert wait_for(lambda: b.owned == set(range(nats_server.partitions)), timeout=30)

        def all_stored() -> bool:
            return sum(_stored(pg_schema)[0].values()) >= sum(expected.values())

        assert wait_for(all_stored, timeout=90, interval=0.5), _stored(pg_schema)[0]
        time.sleep(2.0)  # anything doubled would land by now
        counts, audit, marks = _stored(pg_schema)
        print(
            f"DISTRIBUTED-FIGURES pressed={sum(expected.values())} stored={sum(counts.values())}"
            f" stored_before_kill={killed_after_stored} a_had={sorted(a_had)}"
        )
        assert counts == expected
        assert audit == expected
        assert marks == {d: ROUNDS for d in devices}
    finally:
        if publisher is not None:
            publisher.close()
        a.stop()
        b.stop()
