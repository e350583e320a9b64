"""Ingest throughput: a realistic community's traffic through a real Mosquitto into a real hub.

Starts a private Mosquitto (spare port), a `care-hub serve` process (SQLite by default, or
--database-url), seeds N residents, then publishes the realistic mix from publisher processes for
--duration seconds: per resident one radar window (10 frames at 10 fps) per second at QoS 0, a
100-sample vitals window every 5 s for half of them (QoS 0), a status heartbeat every 60 s per
device (QoS 1), and rare kit readings and calls (QoS 1). Prints offered and ingested msg/s, hub
CPU (of one core) and memory, and the backlog, once per interval and as a summary.

    python -m bench.ingest --residents 10000 --duration 40 --publishers 3

--floor first runs a bare consumer (paho's callback client + orjson.loads, nothing else) on the
same broker with the same publishers for the same duration and prints its CPU per message beside
the hub's, and their ratio: the figure that carries across machines. --falls K takes K radars out
of the steady mix and replays a simulated fall on each (simulators/radar_motion.py, clean tracker
noise) in real time during the load, and prints impact publish -> websocket `alert.raised`
latency p50/p99. --workers N sets CARE_HUB_RADAR_WORKERS.
"""

from __future__ import annotations

import sys

# bench/signal.py would shadow the standard library's `signal` when this runs as a script.
if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devices.broker import MosquittoProcess, find_free_port  # noqa: E402
from simulators.residents import build_seed  # noqa: E402

PASSWORD = "bench-password-123"
FRAMES_PER_WINDOW = 10
VITALS_EVERY_S = 5
HEARTBEAT_EVERY_S = 60


def _frames_template(rng: random.Random) -> bytes:
    frames = []
    x, y = rng.uniform(0.5, 3.5), rng.uniform(0.5, 4.5)
    for _ in range(FRAMES_PER_WINDOW):
        x += rng.uniform(-0.03, 0.03)
        y += rng.uniform(-0.03, 0.03)
        frames.append(
            {
                "targets": [
                    {
                        "tid": 1,
                        "x": round(x, 2),
                        "y": round(y, 2),
                        "z": round(rng.uniform(0.95, 1.1), 2),
                        "vx": round(rng.uniform(-0.3, 0.3), 2),
                        "vy": round(rng.uniform(-0.3, 0.3), 2),
                        "vz": 0.0,
                    }
                ]
            }
        )
    body = json.dumps({"fps": 10, "frames": frames}, separators=(",", ":"))[1:]
    return b'{"ts":%.3f,"seq":%d,' + body.encode()


def _vitals_template(rng: random.Random) -> bytes:
    import math

    samples = [
        round(
            4 * math.sin(2 * math.pi * 0.25 * i / 20)
            + 0.3 * math.sin(2 * math.pi * 1.2 * i / 20)
            + rng.gauss(0, 0.05),
            3,
        )
        for i in range(100)
    ]
    body = json.dumps({"tid": 1, "fs": 20.0, "displacement_mm": samples}, separators=(",", ":"))[1:]
    return b'{"ts":%.3f,"seq":%d,' + body.encode()


