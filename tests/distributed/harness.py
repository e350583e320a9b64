"""Hub nodes as subprocesses (`python -m tests.distributed.node`) on one PostgreSQL schema, and
what they stored, for the distributed tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy import text

from care_hub import migrate
from care_hub.kernel.db import make_engine, make_session_factory
from care_hub.seed import load_seed
from simulators import radar_motion as rm
from tests.conftest import PG_URL
from tests.distributed.conftest import NatsServer
from tests.distributed.node import node_command

REPO = Path(__file__).resolve().parents[2]


class Node:
    """A hub node in a subprocess; its STATS lines say what it owns, STOPPED that it stalled."""

    def __init__(
        self,
        node_id: str,
        *,
        schema: str,
        nats: NatsServer,
        tmp: Path,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.node_id = node_id
        self.ready = threading.Event()
        self.stopped = threading.Event()
        self.stopped_line = ""
        self.owned: set[int] = set()
        self.warmed = 0  # radar windows its detectors replayed after takeovers
        self.log = tmp / f"node-{node_id}.log"
        self.process = subprocess.Popen(
            node_command(
                schema=schema,
                nats=nats.url,
                partitions=nats.partitions,
                node_id=node_id,
                database=PG_URL,
                lease_ttl_s=2,
                report_s=0.25,
                data_dir=tmp / f"var-{node_id}",
                extra=extra,
            ),
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
            elif line.startswith("STOPPED"):
                self.stopped_line = line
                self.stopped.set()
            elif line.startswith("STATS"):
                if " warmed=" in line:
                    self.warmed = int(line.split(" warmed=", 1)[1].split()[0])
                owned = line.rsplit("owned=", 1)[1]
                self.owned = {int(k) for k in owned.split(",") if k}

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a stopped process ignores SIGTERM
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def fall_windows(
    device_id: str, seed: int, split_after_s: float
) -> tuple[list[bytes], list[bytes], float]:
    """A simulated forward fall (clean tracker, a minute ago) as radar/frames payloads: those up to
    `split_after_s` after the impact, the rest, and the impact's device time."""
    ep = rm.make_episode(
        "fall_forward", "clean", np.random.default_rng(seed), t0_s=time.time() - 60
    )
    assert ep.is_fall and ep.impact_s is not None
    before: list[bytes] = []
    after: list[bytes] = []
    for ev in rm.to_events(ep.rows, device_id, seq0=1):
        payload = orjson.dumps(rm.to_payload(ev))
        (before if ev.env.ts <= ep.impact_s + split_after_s else after).append(payload)
    return before, after, ep.impact_s


def prepare(schema: str, seed: dict[str, Any]) -> None:
    migrate.upgrade(PG_URL, schema=schema)

    async def go() -> None:
        engine = make_engine(PG_URL, schema=schema)
        async with make_session_factory(engine)() as session:
            await load_seed(session=session, seed=seed)
            await session.commit()
        await engine.dispose()

    asyncio.run(go())


def query(schema: str, sql: str) -> list[tuple[Any, ...]]:
    async def go() -> list[tuple[Any, ...]]:
        engine = make_engine(PG_URL, schema=schema)
        try:
            async with engine.connect() as conn:
                return [tuple(row) for row in await conn.execute(text(sql))]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def stored_calls(schema: str) -> tuple[Counter[str], Counter[str], dict[str, int]]:
    """Per device: the call alerts' count, their raised/updated audit rows, the stored seq mark."""
    counts: Counter[str] = Counter()
    for device_id, count in query(
        schema, "SELECT device_id, count FROM alerts WHERE type = 'call'"
    ):
        counts[device_id] += count
    audit: Counter[str] = Counter(
        device_id
        for (device_id,) in query(
            schema,
            "SELECT a.device_id FROM alert_events e JOIN alerts a ON a.id = e.alert_id"
            " WHERE a.type = 'call' AND e.action IN ('raised', 'updated')",
        )
    )
    marks = {
        d: s
        for d, s in query(
            schema, "SELECT device_id, last_seq FROM device_seqs WHERE kind = 'button'"
        )
    }
    return counts, audit, marks
