"""Walking skeleton end to end: a call button press through a real broker to a caregiver's screen."""

from __future__ import annotations

import json
import time
from typing import Any

import orjson
import pytest
from websockets.sync.client import connect as ws_connect

from tests.conftest import HubServer
from tests.support.mqtt import Collector, close_client, connect_client, publish_and_wait, wait_for


def button_payload(seq: int, action: str = "call") -> bytes:
    return orjson.dumps({"ts": time.time(), "seq": seq, "action": action})


class WsReader:
    def __init__(self, server: HubServer, token: str, since: int | None = 0) -> None:
        url = f"{server.ws_url}?token={token}" + (f"&since={since}" if since is not None else "")
        self.ws = ws_connect(url, open_timeout=10)
        hello = json.loads(self.ws.recv(timeout=10))
        assert hello["type"] == "hello"
        self.last_seq = hello["data"]["last_seq"]

    def next_of(self, type_: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if event["type"] == type_:
                return event  # type: ignore[no-any-return]

    def close(self) -> None:
        self.ws.close()


def alerts(server: HubServer, token: str, **params: Any) -> list[dict[str, Any]]:
    with server.client(token) as c:
        r = c.get("/api/alerts", params=params)
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]


@pytest.mark.mosquitto
@pytest.mark.postgres
def test_call_reaches_caregiver_and_ack_lights_the_button(
    hub_server: HubServer, prefix: str
) -> None:
    device = f"{prefix}btn-1"
    nurse = hub_server.token("nurse")
    screen = WsReader(hub_server, nurse)
    button = connect_client(hub_server.mqtt_url, f"{prefix}dev")
    with Collector(
        hub_server.mqtt_url, [f"care/v1/{device}/cmd"], client_id=f"{prefix}cmd"
    ) as cmds:
        press = button_payload(1)
        publish_and_wait(button, f"care/v1/{device}/button", press, qos=1)
        raised = screen.next_of("alert.raised")
        # stored: the hub says so to the button (it would re-send the press until told)
        assert cmds.wait_commands(1, receipts=True)
        assert cmds.commands(receipts=True)[0] == {
            "cmd": "received",
            "kind": "button",
            "seq": 1,
            "ts": orjson.loads(press)["ts"],
        }
        assert raised["data"]["type"] == "call"
        assert raised["data"]["device_id"] == device
        assert raised["data"]["resident_id"] == "R-1"
        assert raised["data"]["severity"] == "high"
        listed = alerts(hub_server, nurse, state="open")
        assert [a["id"] for a in listed] == [raised["data"]["id"]]
        for key in (
            "id",
            "type",
            "severity",
            "state",
            "resident_id",
            "device_id",
            "raised_at",
            "acknowledged_at",
            "resolved_at",
            "detail",
        ):
            assert key in listed[0]

        # The same message again (a QoS 1 redelivery) is ignored: still one alert, pressed once.
        publish_and_wait(button, f"care/v1/{device}/button", press, qos=1)
        # A later good message proves the duplicate was processed (and dropped) before it.
        publish_and_wait(
            button,
            f"care/v1/{device}/status",
            orjson.dumps({"ts": time.time(), "seq": 1, "state": "online"}),
            qos=1,
        )
        assert wait_for(lambda: hub_server.hub.pipeline.metrics.duplicates >= 1, timeout=10)
        listed = alerts(hub_server, nurse)
        assert len(listed) == 1 and listed[0]["count"] == 1
        # ...and confirmed again: a button re-sends a press whose receipt it did not hear
        assert cmds.wait_commands(2, receipts=True)
        assert [c["seq"] for c in cmds.commands(receipts=True)] == [1, 1]

        with hub_server.client(nurse) as c:
            r = c.post(f"/api/alerts/{raised['data']['id']}/ack", json={"note": "on my way"})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "acknowledged"
        assert r.json()["acknowledged_by"] == "nurse"
        assert cmds.wait_commands(1, timeout=10)
        cmd = cmds.commands()[0]
        assert cmd == {"cmd": "call_acknowledged", "alert_id": str(raised["data"]["id"])}
        updated = screen.next_of("alert.updated")
        assert updated["data"]["state"] == "acknowledged"

        with hub_server.client(nurse) as c:
            r = c.post(f"/api/alerts/{raised['data']['id']}/resolve", json={"outcome": "assisted"})
        assert r.json()["state"] == "resolved"
        assert cmds.wait_commands(2, timeout=10)
        assert cmds.commands()[1]["cmd"] == "call_closed"
    screen.close()
    close_client(button)


@pytest.mark.mosquitto
@pytest.mark.postgres
def test_malformed_button_payload_is_dead_lettered_and_next_good_one_raises(
    hub_server: HubServer, prefix: str
) -> None:
    device = f"{prefix}btn-1"
    nurse = hub_server.token("nurse")
    screen = WsReader(hub_server, nurse)
    button = connect_client(hub_server.mqtt_url, f"{prefix}dev")
    publish_and_wait(button, f"care/v1/{device}/button", b"{not json", qos=1)
    publish_and_wait(
        button,
        f"care/v1/{device}/button",
        orjson.dumps({"ts": 1.0, "seq": 1, "action": "dance"}),
        qos=1,
    )
    publish_and_wait(button, f"care/v1/{device}/button", button_payload(2), qos=1)
    raised = screen.next_of("alert.raised")
    assert raised["data"]["device_id"] == device
    metrics = hub_server.hub.pipeline.metrics
    assert metrics.rejected["not_json"] >= 1
    assert sum(metrics.rejected.values()) >= 2
    admin = hub_server.token("admin")
    with hub_server.client(admin) as c:
        devices = {d["id"]: d for d in c.get("/api/devices").json()}
    assert devices[device]["rejected_count"] == 2
    screen.close()
    close_client(button)