def publisher(
    index: int,
    n_pub: int,
    port: int,
    residents: int,
    duration: float,
    start_at: float,
    counter: Any,  # multiprocessing.Value("q")
    ended: Any,  # multiprocessing.Value("d")
    skip: frozenset[int] = frozenset(),  # radars whose frames the fall injector publishes
) -> None:
    rng = random.Random(index)
    mine = [n for n in range(1, residents + 1) if n % n_pub == index]
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{index}"
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    frames_t = {n: _frames_template(rng) for n in mine[:50]}
    vitals_t = _vitals_template(rng)
    seq: dict[str, int] = {}

    def nxt(key: str) -> int:
        seq[key] = seq.get(key, 0) + 1
        return seq[key]

    while time.time() < start_at:
        time.sleep(0.01)
    sent = 0
    second = 0
    while second < duration:
        t0 = start_at + second
        # Spread each second's messages over the second in 10 slices, like real devices would.
        for slice_ in range(10):
            slice_start = t0 + slice_ / 10
            for n in mine[slice_::10]:
                ts = time.time()
                if n not in skip:
                    client.publish(
                        f"care/v1/radar-{n}/radar/frames",
                        frames_t[mine[n % len(frames_t)]] % (ts, nxt(f"f{n}")),
                        qos=0,
                    )
                    sent += 1
                if n % 2 == 0 and (n + second) % VITALS_EVERY_S == 0:
                    client.publish(
                        f"care/v1/radar-{n}/radar/vitals", vitals_t % (ts, nxt(f"v{n}")), qos=0
                    )
                    sent += 1
                if (n + second) % HEARTBEAT_EVERY_S == 0:
                    for dev in (f"radar-{n}", f"btn-{n}"):
                        client.publish(
                            f"care/v1/{dev}/status",
                            b'{"ts":%.3f,"seq":%d,"state":"online","battery":0.9}'
                            % (ts, nxt(f"s{dev}")),
                            qos=1,
                        )
                        sent += 1
                if rng.random() < 1 / 3600:  # a call per resident per hour
                    client.publish(
                        f"care/v1/btn-{n}/button",
                        b'{"ts":%.3f,"seq":%d,"action":"call"}' % (ts, nxt(f"b{n}")),
                        qos=1,
                    )
                    sent += 1
            delay = slice_start + 0.1 - time.time()
            if delay > 0:
                time.sleep(delay)
        with counter.get_lock():
            counter.value += sent
        sent = 0
        second += 1
    with ended.get_lock():
        ended.value = max(ended.value, time.time())
    client.loop_stop()
    client.disconnect()


def floor_consumer(port: int, ready: Any, stop: Any, received: Any) -> None:
    """The floor: paho's callback client and orjson.loads per message, the hub's subscriptions
    and QoS (FIELD-NOTES "a bare consumer that only receives and decodes")."""
    import orjson

    from devices.contract import SUBSCRIPTION_FILTERS

    count = 0

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        nonlocal count
        orjson.loads(msg.payload)
        count += 1

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-floor")
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(list(SUBSCRIPTION_FILTERS))
    client.connect("127.0.0.1", port)
    client.loop_start()

    def report() -> None:
        while not stop.is_set():
            received.value = count  # a plain store: no lock per message
            time.sleep(0.1)

    threading.Thread(target=report, daemon=True).start()
    time.sleep(1.0)  # subscribed
    ready.set()
    stop.wait()
    received.value = count
    client.loop_stop()
    client.disconnect()


def run_publishers(
    args: argparse.Namespace, port: int, skip: frozenset[int] = frozenset()
) -> tuple[list[mp.Process], Any, Any, float]:
    offered = mp.Value("q", 0)
    ended = mp.Value("d", 0.0)  # when the last publisher published its last message
    start_at = time.time() + 2
    pubs = [
        mp.Process(
            target=publisher,
            args=(
                i,
                args.publishers,
                port,
                args.residents,
                args.duration,
                start_at,
                offered,
                ended,
                skip,
            ),
        )
        for i in range(args.publishers)
    ]
    for p in pubs:
        p.start()
    return pubs, offered, ended, start_at


def measure_floor(args: argparse.Namespace, port: int) -> tuple[float, int, int]:
    """(CPU us per message, received, offered) of the bare consumer under the same load."""
    ready, stop = mp.Event(), mp.Event()
    received = mp.Value("q", 0, lock=False)
    consumer = mp.Process(target=floor_consumer, args=(port, ready, stop, received))
    consumer.start()
    ready.wait(30)
    pubs, offered, _ended, start_at = run_publishers(args, port)
    time.sleep(max(0.0, start_at - time.time()))
    cpu0, got0 = proc_cpu_s(consumer.pid or 0), received.value
    for p in pubs:
        p.join()
    last, last_change = received.value, time.time()
    while time.time() - last_change < 1.0:
        time.sleep(0.1)
        if received.value != last:
            last, last_change = received.value, time.time()
    cpu = proc_cpu_s(consumer.pid or 0) - cpu0
    stop.set()
    consumer.join(10)
    got = last - got0
    return 1e6 * cpu / max(1, got), got, int(offered.value)


