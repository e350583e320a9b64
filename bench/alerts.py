"""Benchmark: alert fan-out from an MQTT button press to many websocket screens.

Run: ``.venv/bin/python -m bench.alerts [--clients 200] [--rate 20] [--seconds 10]
[--mqtt-url mqtt://127.0.0.1:1883] [--database-url postgresql://postgres@127.0.0.1/test]``.

Starts a real hub (`care-hub serve` in a subprocess, so the clients do not share its CPU time
slice), seeds one facility with one call button per resident, connects `--clients` caregiver
websockets, then publishes button calls over MQTT at `--rate` per second for `--seconds`. Every
press raises or updates that resident's call alert, whose `detail.device_ts` is the publish time,
so each websocket receipt gives one latency sample: MQTT publish -> ingest -> database commit ->
event log -> fan-out -> websocket. Prints p50/p99 latency and events/s delivered over all clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from websockets.asyncio.client import connect

PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(residents: int) -> dict[str, Any]:
    rooms = [{"id": str(100 + n), "facility_id": 1, "floor": 1 + n % 3} for n in range(residents)]
    return {
        "version": 1,
        "facilities": [{"id": 1, "name": "Bench Home"}],
        "rooms": rooms,
        "residents": [
            {"id": f"R-{n}", "name": f"Resident {n}", "facility_id": 1, "room": str(100 + n)}
            for n in range(residents)
        ],
        "devices": [
            {
                "id": f"bench-btn-{n}",
                "type": "button",
                "facility_id": 1,
                "room": str(100 + n),
                "resident_id": f"R-{n}",
            }
            for n in range(residents)
        ],
        "users": [
            {"username": "nurse", "password": PASSWORD, "role": "caregiver", "facility_id": 1}
        ],
    }


def start_hub(
    data_dir: Path, port: int, mqtt_url: str, db_url: str, residents: int, reminders: bool = False
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CARE_HUB_DATA_DIR": str(data_dir),
        "CARE_HUB_HTTP_PORT": str(port),
        "CARE_HUB_MQTT_URL": mqtt_url,
        "CARE_HUB_DATABASE_URL": db_url,
        "CARE_HUB_MQTT__CLIENT_ID": f"care-hub-bench-{port}",
    }
    if not reminders:
        # Measure fan-out alone: without this, every open call (and those a reused database kept
        # open) is re-announced to every client each 30 s and escalated after 120 s.
        env |= {
            f"CARE_HUB_ALERTS__{k}": "86400"
            for k in (
                "REMINDER_INTERVAL_S",
                "ACK_TIMEOUT_CRITICAL_S",
                "ACK_TIMEOUT_HIGH_S",
                "ACK_TIMEOUT_MEDIUM_S",
            )
        }
    seed_file = data_dir / "seed.json"
    seed_file.write_text(json.dumps(seed(residents)))
    cli = [sys.executable, "-m", "care_hub.cli"]
    subprocess.run(
        [*cli, "seed", "--file", str(seed_file)], env=env, check=True, capture_output=True
    )
    proc = subprocess.Popen(
        [*cli, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(
        "hub did not start: " + (proc.stderr.read() if proc.stderr else b"").decode()[-2000:]
    )


async def client(
    url: str, latencies: list[float], counts: list[int], stop: asyncio.Event, closed: list[int]
) -> None:
    async with connect(url, max_size=2**22) as ws:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            except Exception:
                closed.append(1)
                return
            now = time.time()
            event = orjson.loads(raw)
            if event["type"] in ("alert.raised", "alert.updated"):
                ts = (event["data"].get("detail") or {}).get("device_ts")
                if ts is not None:
                    latencies.append(now - ts)
                counts[0] += 1


async def run(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="care-hub-bench-"))
    db_url = args.database_url or f"sqlite:///{data_dir / 'care-hub.db'}"
    hub = start_hub(data_dir, port, args.mqtt_url, db_url, args.residents, args.reminders)
    try:
        token = httpx.post(
            f"http://127.0.0.1:{port}/api/auth/token",
            data={"username": "nurse", "password": PASSWORD},
        ).json()["access_token"]
        url = f"ws://127.0.0.1:{port}/ws/events?token={token}"
        latencies: list[float] = []
        counts = [0]
        closed: list[int] = []
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(client(url, latencies, counts, stop, closed))
            for _ in range(args.clients)
        ]
        await asyncio.sleep(2.0)  # all connected and past their hello
        host, _, mport = args.mqtt_url.removeprefix("mqtt://").partition(":")
        pub = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{port}"
        )
        pub.connect(host, int(mport or 1883))
        pub.loop_start()
        # Above any seq a previous run left in a reused database (repeats are dropped as duplicates).
        seqs = [int(time.time() * 1000)] * args.residents
        sent = 0
        started = time.perf_counter()
        interval = 1.0 / args.rate
        while time.perf_counter() - started < args.seconds:
            n = sent % args.residents
            seqs[n] += 1
            pub.publish(
                f"care/v1/bench-btn-{n}/button",
                orjson.dumps({"ts": time.time(), "seq": seqs[n], "action": "call"}),
                qos=1,
            )
            sent += 1
            await asyncio.sleep(max(0.0, started + sent * interval - time.perf_counter()))
        expected = sent * args.clients
        deadline = time.perf_counter() + 30
        while (
            counts[0] < expected and time.perf_counter() < deadline and len(closed) < args.clients
        ):
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        pub.loop_stop()
        pub.disconnect()
    finally:
        hub.terminate()
        hub.wait(timeout=30)
    lat = np.asarray(latencies) * 1000.0
    return {
        "clients": args.clients,
        "presses": sent,
        "rate_per_s": args.rate,
        "expected_events": expected,
        "delivered": counts[0],
        "closed_slow": len(closed),
        "events_per_s": counts[0] / elapsed,
        "p50_ms": float(np.percentile(lat, 50)) if lat.size else None,
        "p99_ms": float(np.percentile(lat, 99)) if lat.size else None,
        "db": "postgresql" if args.database_url else "sqlite",
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--residents", type=int, default=200)
    p.add_argument("--rate", type=float, default=20.0, help="button presses per second")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883")
    p.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    p.add_argument(
        "--reminders",
        action="store_true",
        help="keep the default reminder/escalation timings (off: fan-out alone)",
    )
    args = p.parse_args()
    r = asyncio.run(run(args))
    print(
        f"{'db':<10} {'clients':>7} {'presses/s':>9} {'presses':>7} {'delivered':>10} "
        f"{'expected':>9} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cut off':>7}"
    )
    print(
        f"{r['db']:<10} {r['clients']:>7} {r['rate_per_s']:>9.0f} {r['presses']:>7} {r['delivered']:>10} "
        f"{r['expected_events']:>9} {r['events_per_s']:>9.0f} {r['p50_ms'] or 0:>8.1f} "
        f"{r['p99_ms'] or 0:>8.1f} {r['closed_slow']:>7}"
    )


if __name__ == "__main__":
    main()
