"""Tests for devices.broker: embedded broker in both modes, private Mosquitto restarts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devices.broker import (
    MAX_QUEUED_MESSAGES,
    BrokerStartError,
    EmbeddedBroker,
    MosquittoProcess,
    find_free_port,
    find_mosquitto,
)
from tests.support.mqtt import Collector, close_client, connect_client, publish_and_wait, wait_for

_REPO_ROOT = Path(__file__).resolve().parent.parent
needs_mosquitto = pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto not installed")


def _pid_alive(pid: int) -> bool:
    """True while the process runs; an unreaped zombie counts as dead."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _round_trip(url: str, qos: int) -> None:
    topic = f"care/v1/dev-{qos}/button"
    with Collector(url, "care/v1/+/button", client_id=f"sub-{qos}", qos=qos) as sub:
        pub = connect_client(url, f"pub-{qos}")
        try:
            for seq in range(5):
                publish_and_wait(pub, topic, f'{{"seq": {seq}}}', qos=qos)
        finally:
            close_client(pub)
        assert sub.wait_count(5), sub.messages
        assert sub.payloads(topic) == [f'{{"seq": {seq}}}'.encode() for seq in range(5)]
        assert all(m.qos == qos for m in sub.messages)


def test_find_free_port_is_bindable() -> None:
    port = find_free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_prefer_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        EmbeddedBroker(tmp_path, prefer="rabbit")  # type: ignore[arg-type]


@pytest.mark.parametrize("qos", [0, 1])
def test_embedded_amqtt_round_trip(tmp_path: Path, qos: int) -> None:
    with EmbeddedBroker(tmp_path, prefer="amqtt") as broker:
        assert broker.kind == "amqtt"
        assert broker.url == f"mqtt://127.0.0.1:{broker.port}"
        _round_trip(broker.url, qos)
    assert not broker.is_running
    assert wait_for(lambda: not _port_open(broker.port), timeout=2)


@pytest.mark.mosquitto
@needs_mosquitto
@pytest.mark.parametrize("qos", [0, 1])
def test_embedded_mosquitto_round_trip(tmp_path: Path, qos: int) -> None:
    with EmbeddedBroker(tmp_path, prefer="mosquitto") as broker:
        assert broker.kind == "mosquitto"
        _round_trip(broker.url, qos)


@pytest.mark.mosquitto
@needs_mosquitto
def test_embedded_auto_prefers_mosquitto(tmp_path: Path) -> None:
    assert EmbeddedBroker(tmp_path).kind == "mosquitto"


@pytest.mark.mosquitto
@needs_mosquitto
def test_embedded_mosquitto_config(tmp_path: Path) -> None:
    port = find_free_port()
    with EmbeddedBroker(tmp_path, port=port, prefer="mosquitto") as broker:
        assert broker.port == port
        conf = (tmp_path / "mosquitto.conf").read_text()
        assert f"listener {port} 127.0.0.1" in conf
        assert "allow_anonymous true" in conf
        assert f"persistence_location {tmp_path.resolve()}/" in conf
        assert f"max_queued_messages {MAX_QUEUED_MESSAGES}" in conf
        assert broker.mosquitto is not None
        assert "Opening ipv4 listen socket on port" in broker.mosquitto.log_text()


@pytest.mark.mosquitto
@needs_mosquitto
def test_stop_kills_the_child(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path, prefer="mosquitto")
    broker.start()
    assert broker.mosquitto is not None
    pid = broker.mosquitto.pid
    assert pid is not None and _pid_alive(pid)
    broker.stop()
    assert not _pid_alive(pid)
    assert not _port_open(broker.port)
    broker.stop()  # idempotent


@pytest.mark.mosquitto
@needs_mosquitto
def test_sigkill_fallback_when_sigterm_ignored(tmp_path: Path) -> None:
    proc = MosquittoProcess(tmp_path)
    proc.start()
    pid = proc.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # a stopped process cannot act on SIGTERM
    proc.stop(timeout_s=0.3)
    assert not _pid_alive(pid)


@pytest.mark.mosquitto
@needs_mosquitto
def test_bad_config_error_quotes_the_log(tmp_path: Path) -> None:
    proc = MosquittoProcess(tmp_path, extra_config="no_such_option 1")
    with pytest.raises(BrokerStartError, match="no_such_option"):
        proc.start()
    assert not proc.is_running


@pytest.mark.mosquitto
@needs_mosquitto
def test_restart_keeps_persistent_session_queue(tmp_path: Path) -> None:
    topic = "care/v1/btn-1/button"
    with MosquittoProcess(tmp_path) as proc:
        sub = Collector(proc.url, "care/v1/#", client_id="hub-ingest", clean_session=False)
        sub.start()
        sub.stop()  # session and subscription stay on the broker

        pub = connect_client(proc.url, "btn-1")
        try:
            publish_and_wait(pub, "care/v1/btn-1/status", b'{"state": "online"}', retain=True)
            for seq in range(50):
                publish_and_wait(pub, topic, f'{{"seq": {seq}}}', qos=1)
        finally:
            close_client(pub)

        port, old_pid = proc.port, proc.pid
        proc.restart()
        assert proc.port == port and proc.pid != old_pid

        with sub:  # same client id, clean_session=False: the queue is delivered
            assert sub.wait_count(50), len(sub.messages)
            assert sub.payloads(topic) == [f'{{"seq": {seq}}}'.encode() for seq in range(50)]
        assert proc.log_text().count(" starting") == 2

        # The retained status survived too: a brand-new subscriber gets it at once.
        with Collector(proc.url, "care/v1/+/status", client_id="screen") as screen:
            assert screen.wait_count(1)
            assert screen.messages[0].retain
            assert screen.messages[0].payload == b'{"state": "online"}'


@pytest.mark.mosquitto
@needs_mosquitto
def test_child_dies_with_its_parent(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from devices.broker import EmbeddedBroker\n"
        f"b = EmbeddedBroker({str(tmp_path)!r}, prefer='mosquitto')\n"
        "b.start()\n"
        "print(b.mosquitto.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=_REPO_ROOT
    )
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert _pid_alive(child_pid)
        parent.kill()  # no atexit, no cleanup: only PDEATHSIG can stop the child
        parent.wait()
        assert wait_for(lambda: not _pid_alive(child_pid), timeout=5)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.mark.mosquitto
@needs_mosquitto
def test_picked_port_taken_meanwhile_moves_to_another(tmp_path: Path) -> None:
    proc = MosquittoProcess(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", proc.port))
        squatter.listen()
        taken = proc.port
        with proc:
            assert proc.port != taken
            client = connect_client(proc.url, "probe")
            close_client(client)
        assert "Address already in use" in proc.log_text()


@pytest.mark.mosquitto
@needs_mosquitto
def test_given_port_taken_is_an_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        proc = MosquittoProcess(tmp_path, port=squatter.getsockname()[1])
        with pytest.raises(BrokerStartError, match="Address already in use"):
            proc.start()


def test_amqtt_stops_cleanly_with_clients_connected(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path, prefer="amqtt")
    broker.start()
    client = connect_client(broker.url, "still-here")
    try:
        started = time.monotonic()
        broker.stop()
        assert time.monotonic() - started < 3
        assert not broker.is_running
        assert not any(t.name.startswith("amqtt-broker-") for t in threading.enumerate())
    finally:
        close_client(client)
