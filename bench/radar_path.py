"""Cost of the radar path, part by part: MQTT receive (paho, plain vs buffered socket) and
decode + trust checks + signal core, per message on one core.

    python -m bench.radar_path --radars 10000 --seconds 10

The end-to-end figure (bench/ingest.py) runs publishers, broker and hub on the same two cores;
this bench separates what the hub itself costs per message.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import _frames_template, _vitals_template  # noqa: E402
from devices import mqtt_client  # noqa: E402
from devices.broker import MosquittoProcess  # noqa: E402
from devices.dedupe import SeqTracker  # noqa: E402
from devices.mqtt_client import MqttConnection, RawMessage  # noqa: E402
from devices.radar.processor import RadarConfig, RadarProcessor  # noqa: E402
from devices.radar.worker import screen_and_process  # noqa: E402

ZONES = {"bed": {"rect": [0.2, 3.0, 1.6, 4.9]}, "bathroom": {"rect": [2.6, 0.0, 4.0, 1.8]}}


def messages(radars: int, seconds: int) -> list[list[RawMessage]]:
    """One list of raw messages per second: a frames window per radar, vitals every 5 s for half."""
    rng = random.Random(1)
    templates = [_frames_template(rng) for _ in range(50)]
    vitals = _vitals_template(rng)
    t0 = time.time() - seconds
    out = []
    for s in range(seconds):
        batch = []
        for n in range(1, radars + 1):
            ts = t0 + s
            batch.append(
                RawMessage(
                    f"care/v1/radar-{n}/radar/frames", templates[n % 50] % (ts, s + 1), 0, 0, ts
                )
            )
            if n % 2 == 0 and (n + s) % 5 == 0:
                batch.append(
                    RawMessage(f"care/v1/radar-{n}/radar/vitals", vitals % (ts, s + 1), 0, 0, ts)
                )
        out.append(batch)
    return out


def bench_processing(radars: int, seconds: int, batches_per_s: int = 1) -> None:
    """The radar worker's step over ``seconds`` of traffic, each second cut into
    ``batches_per_s`` batches (the live worker's cadence): per-batch costs show as the gap."""
    proc = RadarProcessor(capacity=2 * radars)
    proc.configure_many([RadarConfig(f"radar-{n}", f"R-{n}", ZONES) for n in range(1, radars + 1)])
    types = {f"radar-{n}": "radar" for n in range(1, radars + 1)}
    seqs = SeqTracker()
    data = []
    for second in messages(radars, seconds):
        step = -(-len(second) // batches_per_s)
        data += [second[i : i + step] for i in range(0, len(second), step)]
    total = sum(map(len, data))
    t = time.process_time()
    for batch in data:
        report = screen_and_process(batch, proc, types, seqs)
        assert report.accepted == len(batch), report.rejected
    cpu = time.process_time() - t
    print(
        f"decode + trust + signal core, {batches_per_s} batches/s: {total} msgs in {cpu:.2f} s "
        f"CPU = {1e6 * cpu / total:.1f} us/msg ({total / cpu:,.0f} msg/s per core)"
    )


def _blast(port: int, payloads: list[tuple[str, bytes]], repeat: int) -> None:
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    c.connect("127.0.0.1", port)
    c.loop_start()
    for _ in range(repeat):
        for topic, payload in payloads:
            c.publish(topic, payload, qos=0)
    time.sleep(1)
    c.loop_stop()
    c.disconnect()


def bench_receive(buffered: bool, n_msgs: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        broker = MosquittoProcess(Path(d))
        broker.start()
        original = mqtt_client._Client._create_socket
        if not buffered:  # paho's own socket path, for comparison
            mqtt_client._Client._create_socket = mqtt.Client._create_socket  # type: ignore[method-assign]
        conn = MqttConnection(
            broker.url,
            client_id="bench-rx",
            subscriptions=(("care/v1/+/radar/frames", 0),),
            persistent=False,
        )
        conn.start()
        rng = random.Random(2)
        payloads = [
            (f"care/v1/radar-{i}/radar/frames", _frames_template(rng) % (time.time(), i))
            for i in range(1000)
        ]
        pubs = [
            mp.Process(target=_blast, args=(broker.port, payloads, n_msgs // 2000))
            for _ in range(2)
        ]
        t_cpu, t0 = time.process_time(), time.time()
        for p in pubs:
            p.start()
        got = 0
        last = time.time()
        while time.time() - last < 2.0:
            batch = conn.drain(100_000)
            if batch:
                got += len(batch)
                last = time.time()
            else:
                time.sleep(0.01)
        wall = last - t0
        cpu = time.process_time() - t_cpu
        for p in pubs:
            p.join()
        conn.stop()
        broker.stop()
        mqtt_client._Client._create_socket = original  # type: ignore[method-assign]
        label = "buffered socket" if buffered else "paho's socket  "
        print(
            f"MQTT receive ({label}): {got}/{n_msgs} msgs, {got / wall:,.0f} msg/s, "
            f"{1e6 * cpu / max(1, got):.1f} us CPU/msg in the receiving process"
        )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--radars", type=int, default=10_000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--receive-msgs", type=int, default=200_000)
    ap.add_argument(
        "--batches-per-s",
        type=int,
        nargs="+",
        default=[1],
        help="cut each second of traffic into this many batches (several: one run each)",
    )
    ap.add_argument("--no-receive", action="store_true", help="the processing step only")
    args = ap.parse_args()
    print(f"{args.radars} radars, {args.seconds} s of traffic")
    for per_s in args.batches_per_s:
        bench_processing(args.radars, args.seconds, per_s)
    if not args.no_receive:
        bench_receive(True, args.receive_msgs)
        bench_receive(False, args.receive_msgs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
