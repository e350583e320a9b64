"""A private nats-server per test: JetStream, its MQTT listener for devices, the partition
mapping of devices.nats_subjects, on spare ports, with authorization as deployed (the hub's user;
the fixture's URLs carry its credentials). Skipped locally without nats-server, failed in CI
(like tests.conftest.require_service)."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import pytest

from devices.broker import find_free_port
from devices.nats_subjects import server_config
from tests.conftest import IN_CI, _port_open

NATS_SERVER = shutil.which("nats-server") or (
    "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
)
# Partitions of the test server: two hub nodes, two partitions each.
PARTITIONS = 4
# The hub's user of the `nats_server` fixture (devices.nats_subjects.authorization). The tests'
# load publishers play many devices on one connection, which only this unlimited user may do;
# a device's own user (its subjects only) is tested in test_nats_source.py.
HUB_USER = ("hub", secrets.token_urlsafe(16))


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


def with_credentials(url: str, user: tuple[str, str]) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{quote(user[0], safe='')}:{quote(user[1], safe='')}@{rest}"


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A server that admits only the hub's user; its URLs carry that user's password."""
    plain = start_nats(tmp_path / "nats", PARTITIONS, auth=(HUB_USER, {}))
    server = replace(
        plain,
        url=with_credentials(plain.url, HUB_USER),
        mqtt_url=with_credentials(plain.mqtt_url, HUB_USER),
    )
    yield server
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