# Falls onto free floor of the seeded room: the episodes' own chair is not where the seeded map
# puts one (simulators.residents.ZONES), so falls from it are left out, and an episode whose body
# lands within LANDING_CLEAR_M of a mapped bed or chair is drawn again (a body on the floor inside
# a mapped chair's footprint reads as someone on the chair, by design; runs before 2026-12-04
# counted two such episodes, radar-1 and radar-6001, as missed falls).
FALL_KINDS = ("fall_forward", "fall_backward", "fall_sideways")
LANDING_CLEAR_M = 0.3
FALL_TAIL_S = 12.0  # windows published after the impact: the confirmation needs the stillness


def fall_injector(port: int, radars: list[int], start_at: float, span_s: float, out: Any) -> None:
    """Replay one simulated fall per radar in real time: window k of an episode starting at t0
    has ts = t0 + k and is published at t0 + k + 1 (when a radar would send it). Puts (radar,
    window ts, publish time, whether it holds the impact) on ``out`` for each window sent: the
    impact window starts the clock, and the window that completed the detector's confirmation
    tells the hub's own share of the latency from the detector's."""
    import numpy as np
    import orjson

    import simulators.radar_motion as rm
    from simulators.residents import ZONES

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-falls")
    client.connect("127.0.0.1", port)
    client.loop_start()
    plan: list[tuple[float, int, str, bytes, bool]] = []
    supports = [z for z in ZONES if z["name"] in ("bed", "chair")]

    def on_free_floor(ep: Any) -> bool:
        r = ep.rows
        t = r.t0_s + r.frame / r.fps
        after = (t > ep.impact_s + 1.0) & (t < ep.impact_s + 3.0)
        x, y = float(np.median(r.x_m[after])), float(np.median(r.y_m[after]))
        c = LANDING_CLEAR_M
        return not any(
            z["x0"] - c <= x <= z["x1"] + c and z["y0"] - c <= y <= z["y1"] + c for z in supports
        )

    for j, n in enumerate(radars):
        rng = np.random.default_rng(1000 + j)
        t0 = start_at + 2.0 + span_s * j / max(1, len(radars))
        while True:
            ep = rm.make_episode(FALL_KINDS[j % len(FALL_KINDS)], "clean", rng, t0_s=t0)
            assert ep.impact_s is not None
            if on_free_floor(ep):
                break
        for ev in rm.to_events(ep.rows, f"radar-{n}", seq0=1):
            if ev.env.ts > ep.impact_s + FALL_TAIL_S:
                break
            holds_impact = ev.env.ts <= ep.impact_s < ev.env.ts + 1.0
            payload = orjson.dumps(rm.to_payload(ev))
            topic = f"care/v1/radar-{n}/radar/frames"
            plan.append((ev.env.ts + 1.0, n, topic, payload, holds_impact))
    plan.sort(key=lambda p: p[0])
    for at, n, topic, payload, holds_impact in plan:
        delay = at - time.time()
        if delay > 0:
            time.sleep(delay)
        client.publish(topic, payload, qos=0)
        out.put((n, at - 1.0, time.time(), holds_impact))
    time.sleep(0.5)
    client.loop_stop()
    client.disconnect()


