"""A city's ingest on NATS JetStream: several hub nodes share the residents by device partition.

Starts a private nats-server (spare ports: JetStream, its MQTT listener for the devices, the
partition mapping of devices.nats_subjects), a fresh schema in the shared PostgreSQL, seeds N
residents (2N + kits devices), starts --nodes hub processes (`python -m tests.distributed.node`:
`Hub.start` with CARE_HUB_INGEST__BACKEND=nats, radar windows in each node's own process) and
publishes bench.ingest's realistic mix to the MQTT listener from --publishers processes, on the
same machine. Prints, every 5 s and at the end, per node: messages received per second, its
partitions, its CPU (of one core), and its lag (messages the stream holds for its partitions
that it has not yet acknowledged); and nats-server's CPU.

    python -m bench.city --residents 20000 --nodes 2 --duration 40 --publishers 3
    python -m bench.city --fence 2000     # what the fencing check adds to an ingest transaction
"""

from __future__ import annotations

import sys

# bench/signal.py would shadow the standard library's `signal` when this runs as a script.
if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import multiprocessing as mp  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import nats  # noqa: E402
from sqlalchemy import text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import PASSWORD, proc_cpu_s, publisher  # noqa: E402
from care_hub import migrate  # noqa: E402
from care_hub.kernel.db import make_engine, make_session_factory  # noqa: E402
from care_hub.seed import load_seed  # noqa: E402
from devices.broker import find_free_port  # noqa: E402
from devices.nats_subjects import STREAM, server_config  # noqa: E402
from simulators.residents import build_seed  # noqa: E402
from tests.distributed.node import node_command  # noqa: E402

