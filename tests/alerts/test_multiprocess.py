"""Two hub processes on one PostgreSQL database: events fan out through LISTEN/NOTIFY, one ingests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from care_hub.ingest import leadership as alert_engine
from tests.alerts.conftest import alert_seed
from tests.conftest import Backend, HubServer, prepare_database
from tests.e2e.test_calls import WsReader, button_payload
from tests.support.mqtt import Collector, close_client, connect_client, publish_and_wait, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.mosquitto]


@pytest.fixture
def two_hubs(
    request: pytest.FixtureRequest,
    tmp_path,
    prefix: str,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[HubServer, HubServer]]:
    from tests.conftest import make_backend

    monkeypatch.setattr(alert_engine, "LEADER_RETRY_S", 0.2)
    a = make_backend("real", tmp_path / "a", request)
    settings_b = a.settings.model_copy(deep=True)
    settings_b.data_dir = tmp_path / "b"
    b = Backend("real", settings_b, a.db_schema)  # same database schema, same MQTT client id
    prepare_database(a, alert_seed(prefix))
    hub_a = HubServer(a).start()
    hub_b = HubServer(b).start()
    try:
        yield hub_a, hub_b
    finally:
        for hub in (hub_b, hub_a):
            if hub.thread.is_alive():
                hub.stop()


def test_alert_ingested_by_one_process_reaches_a_websocket_on_the_other(
    two_hubs: tuple[HubServer, HubServer], prefix: str
) -> None:
    hub_a, hub_b = two_hubs
    assert hub_a.hub.ingest_leader and not hub_b.hub.ingest_leader
    assert hub_b.hub.pipeline is None  # B does not ingest: no double handling of one press
    device = f"{prefix}btn-1"
    screen_b = WsReader(hub_b, hub_b.token("nurse"), since=None)
    screen_a = WsReader(hub_a, hub_a.token("nurse"), since=None)
    button = connect_client(hub_a.mqtt_url, f"{prefix}dev")
    with Collector(hub_a.mqtt_url, [f"care/v1/{device}/cmd"], client_id=f"{prefix}cmd") as cmds:
        publish_and_wait(button, f"care/v1/{device}/button", button_payload(1), qos=1)
        raised = screen_b.next_of("alert.raised")  # ingested by A, delivered by B
        assert raised["data"]["device_id"] == device
        assert screen_a.next_of("alert.raised")["seq"] == raised["seq"]
        assert hub_b.hub.fanout.notifications >= 1
        # Acknowledged through B's API: A's screen hears it, and B lights the button.
        with hub_b.client(hub_b.token("nurse")) as c:
            assert c.post(f"/api/alerts/{raised['data']['id']}/ack").status_code == 200
        assert screen_a.next_of("alert.updated")["data"]["state"] == "acknowledged"
        assert cmds.wait_commands(1, timeout=10)
        assert cmds.commands()[0]["cmd"] == "call_acknowledged"
    screen_a.close()
    screen_b.close()
    close_client(button)


def test_standby_process_takes_over_ingest(
    two_hubs: tuple[HubServer, HubServer], prefix: str
) -> None:
    hub_a, hub_b = two_hubs
    hub_a.stop()  # the ingesting process goes away; its advisory lock goes with its connection
    assert wait_for(lambda: hub_b.hub.ingest_leader and hub_b.hub.pipeline is not None, timeout=15)
    screen = WsReader(hub_b, hub_b.token("nurse"), since=None)
    button = connect_client(hub_b.mqtt_url, f"{prefix}dev")
    publish_and_wait(button, f"care/v1/{prefix}btn-2/button", button_payload(1), qos=1)
    assert screen.next_of("alert.raised")["data"]["device_id"] == f"{prefix}btn-2"
    screen.close()
    close_client(button)
