"""Spoofing needs the broker's ACL (issue 14): production refuses a broker where clients without
credentials publish on device topics, the embedded broker in production runs with the accounts
of `care-hub broker-config`, and that command prints no password. Every broker here is the
test's own Mosquitto on a spare port (never the shared one on 1883)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from care_hub.cli import main as cli
from care_hub.hub import Hub
from care_hub.kernel.settings import Settings
from devices.broker import (
    BrokerSecurityError,
    MosquittoProcess,
    find_free_port,
    find_mosquitto,
    probe_anonymous_publish,
)
from devices.broker_config import read_hub_account, write_broker_config
from tests.support.mqtt import MqttConnectError, close_client, connect_client

pytestmark = pytest.mark.skipif(find_mosquitto() is None, reason="no mosquitto binary")

HUB_USER = "care-hub"


def production(tmp_path: Path, mqtt_url: str = "", **mqtt: object) -> Settings:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="production",
        secret_key=SecretStr("k" * 48),
        data_dir=tmp_path / "var",
    )
    settings.mqtt.url = mqtt_url
    settings.mqtt.client_id = f"care-hub-test-{tmp_path.name[-8:]}"
    for key, value in mqtt.items():
        setattr(settings.mqtt, key, value)
    return settings


@pytest.fixture
def open_broker(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """Anonymous clients welcome, no ACL: anyone may publish as any device."""
    with MosquittoProcess(tmp_path / "open", port=find_free_port()) as broker:
        yield broker


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[tuple[MosquittoProcess, str]]:
    """The broker-config output: no anonymous clients, each device on its own topics."""
    files = write_broker_config(
        tmp_path / "conf", ["btn-1"], HUB_USER, port=find_free_port(), bind_address="127.0.0.1"
    )
    port = json.loads(files.credentials_file.read_text())["broker"]["port"]
    conf = files.mosquitto_conf.read_text().replace(
        "persistence_location /var/lib/mosquitto/", f"persistence_location {tmp_path}/"
    )
    broker = MosquittoProcess(tmp_path / "secured", port=port, extra_config=conf, base_config=False)
    with broker:
        yield broker, files.hub_password


async def test_production_refuses_a_broker_open_to_anonymous_devices(
    tmp_path: Path, open_broker: MosquittoProcess
) -> None:
    assert probe_anonymous_publish(open_broker.url, username=None, password=None)
    with pytest.raises(BrokerSecurityError, match="ALLOW_ANONYMOUS_DEVICES"):
        await Hub.start(production(tmp_path, open_broker.url))
    # Explicitly allowed: it starts (and says so in the log).
    hub = await Hub.start(production(tmp_path, open_broker.url, allow_anonymous_devices=True))
    await hub.stop()


async def test_production_starts_against_a_broker_with_accounts_and_acl(
    tmp_path: Path, secured_broker: tuple[MosquittoProcess, str]
) -> None:
    broker, hub_password = secured_broker
    assert not probe_anonymous_publish(broker.url, username=HUB_USER, password=hub_password)
    settings = production(tmp_path, broker.url, username=HUB_USER, password=SecretStr(hub_password))
    hub = await Hub.start(settings)
    await hub.stop()


def test_anonymous_clients_that_the_acl_keeps_off_device_topics_pass(tmp_path: Path) -> None:
    """allow_anonymous with an ACL that gives anonymous clients nothing: they connect, but what
    they publish on a device topic reaches no one."""
    acl = tmp_path / "acl"
    acl.write_text("user watcher\ntopic read care/v1/+/#\n")
    with MosquittoProcess(
        tmp_path / "acl-broker", port=find_free_port(), extra_config=f"acl_file {acl}\n"
    ) as broker:
        assert not probe_anonymous_publish(broker.url, username="watcher", password=None)


async def test_embedded_broker_in_production_uses_broker_config_accounts(tmp_path: Path) -> None:
    settings = production(tmp_path)
    with pytest.raises(BrokerSecurityError, match="broker-config"):
        await Hub.start(settings)
    write_broker_config(settings.data_dir / "broker-config", ["btn-1"], HUB_USER)
    settings = production(tmp_path)
    hub = await Hub.start(settings)
    try:
        assert hub.broker is not None and hub.broker.kind == "mosquitto"
        assert settings.mqtt.username == HUB_USER  # the hub signed in with the saved account
        with pytest.raises(MqttConnectError):
            close_client(connect_client(hub.mqtt_url, "anonymous-spoofer", timeout=3))
    finally:
        await hub.stop()


def test_broker_config_writes_every_password_to_a_0600_file_and_prints_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "conf"
    assert (
        cli(["broker-config", "--out", str(out), "--device", "btn-1", "--device", "radar-2"]) == 0
    )
    printed = capsys.readouterr().out
    credentials = out / "device-credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert str(credentials) in printed
    data = json.loads(credentials.read_text())
    passwords = [d["password"] for d in data["devices"]] + [data["hub"]["password"]]
    assert len(passwords) == 3 and all(len(p) >= 20 for p in passwords)
    for password in passwords:
        assert password not in printed
    # A second run (a device added) keeps the hub's and the devices' passwords.
    hub_before = read_hub_account(out)
    assert cli(["broker-config", "--out", str(out), "--device", "btn-1", "--device", "kit-3"]) == 0
    assert read_hub_account(out) == hub_before
    again = json.loads(credentials.read_text())
    assert again["devices"][0]["password"] == data["devices"][0]["password"]
    assert all(p["password"] not in capsys.readouterr().out for p in again["devices"])
