"""Tests for devices.broker_config, including a real Mosquitto running the generated config."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import paho.mqtt.client as mqtt
import pytest

from devices.broker import MosquittoProcess, find_free_port, find_mosquitto
from devices.broker_config import (
    BrokerConfigFiles,
    hash_password,
    render_acl,
    render_mosquitto_conf,
    verify_password,
    write_broker_config,
)
from tests.support.mqtt import (
    Collector,
    MqttConnectError,
    close_client,
    connect_client,
    publish_and_wait,
)

# Written by the real `mosquitto_passwd -b` (Mosquitto 2.0.11) for password "s3cret".
MOSQUITTO_PASSWD_LINE = (
    "alice:$7$101$fzEo52yQhk5zXCFB$ruURGrCeL5N6mMDLDSgtrL6GuJ+BOjwFBgP8vC3wn3wRBINde8JVIiJ"
    "gibFZMDl9rbu0Lvz4/nXT+cY4GVWU3w=="
)
HUB_USER = "care-hub"
HUB_PASSWORD = "hub-secret-for-tests"


def test_hash_matches_mosquitto_passwd_vector() -> None:
    import base64

    username, encoded = MOSQUITTO_PASSWD_LINE.split(":", 1)
    salt = base64.b64decode(encoded.split("$")[3])
    assert hash_password("s3cret", salt=salt) == encoded
    assert verify_password("s3cret", encoded)
    assert not verify_password("s3cret!", encoded)


def test_hash_format() -> None:
    encoded = hash_password("pw")
    empty, kind, iterations, salt, derived = encoded.split("$")
    assert (empty, kind, iterations) == ("", "7", "101")
    assert len(salt) == 16 and len(derived) == 88
    assert hash_password("pw") != encoded  # fresh salt each time


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="no mosquitto_passwd")
def test_verify_accepts_fresh_mosquitto_passwd_output(tmp_path: Path) -> None:
    pw_file = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pw_file), "bob", "p4ss"], check=True)
    encoded = pw_file.read_text().strip().split(":", 1)[1]
    assert verify_password("p4ss", encoded)
    assert not verify_password("p4sS", encoded)


@pytest.mark.parametrize(
    ("device_ids", "hub"),
    [(["ok", "bad/id"], "hub"), (["a#"], "hub"), (["a", "a"], "hub"), (["hub"], "hub"), ([], "h+")],
)
def test_rejects_unsafe_names(tmp_path: Path, device_ids: list[str], hub: str) -> None:
    with pytest.raises(ValueError):
        write_broker_config(tmp_path, device_ids, hub, "pw")


def test_files_and_modes(tmp_path: Path) -> None:
    files = write_broker_config(tmp_path / "out", ["radar-1", "btn-2"], HUB_USER, HUB_PASSWORD)
    assert stat.S_IMODE(files.credentials_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.password_file.stat().st_mode) == 0o600
    creds = json.loads(files.credentials_file.read_text())
    assert [d["device_id"] for d in creds["devices"]] == ["radar-1", "btn-2"]
    hashes = dict(line.split(":", 1) for line in files.password_file.read_text().splitlines())
    assert set(hashes) == {HUB_USER, "radar-1", "btn-2"}
    assert verify_password(HUB_PASSWORD, hashes[HUB_USER])
    assert verify_password(files.password_for("btn-2"), hashes["btn-2"])
    # Every credential is in the 0600 file, the hub's account too (issue 14: nothing printed).
    assert creds["hub"] == {"username": HUB_USER, "password": HUB_PASSWORD}

    # Adding a device keeps everyone else's password; dropping one removes its account.
    again = write_broker_config(tmp_path / "out", ["radar-1", "kit-3"], HUB_USER, HUB_PASSWORD)
    assert again.password_for("radar-1") == files.password_for("radar-1")
    assert "btn-2:" not in again.password_file.read_text()


def test_acl_and_conf_text() -> None:
    acl = render_acl(HUB_USER)
    assert "pattern write care/v1/%u/#\n" in acl
    assert "pattern read care/v1/%u/cmd\n" in acl
    assert f"user {HUB_USER}\ntopic read care/v1/+/#\ntopic write care/v1/+/cmd\n" in acl
    conf = render_mosquitto_conf(password_file="/p", acl_file="/a", persistence_location="/d")
    assert "listener 1883\n" in conf
    assert "allow_anonymous false\n" in conf
    assert "persistence_location /d/\n" in conf
    with pytest.raises(ValueError):
        render_mosquitto_conf(password_file="/p", acl_file="/a", certfile="/c")


@dataclass
class SecuredBroker:
    url: str
    files: BrokerConfigFiles
    process: MosquittoProcess

    def device(self, device_id: str, client_id: str | None = None) -> mqtt.Client:
        return connect_client(
            self.url, client_id or device_id, device_id, self.files.password_for(device_id)
        )


@pytest.fixture(scope="module")
def secured_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    if find_mosquitto() is None:
        pytest.skip("mosquitto not installed")
    root = tmp_path_factory.mktemp("secured")
    port = find_free_port()
    files = write_broker_config(
        root / "config",
        ["dev-a", "dev-b"],
        HUB_USER,
        HUB_PASSWORD,
        port=port,
        bind_address="127.0.0.1",
        persistence_location=str(root / "data"),
    )
    (root / "data").mkdir()
    # Run Mosquitto on exactly the generated snippet (its own listener and persistence).
    process = MosquittoProcess(
        root / "broker", port=port, extra_config=files.mosquitto_conf.read_text(), base_config=False
    )
    with process:
        yield SecuredBroker(process.url, files, process)


def _hub_collector(broker: SecuredBroker, topics: str, client_id: str) -> Collector:
    return Collector(
        broker.url, topics, client_id=client_id, username=HUB_USER, password=HUB_PASSWORD
    )


@pytest.mark.mosquitto
def test_device_publishes_only_under_its_own_prefix(secured_broker: SecuredBroker) -> None:
    with _hub_collector(secured_broker, "care/v1/+/#", "hub-1") as hub:
        dev_a = secured_broker.device("dev-a")
        try:
            publish_and_wait(dev_a, "care/v1/dev-b/button", b'{"spoofed": true}')
            publish_and_wait(dev_a, "care/v1/dev-a/button", b'{"seq": 1}')
        finally:
            close_client(dev_a)
        # Mosquitto handles one client's publishes in order: once the second is here, the
        # first would have been too.
        assert hub.wait_count(1)
        assert [(m.topic, m.payload) for m in hub.messages] == [
            ("care/v1/dev-a/button", b'{"seq": 1}')
        ]


@pytest.mark.mosquitto
def test_device_reads_only_its_own_cmd(secured_broker: SecuredBroker) -> None:
    with Collector(
        secured_broker.url,
        ["care/v1/dev-b/cmd", "care/v1/dev-b/status", "care/v1/dev-a/cmd"],
        client_id="dev-a-cmd",
        username="dev-a",
        password=secured_broker.files.password_for("dev-a"),
    ) as dev_a:
        hub = connect_client(secured_broker.url, "hub-cmd", HUB_USER, HUB_PASSWORD)
        dev_b = secured_broker.device("dev-b")
        try:
            publish_and_wait(dev_b, "care/v1/dev-b/status", b'{"state": "online"}')
            publish_and_wait(hub, "care/v1/dev-b/cmd", b'{"cmd": "call_closed"}')
            publish_and_wait(hub, "care/v1/dev-a/cmd", b'{"cmd": "call_acknowledged"}')
        finally:
            close_client(hub)
            close_client(dev_b)
        # Mosquitto 2.0 grants the SUBACK for a forbidden filter and then withholds every
        # message on it (the read ACL is checked per delivery).
        assert dev_a.wait_count(1)
        assert [(m.topic, m.payload) for m in dev_a.messages] == [
            ("care/v1/dev-a/cmd", b'{"cmd": "call_acknowledged"}')
        ]


@pytest.mark.mosquitto
def test_hub_cannot_publish_device_telemetry(secured_broker: SecuredBroker) -> None:
    with _hub_collector(secured_broker, "care/v1/+/#", "hub-2") as hub:
        publisher = connect_client(secured_broker.url, "hub-pub", HUB_USER, HUB_PASSWORD)
        try:
            publish_and_wait(publisher, "care/v1/dev-a/button", b'{"forged": true}')
            publish_and_wait(publisher, "care/v1/dev-a/cmd", b'{"cmd": "call_closed"}')
        finally:
            close_client(publisher)
        assert hub.wait_count(1)
        assert [m.topic for m in hub.messages] == ["care/v1/dev-a/cmd"]


@pytest.mark.mosquitto
@pytest.mark.parametrize(
    ("username", "password"),
    [("dev-a", "wrong"), (HUB_USER, "wrong"), ("nobody", "x"), (None, None)],
)
def test_bad_credentials_and_anonymous_refused(
    secured_broker: SecuredBroker, username: str | None, password: str | None
) -> None:
    with pytest.raises(MqttConnectError) as refused:
        connect_client(secured_broker.url, "intruder", username, password)
    assert refused.value.reason_code is not None
    assert refused.value.reason_code.getName() in ("Not authorized", "Bad user name or password")


def test_nats_config_gives_each_device_its_broker_password(tmp_path: Path) -> None:
    from devices.broker_config import NATS_CONF_FILE_NAME, write_nats_config

    files = write_broker_config(tmp_path, ["radar-1", "btn-2"], HUB_USER, HUB_PASSWORD)
    path = write_nats_config(files, partitions=4, store_dir=tmp_path / "js", port=4333)
    assert path == tmp_path / NATS_CONF_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "listen: 0.0.0.0:4333" in text and "partition(4,1)" in text

    def stored(user: str) -> str:
        line = next(ln for ln in text.splitlines() if f'user: "{user}"' in ln)
        return line.split('password: "', 1)[1].split('"', 1)[0]

    # hashes, never the passwords: the file lets nobody in
    assert HUB_PASSWORD not in text
    assert stored(HUB_USER).startswith("$2a$12$")
    assert bcrypt.checkpw(HUB_PASSWORD.encode(), stored(HUB_USER).encode())
    for dev in ("radar-1", "btn-2"):
        assert files.password_for(dev) not in text
        assert stored(dev).startswith("$2a$04$")
        assert bcrypt.checkpw(files.password_for(dev).encode(), stored(dev).encode())
        assert not bcrypt.checkpw(b"wrong", stored(dev).encode())
        line = next(ln for ln in text.splitlines() if f'user: "{dev}"' in ln)
        assert f'"care.p.*.v1.{dev}.>"' in line and f'"care.v1.{dev}.cmd"' in line
    with pytest.raises(ValueError):
        write_nats_config(files, partitions=0, store_dir=tmp_path / "js")
