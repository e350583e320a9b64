"""Benchmark: nurse-call latency while /api/auth/token is flooded with failed sign-ins.

Run: ``.venv/bin/python -m bench.signin_flood [--flooders 12] [--rate 5] [--seconds 20]
[--hub-src DIR]``.

Starts a private Mosquitto and a hub on SQLite (`care-hub serve` in a subprocess, like
bench/alerts.py), connects one caregiver websocket, and publishes call-button presses over MQTT at
`--rate` per second. Each press raises or updates a call alert whose `detail.device_ts` is the
publish time, so each websocket receipt is one latency sample: publish -> ingest -> commit ->
websocket. Three phases of `--seconds` each, in one hub:

- `quiet`: no sign-ins;
- `flood, one address`: `--flooders` clients (in a process of their own, so they do not share the
  measuring loop) post random names and passwords from one address as fast as answered;
- `flood, many addresses`: the same, each request from a fresh loopback address (127.1.x.y) every
  few requests, so the per-address throttle never refuses and every request costs an argon2 check:
  a spread-out attack, the worst case for the event loop.

`--hub-src DIR` runs the hub from another source tree (e.g. `git archive <commit>` unpacked), to
measure code before a change with the same bench. Prints latency p50/p99 per phase and the
sign-in answers by status.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import string
import tempfile
import time
from collections import Counter
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from websockets.asyncio.client import connect

from bench.alerts import PASSWORD, free_port, start_hub
from devices.broker import MosquittoProcess

RESIDENTS = 50
# A fresh source address this often keeps each one under the hub's per-address limit (20 / 5 min).
REQUESTS_PER_ADDRESS = 15
# Time for queued sign-ins and presses to drain between phases, so phases do not bleed.
SETTLE_S = 5.0


def _random_name(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=10))


async def _flooder(
    base_url: str, index: int, spread: bool, stop_at: float, statuses: Counter[int]
) -> None:
    rng = random.Random(index)
    sent = 0
    http: httpx.AsyncClient | None = None
    try:
        while time.monotonic() < stop_at:
            if http is None or (spread and sent % REQUESTS_PER_ADDRESS == 0):
                if http is not None:
                    await http.aclose()
                n = index * 10_000 + sent // REQUESTS_PER_ADDRESS
                address = f"127.1.{n // 250 % 250 + 1}.{n % 250 + 1}" if spread else "127.0.0.9"
                transport = httpx.AsyncHTTPTransport(local_address=address)
                http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=60)
            try:
                r = await http.post(
                    "/api/auth/token",
                    data={"username": _random_name(rng), "password": _random_name(rng)},
                )
                statuses[r.status_code] += 1
            except httpx.HTTPError:
                statuses[0] += 1
            sent += 1
    finally:
        if http is not None:
            await http.aclose()


def _flood_process(
    base_url: str, flooders: int, spread: bool, seconds: float, out: Queue[dict[int, int]]
) -> None:
    statuses: Counter[int] = Counter()

    async def go() -> None:
        stop_at = time.monotonic() + seconds
        await asyncio.gather(
            *(_flooder(base_url, i, spread, stop_at, statuses) for i in range(flooders))
        )

    asyncio.run(go())
    out.put(dict(statuses))


async def _screen(url: str, latencies: list[float], stop: asyncio.Event) -> None:
    async with connect(url, max_size=2**22) as ws:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            now = time.time()
            event = orjson.loads(raw)
            if event["type"] in ("alert.raised", "alert.updated"):
                ts = (event["data"].get("detail") or {}).get("device_ts")
                if ts is not None:
                    latencies.append(now - ts)


async def _presses(pub: mqtt.Client, rate: float, seconds: float, seqs: list[int]) -> int:
    sent = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        n = sent % len(seqs)
        seqs[n] += 1
        pub.publish(
            f"care/v1/bench-btn-{n}/button",
            orjson.dumps({"ts": time.time(), "seq": seqs[n], "action": "call"}),
            qos=1,
        )
        sent += 1
        await asyncio.sleep(max(0.0, started + sent / rate - time.perf_counter()))
    return sent


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="care-hub-signin-"))
    broker = MosquittoProcess(work / "broker")
    broker.start()
    if args.hub_src:
        # The hub subprocess imports care_hub from there (its working directory comes first).
        os.environ["PYTHONPATH"] = str(Path(args.hub_src).resolve())
        os.chdir(args.hub_src)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    db_url = f"sqlite:///{work / 'care-hub.db'}"
    hub = start_hub(work, port, broker.url, db_url, RESIDENTS)
    results = []
    try:
        token = httpx.post(
            f"{base_url}/api/auth/token", data={"username": "nurse", "password": PASSWORD}
        ).json()["access_token"]
        latencies: list[float] = []
        stop = asyncio.Event()
        screen = asyncio.create_task(
            _screen(f"ws://127.0.0.1:{port}/ws/events?token={token}", latencies, stop)
        )
        host, _, mport = broker.url.removeprefix("mqtt://").partition(":")
        pub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-pub")
        pub.connect(host, int(mport))
        pub.loop_start()
        await asyncio.sleep(1.0)
        seqs = [int(time.time() * 1000)] * RESIDENTS
        ctx = multiprocessing.get_context("spawn")
        for phase, spread in (
            ("quiet", None),
            ("flood, one address", False),
            ("flood, many addresses", True),
        ):
            latencies.clear()
            out: Queue[dict[int, int]] = ctx.Queue()
            flood = None
            if spread is not None:
                flood = ctx.Process(
                    target=_flood_process,
                    args=(base_url, args.flooders, spread, args.seconds, out),
                    daemon=True,
                )
                flood.start()
                await asyncio.sleep(1.0)  # the flood is under way before the first press
            sent = await _presses(pub, args.rate, args.seconds - (1.0 if flood else 0.0), seqs)
            statuses: dict[int, int] = {}
            if flood is not None:
                statuses = await asyncio.to_thread(out.get, True, args.seconds + 120)
                await asyncio.to_thread(flood.join, 30)
            deadline = time.monotonic() + 60
            while len(latencies) < sent and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            lat = np.asarray(latencies) * 1000.0
            results.append(
                {
                    "phase": phase,
                    "presses": sent,
                    "received": int(lat.size),
                    "p50_ms": float(np.percentile(lat, 50)) if lat.size else float("nan"),
                    "p99_ms": float(np.percentile(lat, 99)) if lat.size else float("nan"),
                    "max_ms": float(lat.max()) if lat.size else float("nan"),
                    "signins": statuses,
                }
            )
            await asyncio.sleep(SETTLE_S)
        stop.set()
        await screen
        pub.loop_stop()
        pub.disconnect()
    finally:
        hub.terminate()
        hub.wait(timeout=30)
        broker.stop()
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--flooders", type=int, default=12, help="concurrent sign-in clients")
    p.add_argument("--rate", type=float, default=5.0, help="call presses per second")
    p.add_argument("--seconds", type=float, default=20.0, help="per phase")
    p.add_argument("--hub-src", default="", help="run the hub from this source tree")
    args = p.parse_args()
    results = asyncio.run(run(args))
    print(f"{args.flooders} flooders, {args.rate:g} presses/s, {args.seconds:g} s per phase")
    print(
        f"{'phase':<24} {'presses':>7} {'received':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        "  sign-ins by status"
    )
    for r in results:
        signins = ", ".join(f"{k}: {v}" for k, v in sorted(r["signins"].items())) or "-"
        print(
            f"{r['phase']:<24} {r['presses']:>7} {r['received']:>8} {r['p50_ms']:>8.1f} "
            f"{r['p99_ms']:>8.1f} {r['max_ms']:>8.1f}  {signins}"
        )


if __name__ == "__main__":
    main()