@pytest.mark.mosquitto
@pytest.mark.postgres
def test_presence_acknowledges_and_cancel_closes(hub_server: HubServer, prefix: str) -> None:
    device = f"{prefix}btn-2"
    nurse = hub_server.token("nurse")
    screen = WsReader(hub_server, nurse)
    button = connect_client(hub_server.mqtt_url, f"{prefix}dev")
    with Collector(
        hub_server.mqtt_url, [f"care/v1/{device}/cmd"], client_id=f"{prefix}cmd"
    ) as cmds:
        publish_and_wait(button, f"care/v1/{device}/button", button_payload(1, "call"), qos=1)
        first = screen.next_of("alert.raised")["data"]
        publish_and_wait(button, f"care/v1/{device}/button", button_payload(2, "presence"), qos=1)
        acked = screen.next_of("alert.updated")["data"]
        assert acked["id"] == first["id"] and acked["state"] == "acknowledged"
        assert acked["acknowledged_by"] == device
        assert cmds.wait_commands(1, timeout=10)
        assert cmds.commands()[0]["cmd"] == "call_acknowledged"
        # A second call while the first is still active updates it rather than raising another.
        publish_and_wait(button, f"care/v1/{device}/button", button_payload(3, "call"), qos=1)
        assert screen.next_of("alert.updated")["data"]["count"] == 2
        publish_and_wait(button, f"care/v1/{device}/button", button_payload(4, "cancel"), qos=1)
        closed = screen.next_of("alert.updated")["data"]
        assert closed["state"] == "resolved" and closed["outcome"] == "cancelled"
    screen.close()
    close_client(button)


@pytest.mark.mosquitto
@pytest.mark.postgres
def test_acknowledging_needs_a_staff_token(hub_server: HubServer, prefix: str) -> None:
    nurse = hub_server.token("nurse")
    screen = WsReader(hub_server, nurse)
    button = connect_client(hub_server.mqtt_url, f"{prefix}dev")
    publish_and_wait(button, f"care/v1/{prefix}btn-1/button", button_payload(1), qos=1)
    alert_id = screen.next_of("alert.raised")["data"]["id"]
    with hub_server.client() as c:
        assert c.post(f"/api/alerts/{alert_id}/ack").status_code == 401
        assert (
            c.post(
                f"/api/alerts/{alert_id}/ack", headers={"Authorization": "Bearer forged"}
            ).status_code
            == 401
        )
    with hub_server.client(hub_server.token("family")) as c:
        assert c.post(f"/api/alerts/{alert_id}/ack").status_code == 403
        assert c.post(f"/api/alerts/{alert_id}/resolve").status_code == 403
        # The family member of R-1 does see their relative's alert.
        assert [a["id"] for a in c.get("/api/alerts").json()] == [alert_id]
    with hub_server.client(hub_server.token("nurse2")) as c:  # another facility's caregiver
        assert c.post(f"/api/alerts/{alert_id}/ack").status_code == 404
        assert c.get("/api/alerts").json() == []
    assert alerts(hub_server, nurse)[0]["state"] == "open"
    screen.close()
    close_client(button)


@pytest.mark.mosquitto
@pytest.mark.postgres
def test_websocket_resume_replays_missed_events(hub_server: HubServer, prefix: str) -> None:
    nurse = hub_server.token("nurse")
    screen = WsReader(hub_server, nurse)
    button = connect_client(hub_server.mqtt_url, f"{prefix}dev")
    publish_and_wait(button, f"care/v1/{prefix}btn-1/button", button_payload(1), qos=1)
    seen = screen.next_of("alert.raised")["seq"]
    screen.close()
    # While the screen is away: a second resident calls, and the first call is updated.
    publish_and_wait(button, f"care/v1/{prefix}btn-2/button", button_payload(1), qos=1)
    publish_and_wait(button, f"care/v1/{prefix}btn-1/button", button_payload(2), qos=1)
    assert wait_for(
        lambda: (
            len(alerts(hub_server, nurse)) == 2
            and max(a["count"] for a in alerts(hub_server, nurse)) == 2
        ),
        timeout=10,
    )
    resumed = WsReader(hub_server, nurse, since=seen)
    missed = [resumed.next_of("alert.raised"), resumed.next_of("alert.updated")]
    assert [m["data"]["device_id"] for m in missed] == [f"{prefix}btn-2", f"{prefix}btn-1"]
    assert all(m["seq"] > seen for m in missed)
    resumed.close()
    # A family socket sees only R-1's events.
    family = WsReader(hub_server, hub_server.token("family"), since=0)
    first = family.next_of("alert.raised")
    assert first["data"]["resident_id"] == "R-1"
    assert family.next_of("alert.updated")["data"]["resident_id"] == "R-1"
    family.close()
    close_client(button)
