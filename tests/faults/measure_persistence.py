"""Measure what Mosquitto loses of the QoS 1 messages it acknowledged when it is SIGKILLed, per
persistence setting, and what each setting costs in publish rate.

    .venv/bin/python -m tests.faults.measure_persistence [--trials 5] [--messages 2000]

Per trial: a persistent subscriber (the hub's role) subscribes and goes away, so messages queue
for it; its session is saved by a clean restart. A publisher (the devices) streams QoS 1 messages;
the broker is SIGKILLed after about half were acknowledged and restarted on the same files; the
publisher resends what was not acknowledged; the subscriber comes back and reads until a final
fence message. Lost = acknowledged before the kill and never delivered.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.mqtt import parse_mqtt_url, wait_for
from tests.support.processes import SAFE_PERSISTENCE, persistent_broker

SETTINGS: dict[str, tuple[str, ...]] = {
    "autosave_interval 60 (time; MosquittoProcess default)": ("autosave_interval 60",),
    "autosave_interval 1 (time)": ("autosave_interval 1",),
    "autosave_on_changes true + autosave_interval 1": SAFE_PERSISTENCE,
}
TOPIC = "measure/q"


def _client(
    url: str, client_id: str, on_message: Any = None, on_publish: Any = None
) -> mqtt.Client:
    host, port = parse_mqtt_url(url)
    c = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
    )
    c.max_inflight_messages_set(100)
    c.reconnect_delay_set(min_delay=1, max_delay=1)
    c.on_message = on_message
    c.on_publish = on_publish
    connected = threading.Event()
    c.on_connect = lambda *_a: connected.set()
    c.connect(host, port, keepalive=30)
    c.loop_start()
    assert connected.wait(10), "no CONNACK"
    return c


def _close(c: mqtt.Client) -> None:
    c.disconnect()
    c.loop_stop()


def trial(
    persistence: tuple[str, ...], messages: int, kill: bool, online: bool = False
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        broker = persistent_broker(Path(tmp) / "broker", persistence=persistence)
        broker.start()
        try:
            sink = _client(broker.url, "sink")
            subscribed = threading.Event()
            sink.on_subscribe = lambda *_a: subscribed.set()
            sink.subscribe(TOPIC, qos=1)
            assert subscribed.wait(10)
            _close(sink)
            broker.stop()  # SIGTERM saves: the subscriber's session exists before the stream
            broker.start()
            acked: set[int] = set()
            lock = threading.Lock()

            def on_publish(_c: Any, _u: Any, mid: int, *_r: Any) -> None:
                with lock:
                    acked.add(mid)

            got: list[bytes] = []
            done = threading.Event()

            def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
                if msg.payload == b"fence":
                    done.set()
                else:
                    got.append(bytes(msg.payload))

            # Online: the subscriber (the hub) drains the queue as it fills, as in normal running.
            sink = _client(broker.url, "sink", on_message=on_message) if online else None
            pub = _client(broker.url, "devices", on_publish=on_publish)
            mid_of: dict[int, int] = {}
            acked_at_kill: set[int] = set()
            started = time.perf_counter()

            def stream() -> None:
                for i in range(messages):
                    info = pub.publish(TOPIC, str(i).encode(), qos=1)
                    with lock:
                        mid_of[info.mid] = i

            publisher = threading.Thread(target=stream)
            publisher.start()
            if kill:
                # Kill once a random share (a third to two thirds) was acknowledged.
                share = random.uniform(1 / 3, 2 / 3)
                assert wait_for(lambda: len(acked) >= share * messages, timeout=120, interval=0.001)
                assert broker.pid is not None
                os.kill(broker.pid, signal.SIGKILL)
                with lock:  # every PUBACK received before the kill (a few may race in after)
                    acked_at_kill = {mid_of[m] for m in acked if m in mid_of}
                broker.stop()
                broker.start()
            publisher.join()
            assert wait_for(lambda: len(acked) >= messages, timeout=120, interval=0.05)
            elapsed = time.perf_counter() - started
            pub.publish(TOPIC, b"fence", qos=1).wait_for_publish(30)
            _close(pub)
            sink = sink or _client(broker.url, "sink", on_message=on_message)
            assert done.wait(60), "fence never delivered"
            _close(sink)
            received = [int(p) for p in got]
            return {
                "sent": messages,
                "acked_at_kill": len(acked_at_kill),
                "lost_acked": len(acked_at_kill - set(received)),
                "lost_any": messages - len(set(received)),
                "duplicates": len(received) - len(set(received)),
                "rate_per_s": messages / elapsed,
            }
        finally:
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    random.seed(1)
    print(
        "| setting | trials | sent | acked before kill | acked then lost | lost (any) "
        "| duplicates | publish rate, no kill (msg/s) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, persistence in SETTINGS.items():
        runs = [trial(persistence, args.messages, kill=True) for _ in range(args.trials)]
        rate = trial(persistence, args.messages, kill=False)["rate_per_s"]
        rate_online = trial(persistence, args.messages, kill=False, online=True)["rate_per_s"]
        total = {
            k: sum(r[k] for r in runs)
            for k in ("sent", "acked_at_kill", "lost_acked", "lost_any", "duplicates")
        }
        print(
            f"| {name} | {args.trials} | {total['sent']} | {total['acked_at_kill']} "
            f"| {total['lost_acked']} | {total['lost_any']} | {total['duplicates']} | {rate:,.0f} | {rate_online:,.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