PG_URL = os.environ.get("CARE_HUB_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
REPORT_S = 5.0


@dataclass
class Node:
    node_id: str
    process: subprocess.Popen[bytes]
    received: int = 0
    owned: str = ""
    ready: threading.Event = field(default_factory=threading.Event)

    def read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode().strip()
            if line.startswith("READY"):
                self.ready.set()
            elif line.startswith("STATS"):
                fields = dict(kv.split("=", 1) for kv in line.split()[1:])
                self.received = int(fields["received"])
                self.owned = fields["owned"]


async def _schema(sql: str) -> None:
    engine = make_engine(PG_URL)
    async with engine.begin() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def _seed(schema: str, residents: int) -> None:
    seed = build_seed(
        residents,
        admin_password=PASSWORD,
        caregiver_password=PASSWORD,
        family_password=PASSWORD,
        n_kits=4,
    )
    engine = make_engine(PG_URL, schema=schema)
    async with make_session_factory(engine)() as session:
        await load_seed(session=session, seed=seed)
        await session.commit()
    await engine.dispose()


async def _lag(url: str) -> dict[str, int] | None:
    """Per node: messages of its partitions not yet acknowledged (pending + in flight); None
    when the server does not answer in time (a busy JetStream API)."""
    nc = await nats.connect(url)
    try:
        out: dict[str, int] = {}
        try:
            infos = await nc.jetstream(timeout=10).consumers_info(STREAM)
        except Exception:
            return None
        for info in infos:
            node = (info.name or "").split("-")[2]  # hub-p<k>-<node>-<epoch>
            out[node] = out.get(node, 0) + (info.num_pending or 0) + (info.num_ack_pending or 0)
        return out
    finally:
        await nc.close()


def source_only(messages: int, partitions: int) -> None:
    """The transport alone: `messages` radar windows stored in the stream first, then one
    NatsSource takes them all (drain + ack, no hub): its CPU per message is the NATS side of a
    node's cost, to set beside paho's receive (docs/performance.md)."""
    import random

    from bench.ingest import _frames_template
    from devices.nats_source import NatsSource
    from devices.nats_subjects import partition_of

    work = Path(tempfile.mkdtemp(prefix="care-hub-nats-src-"))
    port, mqtt_port = find_free_port(), find_free_port()
    (work / "js").mkdir()
    conf = work / "nats.conf"
    conf.write_text(
        server_config(partitions=partitions, port=port, mqtt_port=mqtt_port, store_dir=work / "js")
    )
    server = subprocess.Popen(
        [NATS_SERVER, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"nats://127.0.0.1:{port}"
    template = _frames_template(random.Random(1))

    async def fill() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        await js.add_stream(name=STREAM, subjects=["care.p.>"])
        for i in range(messages):
            device = f"radar-{i % 1000}"
            k = partition_of(device, partitions)
            subject = f"care.p.{k}.v1.{device}.radar.frames"
            await nc.publish(subject, template % (time.time(), i // 1000 + 1))
        await nc.flush()
        await nc.close()

    try:
        time.sleep(0.5)
        asyncio.run(fill())
        source = NatsSource(url, node_id="solo", partitions=partitions)
        cpu0, t0 = time.process_time(), time.time()
        source.start()
        got = 0
        while got < messages and time.time() - t0 < 300:
            batch = source.drain(5000)
            if not batch:
                time.sleep(0.005)
                continue
            got += len(batch)
            source.ack(batch)
        cpu, wall = time.process_time() - cpu0, time.time() - t0
        source.stop()
        print(
            f"NatsSource alone: {got} of {messages} radar windows in {wall:.1f} s "
            f"({got / wall:.0f} msg/s), {1e6 * cpu / max(1, got):.1f} us CPU per message "
            f"(load average {os.getloadavg()[0]:.2f})"
        )
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def fence_cost(transactions: int, partitions: int, marks: int = 40) -> None:
    """What fencing adds to one ingest transaction: `transactions` commits of `marks` seq marks
    with a plain SeqTracker and as many with a FencedSeqTracker holding `partitions` tokens (its
    SELECT ... FOR SHARE), interleaved in rounds of 100 so both see the same load."""
    from devices.dedupe import SeqTracker
    from devices.nats_fence import FencedSeqTracker, claim

    schema = f"fence_{uuid.uuid4().hex[:8]}"
    asyncio.run(_schema(f'CREATE SCHEMA "{schema}"'))
    migrate.upgrade(PG_URL, schema=schema)
    tokens = {k: (1.0, k + 1) for k in range(partitions)}

    async def go() -> dict[str, tuple[float, float]]:
        engine = make_engine(PG_URL, schema=schema)
        factory = make_session_factory(engine)
        async with factory() as session:
            await claim(session, tokens)
            await session.commit()
        trackers: dict[str, SeqTracker] = {
            "plain": SeqTracker(),
            "fenced": FencedSeqTracker(tokens=lambda: tokens, on_fenced=lambda _: None),
        }
        spent = {name: [0.0, 0.0] for name in trackers}  # wall, CPU
        seq = 0
        for _ in range(max(1, transactions // 100)):
            for name, tracker in trackers.items():
                for _ in range(100):
                    seq += 1
                    for d in range(marks):
                        tracker.accept(f"{name}-{d}", "button", seq)
                    t, c = time.perf_counter(), time.process_time()
                    async with factory() as session:
                        await tracker.flush(session)
                        await session.commit()
                    tracker.confirm()
                    spent[name][0] += time.perf_counter() - t
                    spent[name][1] += time.process_time() - c
        await engine.dispose()
        n = 100 * max(1, transactions // 100)
        return {name: (w / n, c / n) for name, (w, c) in spent.items()}

    try:
        load = os.getloadavg()[0]
        per = asyncio.run(go())
        (pw, pc), (fw, fc) = per["plain"], per["fenced"]
        print(
            f"per transaction ({marks} seq marks, {partitions} tokens), load average {load:.2f}: "
            f"plain {1e3 * pw:.2f} ms wall / {1e3 * pc:.2f} ms CPU, fenced {1e3 * fw:.2f} ms / "
            f"{1e3 * fc:.2f} ms: the check adds {1e3 * (fw - pw):.2f} ms wall, "
            f"{1e3 * (fc - pc):.2f} ms CPU"
        )
    finally:
        asyncio.run(_schema(f'DROP SCHEMA "{schema}" CASCADE'))


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--residents", type=int, default=20_000)
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--duration", type=float, default=40)
    ap.add_argument("--publishers", type=int, default=3)
    ap.add_argument(
        "--source-only",
        type=int,
        default=0,
        metavar="N",
        help="measure NatsSource alone on N stored messages (no hub, no PostgreSQL)",
    )
    ap.add_argument(
        "--fence",
        type=int,
        default=0,
        metavar="N",
        help="measure what the fencing check adds to N ingest transactions (PostgreSQL only)",
    )
    args = ap.parse_args()
    if args.fence:
        fence_cost(args.fence, args.partitions)
        return 0
    if args.source_only:
        source_only(args.source_only, args.partitions)
        return 0

    # A SIGTERM still stops the nodes and the server and drops the schema (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="care-hub-city-"))
    port, mqtt_port = find_free_port(), find_free_port()
    (work / "js").mkdir()
    conf = work / "nats.conf"
    conf.write_text(
        server_config(
            partitions=args.partitions, port=port, mqtt_port=mqtt_port, store_dir=work / "js"
        )
    )
    nats_log = open(work / "nats.log", "wb")  # noqa: SIM115 (for the server's lifetime)
    server = subprocess.Popen([NATS_SERVER, "-c", str(conf)], stdout=nats_log, stderr=nats_log)
    url = f"nats://127.0.0.1:{port}"
    schema = f"city_{uuid.uuid4().hex[:8]}"
    asyncio.run(_schema(f'CREATE SCHEMA "{schema}"'))
    nodes: list[Node] = []
    try:
        t = time.time()
        migrate.upgrade(PG_URL, schema=schema)
        asyncio.run(_seed(schema, args.residents))
        print(f"seeded {args.residents} residents in {time.time() - t:.0f} s", flush=True)
        for i in range(args.nodes):
            node_id = f"n{i}"
            process = subprocess.Popen(
                node_command(
                    schema=schema,
                    nats=url,
                    partitions=args.partitions,
                    node_id=node_id,
                    database=PG_URL,
                    lease_ttl_s=6,
                    report_s=0.5,
                    data_dir=work / f"var-{node_id}",
                ),
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=open(work / f"{node_id}.log", "wb"),  # noqa: SIM115
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            node = Node(node_id, process)
            threading.Thread(target=node.read, daemon=True).start()
            nodes.append(node)
        for node in nodes:
            if not node.ready.wait(180):
                raise RuntimeError(f"node {node.node_id} did not start; see {work}")
        want = args.partitions // args.nodes
        deadline = time.time() + 60
        while time.time() < deadline and not all(
            len([k for k in n.owned.split(",") if k]) == want for n in nodes
        ):
            time.sleep(0.25)
        print("partitions: " + "  ".join(f"{n.node_id}=[{n.owned}]" for n in nodes), flush=True)

        offered = mp.Value("q", 0)
        ended = mp.Value("d", 0.0)
        start_at = time.time() + 2
        pubs = [
            mp.Process(
                target=publisher,
                args=(
                    i,
                    args.publishers,
                    mqtt_port,
                    args.residents,
                    args.duration,
                    start_at,
                    offered,
                    ended,
                ),
            )
            for i in range(args.publishers)
        ]
        for p in pubs:
            p.start()
        time.sleep(max(0.0, start_at - time.time()))
        t0 = time.time()
        got0 = {n.node_id: n.received for n in nodes}
        cpu0 = {n.node_id: proc_cpu_s(n.process.pid) for n in nodes}
        ncpu0 = proc_cpu_s(server.pid)
        last = (t0, dict(got0), dict(cpu0), ncpu0, 0)
        header = "  ".join(f"{n.node_id + ' msg/s':>10} {'cpu%':>5} {'lag':>7}" for n in nodes)
        print(f"{'t_s':>5} {'offered/s':>10}  {header}  {'nats cpu%':>9}", flush=True)

        def report() -> None:
            nonlocal last
            now = time.time()
            dt = now - last[0]
            lag = asyncio.run(_lag(url))
            cells = []
            for n in nodes:
                cpu = proc_cpu_s(n.process.pid)
                cells.append(
                    f"{(n.received - last[1][n.node_id]) / dt:10.0f} "
                    f"{100 * (cpu - last[2][n.node_id]) / dt:5.0f} "
                    f"{lag.get(n.node_id, 0) if lag is not None else '?':>7}"
                )
                last[1][n.node_id], last[2][n.node_id] = n.received, cpu
            ncpu = proc_cpu_s(server.pid)
            print(
                f"{now - t0:5.0f} {(offered.value - last[4]) / dt:10.0f}  {'  '.join(cells)}"
                f"  {100 * (ncpu - last[3]) / dt:9.0f}",
                flush=True,
            )
            last = (now, last[1], last[2], ncpu, offered.value)

        while any(p.is_alive() for p in pubs):
            time.sleep(0.25)
            if time.time() - last[0] >= REPORT_S:
                report()
        # Drain: until every node's lag is 0 (or 120 s), reporting as before.
        drain_deadline = time.time() + 120
        caught_up: float | None = None
        while time.time() < drain_deadline:
            time.sleep(0.25)
            lag = asyncio.run(_lag(url))
            if lag is not None and sum(lag.values()) == 0:
                caught_up = time.time()
                break
            if time.time() - last[0] >= REPORT_S:
                report()
        report()
        elapsed = (caught_up or time.time()) - t0
        total_got = sum(n.received - got0[n.node_id] for n in nodes)
        print(
            f"\nresidents={args.residents} nodes={args.nodes} partitions={args.partitions} "
            f"publishers={args.publishers} duration={args.duration:.0f}s "
            f"load average (1, 5, 15 min) at start {load_before[0]:.2f} {load_before[1]:.2f} "
            f"{load_before[2]:.2f}, at end {os.getloadavg()[0]:.2f}"
        )
        behind = f"{caught_up - ended.value:.1f} s" if caught_up else "not within 120 s"
        print(
            f"offered {offered.value} msgs ({offered.value / args.duration:.0f}/s); nodes received "
            f"{total_got} ({100 * total_got / max(1, offered.value):.1f}%); every partition "
            f"caught up {behind} after the publishers stopped"
        )
        for n in nodes:
            got = n.received - got0[n.node_id]
            cpu = proc_cpu_s(n.process.pid) - cpu0[n.node_id]
            print(
                f"node {n.node_id}: partitions [{n.owned}], received {got} "
                f"({got / elapsed:.0f} msg/s over {elapsed:.0f} s), CPU {100 * cpu / elapsed:.0f}% "
                f"of one core, {1e6 * cpu / max(1, got):.0f} us/msg"
            )
        ncpu = proc_cpu_s(server.pid) - ncpu0
        print(
            f"nats-server CPU {100 * ncpu / elapsed:.0f}% of one core "
            f"({1e6 * ncpu / max(1, offered.value):.0f} us/msg)"
        )
    finally:
        for n in nodes:
            n.process.terminate()
        for n in nodes:
            try:
                n.process.wait(30)
            except subprocess.TimeoutExpired:
                n.process.kill()
        server.terminate()
        server.wait(10)
        asyncio.run(_schema(f'DROP SCHEMA "{schema}" CASCADE'))
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