def listen_for_falls(
    url: str, seen: dict[str, float], confirmed_ts: dict[str, float], stop: Any
) -> None:
    """Record when each radar's fall alert reaches a caregiver's websocket, and the device time
    at which the detector confirmed it (the alert's ``detected_ts``)."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with connect(url, max_size=None) as ws:
        while not stop.is_set():
            try:
                raw = ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            at = time.time()
            event = json.loads(raw)
            data = event.get("data") or {}
            if event.get("type") == "alert.raised" and data.get("type") == "fall":
                seen.setdefault(str(data.get("device_id")), at)
                detected = (data.get("detail") or {}).get("detected_ts")
                if detected is not None:
                    confirmed_ts.setdefault(str(data.get("device_id")), float(detected))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():  # children of every thread of the process
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def tree_cpu_by_pid(pid: int) -> dict[int, float]:
    """CPU of the hub and of each of its children (the radar worker processes), by pid."""
    out = {pid: proc_cpu_s(pid)}
    for child in children(pid):
        with contextlib.suppress(OSError):
            if "mosquitto" not in Path(f"/proc/{child}/cmdline").read_bytes().decode(
                errors="replace"
            ):
                out.update(tree_cpu_by_pid(child))
    return out


def tree_cpu_s(pid: int) -> float:
    """CPU of the hub and its children (the radar worker process)."""
    return sum(tree_cpu_by_pid(pid).values())


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--residents", type=int, default=10_000)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--publishers", type=int, default=2)
    ap.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    ap.add_argument("--floor", action="store_true", help="measure the bare consumer first")
    ap.add_argument("--falls", type=int, default=0, help="falls to inject during the load")
    ap.add_argument("--workers", type=int, default=None, help="CARE_HUB_RADAR_WORKERS")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="care-hub-bench-"))
    broker = MosquittoProcess(work / "broker")
    broker.start()
    floor: tuple[float, int, int] | None = None
    if args.floor:
        floor = measure_floor(args, broker.port)
        print(
            f"floor (paho callback + orjson.loads): {floor[0]:.1f} us CPU/msg, "
            f"received {floor[1]} of {floor[2]} ({100 * floor[1] / max(1, floor[2]):.1f}%)",
            flush=True,
        )
    seed = build_seed(
        args.residents,
        admin_password=PASSWORD,
        caregiver_password=PASSWORD,
        family_password=PASSWORD,
        n_kits=4,
    )
    (work / "seed.json").write_text(json.dumps(seed))
    env = {
        **os.environ,
        "CARE_HUB_DATA_DIR": str(work / "var"),
        "CARE_HUB_MQTT_URL": broker.url,
        "CARE_HUB_DATABASE_URL": args.database_url,
        "CARE_HUB_ENVIRONMENT": "development",
    }
    if args.workers is not None:
        env["CARE_HUB_RADAR_WORKERS"] = str(args.workers)
    exe = shutil.which("care-hub") or str(Path(sys.executable).parent / "care-hub")
    subprocess.run(
        [exe, "seed", "--file", str(work / "seed.json")],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = find_free_port()
    hub_log = open(work / "hub.log", "w")  # noqa: SIM115 (open for the hub's lifetime)
    hub = subprocess.Popen(
        [exe, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=hub_log
    )
    base = f"http://127.0.0.1:{port}"
    http = httpx.Client(base_url=base, timeout=10)
    for _ in range(600):
        try:
            if http.get("/api/health").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    token = http.post("/api/auth/token", data={"username": "admin", "password": PASSWORD}).json()[
        "access_token"
    ]
    http.headers["Authorization"] = f"Bearer {token}"

    def metrics() -> dict[str, Any]:
        out: dict[str, Any] = http.get("/api/metrics").json()
        return out

    fall_radars = [1 + (i * args.residents) // args.falls for i in range(args.falls)]
    fall_stop = threading.Event()
    fall_seen: dict[str, float] = {}
    fall_confirmed_ts: dict[str, float] = {}
    impacts: Any = mp.Queue()
    if fall_radars:
        nurse = http.post(
            "/api/auth/token", data={"username": "nurse", "password": PASSWORD}
        ).json()["access_token"]
        listener = threading.Thread(
            target=listen_for_falls,
            args=(
                f"ws://127.0.0.1:{port}/ws/events?token={nurse}",
                fall_seen,
                fall_confirmed_ts,
                fall_stop,
            ),
            daemon=True,
        )
        listener.start()
    pubs, offered, ended, start_at = run_publishers(args, broker.port, frozenset(fall_radars))
    if fall_radars:
        injector = mp.Process(
            target=fall_injector,
            args=(broker.port, fall_radars, start_at, max(0.0, args.duration - 30), impacts),
        )
        injector.start()
    time.sleep(max(0.0, start_at - time.time()))
    m0 = metrics()
    by_pid0 = tree_cpu_by_pid(hub.pid)
    cpu0, t0 = sum(by_pid0.values()), time.time()
    print(
        f"{'t_s':>5} {'offered/s':>10} {'ingested/s':>10} {'hub_cpu%':>8} {'rss_MB':>7} {'backlog':>8}"
    )
    last = (t0, m0["ingest"].get("received", 0), cpu0, 0)
    rows = []
    while any(p.is_alive() for p in pubs):
        time.sleep(0.25)
        if time.time() - last[0] < 5 and any(p.is_alive() for p in pubs):
            continue
        now, m, cpu = time.time(), metrics(), tree_cpu_s(hub.pid)
        got = m["ingest"]["received"]
        row = (
            (offered.value - last[3]) / (now - last[0]),
            (got - last[1]) / (now - last[0]),
            100 * (cpu - last[2]) / (now - last[0]),
            proc_rss_mb(hub.pid),
            m["backlog"],
        )
        rows.append(row)
        print(
            f"{now - t0:5.0f} {row[0]:10.0f} {row[1]:10.0f} {row[2]:8.0f} {row[3]:7.0f} {row[4]:8d}",
            flush=True,
        )
        last = (now, got, cpu, offered.value)
    # Let the hub drain what is queued (in the broker, the worker, the hub): how long it needs
    # is what it ingested over the whole time it needed. The lag is from the publishers' last
    # message to the last change of the hub's received count (polled every 0.25 s).
    m1 = metrics()
    last_change = ended.value
    # a hub whose loop stalls with messages still queued is waited for (up to 120 s), not
    # reported as having lost them
    while time.time() - max(last_change, ended.value) < 3 or (
        m1["backlog"] > 0 and time.time() - ended.value < 120
    ):
        time.sleep(0.25)
        m = metrics()
        if m["ingest"]["received"] != m1["ingest"]["received"]:
            last_change = time.time()
        m1 = m
    lag = max(0.0, last_change - ended.value)
    impact_at: dict[str, float] = {}  # radar: publish time of the window holding the impact
    impact_ts: dict[str, float] = {}  # radar: that window's ts
    published: dict[str, list[tuple[float, float]]] = {}  # radar: [(window ts, publish time)]
    if fall_radars:
        injector.join(60)
        if injector.exitcode != 0:
            # say so rather than print latencies of nothing (a still-running injector: None)
            print(f"fall injector did not finish cleanly: exit code {injector.exitcode}")
            if injector.exitcode is None:
                injector.terminate()
        while not impacts.empty():
            n, ts, at, holds_impact = impacts.get()
            published.setdefault(f"radar-{n}", []).append((ts, at))
            if holds_impact:
                impact_at[f"radar-{n}"] = at
                impact_ts[f"radar-{n}"] = ts
        deadline = time.time() + 20
        while time.time() < deadline and not set(impact_at) <= set(fall_seen):
            time.sleep(0.25)
        fall_stop.set()
        listener.join(5)
    elapsed = (ended.value - t0) + lag
    total_offered = offered.value
    total_got = m1["ingest"]["received"] - m0["ingest"].get("received", 0)
    by_pid1 = tree_cpu_by_pid(hub.pid)
    cpu = sum(by_pid1.values()) - cpu0
    print(
        f"\nresidents={args.residents} duration={args.duration:.0f}s publishers={args.publishers} "
        f"db={'sqlite' if not args.database_url else args.database_url.split('://')[0]}"
    )
    print(
        f"offered {total_offered} msgs ({total_offered / args.duration:.0f}/s), hub received {total_got} "
        f"({100 * total_got / max(1, total_offered):.1f}%) the last of it {f'{lag:.1f} s' if lag else 'within 0.3 s'} after the publishers stopped, accepted {m1['ingest']['accepted'] - m0['ingest'].get('accepted', 0)}, "
        f"rejected {m1['ingest']['rejected_total']}"
    )
    print(
        f"hub CPU (with its radar worker) {100 * cpu / elapsed:.0f}% of one core, {1e6 * cpu / max(1, total_got):.0f} us/msg; "
        f"RSS {proc_rss_mb(hub.pid):.0f} MB; backlog at end {m1['backlog']}"
    )
    hub_us = 1e6 * cpu / max(1, total_got)
    # where it went: the hub's own process (its loop, MQTT client of the non-radar topics, the
    # store) and each radar worker, per message of the whole mix
    split = [
        f"{'hub' if p == hub.pid else f'worker pid {p}'} {1e6 * (c - by_pid0.get(p, 0.0)) / max(1, total_got):.1f}"
        for p, c in by_pid1.items()
    ]
    print(f"CPU us/msg by process: {', '.join(split)}")
    # the hub's transactions (a batch of its own topics or a radar worker's report each)
    batches = m1["ingest"]["batches"] - m0["ingest"].get("batches", 0)
    print(f"hub store batches {batches} ({batches / max(1e-9, elapsed):.1f}/s)")
    if floor is not None:
        print(
            f"floor {floor[0]:.1f} us/msg, hub {hub_us:.1f} us/msg: "
            f"hub / floor = {hub_us / floor[0]:.2f}"
        )
    if fall_radars:
        confirm_s = float(os.environ.get("CARE_HUB_FALL_CONFIRM_S", "5.0"))
        late = [fall_seen[d] - at for d, at in impact_at.items() if d in fall_seen]
        print(
            f"falls injected {len(fall_radars)}, impact windows published {len(impact_at)}, "
            f"alerts on the websocket {len(late)}; missed: "
            f"{sorted(set(impact_at) - set(fall_seen)) or 'none'}"
        )
        if late:
            print(
                f"impact publish -> websocket: p50 {percentile(late, 0.5):.2f} s, "
                f"p99 {percentile(late, 0.99):.2f} s, max {max(late):.2f} s; beyond the "
                f"{confirm_s:g} s confirmation: p50 {percentile(late, 0.5) - confirm_s:.2f} s, "
                f"p99 {percentile(late, 0.99) - confirm_s:.2f} s"
            )
        # the two shares: the detector (device time from the labelled impact window to its
        # confirmation, beyond confirm_s: how late it judged) and the hub (publish of the window
        # that completed the confirmation -> websocket: transport, queues, store, fan-out)
        hub_lat, det_lat = [], []
        for d, got in fall_seen.items():
            ts_conf, ts_imp = fall_confirmed_ts.get(d), impact_ts.get(d)
            if ts_conf is None or ts_imp is None:
                continue
            wins = sorted(published.get(d, []))
            done = [at for ts, at in wins if ts + 1.0 >= ts_conf - 1e-6]
            if done:
                hub_lat.append(got - done[0])
                det_lat.append(ts_conf - (ts_imp + 1.0) - confirm_s)
        if hub_lat:
            print(
                f"of which the hub (publish of the window completing the confirmation -> "
                f"websocket): p50 {percentile(hub_lat, 0.5):.2f} s, p99 "
                f"{percentile(hub_lat, 0.99):.2f} s, max {max(hub_lat):.2f} s; the detector "
                f"(its confirmation in device time beyond the impact window's end + "
                f"{confirm_s:g} s): p50 {percentile(det_lat, 0.5):.2f} s, p99 "
                f"{percentile(det_lat, 0.99):.2f} s"
            )
    hub.terminate()
    hub.wait(timeout=30)
    broker.stop()
    if os.environ.get("BENCH_KEEP"):
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
