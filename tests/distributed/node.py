"""One hub node on NATS JetStream, as its own process (killed with SIGKILL by the tests, started
twice by bench.city): `python -m tests.distributed.node --schema S --nats URL --partitions P
--node-id ID [--database URL] [--stop-at DEVICE:SEQ]`. Configured by flags like `care-hub serve`
is by variables; the schema flag is what the CLI lacks (tests share one PostgreSQL database, a
schema each). `--stop-at` stalls the whole process (SIGSTOP to itself, every thread: lease
renewal too) in the middle of the first transaction that holds DEVICE's button press SEQ (or a
later one), right before its seq marks and fence check; the test sends SIGCONT."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from care_hub.hub import Hub
from care_hub.kernel.settings import Settings
from devices.nats_fence import FencedSeqTracker


def node_command(
    *,
    schema: str,
    nats: str,
    partitions: int,
    node_id: str,
    database: str,
    lease_ttl_s: float,
    report_s: float,
    data_dir: Path,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """The command line of one node (the tests and bench.city start them so)."""
    return [
        sys.executable,
        "-m",
        "tests.distributed.node",
        *("--schema", schema, "--nats", nats, "--partitions", str(partitions)),
        *("--node-id", node_id, "--database", database, "--lease-ttl", str(lease_ttl_s)),
        *("--report-s", str(report_s), "--data-dir", str(data_dir)),
        *extra,
    ]


def settings_for(args: argparse.Namespace) -> Settings:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix=f"care-hub-{args.node_id}-"))
    settings = Settings(_env_file=None, environment="test", data_dir=data_dir)  # type: ignore[call-arg]
    settings.database.url = args.database
    settings.ingest.backend = "nats"
    settings.ingest.nats_url = args.nats
    settings.ingest.partitions = args.partitions
    settings.ingest.node_id = args.node_id
    settings.ingest.lease_ttl_s = args.lease_ttl
    if args.warmup_s is not None:
        settings.ingest.warmup_s = args.warmup_s
    return settings


async def run(args: argparse.Namespace) -> None:
    hub = await Hub.start(settings_for(args), db_schema=args.schema or None, auto_migrate=False)
    if args.stop_at:
        _stop_at(hub, args.stop_at)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print(f"READY {args.node_id}", flush=True)
    report = asyncio.create_task(_report(hub, args.report_s))
    await stop.wait()
    report.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await report
    await hub.stop()


def _stop_at(hub: Hub, spec: str) -> None:
    device_id, seq = spec.rsplit(":", 1)
    tracker = hub.pipeline.seqs if hub.pipeline is not None else None
    assert isinstance(tracker, FencedSeqTracker), tracker
    flush = tracker.flush

    async def stalling_flush(session: AsyncSession) -> None:
        held = tracker.tentative_seq(device_id, "button")
        if held is not None and held >= int(seq):
            setattr(tracker, "flush", flush)  # once  # noqa: B010
            print(f"STOPPED {device_id} {held}", flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)
        await flush(session)

    setattr(tracker, "flush", stalling_flush)  # noqa: B010


async def _report(hub: Hub, every_s: float) -> None:
    """A line of figures every `every_s` (bench.city reads them): received, stored, queue, owned."""
    if every_s <= 0:
        return
    while True:
        await asyncio.sleep(every_s)
        p = hub.pipeline
        conn = hub.conn
        if p is None or conn is None:
            continue
        owned = sorted(getattr(conn, "owned", ()))
        print(
            f"STATS received={p.metrics.received} accepted={p.metrics.accepted} "
            f"queue={len(conn.queue)} warmed={getattr(p, 'warmed_up', 0)} "
            f"owned={','.join(map(str, owned))}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--schema", default="")
    ap.add_argument("--nats", required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--node-id", required=True)
    ap.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--lease-ttl", type=float, default=2.0)
    ap.add_argument("--data-dir", default="")
    ap.add_argument("--report-s", type=float, default=0.0)
    ap.add_argument("--log-level", default="WARNING")
    ap.add_argument("--stop-at", default="", help="DEVICE:SEQ (see the module doc)")
    ap.add_argument("--warmup-s", type=float, default=None, help="CARE_HUB_INGEST__WARMUP_S")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
