"""A private nats-server per test: JetStream, its MQTT listener for devices, the partition
mapping of devices.nats_subjects, on spare ports. Skipped locally without nats-server, failed in
CI (like tests.conftest.require_service)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from devices.broker import find_free_port
from devices.nats_subjects import server_config
from tests.conftest import IN_CI, _port_open

NATS_SERVER = shutil.which("nats-server") or (
    "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
)
# Partitions of the test server: two hub nodes, two partitions each.
PARTITIONS = 4


@dataclass
class NatsServer:
    url: str
    mqtt_url: str
    mqtt_port: int
    partitions: int
    process: subprocess.Popen[bytes]


def start_nats(
    tmp: Path, partitions: int, auth: tuple[tuple[str, str], Mapping[str, str]] | None = None
) -> NatsServer:
    if NATS_SERVER is None:
        if IN_CI:
            pytest.fail("nats-server is not installed; CI must provide it")
        pytest.skip("nats-server is not installed")
    port, mqtt_port = find_free_port(), find_free_port()
    store = tmp / "jetstream"
    store.mkdir(parents=True, exist_ok=True)
    conf = tmp / "nats.conf"
    conf.write_text(
        server_config(
            partitions=partitions, port=port, mqtt_port=mqtt_port, store_dir=store, auth=auth
        )
    )
    log = open(tmp / "nats.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen([NATS_SERVER, "-c", str(conf)], stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while not (_port_open("127.0.0.1", port) and _port_open("127.0.0.1", mqtt_port)):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"nats-server did not start: {(tmp / 'nats.log').read_text()[-2000:]}")
        time.sleep(0.05)
    return NatsServer(
        f"nats://127.0.0.1:{port}", f"mqtt://127.0.0.1:{mqtt_port}", mqtt_port, partitions, process
    )


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = start_nats(tmp_path / "nats", PARTITIONS)
    yield server
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
